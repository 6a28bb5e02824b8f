//! Fit tests.
