//! softmax and log_softmax kernels along one dim, numerically stable: the max along the dim is
//! subtracted before `exp`, so a row of all `-inf` gives NaN as in PyTorch. f16 and bf16 are
//! computed in f32.
//!
//! The input arrives contiguous (registered with [`KernelCaps::CONTIGUOUS`]) and is viewed as
//! `[outer, n, inner]`. The last dim (`inner == 1`) runs row by row; another dim computes the
//! max and sum of every `(outer, inner)` column first, reading whole rows so loads stay in
//! order, then writes the output row by row. f32 uses `exp_f32`, written as plain arithmetic
//! so LLVM vectorizes the loops that call it.

use super::util::{elems, PAR_CHUNK, PAR_THRESHOLD};
#[cfg(target_arch = "x86_64")]
use super::util::{simd_level, SimdLevel};
use crate::alloc::try_vec_filled;
use crate::backend::Storage;
use crate::cpu::CpuBuffer;
use crate::dispatch::{KernelArgs, KernelCaps};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::op::{OpId, OpParams};
use crate::register_kernel;
use crate::shape::dims_product;
use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};
use rayon::prelude::*;
use std::ops::{Add, Mul, Sub};

/// Columns per task when computing statistics along a non-last dim.
const COLS: usize = 1024;

/// `e^x` in f32 (Cephes `expf`: `x = n ln2 + r`, a degree-5 polynomial in `r`, `2^n` built in
/// the exponent bits), within about 2 ulp of the exact value for `-87.33 <= x <= 88.37`.
/// Smaller `x` (including `-inf`) gives 0, larger gives `+inf`, NaN stays NaN.
///
/// There are no branches or calls, so a loop over a slice auto-vectorizes. `FMA` fuses the
/// multiply-adds (only for code compiled with the `fma` target feature: elsewhere `mul_add`
/// is a library call).
#[inline(always)]
fn exp_f32<const FMA: bool>(x: f32) -> f32 {
    let madd = |a: f32, b: f32, c: f32| if FMA { a.mul_add(b, c) } else { a * b + c };
    const HI: f32 = 88.376_26;
    const LO: f32 = -87.336_55;
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n * C1 is exact.
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to an integer that sits in the low mantissa bits.
    const SHIFT: f32 = 12_582_912.0;
    // NaN passes through clamp.
    let xc = x.clamp(LO, HI);
    let t = madd(xc, LOG2E, SHIFT);
    let n = t - SHIFT;
    let r = madd(-n, C2, madd(-n, C1, xc));
    let p = 1.987_569_1e-4;
    let p = madd(p, r, 1.398_199_9e-3);
    let p = madd(p, r, 8.333_452e-3);
    let p = madd(p, r, 4.166_579_6e-2);
    let p = madd(p, r, 1.666_666_5e-1);
    let p = madd(p, r, 0.5);
    let y = madd(p, r * r, r) + 1.0;
    // n is in [-126, 127] here, so 2^n is a normal float.
    let bits = (t.to_bits() as i32)
        .wrapping_sub(SHIFT.to_bits() as i32)
        .wrapping_add(127);
    let out = y * f32::from_bits((bits << 23) as u32);
    if x > HI {
        f32::INFINITY
    } else if x < LO {
        0.0
    } else {
        out
    }
}

/// The arithmetic softmax needs, for the two working precisions.
trait Work: Element + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> {
    const NEG_INF: Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn recip(self) -> Self;
    /// Softmax of consecutive rows of length `n`.
    fn rows(x: &[Self], out: &mut [Self], n: usize, log: bool);
}

impl Work for f32 {
    const NEG_INF: f32 = f32::NEG_INFINITY;
    #[inline(always)]
    fn exp(self) -> f32 {
        exp_f32::<false>(self)
    }
    fn ln(self) -> f32 {
        f32::ln(self)
    }
    fn recip(self) -> f32 {
        1.0 / self
    }
    fn rows(x: &[f32], out: &mut [f32], n: usize, log: bool) {
        rows_f32(x, out, n, log)
    }
}

