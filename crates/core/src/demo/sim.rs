//! The step-by-step simulation of one entity: counts, the stock they drive, refills and their
//! durations, with the planned anomalies applied and their exact spans recorded.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma};

use super::plan::{Kind, Planned, GAP};
use super::profile::{EntityProfile, DAY_SIGMA};
use super::sample::{normal, poisson, stream, unit_lognormal, Purpose};
use super::{Clock, DOLUM, STEPS_PER_DAY, STOK, TUKETIM, ZIMMET};

/// A labelled span in step indices, `end` inclusive.
pub(super) struct Span {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// The longest a skipped refill is held back after it should have landed, should the stock
/// never reach 0 (consumption stopped): a week.
const MAX_SKIP: usize = 7 * STEPS_PER_DAY;
/// How refill duration grows with the amount refilled (amount / typical)^DURATION_EXPONENT.
const DURATION_EXPONENT: f64 = 0.3;

/// The stock anomaly in force, if any.
enum StockState {
    Idle,
    Stuck { until: usize, frozen: f64 },
    Leak { until: usize, loss: f64 },
    /// Waiting for the next refill order, which will be skipped.
    MissArmed { len: usize },
    /// The skipped refill should have landed at `due`; the late one lands once the stock has been
    /// 0 for `len` steps.
    MissOpen { due: usize, len: usize, zeros: usize },
}

/// Refill-duration level shifts and the state of their labels.
struct DurShifts {
    plan: Vec<Planned>,
    cursor: usize,
    first: Vec<Option<usize>>,
    open: Option<usize>,
}

impl DurShifts {
    /// The duration factor of a refill landing at `i`; opens and closes labels.
    fn at_refill(&mut self, i: usize, spans: &mut Vec<Span>) -> f64 {
        while self.cursor + 1 < self.plan.len() && self.plan[self.cursor + 1].start <= i {
            self.cursor += 1;
        }
        let k = self.cursor;
        let affected = match self.plan.get(k) {
            Some(s) if s.start <= i => i < s.start + s.len || self.first[k].is_none(),
            _ => false,
        };
        if let Some(j) = self.open {
            if !affected || j != k {
                self.close(j, i - 1, spans);
            }
        }
        if !affected {
            return 1.0;
        }
        self.first[k].get_or_insert(i);
        self.open = Some(k);
        self.plan[k].mag
    }
    fn close(&mut self, j: usize, end: usize, spans: &mut Vec<Span>) {
        if let Some(start) = self.first[j] {
            spans.push(Span { kind: Kind::DurShift, start, end });
        }
        self.open = None;
    }
}

/// The extra count of a spike: `size` +-20 %, not Poisson, so a small entity's spike cannot
/// come out as an ordinary value.
fn burst(rng: &mut ChaCha8Rng, size: f64) -> f64 {
    (size * rng.gen_range(0.8..1.2)).round()
}

/// The anomaly window covering step `i` of a sorted, non-overlapping list, advancing `cursor`.
fn window_at<'a>(ws: &'a [Planned], cursor: &mut usize, i: usize) -> Option<&'a Planned> {
    while *cursor < ws.len() && ws[*cursor].start + ws[*cursor].len <= i {
        *cursor += 1;
    }
    ws.get(*cursor).filter(|w| w.start <= i)
}

