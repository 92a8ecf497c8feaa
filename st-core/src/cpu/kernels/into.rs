//! Output-buffer forms of the CPU kernels' shared loops: elementwise maps that write into an
//! existing view (any strides, no internal overlap) instead of a new buffer, reading inputs
//! that may be that very view (see [`KernelIntoFn`](crate::dispatch::KernelIntoFn)).

use super::util::{PAR_CHUNK, PAR_THRESHOLD};
use crate::cpu::CpuBuffer;
use crate::dispatch::{KernelInput, KernelOut};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::layout::{Layout, StridedOffsets};
use rayon::prelude::*;

/// Where an elementwise kernel reads one input from.
#[derive(Clone, Copy)]
enum Src<'a, T> {
    /// Contiguous elements, already cut to the output's `numel`.
    Slice(&'a [T]),
    /// One value broadcast everywhere.
    Const(T),
    /// The output view itself (same layout).
    Out,
    /// A strided view of a buffer.
    Strided(&'a [T], &'a Layout),
}

fn src<'a, T: Element>(inp: &KernelInput<'a>) -> Result<Src<'a, T>> {
    let Some(b) = inp.buffer else {
        return Ok(Src::Out);
    };
    let data = CpuBuffer::downcast(b)?.as_slice::<T>()?;
    let l = inp.layout;
    if let Some(off) = l.contiguous_offset() {
        return Ok(Src::Slice(&data[off..off + l.numel()]));
    }
    if l.numel() > 0 && l.strides().iter().all(|&s| s == 0) {
        return Ok(Src::Const(data[l.offset()]));
    }
    Ok(Src::Strided(data, l))
}

/// The output view's elements as `U`.
fn out_slice<'a, U: Element>(out: &'a mut KernelOut<'_>) -> Result<&'a mut [U]> {
    CpuBuffer::downcast_mut(out.buffer)?.as_mut_slice::<U>()
}

/// Reinterprets an output element as the input type (only for inputs that are the output,
/// whose dtype the dispatcher guarantees equal).
#[inline(always)]
fn as_in<U: Element, T: Element>(u: U) -> T {
    bytemuck::cast::<U, T>(u)
}

fn check_alias<T: Element, U: Element>(srcs: &[bool]) -> Result<()> {
    if srcs.iter().any(|&s| s) && T::DTYPE != U::DTYPE {
        return Err(Error::Internal(format!(
            "output-buffer kernel got an input of {} aliasing an output of {}",
            T::DTYPE,
            U::DTYPE
        )));
    }
    Ok(())
}

/// A source the contiguous fast path can read by row-major position.
#[derive(Clone, Copy)]
enum Fast<'a, T> {
    Slice(&'a [T]),
    Const(T),
    Out,
}

impl<'a, T: Copy> Src<'a, T> {
    fn fast(self) -> Option<Fast<'a, T>> {
        match self {
            Src::Slice(x) => Some(Fast::Slice(x)),
            Src::Const(c) => Some(Fast::Const(c)),
            Src::Out => Some(Fast::Out),
            Src::Strided(..) => None,
        }
    }
}

/// Reads element `i` (row-major) of a source in the contiguous fast path; `o` is the current
/// output element.
#[inline(always)]
fn get<T: Element, U: Element>(s: &Fast<'_, T>, i: usize, o: U) -> T {
    match s {
        Fast::Slice(x) => x[i],
        Fast::Const(c) => *c,
        Fast::Out => as_in(o),
    }
}

/// Runs `body(chunk, base)` over the contiguous output, in parallel for large ones.
#[inline(always)]
fn chunks<U: Element>(o: &mut [U], body: impl Fn(&mut [U], usize) + Sync + Send) {
    if o.len() >= PAR_THRESHOLD {
        o.par_chunks_mut(PAR_CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| body(chunk, c * PAR_CHUNK));
    } else {
        body(o, 0);
    }
}

/// `out = f(x)` elementwise, written into the output view.
///
/// # Errors
/// [`Error::Internal`] when a buffer is not a CPU buffer.
pub fn map1_into<T: Element, U: Element>(
    x: &KernelInput<'_>,
    out: &mut KernelOut<'_>,
    f: impl Fn(T) -> U + Sync + Send,
) -> Result<()> {
    let sx = src::<T>(x)?;
    check_alias::<T, U>(&[matches!(sx, Src::Out)])?;
    let layout = out.layout;
    let o = out_slice::<U>(out)?;
    let n = layout.numel();
    match (layout.contiguous_offset(), sx.fast()) {
        (Some(off), Some(Fast::Slice(xs))) => chunks(&mut o[off..off + n], |c, base| {
            for (o, &x) in c.iter_mut().zip(&xs[base..]) {
                *o = f(x);
            }
        }),
        (Some(off), Some(s)) => chunks(&mut o[off..off + n], |c, base| {
            for (i, o) in c.iter_mut().enumerate() {
                *o = f(get(&s, base + i, *o));
            }
        }),
        _ => {
            let s = sx;
            let offs = offsets_of(&s, layout);
            for (io, ix) in layout.offsets().zip(offs) {
                let v = read(&s, ix, o[io]);
                o[io] = f(v);
            }
        }
    }
    Ok(())
}

