//! Which derived inputs a detector uses: all of its kind's, minus `exclude_inputs` (set by
//! recursive feature elimination, `rfe.rs`).
//!
//! Why zeroing instead of dropping columns: a zero input is what a normal row shows (the
//! deviations are about N(0, 1) around 0), its calibrated surprise is 0, and a constant column
//! is never split on by the isolation forest; so a left-out input has no effect anywhere,
//! while every array, calibration table and stored model keeps its shape.

use serde_json::Value;

use super::derive::{features, Row, MAX_NF};
use super::MetricKind;
use crate::error::{CoreError, CoreResult};

/// Longest input name accepted (the longest real one has 21 characters).
const MAX_NAME: usize = 64;

/// A JSON array of input names.
pub(crate) fn names_from_json(key: &str, v: &Value) -> CoreResult<Vec<String>> {
    let bad = || CoreError::invalid_param(key, v, "must be an array of input names, e.g. [\"count_1h\"]");
    let arr = v.as_array().ok_or_else(bad)?;
    let out: Vec<String> = arr.iter().map(|x| x.as_str().map(str::to_string).ok_or_else(bad)).collect::<CoreResult<_>>()?;
    check_shape(&out)?;
    Ok(out)
}

/// Bounds that do not need the kind: few, short, distinct names.
pub(crate) fn check_shape(names: &[String]) -> CoreResult<()> {
    if names.len() > MAX_NF || names.iter().any(|n| n.is_empty() || n.len() > MAX_NAME) {
        return Err(CoreError::invalid_param("exclude_inputs", names.join(","), "at most 5 non-empty input names"));
    }
    if names.iter().enumerate().any(|(i, n)| names[..i].contains(n)) {
        return Err(CoreError::invalid_param("exclude_inputs", names.join(","), "an input may be named only once"));
    }
    Ok(())
}

/// The used-input mask of `kind` (true = used). Errors: an unknown name, or every input left
/// out (a detector needs at least one).
pub(crate) fn input_mask(kind: MetricKind, exclude: &[String]) -> CoreResult<[bool; MAX_NF]> {
    let info = features(kind);
    let mut mask = [false; MAX_NF];
    mask[..info.len()].fill(true);
    for name in exclude {
        let Some(j) = info.iter().position(|f| f.name == name) else {
            let known: Vec<&str> = info.iter().map(|f| f.name).collect();
            return Err(CoreError::invalid_param("exclude_inputs", name, &format!("is not an input of a {} metric", kind.name()))
                .with_hint(format!("Inputs: {}.", known.join(", "))));
        };
        mask[j] = false;
    }
    if !mask.iter().any(|m| *m) {
        return Err(CoreError::invalid_param("exclude_inputs", exclude.join(","), "would leave the detector no input")
            .with_hint("Keep at least one input."));
    }
    Ok(mask)
}

/// Zeroes the left-out inputs of `rows`.
pub(crate) fn mask_rows(rows: &mut [Row], mask: &[bool; MAX_NF]) {
    if mask.iter().all(|m| *m) {
        return;
    }
    for r in rows {
        r.z.iter_mut().zip(mask).filter(|(_, m)| !**m).for_each(|(z, _)| *z = 0.0);
    }
}

impl super::Detector {
    /// The used-input mask (validated at fit and on load, so never an error here).
    pub(crate) fn used_inputs(&self) -> [bool; MAX_NF] {
        input_mask(self.kind, &self.params.exclude_inputs).unwrap_or([true; MAX_NF])
    }

    /// Names of the inputs the detector uses, in column order.
    pub fn inputs(&self) -> Vec<&'static str> {
        let mask = self.used_inputs();
        features(self.kind).iter().zip(mask).filter(|(_, m)| *m).map(|(f, _)| f.name).collect()
    }
}

/// Every input of a kind, in column order.
pub fn inputs_of(kind: MetricKind) -> Vec<&'static str> {
    features(kind).iter().map(|f| f.name).collect()
}
