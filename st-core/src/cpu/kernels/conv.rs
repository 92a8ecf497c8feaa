//! conv2d, im2col and col2im kernels.
//!
//! conv2d unfolds each image into a column matrix (`[C·kh·kw, L]`, the layout of PyTorch's
//! `unfold`) and multiplies each group's weights `[O/g, C/g·kh·kw]` by its rows of that matrix
//! with gemm. All three kernels take contiguous inputs. F16 convolutions use gemm's f16 path;
//! BF16 runs in f32; col2im accumulates half types in f32.

use super::binary::Arith;
use super::matmul::{gemm_into, parallelism_for, GemmElem, MatRef};
use super::util::buf;
use crate::alloc::try_vec_filled;
use crate::backend::Storage;
use crate::cpu::CpuBuffer;
use crate::dispatch::{KernelArgs, KernelCaps, KernelInput};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::op::{OpParams, WindowParams};
use crate::register_kernel;
use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};
use rayon::prelude::*;

/// Bytes of the column-matrix tile a single-threaded convolution unfolds at a time: small
/// enough to stay in L2 between im2col writing it and gemm reading it.
const CONV_TILE_BYTES: usize = 320 << 10;
/// Bytes of the column-matrix tile when the pool works on one image together (bounds the
/// scratch memory for large images).
const THREADED_TILE_BYTES: usize = 16 << 20;
/// Multiply-adds from which a convolution uses more than one thread.
const PAR_WORK: usize = 64 * 64 * 64;

/// The input's elements (the kernels are registered contiguous-only).
fn dense<'a, T: Element>(inp: &KernelInput<'a>) -> Result<&'a [T]> {
    let data = buf::<T>(inp)?;
    let off = inp
        .layout
        .contiguous_offset()
        .ok_or_else(|| Error::Internal("conv-family kernel received a strided input".into()))?;
    Ok(&data[off..off + inp.layout.numel()])
}

/// Range of output columns `x` whose input column `x·stride + shift` lies in `[0, size)`.
/// Computed in i128: inference bounds every stride, padding and image extent by
/// `isize::MAX`, so no intermediate here can overflow.
#[inline]
fn valid_range(shift: isize, stride: usize, size: usize, count: usize) -> (usize, usize) {
    let (shift, s) = (shift as i128, stride as i128);
    // smallest x with x·s + shift >= 0
    let lo = if shift >= 0 { 0 } else { (-shift + s - 1) / s };
    // largest x with x·s + shift <= size - 1, plus one
    let last = size as i128 - 1 - shift;
    let hi = if last < 0 { 0 } else { last / s + 1 };
    let count_i = count as i128;
    let lo = lo.min(count_i);
    (lo as usize, hi.clamp(lo, count_i) as usize)
}

/// Unfolds the output positions `[l0, l0 + cols)` of one image `img [C, H, W]` into
/// `out [C·kh·kw, cols]` (row `(c·kh + i)·kw + j`, PyTorch order), reading `pad_value` outside
/// the image.
fn im2col_tile<T: Element>(
    img: &[T],
    channels: usize,
    p: &WindowParams,
    l0: usize,
    cols: usize,
    out: &mut [T],
) {
    let [h, w] = p.image;
    let [kh, kw] = p.kernel;
    let [sh, sw] = p.stride;
    let [dh, dw] = p.dilation;
    let [ph, pw] = p.padding;
    let ow = p.out_hw()[1];
    let pad = T::from_f64(p.pad_value);
    let mut rows = out.chunks_exact_mut(cols);
    for c in 0..channels {
        let plane = &img[c * h * w..(c + 1) * h * w];
        for i in 0..kh {
            for j in 0..kw {
                let Some(row) = rows.next() else { return };
                let shift_x = (j * dw) as isize - pw as isize;
                let (xlo, xhi) = valid_range(shift_x, sw, w, ow);
                // Walk output rows (oy) intersecting [l0, l0 + cols).
                let mut l = l0;
                while l < l0 + cols {
                    let oy = l / ow;
                    let ox0 = l % ow;
                    let ox1 = ow.min(ox0 + (l0 + cols - l));
                    let dst = &mut row[l - l0..l - l0 + (ox1 - ox0)];
                    let iy = (oy * sh + i * dh) as isize - ph as isize;
                    if iy < 0 || iy >= h as isize {
                        dst.fill(pad);
                    } else {
                        let src = &plane[iy as usize * w..(iy as usize + 1) * w];
                        let (a, b) = (xlo.clamp(ox0, ox1), xhi.clamp(ox0, ox1));
                        dst[..a - ox0].fill(pad);
                        dst[b - ox0..].fill(pad);
                        let mid = &mut dst[a - ox0..b - ox0];
                        if mid.is_empty() {
                            l += ox1 - ox0;
                            continue;
                        }
                        // `a` is a valid column: `a·sw + shift_x` lies inside the row.
                        let base = (a * sw) as isize + shift_x;
                        if sw == 1 {
                            let s = base as usize;
                            mid.copy_from_slice(&src[s..s + mid.len()]);
                        } else {
                            for (t, o) in mid.iter_mut().enumerate() {
                                *o = src[base as usize + t * sw];
                            }
                        }
                    }
                    l += ox1 - ox0;
                }
            }
        }
    }
}