/// `out = f(a, b)` elementwise over inputs broadcast to the output's shape, written into the
/// output view.
///
/// # Errors
/// [`Error::Internal`] when a buffer is not a CPU buffer.
pub fn map2_into<T: Element, U: Element>(
    a: &KernelInput<'_>,
    b: &KernelInput<'_>,
    out: &mut KernelOut<'_>,
    f: impl Fn(T, T) -> U + Sync + Send,
) -> Result<()> {
    let (sa, sb) = (src::<T>(a)?, src::<T>(b)?);
    check_alias::<T, U>(&[matches!(sa, Src::Out), matches!(sb, Src::Out)])?;
    let layout = out.layout;
    let o = out_slice::<U>(out)?;
    let n = layout.numel();
    match (layout.contiguous_offset(), sa.fast(), sb.fast()) {
        (Some(off), Some(fa), Some(fb)) => {
            let o = &mut o[off..off + n];
            // The common shapes get their own loops (`a += b`, `a += c`, `c = a + b`).
            match (fa, fb) {
                (Fast::Out, Fast::Slice(y)) => chunks(o, |c, base| {
                    for (o, &y) in c.iter_mut().zip(&y[base..]) {
                        *o = f(as_in(*o), y);
                    }
                }),
                (Fast::Out, Fast::Const(y)) => chunks(o, |c, _| {
                    for o in c.iter_mut() {
                        *o = f(as_in(*o), y);
                    }
                }),
                (Fast::Slice(x), Fast::Slice(y)) => chunks(o, |c, base| {
                    for ((o, &x), &y) in c.iter_mut().zip(&x[base..]).zip(&y[base..]) {
                        *o = f(x, y);
                    }
                }),
                (sa, sb) => chunks(o, |c, base| {
                    for (i, o) in c.iter_mut().enumerate() {
                        *o = f(get(&sa, base + i, *o), get(&sb, base + i, *o));
                    }
                }),
            }
        }
        _ => {
            let (oa, ob) = (offsets_of(&sa, layout), offsets_of(&sb, layout));
            for ((io, ia), ib) in layout.offsets().zip(oa).zip(ob) {
                let (x, y) = (read(&sa, ia, o[io]), read(&sb, ib, o[io]));
                o[io] = f(x, y);
            }
        }
    }
    Ok(())
}

/// Row-major element offsets of a source in the general (strided) path.
enum Offsets<'a> {
    /// A view's offsets (a strided input, or the output itself).
    View(StridedOffsets<'a>),
    /// Positions `0..n` (a contiguous slice or a constant).
    Rows(std::ops::Range<usize>),
}

impl Iterator for Offsets<'_> {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        match self {
            Offsets::View(v) => v.next(),
            Offsets::Rows(r) => r.next(),
        }
    }
}

/// Offsets of `s`: its own layout's for a strided view, the output's for the output itself,
/// row-major positions for slices and constants.
fn offsets_of<'a, T>(s: &Src<'a, T>, out: &'a Layout) -> Offsets<'a> {
    match s {
        Src::Strided(_, l) => Offsets::View(l.offsets()),
        Src::Out => Offsets::View(out.offsets()),
        Src::Slice(_) | Src::Const(_) => Offsets::Rows(0..out.numel()),
    }
}

/// Element at offset `i` of a source in the general path (`o`: the output element there).
#[inline(always)]
fn read<T: Element, U: Element>(s: &Src<'_, T>, i: usize, o: U) -> T {
    match s {
        Src::Slice(x) | Src::Strided(x, _) => x[i],
        Src::Const(c) => *c,
        Src::Out => as_in(o),
    }
}

/// Writes `value` to every element of the output view.
///
/// # Errors
/// [`Error::Internal`] when the buffer is not a CPU buffer.
pub fn fill_into<U: Element>(out: &mut KernelOut<'_>, value: U) -> Result<()> {
    let layout = out.layout;
    let o = out_slice::<U>(out)?;
    match layout.contiguous_offset() {
        Some(off) => chunks(&mut o[off..off + layout.numel()], |c, _| c.fill(value)),
        None => layout.offsets().for_each(|i| o[i] = value),
    }
    Ok(())
}

/// Copies row-major `values` into the output view.
///
/// # Errors
/// [`Error::Internal`] when the buffer is not a CPU buffer or the sizes disagree.
pub fn write_rows<U: Element>(out: &mut KernelOut<'_>, values: &[U]) -> Result<()> {
    let layout = out.layout;
    if values.len() != layout.numel() {
        return Err(Error::Internal(format!(
            "write_rows: {} values for a view of {}",
            values.len(),
            layout.numel()
        )));
    }
    let o = out_slice::<U>(out)?;
    match layout.contiguous_offset() {
        Some(off) => o[off..off + values.len()].copy_from_slice(values),
        None => layout.offsets().zip(values).for_each(|(i, &v)| o[i] = v),
    }
    Ok(())
}
