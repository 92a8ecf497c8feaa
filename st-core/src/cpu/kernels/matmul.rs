//! matmul kernel (PyTorch semantics, batched) on the gemm crate.
//!
//! Floats (f32, f64, f16) go to `gemm::gemm`, which takes arbitrary row/column strides, so
//! transposed or sliced operands run without a copy as long as each matrix has unit stride in
//! one dim. BF16 runs in f32. Integers use a blocked triple loop with wrapping arithmetic.

use super::binary::Arith;
use super::into::write_rows;
use super::util::{buf, gather_strided};
use crate::alloc::try_vec_filled;
use crate::backend::Storage;
use crate::cpu::CpuBuffer;
use crate::dispatch::{KernelArgs, KernelInput, KernelOut};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::register_kernel;
use crate::shape::dims_product;
use crate::with_dtype;
use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};
use rayon::prelude::*;
use std::borrow::Cow;

/// `m·n·k` from which one product is worth splitting across threads (and below which many
/// small products of a batch are spread over threads instead).
const PAR_FLOPS: usize = 64 * 64 * 64;

/// Element types the gemm crate multiplies natively.
pub(crate) trait GemmElem: Element {}
impl GemmElem for f32 {}
impl GemmElem for f64 {}
impl GemmElem for f16 {}

/// The gemm parallelism for one product of `m·n·k` multiply-adds.
pub(crate) fn parallelism_for(mnk: usize) -> gemm::Parallelism {
    let threads = rayon::current_num_threads();
    if mnk >= PAR_FLOPS && threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// One strided matrix inside a slice: element (i, j) is `data[off + i·rs + j·cs]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MatRef {
    /// Offset of element (0, 0).
    pub off: usize,
    /// Row stride in elements.
    pub rs: usize,
    /// Column stride in elements.
    pub cs: usize,
}

impl MatRef {
    /// A row-major matrix with leading dimension `ld`.
    pub fn rows(off: usize, ld: usize) -> MatRef {
        MatRef { off, rs: ld, cs: 1 }
    }

    /// One past the last element addressed by a `rows × cols` view (0 when empty).
    fn extent(&self, rows: usize, cols: usize) -> usize {
        if rows == 0 || cols == 0 {
            0
        } else {
            self.off + (rows - 1) * self.rs + (cols - 1) * self.cs + 1
        }
    }
}

/// `c[m×n] = a[m×k] · b[k×n]` (overwriting `c`) with bounds checked against the slices.
///
/// # Errors
/// [`Error::Internal`] when a view reaches outside its slice or `c`'s rows/columns overlap.
pub(crate) fn gemm_into<T: GemmElem>(
    (m, n, k): (usize, usize, usize),
    c: &mut [T],
    cv: MatRef,
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    par: gemm::Parallelism,
) -> Result<()> {
    if m == 0 || n == 0 {
        return Ok(());
    }
    let c_ok = (cv.cs == 1 && (m == 1 || cv.rs >= n)) || (cv.rs == 1 && (n == 1 || cv.cs >= m));
    if !c_ok || cv.extent(m, n) > c.len() || av.extent(m, k) > a.len() || bv.extent(k, n) > b.len()
    {
        return Err(Error::Internal(format!(
            "gemm view out of bounds: m={m} n={n} k={k} c={cv:?}/{} a={av:?}/{} b={bv:?}/{}",
            c.len(),
            a.len(),
            b.len()
        )));
    }
    if k == 0 {
        for i in 0..m {
            for j in 0..n {
                c[cv.off + i * cv.rs + j * cv.cs] = T::zero();
            }
        }
        return Ok(());
    }
    // SAFETY: every element the three views address lies inside its slice (extents checked
    // above), `c`'s elements are pairwise distinct (one unit stride, the other stride at least
    // the extent of the unit-stride dim), `c` is borrowed mutably so it aliases neither input,
    // and T is f32, f64 or half::f16 (the same type as gemm::f16), which gemm supports. With
    // `read_dst = false` gemm writes dst without reading it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr().add(cv.off),
            cv.cs as isize,
            cv.rs as isize,
            false,
            a.as_ptr().add(av.off),
            av.cs as isize,
            av.rs as isize,
            b.as_ptr().add(bv.off),
            bv.cs as isize,
            bv.rs as isize,
            T::zero(),
            T::one(),
            false,
            false,
            false,
            par,
        );
    }
    Ok(())
}