impl Work for f64 {
    const NEG_INF: f64 = f64::NEG_INFINITY;
    #[inline(always)]
    fn exp(self) -> f64 {
        f64::exp(self)
    }
    fn ln(self) -> f64 {
        f64::ln(self)
    }
    fn recip(self) -> f64 {
        1.0 / self
    }
    fn rows(x: &[f64], out: &mut [f64], n: usize, log: bool) {
        rows::<f64, L>(x, out, n, log, f64::exp)
    }
}

/// Lanes of the row loops: enough independent accumulators for LLVM to fill 8-wide vectors
/// (the AVX-512 build has its own row loop).
const L: usize = 16;

/// Max ignoring NaN (a NaN then poisons the row through `x - max`).
#[inline(always)]
fn row_max<W: Work, const L: usize>(x: &[W]) -> W {
    let mut m = [W::NEG_INF; L];
    let mut it = x.chunks_exact(L);
    for c in &mut it {
        for i in 0..L {
            m[i] = if c[i] > m[i] { c[i] } else { m[i] };
        }
    }
    let tail = it
        .remainder()
        .iter()
        .fold(W::NEG_INF, |a, &v| if v > a { v } else { a });
    m.iter().fold(tail, |a, &v| if v > a { v } else { a })
}

/// Softmax of one contiguous row into `out`: max, then `exp(x - max)` stored and summed in one
/// pass, then a scale (softmax) or a shift (log_softmax).
#[inline(always)]
fn row<W: Work, const L: usize>(x: &[W], out: &mut [W], log: bool, exp: impl Fn(W) -> W) {
    let m = row_max::<W, L>(x);
    let mut s = [W::zero(); L];
    let mut o_it = out.chunks_exact_mut(L);
    let mut x_it = x.chunks_exact(L);
    for (o, x) in (&mut o_it).zip(&mut x_it) {
        for i in 0..L {
            let e = exp(x[i] - m);
            o[i] = e;
            s[i] = s[i] + e;
        }
    }
    let mut sum = W::zero();
    for (o, &v) in o_it.into_remainder().iter_mut().zip(x_it.remainder()) {
        *o = exp(v - m);
        sum = sum + *o;
    }
    let sum = s.iter().fold(sum, |a, &v| a + v);
    if log {
        let ls = sum.ln();
        for (o, &v) in out.iter_mut().zip(x) {
            *o = (v - m) - ls;
        }
    } else {
        let inv = sum.recip();
        for o in out.iter_mut() {
            *o = *o * inv;
        }
    }
}

/// Softmax of consecutive rows of length `n`.
#[inline(always)]
fn rows<W: Work, const L: usize>(
    x: &[W],
    out: &mut [W],
    n: usize,
    log: bool,
    exp: impl Fn(W) -> W + Copy,
) {
    for (o, x) in out.chunks_exact_mut(n).zip(x.chunks_exact(n)) {
        row::<W, L>(x, o, log, exp);
    }
}

/// [`rows`] compiled for AVX2 and FMA (8-wide f32 vectors instead of SSE2's 4, fused
/// multiply-adds in `exp`).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn rows_avx2(x: &[f32], out: &mut [f32], n: usize, log: bool) {
    rows::<f32, L>(x, out, n, log, exp_f32::<true>)
}

/// Softmax rows with the AVX-512 intrinsic row loop (see `avx512::softmax_row`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn rows_avx512(x: &[f32], out: &mut [f32], n: usize, log: bool) {
    for (o, x) in out.chunks_exact_mut(n).zip(x.chunks_exact(n)) {
        super::avx512::softmax_row(x, o, log);
    }
}

/// f32 rows, using AVX-512 or AVX2 + FMA when the CPU has them.
fn rows_f32(x: &[f32], out: &mut [f32], n: usize, log: bool) {
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        SimdLevel::Avx512 => {
            // SAFETY: AVX-512F and FMA support was detected.
            unsafe { rows_avx512(x, out, n, log) };
            return;
        }
        SimdLevel::Avx2 => {
            // SAFETY: AVX2 and FMA support was detected.
            unsafe { rows_avx2(x, out, n, log) };
            return;
        }
        SimdLevel::Baseline => {}
    }
    rows::<f32, L>(x, out, n, log, exp_f32::<false>)
}

