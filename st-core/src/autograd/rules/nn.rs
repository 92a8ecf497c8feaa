//! Backward rules of matmul (PyTorch semantics), conv2d (through im2col / col2im) and the
//! window ops im2col / col2im, which are each other's adjoint.

use super::sum_to_shape;
use crate::error::{Error, Result};
use crate::op::{Conv2dParams, OpId, WindowParams};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Gradients of `y = a @ b`. 1-d operands are handled as the matrices matmul promotes them to
/// (`[1, k]` for `a`, `[k, 1]` for `b`); broadcast batch dims are summed back.
pub(super) fn matmul(a: &Tensor, b: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let a2 = if a.rank() == 1 {
        a.unsqueeze(0)?
    } else {
        a.clone()
    };
    let b2 = if b.rank() == 1 {
        b.unsqueeze(1)?
    } else {
        b.clone()
    };
    let (ra, rb) = (a2.rank(), b2.rank());
    if ra < 2 || rb < 2 {
        return Err(Error::Internal(format!(
            "backward of matmul: operand shapes {} and {}",
            a.shape(),
            b.shape()
        )));
    }
    let batch = Shape::broadcast(
        "matmul",
        &Shape::new(&a2.dims()[..ra - 2]),
        &Shape::new(&b2.dims()[..rb - 2]),
    )?;
    let mut g_dims = batch.dims().to_vec();
    g_dims.extend_from_slice(&[a2.dims()[ra - 2], b2.dims()[rb - 1]]);
    let g2 = g.reshape_to(&Shape::new(&g_dims))?;
    // For plain matrices, each gradient is produced in its operand's memory order (PyTorch's
    // layout contract): for a transposed view such as a linear layer's `w.t()`, `(gᵀ a)ᵀ`
    // instead of `aᵀ g`, so the transpose's own backward hands back a contiguous gradient
    // and the leaf's accumulation copies nothing.
    let plain = a2.rank() == 2 && b2.rank() == 2;
    let ga = if a.requires_grad() {
        let d = if plain && column_major(&a2) {
            b2.matmul(&g2.transpose(-2, -1)?)?.transpose(-2, -1)?
        } else {
            g2.matmul(&b2.transpose(-2, -1)?)?
        };
        Some(sum_to_shape(&d, a2.shape())?.reshape_to(a.shape())?)
    } else {
        None
    };
    let gb = if b.requires_grad() {
        let d = if plain && column_major(&b2) {
            g2.transpose(-2, -1)?.matmul(&a2)?.transpose(-2, -1)?
        } else {
            a2.transpose(-2, -1)?.matmul(&g2)?
        };
        Some(sum_to_shape(&d, b2.shape())?.reshape_to(b.shape())?)
    } else {
        None
    };
    Ok(vec![ga, gb])
}

/// Whether the matrix `t` is a transposed contiguous matrix (`w.t()`).
fn column_major(t: &Tensor) -> bool {
    let (d, s) = (t.dims(), t.strides());
    d.len() == 2 && d[0] > 1 && d[1] > 1 && s[0] == 1 && s[1] == d[0] as isize
}

/// Gradients of `y = conv2d(x, w)` (no bias: the bias is a separate broadcast add).
///
/// With `cols = im2col(x)` grouped as `[N, G, Cg·kh·kw, L]`, `w` as `[G, Og, Cg·kh·kw]` and
/// `g` as `[N, G, Og, L]`, the forward is `y = w @ cols`, so `dw = Σ_N g @ colsᵀ` and
/// `dx = col2im(wᵀ @ g)`.
pub(super) fn conv2d(
    x: &Tensor,
    w: &Tensor,
    p: &Conv2dParams,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    if x.rank() != 4 || w.rank() != 4 || p.groups == 0 {
        return Err(Error::Internal(format!(
            "backward of conv2d: input {} weight {} groups {}",
            x.shape(),
            w.shape(),
            p.groups
        )));
    }
    let (n, c, h, wd) = (x.dims()[0], x.dims()[1], x.dims()[2], x.dims()[3]);
    let (o, cg, kh, kw) = (w.dims()[0], w.dims()[1], w.dims()[2], w.dims()[3]);
    let groups = p.groups;
    let og = o / groups;
    let win = WindowParams {
        kernel: [kh, kw],
        stride: p.stride,
        padding: p.padding,
        dilation: p.dilation,
        pad_value: 0.0,
        image: [h, wd],
    };
    let [oh, ow] = win.out_hw();
    let l = oh * ow;
    let ckk = cg * kh * kw;
    let gy = g.reshape_to(&Shape::new(&[n, groups, og, l]))?;
    let gw = if w.requires_grad() {
        let cols = x
            .im2col(win)?
            .reshape_to(&Shape::new(&[n, groups, ckk, l]))?;
        let d = gy.matmul(&cols.transpose(-2, -1)?)?.sum(&[0], false)?;
        Some(d.reshape_to(w.shape())?)
    } else {
        None
    };
    let gx = if x.requires_grad() {
        let wg = w.reshape_to(&Shape::new(&[groups, og, ckk]))?;
        let dcols = wg.transpose(-2, -1)?.matmul(&gy)?;
        let dcols = dcols.reshape_to(&Shape::new(&[n, c * kh * kw, l]))?;
        Some(dcols.col2im(win)?)
    } else {
        None
    };
    Ok(vec![gx, gw])
}

/// im2col's gradient is col2im with the same windows, and col2im's is im2col. Values that
/// im2col reads from the padding (`pad_value`) do not come from the input, so they get no
/// gradient.
pub(super) fn window(op: OpId, p: &WindowParams, g: &Tensor) -> Result<Tensor> {
    match op {
        OpId::Im2Col => g.col2im(*p),
        OpId::Col2Im => g.im2col(WindowParams {
            pad_value: 0.0,
            ..*p
        }),
        _ => Err(Error::Internal(format!("{} is not a window op", op.name()))),
    }
}
