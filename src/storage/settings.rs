//! Settings as the database holds them: ml_settings per metric type, the metric-type lists
//! the stages walk, and the server settings the extension reads or sets through SQL.

use super::one;
use crate::errors::Result;
use pg_anomaly_core::time::DAY_US;
use pgrx::datum::Interval;
use pgrx::Spi;

/// The feature settings a shard build on a Citus worker uses instead of its own: the
/// coordinator's ml_settings windows and time zone (the worker's ml_settings holds only
/// the defaults; the coordinator's rows are not copied to the workers).
pub struct FeatureSettings {
    pub windows: std::collections::HashMap<String, (i64, i64)>,
    pub time_zone: String,
}

thread_local! {
    static OVERRIDE: std::cell::RefCell<Option<FeatureSettings>> = const { std::cell::RefCell::new(None) };
}

/// Makes this backend use `s` for the feature windows and time zone (None: ml_settings
/// and the settings again).
pub fn override_feature_settings(s: Option<FeatureSettings>) {
    OVERRIDE.with(|o| *o.borrow_mut() = s);
}

/// The feature settings of this database as text for a shard build: one line per metric
/// type, "metric_type<TAB>period_us<TAB>stat_window_us", and first the time zone.
pub fn feature_settings_text() -> Result<String> {
    let mut out = feature_time_zone()?;
    for m in metric_type_list("SELECT metric_type FROM ml_settings ORDER BY 1")? {
        let (p, w) = feature_windows(&m)?;
        out.push_str(&format!("\n{m}\t{p}\t{w}"));
    }
    Ok(out)
}

/// Parses `feature_settings_text`; None when it is malformed.
pub fn parse_feature_settings(text: &str) -> Option<FeatureSettings> {
    let mut lines = text.split('\n');
    let time_zone = lines.next()?.to_string();
    let mut windows = std::collections::HashMap::new();
    for l in lines {
        let mut f = l.split('\t');
        let (m, p, w) = (f.next()?, f.next()?.parse::<i64>().ok()?, f.next()?.parse::<i64>().ok()?);
        if p < 1 || w < 1 || f.next().is_some() {
            return None;
        }
        windows.insert(m.to_string(), (p, w));
    }
    Some(FeatureSettings { windows, time_zone })
}

fn metric_type_list(sql: &str) -> Result<Vec<String>> {
    Spi::connect(|client| -> Result<Vec<String>> {
        let mut v = Vec::new();
        for r in client.select(sql, None, &[])? {
            if let Some(m) = r.get::<String>(1)? {
                v.push(m);
            }
        }
        Ok(v)
    })
}

/// The metric types an analyst's or a manual detection pass over every type covers: every
/// enabled type and every type with stored series (a disabled type with series included).
pub fn detected_metric_types() -> Result<Vec<String>> {
    metric_type_list(
        "SELECT metric_type FROM ml_settings WHERE enabled
          UNION SELECT DISTINCT metric_type FROM ml_series_state ORDER BY 1",
    )
}

/// The metric types the schedule (ml_run_stage) detects and trains: every enabled type and
/// every type with stored series, except the types ml_settings disables.
pub fn scheduled_metric_types() -> Result<Vec<String>> {
    metric_type_list(
        "SELECT metric_type FROM ml_settings WHERE enabled
          UNION SELECT DISTINCT metric_type FROM ml_series_state
         EXCEPT SELECT metric_type FROM ml_settings WHERE NOT enabled ORDER BY 1",
    )
}

/// Feature windows of a metric type in microseconds, (period, stat_window); one day each
/// when it has no ml_settings row or leaves them NULL.
pub fn feature_windows(metric_type: &str) -> Result<(i64, i64)> {
    if let Some(w) = OVERRIDE.with(|o| o.borrow().as_ref().map(|o| o.windows.get(metric_type).copied().unwrap_or((DAY_US, DAY_US)))) {
        return Ok(w);
    }
    let row = Spi::connect(|client| -> Result<Option<(Option<Interval>, Option<Interval>)>> {
        let t = client.select("SELECT period, stat_window FROM ml_settings WHERE metric_type = $1", None, &[metric_type.into()])?;
        Ok(match t.into_iter().next() {
            Some(r) => Some((r.get::<Interval>(1)?, r.get::<Interval>(2)?)),
            None => None,
        })
    })?;
    let us = |i: Option<Interval>| i.map(|i| i.as_micros().clamp(1, i64::MAX as i128) as i64);
    Ok(match row {
        Some((p, w)) => (us(p).unwrap_or(DAY_US), us(w).unwrap_or(DAY_US)),
        None => (DAY_US, DAY_US),
    })
}

/// The time zone of the time features and plots: pg_anomaly.timezone, or UTC when it is
/// empty. Never the session's TimeZone: a client sets that (libpq's PGTZ, `SET TimeZone`),
/// so the same rows would get other calendar features, and other alerts, depending on
/// which session built or scored them (pg_cron's or an analyst's psql).
const TIME_ZONE_SQL: &str = "coalesce(nullif(pg_catalog.current_setting('pg_anomaly.timezone', true), ''), 'UTC')";