/// Max and sum of `exp(x - max)` of columns `[j0, j0 + m.len())` of one `[n, inner]` block.
fn column_stats<W: Work>(block: &[W], inner: usize, j0: usize, m: &mut [W], s: &mut [W]) {
    let c = m.len();
    m.fill(W::NEG_INF);
    s.fill(W::zero());
    for r in block.chunks_exact(inner) {
        for (m, &v) in m.iter_mut().zip(&r[j0..j0 + c]) {
            *m = if v > *m { v } else { *m };
        }
    }
    for r in block.chunks_exact(inner) {
        for ((s, &m), &v) in s.iter_mut().zip(&*m).zip(&r[j0..j0 + c]) {
            *s = *s + (v - m).exp();
        }
    }
}

/// Softmax over `[outer, n, inner]` contiguous data in the working precision.
fn softmax<W: Work>(x: &[W], out: &mut [W], n: usize, inner: usize, log: bool) {
    let par = x.len() >= PAR_THRESHOLD;
    if inner == 1 {
        let rows = (PAR_CHUNK / n).max(1) * n;
        let task = |(o, x): (&mut [W], &[W])| W::rows(x, o, n, log);
        if par {
            out.par_chunks_mut(rows)
                .zip(x.par_chunks(rows))
                .for_each(task);
        } else {
            out.chunks_mut(rows).zip(x.chunks(rows)).for_each(task);
        }
        return;
    }
    let (block, outer) = (n * inner, x.len() / (n * inner));
    let mut m = vec![W::zero(); outer * inner];
    let mut s = vec![W::zero(); outer * inner];
    let stats = |(b, (m, s)): (usize, (&mut [W], &mut [W]))| {
        let blk = &x[b * block..(b + 1) * block];
        for (j, (m, s)) in m.chunks_mut(COLS).zip(s.chunks_mut(COLS)).enumerate() {
            column_stats(blk, inner, j * COLS, m, s);
        }
    };
    if par {
        // One task per (outer block, column chunk).
        m.par_chunks_mut(inner)
            .zip(s.par_chunks_mut(inner))
            .enumerate()
            .for_each(|(b, (m, s))| {
                let blk = &x[b * block..(b + 1) * block];
                m.par_chunks_mut(COLS)
                    .zip(s.par_chunks_mut(COLS))
                    .enumerate()
                    .for_each(|(j, (m, s))| column_stats(blk, inner, j * COLS, m, s));
            });
    } else {
        m.chunks_mut(inner)
            .zip(s.chunks_mut(inner))
            .enumerate()
            .for_each(stats);
    }
    for s in s.iter_mut() {
        *s = if log { s.ln() } else { s.recip() };
    }
    let write = |(q, (o, x)): (usize, (&mut [W], &[W]))| {
        let b = q / n;
        let (m, s) = (
            &m[b * inner..(b + 1) * inner],
            &s[b * inner..(b + 1) * inner],
        );
        for (((o, &v), &m), &s) in o.iter_mut().zip(x).zip(m).zip(s) {
            *o = if log { (v - m) - s } else { (v - m).exp() * s };
        }
    };
    if par {
        out.par_chunks_mut(inner)
            .zip(x.par_chunks(inner))
            .enumerate()
            .for_each(write);
    } else {
        out.chunks_mut(inner)
            .zip(x.chunks(inner))
            .enumerate()
            .for_each(write);
    }
}