pub(super) fn simulate(p: &EntityProfile, planned: &[Planned], clock: &Clock, n: usize, seed: u64, idx: u32) -> ([Vec<f64>; 4], Vec<Span>) {
    let mut cons_rng = stream(seed, idx, Purpose::Consumption);
    let mut cust_rng = stream(seed, idx, Purpose::Custody);
    let mut refill_rng = stream(seed, idx, Purpose::Refill);
    let mut fx = stream(seed, idx, Purpose::Effects);
    let gamma = Gamma::new(p.nb_shape, 1.0 / p.nb_shape).ok();

    let of = |ks: &[Kind]| planned.iter().filter(|a| ks.contains(&a.kind)).copied().collect::<Vec<_>>();
    let cons_w = of(&[Kind::ConsSpike, Kind::ConsDrop, Kind::ConsShift]);
    let cust_w = of(&[Kind::CustSpike, Kind::CustStuck]);
    let stock_q = of(&[Kind::StockStuck, Kind::SlowLeak, Kind::MissingRefill]);
    let dur_plan = of(&[Kind::DurShift]);
    let mut dur = DurShifts { first: vec![None; dur_plan.len()], plan: dur_plan, cursor: 0, open: None };

    let mut spans: Vec<Span> = cons_w.iter().chain(cust_w.iter()).map(|w| Span { kind: w.kind, start: w.start, end: (w.start + w.len).min(n) - 1 }).collect();
    let mut values: [Vec<f64>; 4] = std::array::from_fn(|_| Vec::with_capacity(n));

    let target = |rng: &mut ChaCha8Rng| (p.capacity * rng.gen_range(0.92..=1.0)).round();
    let duration = |rng: &mut ChaCha8Rng, amount: f64, factor: f64| {
        let d = p.base_duration_min * (amount.max(1.0) / p.typical_refill).powf(DURATION_EXPONENT) * (p.duration_sigma * normal(rng)).exp() * factor;
        ((d * 10.0).round() / 10.0).max(1.0)
    };
    let mut stock = refill_rng.gen_range(p.reorder_point + 1.0..=p.capacity).round();
    let mut last_duration = duration(&mut refill_rng, p.typical_refill, 1.0);
    let mut pending: Option<usize> = None;
    let mut state = StockState::Idle;
    let (mut next_stock, mut stock_free_from) = (0usize, 0usize);
    let (mut cons_cursor, mut cust_cursor) = (0usize, 0usize);
    let (mut day, mut cons_day, mut cust_day) = (i64::MIN, 1.0, 1.0);
    let (mut prev_cust, mut cust_frozen) = (0.0f64, 0.0f64);

    for i in 0..n {
        let slot = clock.slot(i);
        let weekend = clock.weekend(i);
        let d = clock.local_day(i);
        if d != day {
            day = d;
            cons_day = unit_lognormal(&mut cons_rng, DAY_SIGMA);
            cust_day = unit_lognormal(&mut cust_rng, DAY_SIGMA);
        }

        // Consumption: negative binomial around the slot's rate, then the window's anomaly.
        let normal_rate = p.consumption_rate(slot, weekend) * cons_day;
        let cw = window_at(&cons_w, &mut cons_cursor, i);
        let rate = match cw {
            Some(w) if w.kind == Kind::ConsShift => normal_rate * w.mag,
            _ => normal_rate,
        };
        let mix = gamma.as_ref().map_or(1.0, |g| g.sample(&mut cons_rng));
        let mut c = poisson(&mut cons_rng, rate * mix);
        match cw.map(|w| (w.kind, w.mag)) {
            Some((Kind::ConsSpike, mag)) => c += burst(&mut fx, mag * normal_rate.max(p.base_rate) + 6.0),
            Some((Kind::ConsDrop, _)) => c = 0.0,
            _ => {}
        }

        // Stock anomalies end and start (one at a time, GAP steps apart).
        if let StockState::Stuck { until, .. } | StockState::Leak { until, .. } = state {
            if i >= until {
                state = StockState::Idle;
                stock_free_from = i + GAP;
            }
        }
        if matches!(state, StockState::Idle) && i >= stock_free_from {
            if let Some(a) = stock_q.get(next_stock).filter(|a| a.start <= i) {
                next_stock += 1;
                let until = i + a.len;
                state = match a.kind {
                    Kind::StockStuck => StockState::Stuck { until, frozen: values[STOK].last().copied().unwrap_or(stock) },
                    Kind::SlowLeak => StockState::Leak { until, loss: a.mag },
                    _ => StockState::MissArmed { len: a.len },
                };
                if a.kind != Kind::MissingRefill {
                    spans.push(Span { kind: a.kind, start: i, end: until.min(n) - 1 });
                }
            }
        }

        // Stock: refill lands, then consumption (and a leak) is taken out, clamped at 0.
        if pending == Some(i) {
            pending = None;
            let fill = target(&mut refill_rng);
            let amount = (fill - stock).max(0.0);
            stock = stock.max(fill);
            let factor = dur.at_refill(i, &mut spans);
            last_duration = duration(&mut refill_rng, amount, factor);
        }
        let loss = if let StockState::Leak { loss, .. } = state { loss } else { 0.0 };
        stock = (stock - c - loss).max(0.0);
        if pending.is_none() && stock < p.reorder_point && !matches!(state, StockState::MissOpen { .. }) {
            let delay = refill_rng.gen_range(1..=p.max_delay_steps) as usize;
            if let StockState::MissArmed { len } = state {
                state = StockState::MissOpen { due: i + delay, len, zeros: 0 };
            } else {
                pending = Some(i + delay);
            }
        }
        if let StockState::MissOpen { due, len, zeros } = &mut state {
            if stock <= 0.0 {
                *zeros += 1;
            }
            if i >= *due && (*zeros >= *len || i >= *due + MAX_SKIP) {
                spans.push(Span { kind: Kind::MissingRefill, start: *due, end: i });
                pending = Some(i + 1);
                state = StockState::Idle;
                stock_free_from = i + 1 + GAP;
            }
        }
        values[STOK].push(if let StockState::Stuck { frozen, .. } = state { frozen } else { stock });
        values[TUKETIM].push(c);
        values[DOLUM].push(last_duration);

        // Custody usage: Poisson around the working-hours rate, then the window's anomaly.
        let cust_rate = p.custody_rate_at(slot, weekend) * cust_day;
        let mut u = poisson(&mut cust_rng, cust_rate);
        match window_at(&cust_w, &mut cust_cursor, i) {
            Some(w) if w.kind == Kind::CustSpike => u += burst(&mut fx, w.mag * cust_rate.max(0.5 * p.custody_rate) + 4.0),
            Some(w) if w.kind == Kind::CustStuck => {
                if i == w.start {
                    cust_frozen = prev_cust.max(1.0);
                }
                u = cust_frozen;
            }
            _ => {}
        }
        prev_cust = u;
        values[ZIMMET].push(u);
    }

    // Anomalies still open at the end of the series are labelled up to its last step.
    if let StockState::MissOpen { due, .. } = state {
        if due < n {
            spans.push(Span { kind: Kind::MissingRefill, start: due, end: n - 1 });
        }
    }
    if let Some(j) = dur.open {
        dur.close(j, n.saturating_sub(1), &mut spans);
    }
    (values, spans)
}
