//! Reduction kernels: sum, prod, max, min over any set of dims; argmax, argmin over one dim or
//! the flattened tensor.
//!
//! Note [Reduction paths]: the input splits into kept dims (the output, row-major) and reduced
//! dims. Size-1 dims are dropped, reduced dims are ordered by stride and merged where they form
//! one run, so `x.t().sum_all()` is a single contiguous run again. Then:
//! - a kept innermost dim of stride 1 (column sums: a leading or middle dim reduced): a vector
//!   of accumulators, one per output column, folds four input rows per sweep, so the loop
//!   vectorizes across the output and reads memory in order; long reductions split their rows
//!   into at most 64 ranges whose accumulator vectors merge at the end;
//! - otherwise every output element folds its reduced elements, taking the innermost reduced
//!   dim as a slice when its stride is 1 (row sums, full reductions). Few outputs with much work
//!   each split the reduction into pieces of 64K elements; many outputs split the output.
//!
//! Partial results merge in a fixed order, so results do not depend on the thread count.
//! Floats accumulate in f64; the f32 sum folds 1024-element blocks in 16 f32 lanes (so LLVM
//! vectorizes it) and adds the block totals in f64. With AVX-512 it runs `avx512::sum_f32`
//! instead: two memory streams, 64 lanes each, totals moved to f64 every 64 steps.

use super::util::{buf, PAR_THRESHOLD};
#[cfg(target_arch = "x86_64")]
use super::util::{simd_level, SimdLevel};
use crate::backend::Storage;
use crate::cpu::CpuBuffer;
use crate::dispatch::{KernelArgs, KernelInput};
use crate::dtype::{Bool8, DType, Element};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::{OpId, OpParams};
use crate::register_kernel;
use crate::shape::dims_product;
use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};
use rayon::prelude::*;
use smallvec::SmallVec;
use std::marker::PhantomData;

/// Minimum number of input elements one parallel task reduces.
const PIECE: usize = 1 << 16;
/// Most partial accumulator vectors one column reduction splits into.
const MAX_PIECES: usize = 64;

/// (size, stride) pairs of a group of dims, outermost first.
type Dims = SmallVec<[(usize, isize); 6]>;

/// Row-major storage offsets of the positions of `dims` from `base`, starting at a linear
/// position.
struct Odometer<'a> {
    dims: &'a [(usize, isize)],
    idx: SmallVec<[usize; 6]>,
    off: isize,
    left: usize,
}

impl<'a> Odometer<'a> {
    fn new(dims: &'a [(usize, isize)], base: usize, start: usize) -> Self {
        let numel: usize = dims_product(dims.iter().map(|d| d.0));
        let mut idx = SmallVec::from_elem(0, dims.len());
        let (mut rest, mut off) = (start, base as isize);
        for (i, &(n, s)) in dims.iter().enumerate().rev() {
            if n > 0 {
                idx[i] = rest % n;
                rest /= n;
                off += idx[i] as isize * s;
            }
        }
        Odometer {
            dims,
            idx,
            off,
            left: numel.saturating_sub(start),
        }
    }
}

impl Iterator for Odometer<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let out = self.off as usize;
        for (i, &(n, s)) in self.dims.iter().enumerate().rev() {
            self.idx[i] += 1;
            self.off += s;
            if self.idx[i] < n {
                break;
            }
            self.off -= s * n as isize;
            self.idx[i] = 0;
        }
        Some(out)
    }
}

