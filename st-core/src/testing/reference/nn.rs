//! Reference matmul (PyTorch semantics), softmax / log_softmax, cross_entropy, conv2d,
//! im2col / col2im (PyTorch `unfold` / `fold` ordering) and 2-d pooling.

use super::{broadcast_shape, mismatch, norm_dim, sh, RefTensor};
use crate::error::{Error, Result};
use crate::op::{Conv2dParams, WindowParams};
use crate::shape::dims_product;

/// `a @ b` as `torch.matmul`: 1-d operands become a row (left) or column (right) and that dim
/// is dropped from the result; leading batch dims broadcast.
///
/// # Errors
/// [`Error::ShapeMismatch`] for 0-d operands, differing inner dims or batch dims that do not
/// broadcast.
pub fn matmul(a: &RefTensor, b: &RefTensor) -> Result<RefTensor> {
    if a.rank() == 0 || b.rank() == 0 {
        return Err(mismatch("reference matmul", &a.shape, &b.shape));
    }
    let a2 = if a.rank() == 1 {
        a.reshape(&[1, a.shape[0]])?
    } else {
        a.clone()
    };
    let b2 = if b.rank() == 1 {
        b.reshape(&[b.shape[0], 1])?
    } else {
        b.clone()
    };
    let (ra, rb) = (a2.rank(), b2.rank());
    let (m, k) = (a2.shape[ra - 2], a2.shape[ra - 1]);
    let (k2, n) = (b2.shape[rb - 2], b2.shape[rb - 1]);
    if k != k2 {
        return Err(mismatch("reference matmul", &a.shape, &b.shape));
    }
    let batch = broadcast_shape(&a2.shape[..ra - 2], &b2.shape[..rb - 2])?;
    let mut full_a = batch.clone();
    full_a.extend([m, k]);
    let mut full_b = batch.clone();
    full_b.extend([k, n]);
    let (a3, b3) = (a2.broadcast_to(&full_a)?, b2.broadcast_to(&full_b)?);
    let nb: usize = dims_product(batch.iter().copied());
    let mut data = Vec::with_capacity(nb * m * n);
    for p in 0..nb {
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for q in 0..k {
                    s += a3.data[p * m * k + i * k + q] * b3.data[p * k * n + q * n + j];
                }
                data.push(s);
            }
        }
    }
    let mut shape = batch;
    if a.rank() >= 2 {
        shape.push(m);
    }
    if b.rank() >= 2 {
        shape.push(n);
    }
    RefTensor::new(&shape, data)
}

/// Applies `f` to every 1-d lane along `dim` (the lane's values in, the new values out).
fn lanes(x: &RefTensor, dim: isize, f: impl Fn(&[f64]) -> Vec<f64>) -> Result<RefTensor> {
    if x.rank() == 0 {
        norm_dim("reference softmax", dim, 0)?;
        return Ok(x.map(|v| f(&[v])[0]));
    }
    let d = norm_dim("reference softmax", dim, x.rank())?;
    let (n, st) = (x.shape[d], x.strides()[d]);
    let mut out = x.clone();
    let outer: usize = dims_product(x.shape[..d].iter().copied());
    let inner: usize = dims_product(x.shape[d + 1..].iter().copied());
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            let lane: Vec<f64> = (0..n).map(|j| x.data[base + j * st]).collect();
            for (j, v) in f(&lane).into_iter().enumerate() {
                out.data[base + j * st] = v;
            }
        }
    }
    Ok(out)
}

fn log_softmax_lane(l: &[f64]) -> Vec<f64> {
    let m = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + l.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
    l.iter().map(|v| v - lse).collect()
}

/// Softmax along `dim`.
///
/// # Errors
/// [`Error::DimOutOfRange`].
pub fn softmax(x: &RefTensor, dim: isize) -> Result<RefTensor> {
    lanes(x, dim, |l| {
        log_softmax_lane(l).into_iter().map(f64::exp).collect()
    })
}

/// Log-softmax along `dim`.
///
/// # Errors
/// [`Error::DimOutOfRange`].
pub fn log_softmax(x: &RefTensor, dim: isize) -> Result<RefTensor> {
    lanes(x, dim, log_softmax_lane)
}

/// Mean cross-entropy of logits `[N, C]` (or `[C]`) against class indices `[N]` (or 0-d).
///
/// # Errors
/// [`Error::ShapeMismatch`] for other shapes; [`Error::IndexOutOfRange`] for a class outside
/// `[0, C)`.
pub fn cross_entropy(logits: &RefTensor, target: &RefTensor) -> Result<RefTensor> {
    let (l, t) = match (logits.rank(), target.rank()) {
        (2, 1) if logits.shape[0] == target.shape[0] => (logits.clone(), target.clone()),
        (1, 0) => (
            logits.reshape(&[1, logits.shape[0]])?,
            target.reshape(&[1])?,
        ),
        _ => {
            return Err(mismatch(
                "reference cross_entropy",
                &logits.shape,
                &target.shape,
            ))
        }
    };
    let (n, c) = (l.shape[0], l.shape[1]);
    let ls = log_softmax(&l, 1)?;
    let mut total = 0.0;
    for i in 0..n {
        let k = t.data[i];
        if k < 0.0 || k >= c as f64 {
            return Err(Error::IndexOutOfRange {
                op: "cross_entropy",
                index: k as i64,
                size: c,
            });
        }
        total -= ls.data[i * c + k as usize];
    }
    Ok(RefTensor::scalar(total / n as f64))
}