/// Geometry of one batched matmul: matrix sizes, per-operand matrix strides and the batch dims
/// of the output with each operand's (broadcast) batch strides.
struct Plan {
    m: usize,
    n: usize,
    k: usize,
    a: MatRef,
    b: MatRef,
    batch: Vec<usize>,
    a_bs: Vec<usize>,
    b_bs: Vec<usize>,
}

impl Plan {
    fn new(a: &Layout, b: &Layout, out_rank: usize) -> Result<Plan> {
        let (da, sa, ra) = (a.dims(), a.strides(), a.rank());
        let (db, sb, rb) = (b.dims(), b.strides(), b.rank());
        if ra == 0 || rb == 0 {
            return Err(Error::Internal(
                "matmul kernel called with a 0-d operand".into(),
            ));
        }
        let st = |s: isize| s.max(0) as usize;
        // A 1-d lhs is one row; a 1-d rhs is one column. The stride of the missing dim is
        // never used (that dim has size 1).
        let (m, a_rs, a_cs) = if ra == 1 {
            (1, 0, st(sa[0]))
        } else {
            (da[ra - 2], st(sa[ra - 2]), st(sa[ra - 1]))
        };
        let k = da[ra - 1];
        let (n, b_rs, b_cs) = if rb == 1 {
            (1, st(sb[0]), 0)
        } else {
            (db[rb - 1], st(sb[rb - 2]), st(sb[rb - 1]))
        };
        let kb = if rb == 1 { db[0] } else { db[rb - 2] };
        let nb = out_rank - usize::from(ra >= 2) - usize::from(rb >= 2);
        let (ba, bb) = (ra.saturating_sub(2), rb.saturating_sub(2));
        if kb != k || ba > nb || bb > nb {
            return Err(Error::Internal(format!(
                "matmul kernel got inconsistent shapes {:?} x {:?} for output rank {out_rank}",
                da, db
            )));
        }
        let mut batch = vec![1; nb];
        let (mut a_bs, mut b_bs) = (vec![0; nb], vec![0; nb]);
        for i in 0..nb {
            if i + ba >= nb && da[i + ba - nb] != 1 {
                batch[i] = da[i + ba - nb];
                a_bs[i] = st(sa[i + ba - nb]);
            }
            if i + bb >= nb && db[i + bb - nb] != 1 {
                batch[i] = db[i + bb - nb];
                b_bs[i] = st(sb[i + bb - nb]);
            }
        }
        let a = MatRef {
            off: a.offset(),
            rs: a_rs,
            cs: a_cs,
        };
        let b = MatRef {
            off: b.offset(),
            rs: b_rs,
            cs: b_cs,
        };
        Ok(Plan {
            m,
            n,
            k,
            a,
            b,
            batch,
            a_bs,
            b_bs,
        })
    }

    fn batch_count(&self) -> usize {
        dims_product(self.batch.iter().copied())
    }

    /// The two operand matrices of batch entry `bi` (row-major over the batch dims).
    fn operands(&self, mut bi: usize) -> (MatRef, MatRef) {
        let (mut a, mut b) = (self.a, self.b);
        for d in (0..self.batch.len()).rev() {
            let i = bi % self.batch[d];
            bi /= self.batch[d];
            a.off += i * self.a_bs[d];
            b.off += i * self.b_bs[d];
        }
        (a, b)
    }
}

/// Whether gemm can read a `rows × cols` view efficiently as is (unit stride in one dim).
fn gemm_friendly(v: &MatRef, rows: usize, cols: usize) -> bool {
    rows <= 1 || cols <= 1 || v.rs == 1 || v.cs == 1
}

/// The operand's elements, made contiguous when gemm could not read its matrices efficiently.
fn operand<'a, T: Element>(
    inp: &KernelInput<'a>,
    friendly: bool,
) -> Result<(Cow<'a, [T]>, Layout)> {
    let data = buf::<T>(inp)?;
    if friendly {
        Ok((Cow::Borrowed(data), inp.layout.clone()))
    } else {
        let dense = gather_strided(data, inp.layout)?;
        Ok((
            Cow::Owned(dense),
            Layout::contiguous(inp.layout.shape().clone()),
        ))
    }
}

