//! A robustness corpus: the four metric types of the demo, simulated by a second, independent
//! model of the business and recorded the ways other stores record them, with labelled
//! anomalies. It exists so that detection is measured on data shaped unlike the demo's.
//!
//! Members (see [`MEMBERS`]):
//! - `other15`: the second simulator at 15 minutes, durations held between refills;
//! - `event_dur`: refill duration only in the slot the refill finished, 0 elsewhere;
//! - `shrink`: stock with shrinkage (unrecorded losses), counting noise and partial refills;
//! - `cumulative`: consumption and custody usage as running meter totals;
//! - `hourly` and `min5`: sampled every hour (sums and last readings) or every 5 minutes;
//! - `gaps`: recording outages of 1-12 h and 2 % lost rows;
//! - `short_hist`: entities with 1 to 90 days of history, the last 14 days scored;
//! - `units`: litres, kilograms and seconds (continuous values, other scales);
//! - `regime`: a lasting occupancy change (its first day is neutral) and two holidays;
//! - `day1`: like `other15`, but trained on its first day only (scores from day one).
//!
//! Labels: `spike`, `drop`, `rate_shift` (1.5-4x for 1-4 days) on consumption; `spike`,
//! `stuck`, `rate_shift` on custody; `missing_refill`, `slow_leak`, `stuck`, `spike` (a misread)
//! on stock; `level_shift` (2.5-4x) on refill durations; `regime` spans are neutral: alerts
//! there are not false, and nobody must find them.
//! Everything depends only on (member, seed, entity index): splits use different seeds and
//! entity name prefixes, so a split tuned on never shares an entity with the one reported.

pub mod oracle;
mod record;
mod truth;
#[cfg(test)]
mod tests;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use record::Recorded;

use crate::detect::SeriesRows;
use crate::features::{compute_series, FeatureParams, FeatureRow, Observation};

/// The four metric types, in the order of [`CorpusEntity::series`] (as in `demo`).
pub const METRIC_TYPES: [&str; 4] = ["stok_seviye", "tuketim_miktar", "dolum_sure", "zimmet_kullanim"];
pub(crate) const STOK: usize = 0;
pub(crate) const TUKETIM: usize = 1;
pub(crate) const DOLUM: usize = 2;
pub(crate) const ZIMMET: usize = 3;
/// Local time of the corpus: UTC+2 (the demo uses UTC+3).
pub const LOCAL_OFFSET_US: i64 = 2 * 3_600_000_000;
pub const DAY_US: i64 = 86_400_000_000;

/// How a member records the business.
#[derive(Clone, Debug, Default)]
pub struct Style {
    /// Sampling step in 5-minute base steps (1, 3, 12).
    pub step_base: usize,
    pub event_durations: bool,
    pub shrink: bool,
    pub cumulative: bool,
    pub units: bool,
    pub gaps: bool,
    pub regime: bool,
    /// Entities have 1..=days days of history (the rest of the span is before they existed).
    pub short_history: bool,
}

/// A corpus member: name, style, days simulated and days used for training (the first
/// `train_days`, free of anomalies; `short_hist` trains on all but the last 14 days).
#[derive(Clone, Debug)]
pub struct Member {
    pub name: &'static str,
    pub style: Style,
    pub days: u32,
    pub train_days: u32,
}

fn member(name: &'static str, days: u32, train_days: u32, f: impl FnOnce(&mut Style)) -> Member {
    let mut style = Style { step_base: 3, ..Style::default() };
    f(&mut style);
    Member { name, style, days, train_days }
}

/// All members.
pub fn members() -> Vec<Member> {
    vec![
        member("other15", 35, 7, |_| {}),
        member("event_dur", 35, 7, |s| s.event_durations = true),
        member("shrink", 35, 7, |s| s.shrink = true),
        member("cumulative", 35, 7, |s| s.cumulative = true),
        member("hourly", 35, 7, |s| s.step_base = 12),
        member("min5", 21, 7, |s| s.step_base = 1),
        member("gaps", 35, 7, |s| s.gaps = true),
        member("short_hist", 90, 76, |s| s.short_history = true),
        member("units", 35, 7, |s| s.units = true),
        member("regime", 35, 7, |s| s.regime = true),
        member("day1", 21, 1, |_| {}),
    ]
}

