use super::*;
use crate::error::ErrorKind;

/// 2024-03-11 12:07:00 UTC, a Monday, deliberately not on a 15-minute boundary.
const END: i64 = 1_710_158_820_000_000;

fn params(entities: u32, days: u32, seed: u64) -> DemoParams {
    DemoParams { entities, days, seed, end_us: END }
}


/// Stock diff + consumption per step (0 for the first step).
fn residual(s: &EntitySeries) -> Vec<f64> {
    let (st, c) = (&s.values[STOK], &s.values[TUKETIM]);
    (0..st.len()).map(|i| if i == 0 { 0.0 } else { st[i] - st[i - 1] + c[i] }).collect()
}

#[test]
fn timestamps_are_aligned_and_end_at_end() {
    let p = params(1, 30, 1);
    assert_eq!(p.n_steps(), 30 * 96);
    assert_eq!(p.end_aligned_us() % STEP_US, 0);
    assert!(p.end_aligned_us() <= END && END - p.end_aligned_us() < STEP_US);
    assert_eq!(p.timestamp_us(p.n_steps() - 1), p.end_aligned_us());
    assert_eq!(p.start_us(), p.end_aligned_us() - (30 * 96 - 1) * STEP_US);
    let neg = DemoParams { end_us: -1, ..params(1, 1, 1) };
    assert_eq!(neg.end_aligned_us(), -STEP_US);
}

#[test]
fn params_errors() {
    assert!(params(50, 30, 42).check().is_ok());
    assert!(params(100_000, 3650, 0).check().is_ok());
    for bad in [params(0, 30, 1), params(100_001, 30, 1), params(1, 0, 1), params(1, 3651, 1)] {
        let e = bad.check().unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameter);
    }
    let e = params(1, 0, 1).check().unwrap_err();
    assert!(e.message.contains("days"), "{}", e.message);
    let e = DemoParams { end_us: i64::MIN + 1, ..params(1, 30, 1) }.check().unwrap_err();
    assert!(e.message.contains("end"), "{}", e.message);
    let e = DemoParams { end_us: i64::MAX, ..params(1, 30, 1) }.check().unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
}

#[test]
fn entity_ids() {
    assert_eq!(entity_id(0, 50), "urun_0001");
    assert_eq!(entity_id(49, 50), "urun_0050");
    assert_eq!(entity_id(9998, 9999), "urun_9999");
    assert_eq!(entity_id(0, 10_000), "urun_00001");
    assert_eq!(entity_id(9999, 10_000), "urun_10000");
    assert_eq!(entity_id(99_999, 100_000), "urun_100000");
}

#[test]
fn deterministic_for_a_seed() {
    let p = params(20, 30, 42);
    for k in [0, 7, 19] {
        let (a, b) = (generate_entity(&p, k), generate_entity(&p, k));
        assert_eq!(a.values, b.values);
        assert_eq!(a.labels, b.labels);
    }
    let other = generate_entity(&params(20, 30, 43), 7);
    assert_ne!(other.values[TUKETIM], generate_entity(&p, 7).values[TUKETIM]);
}

#[test]
fn entity_does_not_depend_on_entity_count() {
    for k in [0u32, 3, 4] {
        let a = generate_entity(&params(5, 30, 9), k);
        let b = generate_entity(&params(5000, 30, 9), k);
        assert_eq!(a.values, b.values);
        assert_eq!(a.labels, b.labels);
    }
    // Different entities differ.
    let p = params(5, 30, 9);
    assert_ne!(generate_entity(&p, 1).values[TUKETIM], generate_entity(&p, 2).values[TUKETIM]);
}

#[test]
fn values_are_sane() {
    let p = params(60, 30, 7);
    for k in 0..60 {
        let s = generate_entity(&p, k);
        let prof = entity_profile(p.seed, k);
        assert_eq!(s.entity_index, k);
        for m in 0..4 {
            assert_eq!(s.values[m].len(), p.n_steps());
            assert!(s.values[m].iter().all(|v| v.is_finite()));
        }
        for m in [TUKETIM, ZIMMET] {
            assert!(s.values[m].iter().all(|&v| v >= 0.0 && v.fract() == 0.0), "counts of {}", METRIC_TYPES[m]);
        }
        assert!(s.values[STOK].iter().all(|&v| (0.0..=prof.capacity * 1.1).contains(&v) && v.fract() == 0.0));
        assert!(s.values[DOLUM].iter().all(|&v| v > 0.0));
        // The clean first week never runs out of stock.
        assert!(s.values[STOK][..7 * 96].iter().all(|&v| v > 0.0), "entity {k} stock-out in the clean week");
    }
}

#[test]
fn labels_are_well_formed() {
    let p = params(200, 30, 42);
    let mut total = 0usize;
    let mut seen = std::collections::BTreeSet::new();
    for k in 0..200 {
        let s = generate_entity(&p, k);
        total += s.labels.len();
        for l in &s.labels {
            assert_eq!(l.entity_index, k);
            assert!(l.starts_at_us <= l.ends_at_us, "{l:?}");
            assert!(l.starts_at_us >= p.start_us() + 7 * DAY_US, "{l:?} in the clean week");
            assert!(l.ends_at_us <= p.end_aligned_us(), "{l:?}");
            assert_eq!((l.starts_at_us - p.start_us()) % STEP_US, 0);
            let ok = match l.metric_type {
                "stok_seviye" => ["stuck", "missing_refill", "slow_leak"].contains(&l.kind),
                "tuketim_miktar" => ["spike", "drop", "level_shift"].contains(&l.kind),
                "dolum_sure" => l.kind == "level_shift",
                "zimmet_kullanim" => ["spike", "stuck"].contains(&l.kind),
                _ => false,
            };
            assert!(ok, "{l:?}");
            seen.insert((l.metric_type, l.kind));
        }
        for m in METRIC_TYPES {
            let mut ls: Vec<_> = s.labels.iter().filter(|l| l.metric_type == m).collect();
            ls.sort_by_key(|l| l.starts_at_us);
            for w in ls.windows(2) {
                assert!(w[0].ends_at_us < w[1].starts_at_us, "overlap {:?} {:?}", w[0], w[1]);
            }
        }
    }
    assert_eq!(seen.len(), 9, "every (metric, kind) pair appears: {seen:?}");
    let mean = total as f64 / 200.0;
    assert!((1.2..=2.8).contains(&mean), "mean anomalies per entity {mean}");
}