/// Runs a gemm-backed batched matmul of two inputs into `out` (row-major, `args.out_shape`).
fn matmul_gemm<T: GemmElem>(
    (a, la): (&[T], &Layout),
    (b, lb): (&[T], &Layout),
    out: &mut [T],
    out_rank: usize,
) -> Result<()> {
    let p = Plan::new(la, lb, out_rank)?;
    let (m, n, k) = (p.m, p.n, p.k);
    let mn = m * n;
    if mn == 0 || p.batch_count() == 0 {
        return Ok(());
    }
    let mnk = mn * k;
    let cv = MatRef::rows(0, n);
    let one = |bi: usize, dst: &mut [T], par| {
        let (av, bv) = p.operands(bi);
        gemm_into((m, n, k), dst, cv, a, av, b, bv, par)
    };
    let batches = p.batch_count();
    if batches > 1 && mnk < PAR_FLOPS && batches * mnk >= PAR_FLOPS {
        let min_len = (PAR_FLOPS / mnk.max(1)).max(1);
        out.par_chunks_mut(mn)
            .enumerate()
            .with_min_len(min_len)
            .try_for_each(|(bi, dst)| one(bi, dst, gemm::Parallelism::None))
    } else {
        let par = parallelism_for(mnk);
        out.chunks_mut(mn)
            .enumerate()
            .try_for_each(|(bi, dst)| one(bi, dst, par))
    }
}

fn run_gemm<T: GemmElem>(args: &KernelArgs<'_>, o: &mut [T]) -> Result<()> {
    let (x, y) = (&args.inputs[0], &args.inputs[1]);
    let plan = Plan::new(x.layout, y.layout, args.out_shape.rank())?;
    let (xa, la) = operand::<T>(x, gemm_friendly(&plan.a, plan.m, plan.k))?;
    let (yb, lb) = operand::<T>(y, gemm_friendly(&plan.b, plan.k, plan.n))?;
    matmul_gemm::<T>((&xa, &la), (&yb, &lb), o, args.out_shape.rank())
}

/// An input converted to f32 in row-major order.
fn bf16_to_f32(inp: &KernelInput<'_>) -> Result<Vec<f32>> {
    let data = buf::<bf16>(inp)?;
    let mut v = try_vec_filled(inp.layout.numel(), 0f32)?;
    match inp.layout.contiguous_offset() {
        Some(off) => data[off..off + v.len()].convert_to_f32_slice(&mut v),
        None => v
            .iter_mut()
            .zip(inp.layout.offsets())
            .for_each(|(o, i)| *o = data[i].to_f32()),
    }
    Ok(v)
}

fn run_bf16(args: &KernelArgs<'_>, o: &mut [bf16]) -> Result<()> {
    let (x, y) = (&args.inputs[0], &args.inputs[1]);
    let (xa, ya) = (bf16_to_f32(x)?, bf16_to_f32(y)?);
    let la = Layout::contiguous(x.layout.shape().clone());
    let lb = Layout::contiguous(y.layout.shape().clone());
    let mut acc = try_vec_filled(args.out_shape.numel(), 0f32)?;
    matmul_gemm::<f32>((&xa, &la), (&ya, &lb), &mut acc, args.out_shape.rank())?;
    o.convert_from_f32_slice(&acc);
    Ok(())
}

/// Columns of the output row processed per pass of the integer loop (kept in L1).
const INT_COL_BLOCK: usize = 1024;

/// One output row `c[0..n] = a_row[0..k] · b[k×n]` (b row-major), wrapping.
fn int_row<T: Arith>(c: &mut [T], a_row: &[T], b: &[T], n: usize) {
    for (j0, cb) in (0..n)
        .step_by(INT_COL_BLOCK)
        .zip(c.chunks_mut(INT_COL_BLOCK))
    {
        cb.fill(T::zero());
        for (p, &av) in a_row.iter().enumerate() {
            let br = &b[p * n + j0..p * n + j0 + cb.len()];
            for (o, &bv) in cb.iter_mut().zip(br) {
                *o = T::add(*o, T::mul(av, bv));
            }
        }
    }
}