/// Names of all members.
pub const MEMBERS: [&str; 11] = ["other15", "event_dur", "shrink", "cumulative", "hourly", "min5", "gaps", "short_hist", "units", "regime", "day1"];

/// A labelled anomaly (or neutral span) of one metric type of an entity, inclusive.
#[derive(Clone, Debug, PartialEq)]
pub struct CorpusLabel {
    pub metric_type: &'static str,
    pub kind: &'static str,
    pub from_us: i64,
    pub to_us: i64,
}

impl CorpusLabel {
    /// Neutral spans: alerts there are not false, and finding them is not required.
    pub fn neutral(&self) -> bool {
        self.kind == "regime"
    }
}

/// One entity of a member.
#[derive(Clone, Debug)]
pub struct CorpusEntity {
    pub id: String,
    pub series: [Recorded; 4],
    pub labels: Vec<CorpusLabel>,
}

pub(crate) fn metric_of(name: &str) -> usize {
    METRIC_TYPES.iter().position(|m| *m == name).unwrap_or(0)
}

/// Entity `index` of `m` under `seed`, its id prefixed with `prefix` (e.g. "tune", "rep").
/// The last row is at `end_us` (aligned down to the member's step).
pub fn generate(m: &Member, seed: u64, prefix: &str, index: u32, end_us: i64) -> CorpusEntity {
    generate_with_truth(m, seed, prefix, index, end_us).0
}

/// [`generate`], with what the simulator knew of the entity's normal process (for
/// [`oracle`]); the entity is the same, value for value.
pub fn generate_with_truth(m: &Member, seed: u64, prefix: &str, index: u32, end_us: i64) -> (CorpusEntity, oracle::Known) {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&u64::from(index).to_le_bytes());
    key[16..].copy_from_slice(b"pga corpus v1\0\0\0");
    for (i, b) in m.name.bytes().enumerate() {
        key[16 + i % 16] ^= b;
    }
    let mut rng = ChaCha8Rng::from_seed(key);
    let step_us = m.style.step_base as i64 * truth::BASE_US;
    let end = end_us - end_us.rem_euclid(step_us);
    let full = m.days as usize * truth::BASE_PER_DAY;
    let history = if m.style.short_history { rand::Rng::gen_range(&mut rng, 1..=m.days) as usize * truth::BASE_PER_DAY } else { full };
    let n = history;
    let k = m.style.step_base as i64;
    let start = end - (n as i64 - k) * truth::BASE_US;
    let train_end_step = ((train_end_us(m, end_us) - start) / truth::BASE_US).max(0) as usize;
    let anomalies_from = train_end_step.max(truth::BASE_PER_DAY);
    let t = truth::simulate(&mut rng, &m.style, start, n, anomalies_from, LOCAL_OFFSET_US);
    let (series, labels) = record::record(&mut rng, &t, &m.style, start);
    let known = oracle::Known::new(&t.known, &t.labels, &m.style, start);
    (CorpusEntity { id: format!("{prefix}_{}_{index:04}", m.name), series, labels }, known)
}

/// The instant training ends for `m` (rows before it train, rows at or after it are scored).
pub fn train_end_us(m: &Member, end_us: i64) -> i64 {
    let step_us = m.style.step_base as i64 * truth::BASE_US;
    let end = end_us - end_us.rem_euclid(step_us);
    let full = m.days as i64 * truth::BASE_PER_DAY as i64;
    end - (full - m.style.step_base as i64) * truth::BASE_US + i64::from(m.train_days) * DAY_US
}