fn window_out(p: &WindowParams) -> Result<[usize; 2]> {
    if p.stride.contains(&0) || p.dilation.contains(&0) || p.kernel.contains(&0) {
        return Err(Error::invalid(
            "reference window",
            "kernel, stride and dilation must be positive",
        ));
    }
    Ok(p.out_hw())
}

/// The input coordinate read by output position `o`, kernel offset `k` on axis `a`, or `None`
/// when it falls in the padding.
fn src(p: &WindowParams, a: usize, o: usize, k: usize) -> Option<usize> {
    let pos = (o * p.stride[a] + k * p.dilation[a]) as isize - p.padding[a] as isize;
    (pos >= 0 && (pos as usize) < p.image[a]).then_some(pos as usize)
}

/// PyTorch `unfold`: `[N, C, H, W]` → `[N, C·kh·kw, L]`; row `c·kh·kw + ky·kw + kx`, column
/// `oy·ow + ox`; positions in the padding read `pad_value`.
///
/// # Errors
/// [`Error::InvalidShape`] when `x` is not `[N, C, image_h, image_w]`.
pub fn im2col(x: &RefTensor, p: &WindowParams) -> Result<RefTensor> {
    if x.rank() != 4 || x.shape[2..] != p.image {
        return Err(Error::InvalidShape {
            op: "im2col",
            shape: Box::new(sh(&x.shape)),
            reason: "expected [N, C, H, W]".into(),
        });
    }
    let [oh, ow] = window_out(p)?;
    let [kh, kw] = p.kernel;
    let (n, c) = (x.shape[0], x.shape[1]);
    Ok(RefTensor::from_fn(&[n, c * kh * kw, oh * ow], |i| {
        let (ch, ky, kx) = (i[1] / (kh * kw), i[1] / kw % kh, i[1] % kw);
        let (oy, ox) = (i[2] / ow, i[2] % ow);
        match (src(p, 0, oy, ky), src(p, 1, ox, kx)) {
            (Some(y), Some(xx)) => x.data[x.offset(&[i[0], ch, y, xx])],
            _ => p.pad_value,
        }
    }))
}

/// PyTorch `fold`: sums `[N, C·kh·kw, L]` windows back into `[N, C, image_h, image_w]`.
///
/// # Errors
/// [`Error::InvalidShape`] for a column tensor of the wrong shape.
pub fn col2im(cols: &RefTensor, p: &WindowParams) -> Result<RefTensor> {
    let [oh, ow] = window_out(p)?;
    let [kh, kw] = p.kernel;
    if cols.rank() != 3 || !cols.shape[1].is_multiple_of(kh * kw) || cols.shape[2] != oh * ow {
        return Err(Error::InvalidShape {
            op: "col2im",
            shape: Box::new(sh(&cols.shape)),
            reason: "bad columns".into(),
        });
    }
    let (n, c) = (cols.shape[0], cols.shape[1] / (kh * kw));
    let mut out = RefTensor::from_fn(&[n, c, p.image[0], p.image[1]], |_| 0.0);
    super::for_each_index(&cols.shape, |i| {
        let (ch, ky, kx) = (i[1] / (kh * kw), i[1] / kw % kh, i[1] % kw);
        let (oy, ox) = (i[2] / ow, i[2] % ow);
        if let (Some(y), Some(xx)) = (src(p, 0, oy, ky), src(p, 1, ox, kx)) {
            let o = out.offset(&[i[0], ch, y, xx]);
            out.data[o] += cols.data[cols.offset(i)];
        }
    });
    Ok(out)
}

/// 2-d convolution, NCHW input, OIHW weight (`[O, C/groups, kh, kw]`), no bias.
///
/// # Errors
/// [`Error::ShapeMismatch`] when ranks, channels or groups do not fit.
pub fn conv2d(x: &RefTensor, w: &RefTensor, p: &Conv2dParams) -> Result<RefTensor> {
    let bad = || mismatch("reference conv2d", &x.shape, &w.shape);
    if x.rank() != 4 || w.rank() != 4 || p.groups == 0 {
        return Err(bad());
    }
    let (n, c, o, cg) = (x.shape[0], x.shape[1], w.shape[0], w.shape[1]);
    if c % p.groups != 0 || o % p.groups != 0 || c / p.groups != cg {
        return Err(bad());
    }
    let win = WindowParams {
        kernel: [w.shape[2], w.shape[3]],
        stride: p.stride,
        padding: p.padding,
        dilation: p.dilation,
        pad_value: 0.0,
        image: [x.shape[2], x.shape[3]],
    };
    let [oh, ow] = window_out(&win)?;
    if oh == 0 || ow == 0 {
        return Err(bad());
    }
    let og = o / p.groups;
    Ok(RefTensor::from_fn(&[n, o, oh, ow], |i| {
        let g = i[1] / og;
        let mut s = 0.0;
        for ci in 0..cg {
            for ky in 0..win.kernel[0] {
                for kx in 0..win.kernel[1] {
                    if let (Some(y), Some(xx)) = (src(&win, 0, i[2], ky), src(&win, 1, i[3], kx)) {
                        s += x.data[x.offset(&[i[0], g * cg + ci, y, xx])]
                            * w.data[w.offset(&[i[1], ci, ky, kx])];
                    }
                }
            }
        }
        s
    }))
}

