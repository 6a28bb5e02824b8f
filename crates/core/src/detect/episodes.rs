//! Episodes (alerts) from scored rows, and severity.
//!
//! Why episodes: an anomaly lasts several rows, and an operator wants one alert per event,
//! not one per row. Four rules, all measured to matter (DETECTION.md, "Episodes, not rows"):
//! - hysteresis: an episode opens at the threshold and stays open while the score stays at or
//!   above the lower close level, so a score hovering at the threshold is one alert;
//! - gaps: episodes closer than `max_gap_us` merge;
//! - reversal: an episode that goes the other way within `reversal_us` (a stuck reading and
//!   its recovery jump, a level shift and its return) merges into the previous one, unless
//!   it is far more unusual than that one ([`REVERSAL_MAX_RATIO`]): then it is a new event;
//! - unsettled gap: so does an episode within `reversal_us` when no row between the two fell
//!   back to a normal score ([`quiet_level`]): one event whose evidence moved from one input
//!   to another (a missing refill: first stock falling unexplained, then stock lingering
//!   empty) and dipped below the close level on the way;
//! - suppression: an episode starting within `suppress_us` after the end of an alert of the
//!   same series, or of the last suppressed repeat after it, is reported (flagged
//!   `suppressed`) but raises no alert unless it is more unusual than that alert: only an
//!   increase over the recent maximum counts. Each suppressed repeat restarts the window, so
//!   repeats chain (measured on the NAB TUNE half: not chaining was worse, 45.3 vs 46.5).

use super::Scored;

/// Parameters of [`episodes`]; [`Detector::episode_params`](super::Detector::episode_params)
/// gives the model's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpisodeParams {
    pub threshold: f64,
    pub close: f64,
    pub max_gap_us: i64,
    pub suppress_us: i64,
    pub reversal_us: i64,
}

/// One episode over `rows[start..=end]` of the slice given to [`episodes`].
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    pub start: usize,
    pub end: usize,
    pub start_ts: i64,
    pub end_ts: i64,
    /// Index of the row with the highest score (the one to explain and report).
    pub peak: usize,
    pub peak_score: f64,
    /// Direction of the peak row (1 above expected, -1 below, 0 unknown).
    pub direction: i8,
    /// A repeat within the suppression window that is not more unusual: no new alert.
    pub suppressed: bool,
}

/// The episodes of one series' scored rows (sorted by ts), oldest first.
pub fn episodes(rows: &[Scored], p: &EpisodeParams) -> Vec<Episode> {
    // 1. hysteresis runs
    let mut raw: Vec<Episode> = Vec::new();
    let mut open: Option<Episode> = None;
    for (i, r) in rows.iter().enumerate() {
        if let Some(ep) = open.as_mut() {
            if r.score >= p.close {
                extend(ep, rows, i);
                continue;
            }
            raw.extend(open.take());
        }
        if r.score >= p.threshold {
            open = Some(new_episode(rows, i));
        }
    }
    raw.extend(open);

    // 2. merge gaps and reversals
    let mut merged: Vec<Episode> = Vec::with_capacity(raw.len());
    for ep in raw {
        if let Some(prev) = merged.last_mut() {
            let gap = ep.start_ts.saturating_sub(prev.end_ts);
            // a reversal goes back about as far as the jump went: an episode far more unusual
            // than the one before it is an event of its own, not that one's return
            let reversal = prev.direction != 0
                && ep.direction == -prev.direction
                && gap <= p.reversal_us
                && rarity(&rows[ep.peak]) <= REVERSAL_MAX_RATIO * rarity(&rows[prev.peak]);
            // the series never went back to normal in between: one event whose evidence passed
            // from one input to another (a missing refill: the unexplained fall, then the stock
            // lingering empty) dipped below the close level for a while, not two events
            let unsettled = continues_unsettled(prev.end_ts, ep.start_ts, &rows[prev.end + 1..ep.start], p);
            if gap <= p.max_gap_us || reversal || unsettled {
                let peak_dir = if ep.peak_score > prev.peak_score { (ep.peak, ep.peak_score, ep.direction) } else { (prev.peak, prev.peak_score, prev.direction) };
                prev.end = ep.end;
                prev.end_ts = ep.end_ts;
                (prev.peak, prev.peak_score, prev.direction) = peak_dir;
                continue;
            }
        }
        merged.push(ep);
    }

    // 3. suppress repeats that are not more unusual than the recent alert
    let mut recent: Option<(i64, f64)> = None;
    for ep in &mut merged {
        if let Some((end_ts, peak)) = recent.as_mut() {
            if ep.start_ts.saturating_sub(*end_ts) <= p.suppress_us && ep.peak_score <= *peak {
                ep.suppressed = true;
                *end_ts = ep.end_ts;
                continue;
            }
        }
        recent = Some((ep.end_ts, ep.peak_score));
    }
    merged
}

