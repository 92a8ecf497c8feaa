//! Loops written with AVX-512 intrinsics where the portable, auto-vectorized versions leave
//! speed behind:
//! - the f32 softmax row: its `exp` uses `vscalefps` for the `2^n` step, which handles
//!   overflow, underflow and denormal results in one instruction, so the vector `exp` needs no
//!   range fix-ups after the polynomial (about 15 operations per 16 elements against 22 for the
//!   portable version in `softmax.rs`);
//! - the f32 sum: two memory streams at once (see [`sum_f32`]).

use std::arch::x86_64::*;

/// `e^x` on 16 lanes: `x = n ln2 + r` with `|r| <= ln2 / 2`, Cephes's degree-5 polynomial for
/// `e^r`, then `2^n` by `vscalefps`. Within 2 ulp of the exact value for normal results;
/// results below the normal range come out as correctly scaled denormals or 0, above it `+inf`;
/// NaN stays NaN.
#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn exp_ps(x: __m512) -> __m512 {
    // Clamp so that `n` stays finite; `max`/`min` return their second operand when either is
    // NaN, so NaN passes through. exp(-104) is below the smallest denormal, exp(89) overflows.
    let x = _mm512_max_ps(_mm512_set1_ps(-104.0), x);
    let x = _mm512_min_ps(_mm512_set1_ps(89.0), x);
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    // ln 2 split in two so that n * C1 is exact.
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm512_set1_ps(1.987_569_1e-4);
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    let y = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    let y = _mm512_add_ps(y, _mm512_set1_ps(1.0));
    _mm512_scalef_ps(y, n)
}

/// Softmax (or log_softmax) of one contiguous row: the max, then `exp(x - max)` stored and
/// summed, then a scale by `1 / sum` (or `x - max - ln sum`). Four accumulators hide the
/// latency of the adds; the ragged tail uses masked loads and stores. Handles
/// `min(x.len(), out.len())` elements.
#[target_feature(enable = "avx512f")]
pub(super) fn softmax_row(x: &[f32], out: &mut [f32], log: bool) {
    let n = x.len().min(out.len());
    let (xp, op) = (x.as_ptr(), out.as_mut_ptr());
    let full = n / 16 * 16;
    let tail: __mmask16 = ((1u32 << (n - full)) - 1) as __mmask16;
    let neg_inf = _mm512_set1_ps(f32::NEG_INFINITY);

    // SAFETY: every full-width load or store covers indices [i, i + 16) with
    // i + 16 <= full <= n, and the masked ones touch only indices below n; `x` and `out` both
    // hold at least n elements.
    unsafe {
        let mut m = [neg_inf; 4];
        let mut i = 0;
        while i + 64 <= n {
            for (k, mk) in m.iter_mut().enumerate() {
                *mk = _mm512_max_ps(*mk, _mm512_loadu_ps(xp.add(i + 16 * k)));
            }
            i += 64;
        }
        while i < full {
            m[0] = _mm512_max_ps(m[0], _mm512_loadu_ps(xp.add(i)));
            i += 16;
        }
        m[0] = _mm512_max_ps(m[0], _mm512_mask_loadu_ps(neg_inf, tail, xp.add(full)));
        let mv = _mm512_max_ps(_mm512_max_ps(m[0], m[1]), _mm512_max_ps(m[2], m[3]));
        let mx = _mm512_set1_ps(_mm512_reduce_max_ps(mv));

        let mut s = [_mm512_setzero_ps(); 4];
        i = 0;
        while i + 64 <= n {
            for (k, sk) in s.iter_mut().enumerate() {
                let e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(xp.add(i + 16 * k)), mx));
                _mm512_storeu_ps(op.add(i + 16 * k), e);
                *sk = _mm512_add_ps(*sk, e);
            }
            i += 64;
        }
        while i < full {
            let e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(xp.add(i)), mx));
            _mm512_storeu_ps(op.add(i), e);
            s[0] = _mm512_add_ps(s[0], e);
            i += 16;
        }
        let e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, xp.add(full)), mx));
        _mm512_mask_storeu_ps(op.add(full), tail, e);
        s[0] = _mm512_mask_add_ps(s[0], tail, s[0], e);
        let sum = _mm512_reduce_add_ps(_mm512_add_ps(
            _mm512_add_ps(s[0], s[1]),
            _mm512_add_ps(s[2], s[3]),
        ));

        if log {
            let shift = _mm512_set1_ps(sum.ln());
            i = 0;
            while i < full {
                let v = _mm512_sub_ps(_mm512_loadu_ps(xp.add(i)), mx);
                _mm512_storeu_ps(op.add(i), _mm512_sub_ps(v, shift));
                i += 16;
            }
            let v = _mm512_sub_ps(_mm512_maskz_loadu_ps(tail, xp.add(full)), mx);
            _mm512_mask_storeu_ps(op.add(full), tail, _mm512_sub_ps(v, shift));
        } else {
            let inv = _mm512_set1_ps(1.0 / sum);
            i = 0;
            while i < full {
                _mm512_storeu_ps(op.add(i), _mm512_mul_ps(_mm512_loadu_ps(op.add(i)), inv));
                i += 16;
            }
            let v = _mm512_maskz_loadu_ps(tail, op.add(full));
            _mm512_mask_storeu_ps(op.add(full), tail, _mm512_mul_ps(v, inv));
        }
    }
}

