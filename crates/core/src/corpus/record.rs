//! How a store records the truth: sampling step, event-valued or held durations, cumulative
//! counters, units, counting noise, gaps. Labels are mapped onto the recorded rows.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::truth::{Truth, BASE_US};
use super::{CorpusLabel, Style, DOLUM, METRIC_TYPES, STOK, TUKETIM, ZIMMET};

/// One recorded series: strictly increasing timestamps and finite values.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub ts: Vec<i64>,
    pub value: Vec<f64>,
}

/// Records `t` (base steps from `start_us`) in `style`; returns the four series (in
/// `METRIC_TYPES` order) and the labels in timestamps of recorded rows.
pub(crate) fn record(rng: &mut ChaCha8Rng, t: &Truth, style: &Style, start_us: i64) -> ([Recorded; 4], Vec<CorpusLabel>) {
    let k = style.step_base.max(1);
    let n = t.cons.len();
    let rows = n / k;
    let ts_of = |j: usize| start_us + (j * k) as i64 * BASE_US;
    // per-row durations: the last refill landing in or before the row's interval
    let mut refill_at: Vec<Option<f64>> = vec![None; rows];
    for &(i, minutes, _, _) in &t.refills {
        if i / k < rows {
            refill_at[i / k] = Some(minutes);
        }
    }
    let count_noise = if style.shrink { (0.01 * t.capacity).max(1.0) } else { 0.0 };
    let mut out: [Recorded; 4] = Default::default();
    let mut held = t.first_duration;
    let mut totals = [rng.gen_range(1e3..1e5), 0.0, 0.0, rng.gen_range(1e3..1e5)];
    for j in 0..rows {
        let (a, b) = (j * k, j * k + k - 1);
        let mut v = [0.0f64; 4];
        v[TUKETIM] = t.cons[a..=b].iter().sum();
        v[ZIMMET] = t.custody[a..=b].iter().sum();
        v[STOK] = t.stock[b];
        if let Some(&(_, g)) = t.glitch.iter().find(|g| g.0 / k == j) {
            v[STOK] = (v[STOK] + g).max(0.0);
        }
        if count_noise > 0.0 {
            let e: f64 = StandardNormal.sample(rng);
            v[STOK] = (v[STOK] + (count_noise * e).round()).max(0.0);
        }
        if let Some(m) = refill_at[j] {
            held = m;
        }
        v[DOLUM] = if style.event_durations { refill_at[j].unwrap_or(0.0) } else { held };
        if style.cumulative {
            for m in [TUKETIM, ZIMMET] {
                totals[m] += v[m];
                v[m] = totals[m];
            }
        }
        if style.units {
            // litres, kilograms and seconds instead of items and minutes
            let e1: f64 = StandardNormal.sample(rng);
            let e2: f64 = StandardNormal.sample(rng);
            v[TUKETIM] = (v[TUKETIM] * 0.33 * (1.0 + 0.02 * e1)).max(0.0);
            v[STOK] = (v[STOK] * 0.5 + 0.05 * e2).max(0.0);
            v[DOLUM] *= 60.0;
        }
        for m in 0..4 {
            out[m].ts.push(ts_of(j));
            out[m].value.push(v[m]);
        }
    }
    // stuck readings repeat the last reported value
    for &(m, a, b) in &t.stuck {
        let (ja, jb) = (a / k, (b / k).min(rows.saturating_sub(1)));
        if ja == 0 || ja >= rows {
            continue;
        }
        let keep = out[m].value[ja - 1];
        out[m].value[ja..=jb].iter_mut().for_each(|x| *x = keep);
    }
    // labels onto rows
    let mut labels = Vec::new();
    for l in &t.labels {
        let (ja, jb) = (l.a / k, (l.b / k).min(rows.saturating_sub(1)));
        if ja >= rows {
            continue;
        }
        if l.metric == DOLUM && style.event_durations && l.kind == "level_shift" {
            // event-valued: the anomaly is visible only at the slow refills' rows
            for &(i, _, _, slow) in &t.refills {
                if slow && i >= l.a && i <= l.b + 1 && i / k < rows {
                    labels.push(CorpusLabel { metric_type: METRIC_TYPES[DOLUM], kind: l.kind, from_us: ts_of(i / k), to_us: ts_of(i / k) });
                }
            }
            continue;
        }
        labels.push(CorpusLabel { metric_type: METRIC_TYPES[l.metric], kind: l.kind, from_us: ts_of(ja), to_us: ts_of(jb) });
    }
    if style.gaps {
        // recording outages of 1-12 h hit every metric of the entity; 2 % of single rows lost
        let mut drop = vec![false; rows];
        let outages = rng.gen_range(3..9);
        for _ in 0..outages {
            if rows < 10 {
                break;
            }
            let a = rng.gen_range(1..rows);
            let len = ((rng.gen_range(1.0..12.0) * 3.6e9) / (k as f64 * BASE_US as f64)).ceil() as usize;
            drop[a..(a + len).min(rows)].iter_mut().for_each(|d| *d = true);
        }
        for m in 0..4 {
            let keep: Vec<bool> = (0..rows).map(|j| !drop[j] && (j == 0 || !rng.gen_bool(0.02))).collect();
            let r = &mut out[m];
            let mut it = keep.iter();
            r.ts.retain(|_| *it.next().unwrap_or(&true));
            let mut it = keep.iter();
            r.value.retain(|_| *it.next().unwrap_or(&true));
        }
        // a label whose rows are all gone can not be found
        labels.retain(|l| {
            let r = &out[super::metric_of(l.metric_type)];
            r.ts.iter().any(|&t| t >= l.from_us && t <= l.to_us)
        });
    }
    (out, labels)
}