/// The unsettled-gap rule between an episode (or alert) that ended at `end_ts` and one that
/// starts at `start_ts`: within `reversal_us`, and every row of `between` scored in between
/// (rows outside `(end_ts, start_ts)` are ignored) kept at least [`quiet_level`]. The same
/// rule joins episodes within one scoring run and an episode to an alert a previous run wrote
/// (the caller then supplies the rows scored since that alert's end).
pub fn continues_unsettled<'a>(end_ts: i64, start_ts: i64, between: impl IntoIterator<Item = &'a Scored>, p: &EpisodeParams) -> bool {
    start_ts.saturating_sub(end_ts) <= p.reversal_us
        && between.into_iter().filter(|r| r.ts > end_ts && r.ts < start_ts).all(|r| r.score >= quiet_level(p.close))
}

/// Whether an alert that ended at `end_ts` may still be continued by an episode starting
/// after `until_ts` (the last row scored so far), given the rows scored since it: within the
/// episode gap, or within `reversal_us` with no row back at a normal score. The pipeline
/// keeps such an alert open; any other is over.
pub fn may_continue<'a>(end_ts: i64, until_ts: i64, since: impl IntoIterator<Item = &'a Scored>, p: &EpisodeParams) -> bool {
    let gap = until_ts.saturating_sub(end_ts);
    gap <= p.max_gap_us || (gap < p.reversal_us && since.into_iter().filter(|r| r.ts > end_ts).all(|r| r.score >= quiet_level(p.close)))
}

/// A later episode in the other direction within `reversal_us` is the earlier one's reversal
/// (merged into it) only while its peak's `-log10 p` is at most this multiple of the earlier
/// peak's: a return is about as unusual as the jump it undoes, while a far larger swing the
/// other way is a new event (chosen on TUNE halves: 1, 1.5, 2, 3, 4, 8, no limit).
pub(crate) const REVERSAL_MAX_RATIO: f64 = 1.5;

/// How much more often than the close level a row may be reached while the series still
/// counts as not back to normal between two episodes (see [`quiet_level`]).
const QUIET_FACTOR: f64 = 10.0;

/// The score every row between two episodes must keep for them to be one event: the close
/// level's tail probability times [`QUIET_FACTOR`] (0.8 for the default close level 0.98:
/// rows above it are in the top fifth of a normal series' daily maxima, so a gap that stays
/// there never looked normal).
pub(crate) fn quiet_level(close: f64) -> f64 {
    1.0 - (QUIET_FACTOR * (1.0 - close)).min(1.0)
}

/// `-log10 p` of a row: its own when set, else from its score (rows built without it).
fn rarity(r: &Scored) -> f64 {
    if r.neg_log10_p > 0.0 {
        r.neg_log10_p
    } else {
        -(1.0 - r.score).clamp(1e-300, 1.0).log10()
    }
}

fn new_episode(rows: &[Scored], i: usize) -> Episode {
    let r = &rows[i];
    Episode { start: i, end: i, start_ts: r.ts, end_ts: r.ts, peak: i, peak_score: r.score, direction: r.direction, suppressed: false }
}

fn extend(ep: &mut Episode, rows: &[Scored], i: usize) {
    let r = &rows[i];
    ep.end = i;
    ep.end_ts = r.ts;
    if r.score > ep.peak_score {
        ep.peak = i;
        ep.peak_score = r.score;
        ep.direction = r.direction;
    }
}

/// The severity values, lowest first (the web application's vocabulary).
pub const SEVERITY_LEVELS: [&str; 4] = ["dusuk", "orta", "yuksek", "kritik"];

/// Severity of an alert from its peak score, the model's threshold and the deviation from
/// the expected value in percent (when known).
///
/// Bands on `r = ln(1 - score) / ln(1 - threshold)`, how many times rarer than the threshold
/// the row is on a log scale (r = 1 at the threshold): `dusuk` r < 1.5, `orta` r < 2,
/// `yuksek` r < 3, `kritik` r >= 3. With the default threshold (p = 0.001 per series-day):
/// `orta` from p <= 3e-5, `yuksek` from p <= 1e-6, `kritik` from p <= 1e-9. A large deviation
/// raises the band: |deviation| >= 50 % to at least `orta`, >= 200 % to at least `yuksek`
/// (a rare but small wobble is less urgent than stock at zero).
pub fn severity(score: f64, threshold: f64, deviation_percent: Option<f64>) -> &'static str {
    let p = (1.0 - score).clamp(0.0, 1.0);
    let pt = (1.0 - threshold).clamp(1e-300, 0.999);
    let r = if p <= 0.0 { f64::INFINITY } else { p.ln() / pt.ln() };
    let mut band = if r.is_nan() || r < 1.5 {
        0
    } else if r < 2.0 {
        1
    } else if r < 3.0 {
        2
    } else {
        3
    };
    if let Some(d) = deviation_percent.filter(|d| d.is_finite()).map(f64::abs) {
        if d >= 200.0 {
            band = band.max(2);
        } else if d >= 50.0 {
            band = band.max(1);
        }
    }
    SEVERITY_LEVELS[band]
}
