//! ml_explain: Shapley attributions of a stored row's score (pipeline::explain). Importance
//! is stored at training (pipeline/train.rs) and read back by the SQL function
//! ml_feature_importance (sql/finalize.sql); elimination runs from ml_select_features.

use crate::errors::run;
use crate::pipeline::explain::explain;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// Shapley attributions of one stored row's score to the active detector's inputs: per input
/// its value (a dimensionless deviation), its exact Shapley value of the row surprise in nats
/// (they add up to surprise - base_surprise), its share of that difference, and the forest's
/// TreeSHAP value of log2 of its score (interactions folded). `score` is the model's score of
/// the row as ml_detect gives it.
///
/// With the sequence family (`detector_family` `sequence` or `both`) three more rows follow in
/// the same columns: `sequence_bin` (value: the row's bin; label: its value range),
/// `sequence_previous` and `sequence_two_before` (the bins of the two rows before it). Their
/// attributions split the family's surprise `-ln P(bin | two bins before)` along its back-off
/// chain (`-ln P(bin)`, what the previous bin adds, what the one before that adds) and add up
/// to it: `surprise` is the family's, `base_surprise` 0, `share` attribution / surprise,
/// `forest_attribution` NULL.
///
/// For an entity the active model was not trained on (it joined after training) the first row
/// is `model`: its label says which model scored the row (`warm_up`: fitted on the entity's
/// look-back rows at scoring time; `warm_up (borrowed)`: the metric type's usual profile shape
/// and widened bands at the entity's own level, for a count type's entity with fewer than 24
/// look-back rows), its value is the number of look-back rows, its attribution 0.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_explain(
    metric_type: &str,
    entity_id: &str,
    timestamp: TimestampWithTimeZone,
) -> std::result::Result<
    TableIterator<
        'static,
        (
            name!(input, String),
            name!(label, String),
            name!(value, f64),
            name!(attribution, f64),
            name!(share, Option<f64>),
            name!(forest_attribution, Option<f64>),
            name!(score, f64),
            name!(surprise, f64),
            name!(base_surprise, f64),
        ),
    >,
    ErrorReport,
> {
    run("ml_explain", || Ok(TableIterator::new(explain(metric_type, entity_id, timestamp)?)))
}