/// The time zone of the time features (looked up once per read, not per row).
pub fn feature_time_zone() -> Result<String> {
    if let Some(tz) = OVERRIDE.with(|o| o.borrow().as_ref().map(|o| o.time_zone.clone())) {
        return Ok(tz);
    }
    Ok(one::<String>(&format!("SELECT {TIME_ZONE_SQL}"), &[])?.unwrap_or_else(|| "UTC".to_string()))
}

/// The offset of that time zone from UTC now, in minutes.
pub fn feature_time_zone_offset_minutes() -> Result<f64> {
    Ok(one::<f64>(
        &format!("SELECT extract(epoch FROM (pg_catalog.now() AT TIME ZONE {TIME_ZONE_SQL}) - (pg_catalog.now() AT TIME ZONE 'UTC'))::float8 / 60"),
        &[],
    )?
    .unwrap_or(0.0))
}

/// Whether the current role may write the feature store (readers score without building).
pub fn may_write_features() -> Result<bool> {
    Ok(one::<bool>("SELECT pg_catalog.has_table_privilege('ml_features', 'INSERT')", &[])?.unwrap_or(false))
}

/// No parallel query plans for the rest of the transaction.
pub fn no_parallel_plans() -> Result<()> {
    one::<String>("SELECT pg_catalog.set_config('max_parallel_workers_per_gather', '0', true)", &[])?;
    Ok(())
}

/// Whether the library was preloaded, asked after start-up (the postmaster's setting as the
/// backend inherited it).
pub fn preloaded_now() -> bool {
    preloaded("pg_anomaly")
}

/// Whether `library` is listed in shared_preload_libraries. Read through GetConfigOption
/// without the privilege check: SQL's current_setting hides this setting from roles
/// without pg_read_all_settings (the admin role), and only this yes/no leaves here.
pub fn preloaded(library: &str) -> bool {
    let v = unsafe { pgrx::pg_sys::GetConfigOption(c"shared_preload_libraries".as_ptr(), true, false) };
    if v.is_null() {
        return false;
    }
    let list = unsafe { std::ffi::CStr::from_ptr(v) }.to_string_lossy().into_owned();
    preload_list_has(&list, library)
}

/// Whether a shared_preload_libraries value lists `library` (entries separated by commas,
/// optionally quoted, possibly given as a path or with a file suffix).
fn preload_list_has(list: &str, library: &str) -> bool {
    list.split(',').map(|e| e.trim().trim_matches('"')).any(|e| {
        let base = e.rsplit('/').next().unwrap_or(e);
        base == library || base.strip_suffix(".so") == Some(library)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn preload_list_entries() {
        use super::preload_list_has as has;
        assert!(has("pg_cron,pg_anomaly", "pg_anomaly"));
        assert!(has(" pg_cron , \"pg_anomaly\"", "pg_cron"));
        assert!(has("$libdir/pg_anomaly.so", "pg_anomaly"));
        assert!(!has("pg_anomaly_extra", "pg_anomaly"));
        assert!(!has("", "pg_cron"));
    }
}

/// The current database's name.
pub fn current_database() -> Result<String> {
    Ok(one::<String>("SELECT pg_catalog.current_database()::text", &[])?.unwrap_or_default())
}

/// now() moved by `days` days (negative: back).
pub fn now_plus_days(days: i32) -> Result<pgrx::datum::TimestampWithTimeZone> {
    Ok(one::<pgrx::datum::TimestampWithTimeZone>("SELECT pg_catalog.now() + pg_catalog.make_interval(days => $1)", &[days.into()])?
        .unwrap_or_else(pgrx::datum::TimestampWithTimeZone::negative_infinity))
}

/// Whether a metric type without a model may get its first scheduled training now: it is
/// configured (enabled) in ml_settings (a writer's INSERT alone does not start training),
/// it has features, and its first training has not failed today already (one failure
/// record per type per day, not per run).
pub fn first_training_allowed(metric_type: &str) -> Result<bool> {
    Ok(one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM ml_settings s WHERE s.metric_type OPERATOR(pg_catalog.=) $1 AND s.enabled)
            AND EXISTS (SELECT 1 FROM ml_series_state st WHERE st.metric_type OPERATOR(pg_catalog.=) $1 AND st.features_until IS NOT NULL)
            AND NOT EXISTS (SELECT 1 FROM ml_training_logs l WHERE l.metric_type OPERATOR(pg_catalog.=) $1 AND NOT l.success
                               AND l.training_start OPERATOR(pg_catalog.>=) pg_catalog.date_trunc('day', pg_catalog.now()))",
        &[metric_type.into()],
    )?
    .unwrap_or(false))
}