fn window(params: &OpParams) -> Result<WindowParams> {
    match params {
        OpParams::Window(p) => Ok(*p),
        other => Err(Error::Internal(format!(
            "im2col/col2im got params {other:?}"
        ))),
    }
}

fn run_im2col<T: Element>(args: &KernelArgs<'_>) -> Result<Storage> {
    let p = window(args.params)?;
    let x = dense::<T>(&args.inputs[0])?;
    let [oh, ow] = p.out_hw();
    let (l, kk, hw) = (oh * ow, p.kernel[0] * p.kernel[1], p.image[0] * p.image[1]);
    let mut out = CpuBuffer::for_output(T::DTYPE, args.out_shape.numel())?;
    let o = out.as_mut_slice::<T>()?;
    if !o.is_empty() {
        // One task per (image, channel) plane: `kk` rows of the output.
        let planes = o.par_chunks_mut(kk * l).enumerate();
        planes
            .with_min_len((1 << 14) / (kk * l).max(1) + 1)
            .for_each(|(nc, dst)| {
                im2col_tile(&x[nc * hw..(nc + 1) * hw], 1, &p, 0, l, dst);
            });
    }
    Ok(out.into_storage())
}

/// Folds `cols [C·kh·kw, L]` of one channel plane (`kh·kw` rows) back into `img [H, W]`.
fn col2im_plane<T: Arith>(cols: &[T], p: &WindowParams, img: &mut [T]) {
    let [h, w] = p.image;
    let [kh, kw] = p.kernel;
    let [sh, sw] = p.stride;
    let [dh, dw] = p.dilation;
    let [ph, pw] = p.padding;
    let [oh, ow] = p.out_hw();
    img.fill(T::zero());
    for i in 0..kh {
        for j in 0..kw {
            let row = &cols[(i * kw + j) * oh * ow..(i * kw + j + 1) * oh * ow];
            let shift_x = (j * dw) as isize - pw as isize;
            let (xlo, xhi) = valid_range(shift_x, sw, w, ow);
            for oy in 0..oh {
                let iy = (oy * sh + i * dh) as isize - ph as isize;
                if iy < 0 || iy >= h as isize {
                    continue;
                }
                let dst = &mut img[iy as usize * w..(iy as usize + 1) * w];
                let src = &row[oy * ow..(oy + 1) * ow];
                for ox in xlo..xhi {
                    let ix = ((ox * sw) as isize + shift_x) as usize;
                    dst[ix] = T::add(dst[ix], src[ox]);
                }
            }
        }
    }
}

fn col2im_into<T: Arith>(cols: &[T], p: &WindowParams, out: &mut [T]) {
    let [oh, ow] = p.out_hw();
    let (kl, hw) = (p.kernel[0] * p.kernel[1] * oh * ow, p.image[0] * p.image[1]);
    if out.is_empty() || hw == 0 {
        return;
    }
    let planes = out.par_chunks_mut(hw).enumerate();
    planes
        .with_min_len((1 << 14) / kl.max(1) + 1)
        .for_each(|(nc, img)| {
            col2im_plane(&cols[nc * kl..(nc + 1) * kl], p, img);
        });
}