/// An observation with the local calendar fields of `offset_us` (proleptic Gregorian).
pub fn observation(ts: i64, value: f64, offset_us: i64) -> Observation {
    let local = ts + offset_us;
    let days = local.div_euclid(DAY_US);
    let (_, _, day_of_month) = crate::time::civil_from_days(days);
    Observation {
        ts,
        value,
        hour_of_day: (local.rem_euclid(DAY_US) / crate::time::HOUR_US) as i16,
        day_of_week: ((days + 3).rem_euclid(7) + 1) as i16,
        day_of_month: day_of_month as i16,
    }
}

/// A series with its stored features (computed with the default feature parameters and the
/// local calendar of `offset_us`), as the SQL layer reads it; `aux` is aligned by timestamp
/// (None where the aux series has no row).
pub fn series_rows(id: &str, ts: &[i64], values: &[f64], aux: Option<(&[i64], &[f64])>, offset_us: i64) -> SeriesRows {
    let o: Vec<Observation> = ts.iter().zip(values).map(|(&t, &v)| observation(t, v, offset_us)).collect();
    let mut f: Vec<FeatureRow> = Vec::with_capacity(o.len());
    compute_series(&o, 0, &FeatureParams::default(), &mut f);
    let aux = aux.map(|(ats, av)| {
        let mut j = 0;
        ts.iter()
            .map(|&t| {
                while j < ats.len() && ats[j] < t {
                    j += 1;
                }
                (j < ats.len() && ats[j] == t).then(|| av[j])
            })
            .collect()
    });
    SeriesRows { entity_id: id.to_string(), ts: ts.to_vec(), value: values.to_vec(), features: f.into_iter().map(|r| r.values).collect(), aux }
}

/// The series of metric type `METRIC_TYPES[mi]` of every entity, each with its features and,
/// for a metric type that reads another (`MetricKind::aux_metric`), that series aligned.
pub fn metric_series(ents: &[CorpusEntity], mi: usize) -> Vec<SeriesRows> {
    let kind = crate::detect::MetricKind::from_metric_type(METRIC_TYPES[mi]);
    let aux = kind.aux_metric().and_then(|a| METRIC_TYPES.iter().position(|x| *x == a));
    ents.iter()
        .map(|e| {
            let s = &e.series[mi];
            series_rows(&e.id, &s.ts, &s.value, aux.map(|a| (e.series[a].ts.as_slice(), e.series[a].value.as_slice())), LOCAL_OFFSET_US)
        })
        .collect()
}

/// Event-level counts of a detection run against labels: labels, labels found, alerts, and
/// alerts that found no label.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EventCounts {
    pub labels: usize,
    pub found: usize,
    pub alerts: usize,
    pub fp: usize,
}

impl EventCounts {
    pub fn add(&mut self, o: &EventCounts) {
        self.labels += o.labels;
        self.found += o.found;
        self.alerts += o.alerts;
        self.fp += o.fp;
    }
    /// Share of alerts that found a label (0 without alerts).
    pub fn precision(&self) -> f64 {
        if self.alerts > 0 { (self.alerts - self.fp.min(self.alerts)) as f64 / self.alerts as f64 } else { 0.0 }
    }
    /// Share of labels found (0 without labels).
    pub fn recall(&self) -> f64 {
        if self.labels > 0 { self.found as f64 / self.labels as f64 } else { 0.0 }
    }
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 }
    }
}

/// The first `n` rows of `s`.
pub fn head(s: &SeriesRows, n: usize) -> SeriesRows {
    SeriesRows {
        entity_id: s.entity_id.clone(),
        ts: s.ts[..n].to_vec(),
        value: s.value[..n].to_vec(),
        features: s.features[..n].to_vec(),
        aux: s.aux.as_ref().map(|a| a[..n].to_vec()),
    }
}

/// ROC AUC of `scores` against `positive` (Mann-Whitney, ties count half); None without both
/// classes.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut npos) = (0.0f64, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if positive[k] {
                rank_sum += avg;
                npos += 1;
            }
        }
        i = j + 1;
    }
    let nneg = scores.len() - npos;
    if npos == 0 || nneg == 0 {
        return None;
    }
    Some((rank_sum - (npos * (npos + 1)) as f64 / 2.0) / (npos as f64 * nneg as f64))
}