/// One reduction: how elements fold into an accumulator and how it becomes an output element.
trait Reducer {
    type In: Element;
    type Acc: Copy + Send + Sync;
    type Out: Element;
    const ID: Self::Acc;
    fn step(a: Self::Acc, x: Self::In) -> Self::Acc;
    fn merge(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    fn finish(a: Self::Acc) -> Self::Out;
    /// Folds a contiguous run (overridden where lanes make it faster or more accurate).
    #[inline]
    fn run(a: Self::Acc, xs: &[Self::In]) -> Self::Acc {
        xs.iter().fold(a, |a, &x| Self::step(a, x))
    }
}

/// Float element types, widened to f64 for accumulation.
trait FloatEl: Element {
    fn wide(self) -> f64;
    fn narrow(v: f64) -> Self;
    /// Sum of a contiguous run, accurate to about the f64 rounding of the block totals.
    fn sum_run(xs: &[Self]) -> f64;
}

/// Sum of f32 values: `L` f32 lanes over `64·L`-element blocks, block totals in f64.
#[inline(always)]
fn sum_f32_lanes<const L: usize>(xs: &[f32]) -> f64 {
    let mut total = 0.0f64;
    for block in xs.chunks(64 * L) {
        let mut acc = [0.0f32; L];
        let mut it = block.chunks_exact(L);
        for c in &mut it {
            for i in 0..L {
                acc[i] += c[i];
            }
        }
        let tail: f64 = it.remainder().iter().map(|&x| x as f64).sum();
        total += acc.iter().map(|&a| a as f64).sum::<f64>() + tail;
    }
    total
}

/// Sum of f32 values, multi-versioned for the CPU.
#[inline]
fn sum_f32(xs: &[f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if xs.len() >= 1024 && simd_level() == SimdLevel::Avx512 {
        // SAFETY: AVX-512F support was detected.
        return unsafe { super::avx512::sum_f32(xs) };
    }
    sum_f32_lanes::<16>(xs)
}

fn sum_f64(xs: &[f64]) -> f64 {
    const L: usize = 8;
    let mut acc = [0.0f64; L];
    let mut it = xs.chunks_exact(L);
    for c in &mut it {
        for i in 0..L {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f64>() + it.remainder().iter().sum::<f64>()
}

impl FloatEl for f32 {
    fn wide(self) -> f64 {
        self as f64
    }
    fn narrow(v: f64) -> Self {
        v as f32
    }
    fn sum_run(xs: &[Self]) -> f64 {
        sum_f32(xs)
    }
}

impl FloatEl for f64 {
    fn wide(self) -> f64 {
        self
    }
    fn narrow(v: f64) -> Self {
        v
    }
    fn sum_run(xs: &[Self]) -> f64 {
        sum_f64(xs)
    }
}

macro_rules! half_el {
    ($($t:ty),*) => {$(
        impl FloatEl for $t {
            fn wide(self) -> f64 { self.to_f64() }
            fn narrow(v: f64) -> Self { <$t>::from_f64(v) }
            fn sum_run(xs: &[Self]) -> f64 {
                let mut tmp = [0.0f32; 1024];
                xs.chunks(1024).map(|c| {
                    c.convert_to_f32_slice(&mut tmp[..c.len()]);
                    sum_f32(&tmp[..c.len()])
                }).sum()
            }
        }
    )*};
}
half_el!(f16, bf16);

/// Integer and bool element types, widened to i64.
trait IntEl: Element {
    fn wide(self) -> i64;
    fn narrow(v: i64) -> Self;
}

macro_rules! int_el {
    ($($t:ty),*) => {$(
        impl IntEl for $t {
            #[inline(always)] fn wide(self) -> i64 { self as i64 }
            #[inline(always)] fn narrow(v: i64) -> Self { v as $t }
        }
    )*};
}
int_el!(i32, i64, u8);

impl IntEl for Bool8 {
    #[inline(always)]
    fn wide(self) -> i64 {
        self.0 as i64
    }
    #[inline(always)]
    fn narrow(v: i64) -> Self {
        Bool8((v != 0) as u8)
    }
}

#[inline(always)]
fn fmul(a: f64, x: f64) -> f64 {
    a * x
}

/// NaN-propagating max / min of f64 accumulators.
#[inline(always)]
fn fmax(a: f64, x: f64) -> f64 {
    if x > a || x.is_nan() {
        x
    } else {
        a
    }
}
#[inline(always)]
fn fmin(a: f64, x: f64) -> f64 {
    if x < a || x.is_nan() {
        x
    } else {
        a
    }
}

struct FSum<T>(PhantomData<T>);
struct FProd<T>(PhantomData<T>);
struct FMax<T>(PhantomData<T>);
struct FMin<T>(PhantomData<T>);
struct ISum<T>(PhantomData<T>);
struct IProd<T>(PhantomData<T>);
struct IMax<T>(PhantomData<T>);
struct IMin<T>(PhantomData<T>);

impl<T: FloatEl> Reducer for FSum<T> {
    type In = T;
    type Acc = f64;
    type Out = T;
    const ID: f64 = 0.0;
    #[inline(always)]
    fn step(a: f64, x: T) -> f64 {
        a + x.wide()
    }
    fn merge(a: f64, b: f64) -> f64 {
        a + b
    }
    fn finish(a: f64) -> T {
        T::narrow(a)
    }
    #[inline]
    fn run(a: f64, xs: &[T]) -> f64 {
        a + T::sum_run(xs)
    }
}

macro_rules! reducer {
    ($name:ident, $bound:ident, $acc:ty, $id:expr, $out:ty, $step:expr, $finish:expr) => {
        impl<T: $bound> Reducer for $name<T> {
            type In = T;
            type Acc = $acc;
            type Out = $out;
            const ID: $acc = $id;
            #[inline(always)]
            fn step(a: $acc, x: T) -> $acc {
                ($step)(a, x.wide())
            }
            fn merge(a: $acc, b: $acc) -> $acc {
                ($step)(a, b)
            }
            fn finish(a: $acc) -> $out {
                ($finish)(a)
            }
        }
    };
}
reducer!(FProd, FloatEl, f64, 1.0, T, fmul, T::narrow);
reducer!(FMax, FloatEl, f64, f64::NEG_INFINITY, T, fmax, T::narrow);
reducer!(FMin, FloatEl, f64, f64::INFINITY, T, fmin, T::narrow);
reducer!(ISum, IntEl, i64, 0, i64, i64::wrapping_add, |a| a);
reducer!(IProd, IntEl, i64, 1, i64, i64::wrapping_mul, |a| a);
reducer!(IMax, IntEl, i64, i64::MIN, T, Ord::max, T::narrow);
reducer!(IMin, IntEl, i64, i64::MAX, T, Ord::min, T::narrow);

/// Kept and reduced dims of `layout` (see Note [Reduction paths]).
fn split_dims(layout: &Layout, dims: &[usize]) -> (Dims, Dims) {
    let (mut kept, mut red) = (Dims::new(), Dims::new());
    for (i, (&n, &s)) in layout.dims().iter().zip(layout.strides()).enumerate() {
        if n != 1 {
            if dims.contains(&i) {
                &mut red
            } else {
                &mut kept
            }
            .push((n, s));
        }
    }
    red.sort_by_key(|&(_, s)| std::cmp::Reverse(s));
    let merge = |v: Dims| {
        let mut out = Dims::new();
        for (n, s) in v {
            match out.last_mut() {
                Some(last) if last.1 == s * n as isize => *last = (last.0 * n, s),
                _ => out.push((n, s)),
            }
        }
        if out.is_empty() {
            out.push((1, 1));
        }
        out
    };
    (merge(kept), merge(red))
}

/// Folds reduced positions `[lo, hi)` (row-major over `red`) starting from storage `base`.
#[inline]
fn fold_range<R: Reducer>(
    mut acc: R::Acc,
    data: &[R::In],
    base: usize,
    red: &[(usize, isize)],
    lo: usize,
    hi: usize,
) -> R::Acc {
    let (n, s) = red[red.len() - 1];
    let mut rows = Odometer::new(&red[..red.len() - 1], base, lo / n);
    let mut pos = lo;
    while pos < hi {
        let Some(off) = rows.next() else { break };
        let k0 = pos % n;
        let k1 = n.min(k0 + (hi - pos));
        let start = (off as isize + k0 as isize * s) as usize;
        if s == 1 {
            acc = R::run(acc, &data[start..start + (k1 - k0)]);
        } else {
            for k in 0..k1 - k0 {
                acc = R::step(acc, data[(start as isize + k as isize * s) as usize]);
            }
        }
        pos += k1 - k0;
    }
    acc
}

/// All reduced positions for one output, split into parallel pieces when there are many.
fn fold_all<R: Reducer>(data: &[R::In], base: usize, red: &[(usize, isize)], par: bool) -> R::Acc {
    let total: usize = dims_product(red.iter().map(|d| d.0));
    if !par || total < 2 * PIECE {
        return fold_range::<R>(R::ID, data, base, red, 0, total);
    }
    let parts: Vec<R::Acc> = (0..total.div_ceil(PIECE))
        .into_par_iter()
        .map(|p| {
            fold_range::<R>(
                R::ID,
                data,
                base,
                red,
                p * PIECE,
                total.min((p + 1) * PIECE),
            )
        })
        .collect();
    parts.into_iter().fold(R::ID, R::merge)
}

/// Column path: the `out.len()` contiguous output columns of the kept-outer position at
/// `base`. Each task folds a range of reduced rows into a vector of accumulators (reading memory
/// in order); at most [`MAX_PIECES`] partial vectors merge in order.
fn fold_columns<R: Reducer>(
    data: &[R::In],
    base: usize,
    red: &[(usize, isize)],
    out: &mut [R::Out],
    par: bool,
) {
    let total: usize = dims_product(red.iter().map(|d| d.0));
    let n = out.len();
    let block = |lo: usize, hi: usize| {
        let mut acc = vec![R::ID; n];
        let row = |off: usize| &data[off..off + n];
        let mut offs = Odometer::new(red, base, lo).take(hi - lo);
        // Four rows per sweep over the accumulators cut their loads and stores by four.
        while let Some(o0) = offs.next() {
            match (offs.next(), offs.next(), offs.next()) {
                (Some(o1), Some(o2), Some(o3)) => {
                    let rows = row(o0).iter().zip(row(o1)).zip(row(o2)).zip(row(o3));
                    for (a, (((&x0, &x1), &x2), &x3)) in acc.iter_mut().zip(rows) {
                        *a = R::step(R::step(R::step(R::step(*a, x0), x1), x2), x3);
                    }
                }
                (o1, o2, _) => {
                    for off in [Some(o0), o1, o2].into_iter().flatten() {
                        for (a, &x) in acc.iter_mut().zip(row(off)) {
                            *a = R::step(*a, x);
                        }
                    }
                }
            }
        }
        acc
    };
    let rows = (PIECE / n).max(1).max(total.div_ceil(MAX_PIECES));
    let acc = if par && total > rows {
        let parts: Vec<Vec<R::Acc>> = (0..total.div_ceil(rows))
            .into_par_iter()
            .map(|p| block(p * rows, total.min((p + 1) * rows)))
            .collect();
        let mut parts = parts.into_iter();
        let mut acc = parts.next().unwrap_or_else(|| vec![R::ID; n]);
        for part in parts {
            for (a, b) in acc.iter_mut().zip(part) {
                *a = R::merge(*a, b);
            }
        }
        acc
    } else {
        block(0, total)
    };
    for (o, a) in out.iter_mut().zip(acc) {
        *o = R::finish(a);
    }
}

fn reduce<R: Reducer>(x: &KernelInput<'_>, dims: &[usize], out_numel: usize) -> Result<Storage> {
    let data = buf::<R::In>(x)?;
    let mut out = CpuBuffer::for_output(R::Out::DTYPE, out_numel)?;
    let o = out.as_mut_slice::<R::Out>()?;
    let red_numel: usize = dims_product(dims.iter().map(|&d| x.layout.dims()[d]));
    if o.is_empty() {
        return Ok(out.into_storage());
    }
    if red_numel == 0 {
        o.fill(R::finish(R::ID));
        return Ok(out.into_storage());
    }
    let (kept, red) = split_dims(x.layout, dims);
    let par = out_numel * red_numel >= PAR_THRESHOLD;
    let (n_inner, s_inner) = kept[kept.len() - 1];
    let outer = &kept[..kept.len() - 1];
    if s_inner == 1 && n_inner >= 8 && red_numel > 1 {
        let row = |(p, row): (usize, &mut [R::Out])| {
            let base = Odometer::new(outer, x.layout.offset(), p)
                .next()
                .unwrap_or(0);
            fold_columns::<R>(data, base, &red, row, par)
        };
        if par {
            o.par_chunks_mut(n_inner).enumerate().for_each(row);
        } else {
            o.chunks_mut(n_inner).enumerate().for_each(row);
        }
    } else if par && out_numel <= 4 {
        for (o, base) in o.iter_mut().zip(Odometer::new(&kept, x.layout.offset(), 0)) {
            *o = R::finish(fold_all::<R>(data, base, &red, true));
        }
    } else {
        let per_task = PIECE.div_ceil(red_numel).max(1);
        let chunk = |(c, ch): (usize, &mut [R::Out])| {
            let bases = Odometer::new(&kept, x.layout.offset(), c * per_task);
            for (o, base) in ch.iter_mut().zip(bases) {
                *o = R::finish(fold_all::<R>(data, base, &red, false));
            }
        };
        if par {
            o.par_chunks_mut(per_task).enumerate().for_each(chunk);
        } else {
            o.chunks_mut(per_task).enumerate().for_each(chunk);
        }
    }
    Ok(out.into_storage())
}

macro_rules! by_dtype {
    ($x:expr, $dims:expr, $n:expr, $f:ident, $i:ident) => {
        match $x.dtype {
            DType::F32 => reduce::<$f<f32>>($x, $dims, $n),
            DType::F64 => reduce::<$f<f64>>($x, $dims, $n),
            DType::F16 => reduce::<$f<f16>>($x, $dims, $n),
            DType::BF16 => reduce::<$f<bf16>>($x, $dims, $n),
            DType::I32 => reduce::<$i<i32>>($x, $dims, $n),
            DType::I64 => reduce::<$i<i64>>($x, $dims, $n),
            DType::U8 => reduce::<$i<u8>>($x, $dims, $n),
            DType::Bool => reduce::<$i<Bool8>>($x, $dims, $n),
        }
    };
}

fn reduce_kernel(args: &KernelArgs<'_>) -> Result<Storage> {
    let OpParams::Reduce { dims, .. } = args.params else {
        return Err(Error::Internal(format!(
            "{}: expected Reduce params",
            args.op
        )));
    };
    let (x, n) = (&args.inputs[0], args.out_shape.numel());
    match args.op {
        OpId::Sum => by_dtype!(x, dims, n, FSum, ISum),
        OpId::Prod => by_dtype!(x, dims, n, FProd, IProd),
        OpId::Max => by_dtype!(x, dims, n, FMax, IMax),
        OpId::Min => by_dtype!(x, dims, n, FMin, IMin),
        op => Err(Error::Internal(format!("reduce kernel called for {op}"))),
    }
}

/// True when `x` should replace the current best `best` (first occurrence wins; NaN counts as
/// the extremum for both argmax and argmin, as in PyTorch).
#[inline(always)]
#[allow(clippy::eq_op)]
fn better<T: PartialOrd>(x: T, best: T, max: bool) -> bool {
    if best != best {
        return false;
    }
    x != x || if max { x > best } else { x < best }
}

/// (value, index) of the best of `n` elements at `off + k * s`.
#[inline]
fn scan<T: Element>(data: &[T], off: usize, n: usize, s: isize, max: bool) -> (T, usize) {
    let mut best = (data[off], 0);
    for k in 1..n {
        let v = data[(off as isize + k as isize * s) as usize];
        if better(v, best.0, max) {
            best = (v, k);
        }
    }
    best
}

fn arg<T: Element>(
    x: &KernelInput<'_>,
    dim: Option<usize>,
    out: &mut [i64],
    max: bool,
) -> Result<()> {
    let data = buf::<T>(x)?;
    let layout = &x.layout;
    let Some(d) = dim.filter(|_| layout.rank() > 0) else {
        let best = match layout.contiguous_offset() {
            Some(off) if layout.numel() >= 2 * PIECE => {
                let parts: Vec<(T, usize)> = data[off..off + layout.numel()]
                    .par_chunks(PIECE)
                    .enumerate()
                    .map(|(c, ch)| {
                        let (v, k) = scan(ch, 0, ch.len(), 1, max);
                        (v, k + c * PIECE)
                    })
                    .collect();
                parts
                    .into_iter()
                    .reduce(|a, b| if better(b.0, a.0, max) { b } else { a })
            }
            Some(off) => Some(scan(data, off, layout.numel(), 1, max)),
            None => layout
                .offsets()
                .enumerate()
                .map(|(k, o)| (data[o], k))
                .reduce(|a, b| if better(b.0, a.0, max) { b } else { a }),
        };
        out.fill(best.map_or(0, |b| b.1 as i64));
        return Ok(());
    };
    let (n, s) = (layout.dims()[d], layout.strides()[d]);
    let kept: Dims = (0..layout.rank())
        .filter(|&i| i != d)
        .map(|i| (layout.dims()[i], layout.strides()[i]))
        .collect();
    let per_task = PIECE.div_ceil(n.max(1)).max(1);
    let chunk = |(c, ch): (usize, &mut [i64])| {
        for (o, base) in ch
            .iter_mut()
            .zip(Odometer::new(&kept, layout.offset(), c * per_task))
        {
            *o = scan(data, base, n, s, max).1 as i64;
        }
    };
    if out.len() * n >= PAR_THRESHOLD {
        out.par_chunks_mut(per_task).enumerate().for_each(chunk);
    } else {
        out.chunks_mut(per_task).enumerate().for_each(chunk);
    }
    Ok(())
}

fn arg_kernel(args: &KernelArgs<'_>) -> Result<Storage> {
    let OpParams::Arg { dim, .. } = args.params else {
        return Err(Error::Internal(format!("{}: expected Arg params", args.op)));
    };
    let x = &args.inputs[0];
    let max = args.op == OpId::ArgMax;
    let mut out = CpuBuffer::for_output(DType::I64, args.out_shape.numel())?;
    let o = out.as_mut_slice::<i64>()?;
    match x.dtype {
        DType::F32 => arg::<f32>(x, *dim, o, max)?,
        DType::F64 => arg::<f64>(x, *dim, o, max)?,
        DType::F16 => arg::<f16>(x, *dim, o, max)?,
        DType::BF16 => arg::<bf16>(x, *dim, o, max)?,
        DType::I32 => arg::<i32>(x, *dim, o, max)?,
        DType::I64 => arg::<i64>(x, *dim, o, max)?,
        DType::U8 => arg::<u8>(x, *dim, o, max)?,
        DType::Bool => arg::<Bool8>(x, *dim, o, max)?,
    }
    Ok(out.into_storage())
}

register_kernel!(
    Sum,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    reduce_kernel
);
register_kernel!(
    Prod,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    reduce_kernel
);
register_kernel!(
    Max,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    reduce_kernel
);
register_kernel!(
    Min,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8, Bool],
    reduce_kernel
);
register_kernel!(
    ArgMax,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    arg_kernel
);
register_kernel!(
    ArgMin,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    arg_kernel
);

#[cfg(test)]
mod tests {
    use super::sum_f32;

    /// The multi-versioned f32 sum against an f64 sum, across block and lane boundaries.
    #[test]
    fn f32_sum_matches_f64_reference() {
        for n in [
            0usize, 1, 15, 127, 128, 129, 1023, 1024, 4095, 4096, 4097, 8193, 100_003, 262_147,
        ] {
            let x: Vec<f32> = (0..n)
                .map(|i| (i * 7919 % 1013) as f32 / 101.3 - 5.0)
                .collect();
            let want: f64 = x.iter().map(|&v| v as f64).sum();
            let got = sum_f32(&x);
            assert!(
                (got - want).abs() <= 1e-6 * (n as f64).max(1.0),
                "n {n}: {got} vs {want}"
            );
        }
    }
}