fn run_col2im(args: &KernelArgs<'_>) -> Result<Storage> {
    let p = window(args.params)?;
    let inp = &args.inputs[0];
    let numel = args.out_shape.numel();
    let mut out = CpuBuffer::for_output(args.out_dtype, numel)?;
    match inp.dtype {
        DType::F32 => col2im_into(dense::<f32>(inp)?, &p, out.as_mut_slice::<f32>()?),
        DType::F64 => col2im_into(dense::<f64>(inp)?, &p, out.as_mut_slice::<f64>()?),
        DType::F16 => {
            let mut acc = try_vec_filled(numel, 0f32)?;
            col2im_into(&half_to_f32(dense::<f16>(inp)?)?, &p, &mut acc);
            out.as_mut_slice::<f16>()?.convert_from_f32_slice(&acc);
        }
        DType::BF16 => {
            let mut acc = try_vec_filled(numel, 0f32)?;
            col2im_into(&half_to_f32(dense::<bf16>(inp)?)?, &p, &mut acc);
            out.as_mut_slice::<bf16>()?.convert_from_f32_slice(&acc);
        }
        dt => return Err(unsupported("col2im", dt)),
    }
    Ok(out.into_storage())
}

/// A half-precision slice widened to f32.
fn half_to_f32<H>(x: &[H]) -> Result<Vec<f32>>
where
    [H]: HalfFloatSliceExt,
{
    let mut v = try_vec_filled(x.len(), 0f32)?;
    x.convert_to_f32_slice(&mut v);
    Ok(v)
}

fn unsupported(op: &'static str, dt: DType) -> Error {
    Error::DTypeMismatch {
        op,
        got: vec![dt],
        reason: "needs a floating-point input".into(),
    }
}

/// Convolution geometry shared by every image.
struct ConvGeom {
    win: WindowParams,
    c: usize,
    o: usize,
    groups: usize,
    l: usize,
}

/// Picks the column tile: the unfolded tile (`kdim × tile` elements of `size` bytes) should stay
/// within about `budget` bytes; a multiple of 32 columns, at least 64.
fn tile_cols(kdim: usize, size: usize, l: usize, budget: usize) -> usize {
    let t = budget / (kdim * size).max(1);
    (t / 32 * 32).max(64).min(l).max(1)
}

/// Convolves one image `x [C, H, W]` into `y [O, L]`.
///
/// The column matrix is unfolded a tile of output positions at a time into `scratch`. With
/// `threaded` false everything runs on the calling thread with cache-sized tiles; with
/// `threaded` true tiles are large, unfolded in parallel over channels, and gemm splits each
/// product across the rayon pool.
fn conv_image<T: GemmElem>(
    g: &ConvGeom,
    w: &[T],
    x: &[T],
    y: &mut [T],
    scratch: &mut Vec<T>,
    threaded: bool,
) -> Result<()> {
    let p = &g.win;
    let (cg, og) = (g.c / g.groups, g.o / g.groups);
    let kk = p.kernel[0] * p.kernel[1];
    let kdim = cg * kk;
    let hw = p.image[0] * p.image[1];
    let direct = p.kernel == [1, 1] && p.stride == [1, 1] && p.padding == [0, 0];
    let budget = if threaded {
        THREADED_TILE_BYTES
    } else {
        CONV_TILE_BYTES
    };
    let tile = if direct {
        g.l
    } else {
        tile_cols(kdim, size_of::<T>(), g.l, budget)
    };
    let par = if threaded {
        parallelism_for(og * tile * kdim)
    } else {
        gemm::Parallelism::None
    };
    for l0 in (0..g.l).step_by(tile) {
        let cols = tile.min(g.l - l0);
        for gi in 0..g.groups {
            let xg = &x[gi * cg * hw..(gi + 1) * cg * hw];
            let (src, bv): (&[T], MatRef) = if direct {
                // A 1×1 unit-stride unpadded window: the image is its own column matrix.
                (xg, MatRef::rows(l0, hw))
            } else {
                scratch.resize(kdim * cols, T::zero());
                let dst = &mut scratch[..kdim * cols];
                if threaded {
                    dst.par_chunks_mut(kk * cols)
                        .enumerate()
                        .for_each(|(c, rows)| {
                            im2col_tile(&xg[c * hw..(c + 1) * hw], 1, p, l0, cols, rows);
                        });
                } else {
                    im2col_tile(xg, cg, p, l0, cols, dst);
                }
                (&scratch[..], MatRef::rows(0, cols))
            };
            let av = MatRef::rows(gi * og * kdim, kdim);
            let cv = MatRef::rows(gi * og * g.l + l0, g.l);
            gemm_into((og, cols, kdim), y, cv, w, av, src, bv, par)?;
        }
    }
    Ok(())
}

