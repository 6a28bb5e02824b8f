//! Conversions between PostgreSQL timestamps and the core's microseconds since the Unix epoch.

use pgrx::datum::TimestampWithTimeZone;

/// Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

pub fn to_unix_us(ts: TimestampWithTimeZone) -> i64 {
    let pg: i64 = ts.into();
    pg.saturating_add(PG_EPOCH_OFFSET_US)
}

pub fn from_unix_us(us: i64) -> TimestampWithTimeZone {
    let pg = us.saturating_sub(PG_EPOCH_OFFSET_US);
    // Every i64 is a valid TimestampTz bit pattern except the infinities, which the
    // core never produces from finite inputs; fall back to +infinity rather than panic.
    TimestampWithTimeZone::try_from(pg).unwrap_or_else(|_| TimestampWithTimeZone::positive_infinity())
}

/// The range ml_metrics accepts (its CHECK ml_metrics_timestamp_range): [1900-01-01,
/// 2500-01-01) UTC, in microseconds since the Unix epoch. Infinite or year-294276 instants
/// would overflow the stages' microsecond arithmetic.
pub const MIN_METRIC_US: i64 = -2_208_988_800_000_000;
pub const MAX_METRIC_US: i64 = 16_725_225_600_000_000;

pub fn in_metric_range(ts: TimestampWithTimeZone) -> bool {
    ts.is_finite() && (MIN_METRIC_US..MAX_METRIC_US).contains(&to_unix_us(ts))
}
