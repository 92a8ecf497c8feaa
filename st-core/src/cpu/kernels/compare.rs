//! Comparison and logical kernels (eq, ne, lt, le, gt, ge, logical_and, logical_or) producing bool.
