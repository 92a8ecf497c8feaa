//! Pooling and [`Flatten`].

use super::activation::stateless;
use crate::module::{Module, Visitor, VisitorMut};
use st_core::{Error, Result, Tensor};

/// 2-d max pooling (`nn.MaxPool2d`); the stride defaults to the kernel.
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d {
    /// Window (h, w).
    pub kernel: [usize; 2],
    /// Stride (h, w).
    pub stride: [usize; 2],
    /// Padding (h, w), filled with -∞.
    pub padding: [usize; 2],
}

impl MaxPool2d {
    /// A square window of `k` with stride `k` and no padding.
    pub fn new(k: usize) -> Self {
        MaxPool2d {
            kernel: [k, k],
            stride: [k, k],
            padding: [0, 0],
        }
    }
}

/// 2-d average pooling (`nn.AvgPool2d`, zero padding counted); the stride defaults to the
/// kernel.
#[derive(Clone, Copy, Debug)]
pub struct AvgPool2d {
    /// Window (h, w).
    pub kernel: [usize; 2],
    /// Stride (h, w).
    pub stride: [usize; 2],
    /// Padding (h, w), counted as zeros.
    pub padding: [usize; 2],
}

impl AvgPool2d {
    /// A square window of `k` with stride `k` and no padding.
    pub fn new(k: usize) -> Self {
        AvgPool2d {
            kernel: [k, k],
            stride: [k, k],
            padding: [0, 0],
        }
    }
}

/// Average pooling to a fixed output size (`nn.AdaptiveAvgPool2d`): output cell `i` averages
/// input rows `floor(i·H/h) .. ceil((i+1)·H/h)`, and the same for columns.
#[derive(Clone, Copy, Debug)]
pub struct AdaptiveAvgPool2d {
    /// Output (h, w).
    pub output: [usize; 2],
}

/// Flattens dimensions `start..=end` into one (`nn.Flatten`, default `1..=-1`).
#[derive(Clone, Copy, Debug)]
pub struct Flatten {
    /// First dimension flattened.
    pub start: isize,
    /// Last dimension flattened (inclusive).
    pub end: isize,
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten { start: 1, end: -1 }
    }
}

fn adaptive_avg_pool2d(x: &Tensor, out: [usize; 2]) -> Result<Tensor> {
    if x.rank() != 4 && x.rank() != 3 {
        return Err(Error::InvalidShape {
            op: "AdaptiveAvgPool2d",
            shape: Box::new(x.shape().clone()),
            reason: "expected [N, C, H, W] or [C, H, W]".into(),
        });
    }
    let (h, w) = (x.dims()[x.rank() - 2], x.dims()[x.rank() - 1]);
    if out.contains(&0) || h == 0 || w == 0 {
        return Err(Error::invalid(
            "AdaptiveAvgPool2d",
            format!("output size {out:?} and input size [{h}, {w}] must be positive"),
        ));
    }
    if out == [1, 1] {
        return x.mean(&[-2, -1], true);
    }
    if h % out[0] == 0 && w % out[1] == 0 {
        let k = [h / out[0], w / out[1]];
        let x4 = if x.rank() == 3 {
            x.unsqueeze(0)?
        } else {
            x.clone()
        };
        let y = x4.avg_pool2d(k, k, [0, 0])?;
        return if x.rank() == 3 {
            y.squeeze(Some(0))
        } else {
            Ok(y)
        };
    }
    let cells = |n: usize, o: usize, i: usize| (i * n / o, ((i + 1) * n).div_ceil(o));
    let mut rows = Vec::with_capacity(out[0]);
    for i in 0..out[0] {
        let (r0, r1) = cells(h, out[0], i);
        let band = x.narrow(-2, r0, r1 - r0)?;
        let mut cols = Vec::with_capacity(out[1]);
        for j in 0..out[1] {
            let (c0, c1) = cells(w, out[1], j);
            cols.push(band.narrow(-1, c0, c1 - c0)?.mean(&[-2, -1], true)?);
        }
        rows.push(Tensor::cat(&cols.iter().collect::<Vec<_>>(), -1)?);
    }
    Tensor::cat(&rows.iter().collect::<Vec<_>>(), -2)
}

stateless! {
    MaxPool2d => |s, x| x.max_pool2d(s.kernel, s.stride, s.padding);
    AvgPool2d => |s, x| x.avg_pool2d(s.kernel, s.stride, s.padding);
    AdaptiveAvgPool2d => |s, x| adaptive_avg_pool2d(x, s.output);
    Flatten => |s, x| x.flatten(s.start, s.end);
}