/// Sum of f32 values, reading the two halves of `xs` in lockstep: on one core two sequential
/// streams keep more memory requests in flight than one (7–10 % faster than a single stream on
/// a 64 MB input, interleaved runs on the AMD EPYC VM of `docs/benchmarks.md`). Accuracy is that
/// of the portable `sum_f32_lanes::<64>` in `reduce.rs`: each of the 64 f32 lanes of a stream
/// adds 64 values before its total moves to the f64 sum.
#[target_feature(enable = "avx512f")]
pub(super) fn sum_f32(xs: &[f32]) -> f64 {
    /// Elements of one stream per step (four vectors).
    const STEP: usize = 64;
    /// Steps between moves of the lane totals into f64.
    const FLUSH: usize = 64;
    let half = xs.len() / 2 / STEP * STEP;
    let (a, b) = (xs.as_ptr(), xs[half..].as_ptr());
    let mut total = 0.0f64;
    let mut i = 0;
    while i < half {
        let end = (i + STEP * FLUSH).min(half);
        let mut acc = [_mm512_setzero_ps(); 8];
        let mut lanes = [0.0f32; 16];
        // SAFETY: every step reads [i, i + 64) of the first half (i + 64 <= end <= half) and
        // the same range of the second half, which starts at `half` and holds at least `half`
        // elements; `lanes` holds 16 f32.
        unsafe {
            while i < end {
                for k in 0..4 {
                    acc[k] = _mm512_add_ps(acc[k], _mm512_loadu_ps(a.add(i + 16 * k)));
                    acc[4 + k] = _mm512_add_ps(acc[4 + k], _mm512_loadu_ps(b.add(i + 16 * k)));
                }
                i += STEP;
            }
            for v in acc {
                _mm512_storeu_ps(lanes.as_mut_ptr(), v);
                total += lanes.iter().map(|&x| x as f64).sum::<f64>();
            }
        }
    }
    total + xs[2 * half..].iter().map(|&x| x as f64).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avx512() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
    }

    fn exp16(x: &[f32; 16]) -> [f32; 16] {
        let mut out = [0.0f32; 16];
        // SAFETY: the caller checked AVX-512F; both arrays hold 16 f32.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr(), exp_ps(_mm512_loadu_ps(x.as_ptr()))) };
        out
    }

    /// Against f64 `exp` over the whole normal range: at most 2 ulp.
    #[test]
    fn exp_matches_f64_within_two_ulp() {
        if !avx512() {
            return;
        }
        let n = 160_000;
        let mut worst = 0u32;
        for block in 0..n / 16 {
            let xs: [f32; 16] = std::array::from_fn(|k| {
                let i = block * 16 + k;
                -87.3 + (88.3 + 87.3) * i as f32 / n as f32
            });
            for (&x, &y) in xs.iter().zip(&exp16(&xs)) {
                let want = (x as f64).exp() as f32;
                let ulps = (y.to_bits() as i64 - want.to_bits() as i64).unsigned_abs() as u32;
                worst = worst.max(ulps);
            }
        }
        assert!(worst <= 2, "worst error {worst} ulp");
    }

    /// Overflow, underflow (through the denormals), infinities and NaN.
    #[test]
    fn exp_edge_values() {
        if !avx512() {
            return;
        }
        let mut xs = [0.0f32; 16];
        let cases = [
            f32::NEG_INFINITY,
            -1000.0,
            -103.0,
            -95.0,
            -88.0,
            0.0,
            1.0,
            88.7,
            88.8,
            1000.0,
            f32::INFINITY,
            f32::NAN,
        ];
        xs[..cases.len()].copy_from_slice(&cases);
        let got = exp16(&xs);
        for (&x, &y) in cases.iter().zip(&got) {
            let want = (x as f64).exp();
            if x.is_nan() {
                assert!(y.is_nan(), "exp(NaN) = {y}");
            } else if want > f32::MAX as f64 {
                assert_eq!(y, f32::INFINITY, "exp({x})");
            } else {
                // Denormal results keep an absolute error below the smallest denormal.
                let tol = (want * 3e-7).max(f32::from_bits(1) as f64);
                assert!(
                    (y as f64 - want).abs() <= tol,
                    "exp({x}) = {y}, want {want}"
                );
            }
        }
    }
}
