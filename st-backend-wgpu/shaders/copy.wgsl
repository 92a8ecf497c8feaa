// copy (strided to contiguous), cast and fill (src/kernels/copy.rs). Casts follow the CPU:
// float to int truncates toward zero and saturates (NaN -> 0), int to int wraps, anything to
// bool is `!= 0` (NaN -> true).

fn st_f2i(x: f32) -> i32 {
    if (st_is_nan(x)) {
        return 0i;
    }
    if (x >= 2147483648.0) {
        return bitcast<i32>(0x7fffffffu);
    }
    if (x <= -2147483648.0) {
        return bitcast<i32>(0x80000000u);
    }
    return i32(trunc(x));
}

fn st_f2u8(x: f32) -> u32 {
    if (st_is_nan(x)) {
        return 0u;
    }
    return u32(clamp(trunc(x), 0.0, 255.0));
}

fn st_i2i64(x: i32) -> vec2<u32> {
    return vec2<u32>(bitcast<u32>(x), select(0u, 0xffffffffu, x < 0i));
}

// f32 -> i64 (low, high words), saturating, NaN -> 0. Beyond 2^31 every f32 is a multiple of
// 256, so the low word t - hi * 2^32 is exact.
fn st_f2i64(x: f32) -> vec2<u32> {
    if (st_is_nan(x)) {
        return vec2<u32>(0u, 0u);
    }
    let t = trunc(x);
    if (t >= 9223372036854775808.0) {
        return vec2<u32>(0xffffffffu, 0x7fffffffu);
    }
    if (t < -9223372036854775808.0) {
        return vec2<u32>(0u, 0x80000000u);
    }
    if (abs(t) < 2147483648.0) {
        return st_i2i64(i32(t));
    }
    let hi = floor(t / 4294967296.0);
    let lo = t - hi * 4294967296.0;
    return vec2<u32>(u32(lo), bitcast<u32>(i32(hi)));
}

// f32 -> f16 bits, round to nearest even (the `half` crate's software conversion).
fn st_f2h(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    let sign = (b & 0x80000000u) >> 16u;
    let e = b & 0x7f800000u;
    let man = b & 0x007fffffu;
    if (e == 0x7f800000u) {
        let nan_bit = select(0x0200u, 0u, man == 0u);
        return sign | 0x7c00u | nan_bit | (man >> 13u);
    }
    let he = i32(e >> 23u) - 127 + 15;
    if (he >= 0x1f) {
        return sign | 0x7c00u;
    }
    if (he <= 0) {
        if (14 - he > 24) {
            return sign;
        }
        let m = man | 0x00800000u;
        var hm = m >> u32(14 - he);
        let rb = 1u << u32(13 - he);
        if ((m & rb) != 0u && (m & (3u * rb - 1u)) != 0u) {
            hm = hm + 1u;
        }
        return sign | hm;
    }
    let r = sign | (u32(he) << 10u) | (man >> 13u);
    if ((man & 0x1000u) != 0u && (man & 0x2fffu) != 0u) {
        return r + 1u;
    }
    return r;
}

// f32 -> bf16 bits, round to nearest even; NaN stays a quiet NaN.
fn st_f2bf(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    if (st_is_nan(x)) {
        return (b >> 16u) | 0x40u;
    }
    return (b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u;
}

// Unsigned integer magnitude a (with sign bit `sign`) -> f64 (low, high words), exact.
fn st_u2d(a: u32, sign: u32) -> vec2<u32> {
    if (a == 0u) {
        return vec2<u32>(0u, sign);
    }
    let p = 31u - countLeadingZeros(a);
    let frac = a ^ (1u << p);
    let hi_e = sign | ((p + 1023u) << 20u);
    if (p <= 20u) {
        return vec2<u32>(0u, hi_e | (frac << (20u - p)));
    }
    return vec2<u32>(frac << (52u - p), hi_e | (frac >> (p - 20u)));
}

fn st_i2d(x: i32) -> vec2<u32> {
    let b = bitcast<u32>(x);
    if (x < 0i) {
        return st_u2d(0u - b, 0x80000000u);
    }
    return st_u2d(b, 0u);
}

// f32 -> f64 (low, high words), exact (subnormals normalized).
fn st_f2d(x: f32) -> vec2<u32> {
    let b = bitcast<u32>(x);
    let sign = b & 0x80000000u;
    let e = (b >> 23u) & 0xffu;
    let m = b & 0x7fffffu;
    if (e == 0xffu) {
        return vec2<u32>(m << 29u, sign | 0x7ff00000u | (m >> 3u));
    }
    if (e == 0u) {
        if (m == 0u) {
            return vec2<u32>(0u, sign);
        }
        // m * 2^-149: the leading bit p of m gives exponent p - 149.
        let p = 31u - countLeadingZeros(m);
        let frac = m ^ (1u << p);
        let hi_e = sign | ((p + 874u) << 20u);
        if (p <= 20u) {
            return vec2<u32>(0u, hi_e | (frac << (20u - p)));
        }
        return vec2<u32>(frac << (52u - p), hi_e | (frac >> (p - 20u)));
    }
    return vec2<u32>(m << 29u, sign | ((e + 896u) << 20u) | (m >> 3u));
}

// i32 -> bf16 bits with one rounding: round the magnitude to 8 significant bits (nearest even)
// in integer arithmetic; the result is exact in f32.
fn st_i2bf(x: i32) -> u32 {
    let b = bitcast<u32>(x);
    let a = select(b, 0u - b, x < 0i);
    var r = a;
    if (a != 0u) {
        let p = 31u - countLeadingZeros(a);
        if (p > 7u) {
            let s = p - 7u;
            var q = a >> s;
            let rem = a & ((1u << s) - 1u);
            let half = 1u << (s - 1u);
            if (rem > half || (rem == half && (q & 1u) == 1u)) {
                q = q + 1u;
            }
            r = q << s;
        }
    }
    let f = select(f32(r), -f32(r), x < 0i);
    return bitcast<u32>(f) >> 16u;
}
