//! Where and what the anomalies of one entity are, decided before the series is simulated.
//!
//! Count and consumption / custody windows are final here. Stock anomalies and refill-duration
//! shifts depend on when refills happen, so their planned start is the earliest start and the
//! simulation decides the exact labelled span (see `sim`).

use rand::Rng;

use super::profile::EntityProfile;
use super::{Clock, ANOMALIES_PER_30_DAYS, DOLUM, STEPS_PER_DAY, STOK, TUKETIM, ZIMMET};

/// An anomaly kind together with the metric it is injected into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    ConsSpike,
    CustSpike,
    ConsDrop,
    ConsShift,
    DurShift,
    StockStuck,
    CustStuck,
    MissingRefill,
    SlowLeak,
}

impl Kind {
    /// (index into METRIC_TYPES, label kind).
    pub(super) fn label(self) -> (usize, &'static str) {
        match self {
            Kind::ConsSpike => (TUKETIM, "spike"),
            Kind::CustSpike => (ZIMMET, "spike"),
            Kind::ConsDrop => (TUKETIM, "drop"),
            Kind::ConsShift => (TUKETIM, "level_shift"),
            Kind::DurShift => (DOLUM, "level_shift"),
            Kind::StockStuck => (STOK, "stuck"),
            Kind::CustStuck => (ZIMMET, "stuck"),
            Kind::MissingRefill => (STOK, "missing_refill"),
            Kind::SlowLeak => (STOK, "slow_leak"),
        }
    }
    fn metric(self) -> usize {
        self.label().0
    }
}

/// One planned anomaly. `len` is its length in steps (for a missing refill: how long the stock
/// stays at 0); `reserve` is the span kept free of other anomalies of the same metric;
/// `mag` its size (factor, or items per step for a leak).
#[derive(Clone, Copy, Debug)]
pub(super) struct Planned {
    pub kind: Kind,
    pub start: usize,
    pub len: usize,
    pub reserve: usize,
    pub mag: f64,
}

/// Steps kept free between two anomalies of one metric, so each is a distinct episode.
pub(super) const GAP: usize = 16;
const ATTEMPTS: usize = 20;

pub(super) fn plan_anomalies<R: Rng>(rng: &mut R, p: &EntityProfile, clock: &Clock, n: usize, clean: usize, days: u32) -> Vec<Planned> {
    let expected = ANOMALIES_PER_30_DAYS * f64::from(days) / 30.0;
    let x = expected * rng.gen_range(0.5..1.5);
    let count = x.floor() as usize + usize::from(rng.gen::<f64>() < x.fract());
    let mut out: Vec<Planned> = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = pick_kind(rng);
        let (len, reserve, mag, hours, weekday) = shape(rng, p, kind);
        for _ in 0..ATTEMPTS {
            let Some(start) = place(rng, clock, n, clean, reserve, hours, weekday) else { continue };
            let clash = out.iter().any(|o| {
                o.kind.metric() == kind.metric() && start < o.start + o.reserve + GAP && o.start < start + reserve + GAP
            });
            if !clash {
                out.push(Planned { kind, start, len, reserve, mag });
                break;
            }
        }
    }
    out.sort_by_key(|a| a.start);
    out
}

/// Each of the six label kinds is equally likely; kinds that exist on two metrics split evenly.
fn pick_kind<R: Rng>(rng: &mut R) -> Kind {
    let second = rng.gen_bool(0.5);
    match rng.gen_range(0..6) {
        0 => if second { Kind::CustSpike } else { Kind::ConsSpike },
        1 => Kind::ConsDrop,
        2 => if second { Kind::DurShift } else { Kind::ConsShift },
        3 => if second { Kind::CustStuck } else { Kind::StockStuck },
        4 => Kind::MissingRefill,
        _ => Kind::SlowLeak,
    }
}

/// (len, reserve, magnitude, allowed local start slots, weekday only) of a kind.
fn shape<R: Rng>(rng: &mut R, p: &EntityProfile, kind: Kind) -> (usize, usize, f64, Option<(usize, usize)>, bool) {
    const DAY: usize = STEPS_PER_DAY;
    match kind {
        Kind::ConsSpike | Kind::CustSpike => {
            let len = rng.gen_range(1..=3);
            (len, len, rng.gen_range(5.0..10.0), None, false)
        }
        Kind::ConsDrop => {
            // Long enough that about 20 items would normally have been consumed (2-10 h), and
            // inside 07:00-22:00 local so the silence is unusual.
            let busy: f64 = (28..88).map(|s| p.consumption_rate(s, false)).sum::<f64>() / 60.0;
            let len = ((20.0 / busy).ceil() as usize).clamp(8, 40);
            (len, len, 0.0, Some((28, 88 - len)), false)
        }
        Kind::ConsShift | Kind::DurShift => {
            let len = rng.gen_range(DAY..=3 * DAY);
            let reserve = if kind == Kind::DurShift { len + DAY } else { len };
            (len, reserve, rng.gen_range(2.5..4.0), None, false)
        }
        Kind::StockStuck => {
            let len = rng.gen_range(32..=96);
            (len, len, 0.0, None, false)
        }
        Kind::CustStuck => {
            let len = rng.gen_range(32..=96);
            (len, len, 0.0, Some((36, 60)), true)
        }
        Kind::MissingRefill => {
            let len = rng.gen_range(24..=96);
            // Up to one refill cycle until the skipped order, then the run down to 0.
            let cycle = (p.capacity / p.base_rate).min(8.0 * DAY as f64) as usize;
            (len, len + cycle + cycle / 2, 0.0, None, false)
        }
        Kind::SlowLeak => {
            let len = rng.gen_range(32..=144);
            let loss = (rng.gen_range(0.4..1.0) * p.base_rate).round().max(1.0);
            (len, len, loss, None, false)
        }
    }
}

/// A random start after the clean prefix with room for `reserve` steps, moved forward to an
/// allowed local slot and weekday if asked; None if it does not fit.
fn place<R: Rng>(rng: &mut R, clock: &Clock, n: usize, clean: usize, reserve: usize, hours: Option<(usize, usize)>, weekday: bool) -> Option<usize> {
    if n < clean + reserve || reserve == 0 {
        return None;
    }
    let mut s = rng.gen_range(clean..=n - reserve);
    if let Some((lo, hi)) = hours {
        let target = if hi > lo { rng.gen_range(lo..hi) } else { lo };
        s += (target + STEPS_PER_DAY - clock.slot(s)) % STEPS_PER_DAY;
        if weekday {
            while clock.weekend(s) {
                s += STEPS_PER_DAY;
            }
        }
    }
    (s + reserve <= n).then_some(s)
}