fn conv_typed<T: GemmElem>(x: &[T], w: &[T], g: &ConvGeom, out: &mut [T]) -> Result<()> {
    let chw = g.c * g.win.image[0] * g.win.image[1];
    let ol = g.o * g.l;
    if out.is_empty() || ol == 0 {
        return Ok(());
    }
    let kdim = g.c / g.groups * g.win.kernel[0] * g.win.kernel[1];
    let work = out.len() * kdim;
    let images = out.len() / ol;
    let threads = rayon::current_num_threads();
    if threads > 1 && images >= threads && work >= PAR_WORK {
        // One image per task: each thread keeps its own tile buffer and runs gemm alone.
        out.par_chunks_mut(ol)
            .enumerate()
            .try_for_each_init(Vec::new, |scratch, (n, y)| {
                conv_image(g, w, &x[n * chw..(n + 1) * chw], y, scratch, false)
            })
    } else {
        // Few images: split each image's work across threads instead.
        let threaded = threads > 1 && work / images >= PAR_WORK;
        let mut scratch = Vec::new();
        out.chunks_mut(ol).enumerate().try_for_each(|(n, y)| {
            conv_image(g, w, &x[n * chw..(n + 1) * chw], y, &mut scratch, threaded)
        })
    }
}

fn run_conv2d(args: &KernelArgs<'_>) -> Result<Storage> {
    let OpParams::Conv2d(cp) = args.params else {
        return Err(Error::Internal(format!(
            "conv2d got params {:?}",
            args.params
        )));
    };
    let (xi, wi) = (&args.inputs[0], &args.inputs[1]);
    let (xd, wd, od) = (xi.layout.dims(), wi.layout.dims(), args.out_shape.dims());
    if xd.len() != 4 || wd.len() != 4 || od.len() != 4 || cp.groups == 0 {
        return Err(Error::Internal(format!(
            "conv2d kernel got shapes {xd:?} x {wd:?}"
        )));
    }
    let win = WindowParams {
        kernel: [wd[2], wd[3]],
        stride: cp.stride,
        padding: cp.padding,
        dilation: cp.dilation,
        pad_value: 0.0,
        image: [xd[2], xd[3]],
    };
    let g = ConvGeom {
        win,
        c: xd[1],
        o: wd[0],
        groups: cp.groups,
        l: od[2] * od[3],
    };
    if win.out_hw() != [od[2], od[3]] || xd[1] != wd[1] * cp.groups || wd[0] % cp.groups != 0 {
        return Err(Error::Internal(format!(
            "conv2d kernel got shapes {xd:?} x {wd:?}"
        )));
    }
    let mut out = CpuBuffer::for_output(args.out_dtype, args.out_shape.numel())?;
    match xi.dtype {
        DType::F32 => conv_typed(
            dense::<f32>(xi)?,
            dense(wi)?,
            &g,
            out.as_mut_slice::<f32>()?,
        )?,
        DType::F64 => conv_typed(
            dense::<f64>(xi)?,
            dense(wi)?,
            &g,
            out.as_mut_slice::<f64>()?,
        )?,
        DType::F16 => conv_typed(
            dense::<f16>(xi)?,
            dense(wi)?,
            &g,
            out.as_mut_slice::<f16>()?,
        )?,
        DType::BF16 => {
            let (x, w) = (
                half_to_f32(dense::<bf16>(xi)?)?,
                half_to_f32(dense::<bf16>(wi)?)?,
            );
            let mut acc = try_vec_filled(out.len(), 0f32)?;
            conv_typed(&x, &w, &g, &mut acc)?;
            out.as_mut_slice::<bf16>()?.convert_from_f32_slice(&acc);
        }
        dt => return Err(unsupported("conv2d", dt)),
    }
    Ok(out.into_storage())
}

fn im2col(args: &KernelArgs<'_>) -> Result<Storage> {
    match args.inputs[0].dtype {
        DType::F32 => run_im2col::<f32>(args),
        DType::F64 => run_im2col::<f64>(args),
        DType::F16 => run_im2col::<f16>(args),
        DType::BF16 => run_im2col::<bf16>(args),
        dt => Err(unsupported("im2col", dt)),
    }
}

register_kernel!(
    Conv2d,
    "cpu",
    [F32, F64, F16, BF16],
    run_conv2d,
    KernelCaps::CONTIGUOUS
);
register_kernel!(
    Im2Col,
    "cpu",
    [F32, F64, F16, BF16],
    im2col,
    KernelCaps::CONTIGUOUS
);
register_kernel!(
    Col2Im,
    "cpu",
    [F32, F64, F16, BF16],
    run_col2im,
    KernelCaps::CONTIGUOUS
);
