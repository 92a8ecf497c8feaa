// Elementwise binary arithmetic (src/kernels/binary.rs). Inputs arrive broadcast to the output
// shape with their own strides. Integer semantics follow the CPU kernels: wrapping add/sub/mul,
// checked division (0 on a zero divisor or overflow), 0 for negative integer powers.

fn st_is_odd_int(b: f32) -> bool {
    let m = abs(b);
    return m < 16777216.0 && fract(m) == 0.0 && (u32(m) & 1u) == 1u;
}

// powf semantics for every sign of the base (WGSL's pow is undefined for a negative base).
fn st_pow(a: f32, b: f32) -> f32 {
    if (b == 0.0 || a == 1.0) {
        return 1.0;
    }
    if (st_is_nan(a) || st_is_nan(b)) {
        return st_nan();
    }
    let neg = (bitcast<u32>(a) & 0x80000000u) != 0u;
    if (neg && abs(b) < st_inf() && fract(b) != 0.0) {
        return st_nan();
    }
    var r: f32;
    let m = abs(a);
    if (m == 0.0) {
        r = select(st_inf(), 0.0, b > 0.0);
    } else if (m == st_inf()) {
        r = select(0.0, st_inf(), b > 0.0);
    } else if (m == 1.0) {
        r = 1.0;
    } else {
        r = exp2(b * log2(m));
    }
    if (neg && st_is_odd_int(b)) {
        r = -r;
    }
    return r;
}

fn st_max(a: f32, b: f32) -> f32 {
    if (st_is_nan(a) || st_is_nan(b)) {
        return st_nan();
    }
    return select(b, a, a >= b);
}

fn st_min(a: f32, b: f32) -> f32 {
    if (st_is_nan(a) || st_is_nan(b)) {
        return st_nan();
    }
    return select(b, a, a <= b);
}

fn st_div_i(a: i32, b: i32) -> i32 {
    if (b == 0i || (a == bitcast<i32>(0x80000000u) && b == -1i)) {
        return 0i;
    }
    return a / b;
}

fn st_pow_i(a: i32, b: i32) -> i32 {
    if (b < 0i) {
        return 0i;
    }
    var base = a;
    var e = u32(b);
    var r = 1i;
    loop {
        if (e == 0u) {
            break;
        }
        if ((e & 1u) == 1u) {
            r = r * base;
        }
        base = base * base;
        e = e >> 1u;
    }
    return r;
}

fn st_div_u(a: u32, b: u32) -> u32 {
    return select(a / b, 0u, b == 0u);
}

fn st_pow_u(a: u32, b: u32) -> u32 {
    var base = a;
    var e = b;
    var r = 1u;
    loop {
        if (e == 0u) {
            break;
        }
        if ((e & 1u) == 1u) {
            r = r * base;
        }
        base = base * base;
        e = e >> 1u;
    }
    return r;
}