/// 2-d pooling: max (padding reads as `-inf`) or average (padding counted as zeros, PyTorch's
/// `count_include_pad=True`).
///
/// # Errors
/// [`Error::InvalidShape`] when `x` is not 4-d.
pub fn pool2d(
    x: &RefTensor,
    max: bool,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Result<RefTensor> {
    if x.rank() != 4 {
        return Err(Error::InvalidShape {
            op: "pool2d",
            shape: Box::new(sh(&x.shape)),
            reason: "expected 4-d".into(),
        });
    }
    let win = WindowParams {
        kernel,
        stride,
        padding,
        dilation: [1, 1],
        pad_value: if max { f64::NEG_INFINITY } else { 0.0 },
        image: [x.shape[2], x.shape[3]],
    };
    let [oh, ow] = window_out(&win)?;
    Ok(RefTensor::from_fn(&[x.shape[0], x.shape[1], oh, ow], |i| {
        let mut vals = Vec::new();
        for ky in 0..kernel[0] {
            for kx in 0..kernel[1] {
                vals.push(match (src(&win, 0, i[2], ky), src(&win, 1, i[3], kx)) {
                    (Some(y), Some(xx)) => x.data[x.offset(&[i[0], i[1], y, xx])],
                    _ => win.pad_value,
                });
            }
        }
        if max {
            vals.iter()
                .copied()
                .fold(f64::NEG_INFINITY, super::binary::maximum)
        } else {
            vals.iter().sum::<f64>() / vals.len() as f64
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_follows_torch_shapes() {
        let a = RefTensor::new(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let v = RefTensor::new(&[2], vec![1.0, 1.0]).unwrap();
        let r = matmul(&a, &v).unwrap();
        assert_eq!((r.shape, r.data), (vec![2], vec![3.0, 7.0]));
        let l = matmul(&v, &a).unwrap();
        assert_eq!((l.shape, l.data), (vec![2], vec![4.0, 6.0]));
        let b = RefTensor::from_fn(&[3, 1, 2, 2], |i| i[0] as f64);
        assert_eq!(matmul(&a, &b).unwrap().shape, vec![3, 1, 2, 2]);
        assert!(matmul(&a, &RefTensor::new(&[3], vec![0.0; 3]).unwrap()).is_err());
    }

    #[test]
    fn unfold_fold_and_conv() {
        // torch.nn.functional.unfold(torch.arange(9.).reshape(1,1,3,3), 2)
        // = [[0,1,3,4],[1,2,4,5],[3,4,6,7],[4,5,7,8]]
        let x = RefTensor::from_fn(&[1, 1, 3, 3], |i| (i[2] * 3 + i[3]) as f64);
        let p = WindowParams {
            kernel: [2, 2],
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            pad_value: 0.0,
            image: [3, 3],
        };
        let cols = im2col(&x, &p).unwrap();
        let want = [
            0., 1., 3., 4., 1., 2., 4., 5., 3., 4., 6., 7., 4., 5., 7., 8.,
        ];
        assert_eq!(cols.data, want);
        // fold(ones) counts how many windows cover each pixel.
        let f = col2im(&cols.map(|_| 1.0), &p).unwrap();
        assert_eq!(f.data, vec![1., 2., 1., 2., 4., 2., 1., 2., 1.]);
        let w = RefTensor::new(&[1, 1, 2, 2], vec![1.0; 4]).unwrap();
        let y = conv2d(&x, &w, &Conv2dParams::default()).unwrap();
        assert_eq!(y.data, vec![8.0, 12.0, 20.0, 24.0]);
        let m = pool2d(&x, true, [2, 2], [2, 2], [1, 1]).unwrap();
        assert_eq!(m.data, vec![0.0, 2.0, 6.0, 8.0]);
    }

    #[test]
    fn softmax_and_cross_entropy() {
        let x = RefTensor::new(&[2], vec![0.0, 0.0]).unwrap();
        assert_eq!(softmax(&x, 0).unwrap().data, vec![0.5, 0.5]);
        let ce = cross_entropy(&x, &RefTensor::scalar(1.0)).unwrap();
        assert!((ce.data[0] - 2f64.ln()).abs() < 1e-15);
    }
}
