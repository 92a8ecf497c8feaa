//! Naive strided f64 reference implementations of every op: the executable spec.
