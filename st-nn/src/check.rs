//! Hyper-parameter predicates that are false for NaN, so `!nonneg(x)` rejects NaN too.

/// `x >= 0` (false for NaN).
pub(crate) fn nonneg(x: f64) -> bool {
    x >= 0.0
}

/// `x > 0` (false for NaN).
pub(crate) fn positive(x: f64) -> bool {
    x > 0.0
}