#[test]
fn short_runs_keep_the_first_half_clean() {
    let p = params(50, 6, 3);
    for k in 0..50 {
        for l in generate_entity(&p, k).labels {
            assert!(*label_steps(&p, &l).start() >= p.n_steps() / 2);
        }
    }
    let one = params(3, 1, 3);
    assert!(generate_entity(&one, 0).values.iter().all(|v| v.len() == 96));
}

#[test]
fn stock_residual_explains_stock_outside_anomalies() {
    let p = params(200, 30, 11);
    let (mut leaks, mut neg_inside, mut inside) = (0, 0usize, 0usize);
    for k in 0..200 {
        let s = generate_entity(&p, k);
        let r = residual(&s);
        let mut in_label = vec![false; r.len()];
        for l in s.labels.iter().filter(|l| l.metric_type == "stok_seviye") {
            let (a, b) = label_steps(&p, l).into_inner();
            // The recovery step after a stuck sensor carries the whole hidden change.
            let b = if l.kind == "stuck" { (b + 1).min(r.len() - 1) } else { b };
            in_label[a..=b].iter_mut().for_each(|x| *x = true);
            if l.kind == "slow_leak" {
                leaks += 1;
                let loss = r[a..=b].iter().copied().filter(|&x| x < 0.0).fold(0.0, f64::min);
                assert!(loss < 0.0, "leak without loss: {l:?}");
                neg_inside += r[a..=b].iter().filter(|&&x| x < 0.0).count();
                inside += b - a + 1;
            }
        }
        for (i, &x) in r.iter().enumerate() {
            // Refills make it positive; nothing but an anomaly makes it negative.
            assert!(in_label[i] || x >= 0.0, "entity {k} step {i}: unexplained loss {x}");
        }
    }
    assert!(leaks >= 5, "only {leaks} leaks");
    assert!(neg_inside as f64 >= 0.8 * inside as f64, "leak residual negative in {neg_inside}/{inside} steps");
}

#[test]
fn anomalies_look_anomalous() {
    let p = params(300, 30, 5);
    let mut checked = std::collections::BTreeMap::new();
    for k in 0..300 {
        let s = generate_entity(&p, k);
        let prof = entity_profile(p.seed, k);
        let clock = Clock::new(p.start_us());
        for l in &s.labels {
            let (a, b) = label_steps(&p, l).into_inner();
            let m = metric_index(l.metric_type).expect("a known metric type");
            let v = &s.values[m][a..=b];
            match (m, l.kind) {
                (TUKETIM, "spike") => {
                    let normal = prof.consumption_rate(clock.slot(a), clock.weekend(a));
                    assert!(v.iter().sum::<f64>() > (b - a + 1) as f64 * 3.0 * normal.max(1.0), "{l:?} {v:?} normal {normal}");
                }
                (TUKETIM, "drop") => assert!(v.iter().all(|&x| x == 0.0)),
                (STOK, "stuck") | (ZIMMET, "stuck") => assert!(v.iter().all(|&x| x == v[0])),
                (STOK, "missing_refill") if b + 1 < s.values[STOK].len() => {
                    assert_eq!(v[v.len() - 1], 0.0, "{l:?}");
                    assert!(s.values[STOK][b + 1] > prof.reorder_point, "{l:?}");
                }
                (DOLUM, "level_shift") => {
                    assert!(v.iter().all(|&x| x == v[0]) || b - a > 96, "{l:?}");
                    assert_ne!(s.values[DOLUM][a], s.values[DOLUM][a - 1]);
                }
                _ => {}
            }
            *checked.entry((l.metric_type, l.kind)).or_insert(0) += 1;
        }
    }
    assert_eq!(checked.len(), 9, "{checked:?}");
}

#[test]
fn daily_pattern_follows_local_time() {
    // Mean consumption at 03:00-04:00 local is far below 07:30-09:00 local.
    let p = params(40, 14, 2);
    let clock = Clock::new(p.start_us());
    let (mut night, mut morning) = (0.0, 0.0);
    for k in 0..40 {
        let s = generate_entity(&p, k);
        for (i, &c) in s.values[TUKETIM].iter().enumerate() {
            let slot = clock.slot(i);
            if (12..16).contains(&slot) {
                night += c;
            } else if (30..36).contains(&slot) {
                morning += c / 1.5;
            }
        }
    }
    assert!(morning > 4.0 * night, "morning {morning} night {night}");
    // 2024-03-08 21:00 UTC is Saturday 00:00 local; 2024-03-10 21:00 UTC is Monday 00:00 local.
    let sat = Clock::new(1_709_931_600_000_000);
    assert!(sat.weekend(0) && sat.slot(0) == 0);
    assert!(!Clock::new(1_710_104_400_000_000).weekend(0), "Monday 00:00 local");
}
