//! Elementwise unary kernels (math, activations, rounding, clamp, logical_not).