fn run_int<T: Arith>(args: &KernelArgs<'_>, o: &mut [T]) -> Result<()> {
    let (x, y) = (&args.inputs[0], &args.inputs[1]);
    let (xa, ya) = (
        gather_strided(buf::<T>(x)?, x.layout)?,
        gather_strided(buf::<T>(y)?, y.layout)?,
    );
    let la = Layout::contiguous(x.layout.shape().clone());
    let lb = Layout::contiguous(y.layout.shape().clone());
    let p = Plan::new(&la, &lb, args.out_shape.rank())?;
    let (m, n, k) = (p.m, p.n, p.k);
    if k == 0 {
        // An empty inner dimension sums nothing (the operands' batch strides of an empty
        // matrix address nothing either).
        o.fill(T::zero());
    }
    if n == 0 || k == 0 || o.is_empty() {
        return Ok(());
    }
    // Contiguous operands: a's rows have stride k, b is row-major k×n (a 1-d rhs of length k is
    // the same memory as a k×1 matrix).
    let row = |r: usize, c: &mut [T]| {
        let (bi, i) = (r / m, r % m);
        let (av, bv) = p.operands(bi);
        let a_row = &xa[av.off + i * k..av.off + (i + 1) * k];
        int_row(c, a_row, &ya[bv.off..bv.off + k * n], n);
    };
    if o.len() * k >= PAR_FLOPS {
        let min_len = (PAR_FLOPS / (n * k).max(1)).max(1);
        o.par_chunks_mut(n)
            .enumerate()
            .with_min_len(min_len)
            .for_each(|(r, c)| row(r, c));
    } else {
        o.chunks_mut(n).enumerate().for_each(|(r, c)| row(r, c));
    }
    Ok(())
}

/// Computes the product into `out[off..off + numel]` (row-major).
fn matmul_at(args: &KernelArgs<'_>, out: &mut CpuBuffer, off: usize) -> Result<()> {
    let n = args.out_shape.numel();
    let range = off..off + n;
    match args.inputs[0].dtype {
        DType::F32 => run_gemm::<f32>(args, &mut out.as_mut_slice::<f32>()?[range]),
        DType::F64 => run_gemm::<f64>(args, &mut out.as_mut_slice::<f64>()?[range]),
        DType::F16 => run_gemm::<f16>(args, &mut out.as_mut_slice::<f16>()?[range]),
        DType::BF16 => run_bf16(args, &mut out.as_mut_slice::<bf16>()?[range]),
        DType::I32 => run_int::<i32>(args, &mut out.as_mut_slice::<i32>()?[range]),
        DType::I64 => run_int::<i64>(args, &mut out.as_mut_slice::<i64>()?[range]),
        DType::U8 => run_int::<u8>(args, &mut out.as_mut_slice::<u8>()?[range]),
        dt => Err(Error::DTypeMismatch {
            op: "matmul",
            got: vec![dt],
            reason: "no cpu matmul for this dtype".into(),
        }),
    }
}

fn matmul(args: &KernelArgs<'_>) -> Result<Storage> {
    let mut out = CpuBuffer::for_output(args.out_dtype, args.out_shape.numel())?;
    matmul_at(args, &mut out, 0)?;
    Ok(out.into_storage())
}

/// `matmul(.., out=)`: straight into a contiguous destination; a strided one gets the product
/// through a temporary.
fn matmul_into(args: &KernelArgs<'_>, out: &mut KernelOut<'_>) -> Result<()> {
    if let Some(off) = out.layout.contiguous_offset() {
        return matmul_at(args, CpuBuffer::downcast_mut(out.buffer)?, off);
    }
    let mut tmp = CpuBuffer::for_output(args.out_dtype, args.out_shape.numel())?;
    matmul_at(args, &mut tmp, 0)?;
    with_dtype!(args.out_dtype, T, {
        write_rows::<T>(out, tmp.as_slice::<T>()?)
    })
}

register_kernel!(
    Matmul,
    "cpu",
    [F32, F64, F16, BF16, I32, I64, U8],
    matmul,
    into = matmul_into
);
