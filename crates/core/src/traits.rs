//! The two traits every model of the core follows, after linfa:
//!
//! - an *unchecked* parameter builder (`...Params`) holds whatever the caller asked for;
//!   [`ParamGuard`] turns it into *valid* parameters (`...ValidParams`) or a
//!   [`CoreError`](crate::error::CoreError) naming the bad value. Validation happens once, in one
//!   place, so the algorithm itself never re-checks its inputs' domains.
//! - [`Fit`] is implemented by the valid parameters: parameters fit data and produce a model.
//!   A blanket impl lets the unchecked builder fit too (it checks first), so callers can write
//!   `IsolationForestParams::new().n_trees(50).fit(x.view())?`.

use crate::error::CoreResult;

/// Parameters that fit a model on `records`.
///
/// Fitting takes `&self` so one set of parameters can fit many models (one per metric type,
/// one per entity) without cloning.
pub trait Fit<R> {
    /// The fitted model.
    type Object;
    /// Fits a model; errors name the offending parameter or data value.
    fn fit(&self, records: R) -> CoreResult<Self::Object>;
}

/// Turns unchecked parameters into checked ones.
///
/// `check_ref` borrows (useful to validate early, e.g. while parsing a user's JSON), `check`
/// consumes the builder.
pub trait ParamGuard {
    /// The validated parameter type, which is what implements [`Fit`].
    type Checked;
    /// Validates without consuming; returns the checked parameters by reference.
    fn check_ref(&self) -> CoreResult<&Self::Checked>;
    /// Validates and consumes.
    fn check(self) -> CoreResult<Self::Checked>;
}

/// Unchecked parameters fit by checking first, then delegating to the checked ones.
impl<R, P> Fit<R> for P
where
    P: ParamGuard,
    P::Checked: Fit<R>,
{
    type Object = <P::Checked as Fit<R>>::Object;

    fn fit(&self, records: R) -> CoreResult<Self::Object> {
        self.check_ref()?.fit(records)
    }
}
