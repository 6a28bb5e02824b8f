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
