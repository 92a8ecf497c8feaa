// Elementwise unary math (src/kernels/unary.rs), computed in f32 like the CPU kernels.

fn st_sigmoid(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

// tanh saturates to ±1 in f32 beyond |x| = 10; clamping keeps exp() inside the driver's range.
fn st_tanh(x: f32) -> f32 {
    if (st_is_nan(x)) {
        return x;
    }
    return tanh(clamp(x, -10.0, 10.0));
}

// erf via the Numerical Recipes erfc Chebyshev fit (fractional error < 1.2e-7).
fn st_erf(x: f32) -> f32 {
    if (st_is_nan(x)) {
        return x;
    }
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let p = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277))))))));
    let erfc = t * exp(p);
    let r = 1.0 - erfc;
    if (x < 0.0) {
        return -r;
    }
    return r;
}

fn st_gelu(x: f32) -> f32 {
    return 0.5 * x * (1.0 + st_erf(x * 0.70710677));
}

fn st_gelu_tanh(x: f32) -> f32 {
    let inner = 0.7978846 * (x + 0.044715 * x * x * x);
    return 0.5 * x * (1.0 + st_tanh(inner));
}

fn st_silu(x: f32) -> f32 {
    return x * st_sigmoid(x);
}

// ±0 and NaN pass through (numpy's convention), like the CPU kernel.
fn st_sign(x: f32) -> f32 {
    if (x > 0.0) {
        return 1.0;
    }
    if (x < 0.0) {
        return -1.0;
    }
    return x;
}

// NaN is not below zero, so it passes through (as torch.relu).
fn st_relu(x: f32) -> f32 {
    if (x < 0.0) {
        return 0.0;
    }
    return x;
}

// Clamp with optional bounds (flags in slot 0: bit 0 = has min, bit 1 = has max); a NaN bound
// wins, as in the CPU kernel.
fn st_clamp(x: f32) -> f32 {
    let flags = st_su(0u);
    var v = x;
    if ((flags & 1u) != 0u) {
        let lo = st_sf(1u);
        if (v < lo || st_is_nan(lo)) {
            v = lo;
        }
    }
    if ((flags & 2u) != 0u) {
        let hi = st_sf(2u);
        if (v > hi || st_is_nan(hi)) {
            v = hi;
        }
    }
    return v;
}

fn st_clamp_i(x: i32) -> i32 {
    let flags = st_su(0u);
    var v = x;
    if ((flags & 1u) != 0u) {
        v = max(v, st_si(1u));
    }
    if ((flags & 2u) != 0u) {
        v = min(v, st_si(2u));
    }
    return v;
}