fn softmax_kernel(args: &KernelArgs<'_>) -> Result<Storage> {
    let OpParams::Dim(d) = *args.params else {
        return Err(Error::Internal(format!("{}: expected Dim params", args.op)));
    };
    let x = &args.inputs[0];
    let log = args.op == OpId::LogSoftmax;
    let dims = x.layout.dims();
    let (n, inner) = match dims.get(d) {
        Some(&n) => (n, dims_product(dims[d + 1..].iter().copied())),
        None => (1, 1),
    };
    let numel = x.layout.numel();
    let mut out = CpuBuffer::for_output(x.dtype, numel)?;
    if numel == 0 {
        return Ok(out.into_storage());
    }
    match x.dtype {
        DType::F32 => softmax(&elems::<f32>(x)?, out.as_mut_slice::<f32>()?, n, inner, log),
        DType::F64 => softmax(&elems::<f64>(x)?, out.as_mut_slice::<f64>()?, n, inner, log),
        DType::F16 => {
            let mut w = try_vec_filled(numel, 0f32)?;
            elems::<f16>(x)?.convert_to_f32_slice(&mut w);
            let mut o = try_vec_filled(numel, 0f32)?;
            softmax(&w, &mut o, n, inner, log);
            out.as_mut_slice::<f16>()?.convert_from_f32_slice(&o);
        }
        DType::BF16 => {
            let mut w = try_vec_filled(numel, 0f32)?;
            elems::<bf16>(x)?.convert_to_f32_slice(&mut w);
            let mut o = try_vec_filled(numel, 0f32)?;
            softmax(&w, &mut o, n, inner, log);
            out.as_mut_slice::<bf16>()?.convert_from_f32_slice(&o);
        }
        dt => {
            return Err(Error::DTypeMismatch {
                op: args.op.name(),
                got: vec![dt],
                reason: "needs a floating-point input".into(),
            })
        }
    }
    Ok(out.into_storage())
}

register_kernel!(
    Softmax,
    "cpu",
    [F32, F64, F16, BF16],
    softmax_kernel,
    KernelCaps::CONTIGUOUS
);
register_kernel!(
    LogSoftmax,
    "cpu",
    [F32, F64, F16, BF16],
    softmax_kernel,
    KernelCaps::CONTIGUOUS
);

#[cfg(test)]
mod tests {
    use super::{exp_f32, rows_f32};

    /// The multi-versioned row loop (AVX-512 intrinsics, AVX2 or baseline, whichever this CPU
    /// runs) against an f64 softmax, on rows long enough for the wide lanes and with ragged
    /// tails.
    #[test]
    fn f32_rows_match_f64_reference() {
        // Every tail length of the 16- and 64-element blocks, and full-size rows.
        for n in (1usize..=80).chain([127, 1000, 1024, 1031]) {
            let x: Vec<f32> = (0..3 * n)
                .map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 20.0)
                .collect();
            for log in [false, true] {
                let mut out = vec![0.0f32; x.len()];
                rows_f32(&x, &mut out, n, log);
                for (r, o) in x.chunks(n).zip(out.chunks(n)) {
                    let m = r.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v as f64));
                    let s: f64 = r.iter().map(|&v| (v as f64 - m).exp()).sum();
                    for (&v, &got) in r.iter().zip(o) {
                        let want = if log {
                            (v as f64 - m) - s.ln()
                        } else {
                            (v as f64 - m).exp() / s
                        };
                        let tol = 1e-5 * want.abs().max(1.0);
                        assert!((got as f64 - want).abs() <= tol, "n {n} log {log}");
                    }
                }
            }
        }
    }

    /// Distance in units in the last place between two finite positive floats.
    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    fn worst_ulps(exp: impl Fn(f32) -> f32) -> u32 {
        let n = 200_000;
        (0..=n)
            .map(|i| {
                let x = -87.3 + (88.3 + 87.3) * i as f32 / n as f32;
                ulps(exp(x), (x as f64).exp() as f32)
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn exp_f32_is_within_two_ulp() {
        let worst = worst_ulps(exp_f32::<false>);
        assert!(worst <= 2, "worst error {worst} ulp");
        // The fused variant (computed here through libm's fma) has the same bound.
        let worst = worst_ulps(exp_f32::<true>);
        assert!(worst <= 2, "worst error {worst} ulp with fma");
    }

    #[test]
    fn exp_f32_edge_values() {
        let exp = exp_f32::<false>;
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-1000.0), 0.0);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NAN).is_nan());
        assert!(exp(-f32::NAN).is_nan());
    }
}
