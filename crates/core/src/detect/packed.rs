//! Series as bytes: how a Citus worker hands its part of a training sample to the
//! coordinator (README "Scaling out"). Only what the detector reads travels (time, value,
//! the calendar and median columns, the aux value); decoding gives back the same
//! `SeriesRows` the coordinator would have read itself, bit for bit.

use super::SeriesRows;
use crate::features::{col, NUM_FEATURES};
use crate::error::{CoreError, CoreResult};
use bincode::Options;
use serde::{Deserialize, Serialize};

/// First bytes of packed series (format 1).
const MAGIC: [u8; 5] = *b"PGAS1";

#[derive(Serialize, Deserialize)]
struct Packed {
    entity_id: String,
    ts: Vec<i64>,
    value: Vec<f64>,
    hour: Vec<Option<f64>>,
    dow: Vec<Option<f64>>,
    median: Vec<Option<f64>>,
    aux: Option<Vec<Option<f64>>>,
}

/// The columns of `SeriesRows::features` that travel; every other column is None as read.
const CARRIED: [usize; 3] = [col::HOUR_OF_DAY, col::DAY_OF_WEEK, col::MEDIAN];

fn options(limit: u64) -> impl bincode::Options {
    use bincode::Options;
    bincode::DefaultOptions::new().with_limit(limit)
}

/// Packs series whose feature columns are at most the carried ones (as `series::read` fills
/// them); a series with any other column set is refused rather than silently cut.
pub fn pack_series(series: &[SeriesRows]) -> CoreResult<Vec<u8>> {
    let mut packed = Vec::with_capacity(series.len());
    for s in series {
        if s.value.len() != s.ts.len() || s.features.len() != s.ts.len() || s.aux.as_ref().is_some_and(|a| a.len() != s.ts.len()) {
            return Err(CoreError::internal(format!("series \"{}\" has columns of different lengths", s.entity_id)));
        }
        if s.features.iter().any(|f| (0..NUM_FEATURES).any(|c| !CARRIED.contains(&c) && f[c].is_some())) {
            return Err(CoreError::internal(format!("series \"{}\" carries feature columns that are not packed", s.entity_id)));
        }
        packed.push(Packed {
            entity_id: s.entity_id.clone(),
            ts: s.ts.clone(),
            value: s.value.clone(),
            hour: s.features.iter().map(|f| f[col::HOUR_OF_DAY]).collect(),
            dow: s.features.iter().map(|f| f[col::DAY_OF_WEEK]).collect(),
            median: s.features.iter().map(|f| f[col::MEDIAN]).collect(),
            aux: s.aux.clone(),
        });
    }
    let mut out = MAGIC.to_vec();
    options(u64::MAX).serialize_into(&mut out, &packed).map_err(|e| CoreError::internal(format!("packing series failed: {e}")))?;
    Ok(out)
}

/// The series of `pack_series`; damaged or foreign bytes are a `Corrupt` error.
pub fn unpack_series(bytes: &[u8]) -> CoreResult<Vec<SeriesRows>> {
    let Some(body) = bytes.strip_prefix(&MAGIC[..]) else {
        return Err(CoreError::corrupt("packed series do not start with their format mark"));
    };
    // the limit: a damaged length cannot make decoding allocate more than the bytes could hold
    let packed: Vec<Packed> = options(body.len() as u64 * 16 + 1024)
        .deserialize(body)
        .map_err(|e| CoreError::corrupt(format!("packed series are damaged: {e}")))?;
    let mut out = Vec::with_capacity(packed.len());
    for p in packed {
        let n = p.ts.len();
        if p.value.len() != n || p.hour.len() != n || p.dow.len() != n || p.median.len() != n || p.aux.as_ref().is_some_and(|a| a.len() != n) {
            return Err(CoreError::corrupt(format!("packed series \"{}\" has columns of different lengths", p.entity_id)));
        }
        let features = (0..n)
            .map(|i| {
                let mut f = [None; NUM_FEATURES];
                f[col::HOUR_OF_DAY] = p.hour[i];
                f[col::DAY_OF_WEEK] = p.dow[i];
                f[col::MEDIAN] = p.median[i];
                f
            })
            .collect();
        out.push(SeriesRows { entity_id: p.entity_id, ts: p.ts, value: p.value, features, aux: p.aux });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(e: &str, n: usize, aux: bool) -> SeriesRows {
        let mut s = SeriesRows { entity_id: e.into(), aux: aux.then(Vec::new), ..Default::default() };
        for i in 0..n {
            s.ts.push(1_700_000_000_000_000 + i as i64 * 900_000_000);
            s.value.push(if i == 3 { f64::NAN } else { i as f64 * 1.5 - 2.0 });
            let mut f = [None; NUM_FEATURES];
            f[col::HOUR_OF_DAY] = Some((i % 24) as f64);
            f[col::DAY_OF_WEEK] = (i % 5 != 0).then_some((i % 7) as f64);
            f[col::MEDIAN] = (i > 2).then_some(i as f64 / 3.0);
            s.features.push(f);
            if let Some(a) = s.aux.as_mut() {
                a.push((i % 2 == 0).then_some(i as f64));
            }
        }
        s
    }

    #[test]
    fn packed_series_come_back_bit_for_bit() {
        let input = vec![series("urun_1", 50, true), series("oda_2", 0, false), series("x", 7, false)];
        let back = unpack_series(&pack_series(&input).unwrap()).unwrap();
        assert_eq!(back.len(), 3);
        for (a, b) in input.iter().zip(&back) {
            assert_eq!(a.entity_id, b.entity_id);
            assert_eq!(a.ts, b.ts);
            assert_eq!(a.value.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), b.value.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            assert_eq!(a.features, b.features);
            assert_eq!(a.aux, b.aux);
        }
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let bytes = pack_series(&[series("urun_1", 20, true)]).unwrap();
        assert!(unpack_series(&bytes[..bytes.len() / 2]).is_err());
        assert!(unpack_series(b"nonsense").is_err());
        let mut bad = bytes.clone();
        bad[6] = 0xff;
        bad[7] = 0xff;
        let _ = unpack_series(&bad); // any outcome but a panic
        assert_eq!(unpack_series(&bytes).unwrap().len(), 1);
    }

    #[test]
    fn uncarried_columns_are_refused() {
        let mut s = series("a", 3, false);
        let other = (0..NUM_FEATURES).find(|c| !CARRIED.contains(c)).unwrap();
        s.features[1][other] = Some(1.0);
        assert!(pack_series(&[s]).is_err());
    }
}
