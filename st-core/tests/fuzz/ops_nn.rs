//! Entries for the neural-network ops: matmul, softmax, log_softmax, cross_entropy, conv2d,
//! im2col, col2im, max_pool2d and avg_pool2d. Shapes are drawn so that every legitimate output
//! is small (window parameters are small or absurd, never medium).

use super::case::{done, table, Entry, Out};
use super::gen::{fmt_f, fmt_i, fmt_u, Gen, Pool, CAP, HUGE};
use st_core::{Conv2dParams, Result, WindowParams};

fn matmul(g: &mut Gen) -> Result<Out> {
    let big = g.p(0.1);
    let dim = |g: &mut Gen| if big { g.int(0, 64) } else { g.int(0, 6) };
    let (m, k, n) = (dim(g), dim(g), dim(g));
    let k2 = if g.p(0.1) { k + 1 } else { k };
    let (da, db): (Vec<usize>, Vec<usize>) = match g.int(0, 11) {
        0 => (vec![k], vec![k2]),
        1 => (vec![k], vec![k2, n]),
        2 => (vec![m, k], vec![k2]),
        3..=6 => (vec![m, k], vec![k2, n]),
        7..=9 => {
            let r = g.int(1, 2);
            let ba: Vec<usize> = (0..r).map(|_| g.int(1, 3)).collect();
            let bb = g.broadcast_dims(&ba);
            let a = ba.iter().copied().chain([m, k]).collect();
            let b = bb.iter().copied().chain([k2, n]).collect();
            (a, b)
        }
        10 => (g.dims(Pool::Tiny), g.dims(Pool::Tiny)),
        _ => {
            let h = g.pick(&HUGE);
            g.pick(&[
                (vec![2, 0], vec![0, h]),
                (vec![0, 3], vec![3, h]),
                (vec![h, 0], vec![0, 2]),
                (vec![0, h], vec![h, 0]),
            ])
        }
    };
    let dt = g.float_dtype();
    let dt2 = if g.p(0.9) { dt } else { g.dtype() };
    let a = g.tensor(&da, dt)?;
    let b = g.tensor(&db, dt2)?;
    g.call(format!("{}.matmul(&{})", a.n, b.n));
    done(a.t.matmul(&b.t))
}

fn softmax(g: &mut Gen, log: bool) -> Result<Out> {
    let a = g.float(Pool::Any)?;
    let d = g.axis(a.t.rank());
    g.call(format!("{}.{}({})", a.n, g.op, fmt_i(d)));
    done(if log {
        a.t.log_softmax(d)
    } else {
        a.t.softmax(d)
    })
}

fn cross_entropy(g: &mut Gen) -> Result<Out> {
    let (n, c) = (g.int(0, 6), g.int(0, 6));
    let (ld, td) = match g.int(0, 9) {
        0..=6 => (vec![n, c], vec![n]),
        7 => (vec![c], vec![]),
        8 => (vec![n, c], vec![n + 1]),
        _ => (g.dims(Pool::Tiny), g.dims(Pool::Tiny)),
    };
    let dt = g.float_dtype();
    let logits = g.tensor(&ld, dt)?;
    let target = g.index(&td, c)?;
    g.call(format!("{}.cross_entropy(&{})", logits.n, target.n));
    done(logits.t.cross_entropy(&target.t))
}

fn pair(g: &mut Gen, lo: usize, hi: usize) -> [usize; 2] {
    [g.param(lo, hi), g.param(lo, hi)]
}

fn fmt_pair(p: [usize; 2]) -> String {
    format!("[{}, {}]", fmt_u(p[0]), fmt_u(p[1]))
}

fn fmt_conv(p: &Conv2dParams) -> String {
    format!(
        "Conv2dParams {{ stride: {}, padding: {}, dilation: {}, groups: {} }}",
        fmt_pair(p.stride),
        fmt_pair(p.padding),
        fmt_pair(p.dilation),
        fmt_u(p.groups)
    )
}

fn fmt_window(p: &WindowParams) -> String {
    format!(
        "WindowParams {{ kernel: {}, stride: {}, padding: {}, dilation: {}, pad_value: {}, \
         image: {} }}",
        fmt_pair(p.kernel),
        fmt_pair(p.stride),
        fmt_pair(p.padding),
        fmt_pair(p.dilation),
        fmt_f(p.pad_value),
        fmt_pair(p.image)
    )
}

/// Random conv params: zero strides and dilations, absurd padding and dilation, groups that
/// do not divide (or are 0 or absurd).
pub fn conv_params(g: &mut Gen, groups: usize) -> Conv2dParams {
    Conv2dParams {
        stride: pair(g, 1, 3),
        padding: pair(g, 0, 2),
        dilation: pair(g, 1, 3),
        groups: if g.p(0.8) {
            groups
        } else {
            g.pick(&[0, 2, 3, 4, 1 << 40, usize::MAX])
        },
    }
}

fn conv2d(g: &mut Gen) -> Result<Out> {
    let groups = g.pick(&[1, 1, 1, 2, 3]);
    let (cpg, opg) = (g.int(0, 3), g.int(0, 2));
    let (n, h, w) = (g.int(0, 2), g.int(0, 8), g.int(0, 8));
    let (kh, kw) = (g.param(1, 4).min(4), g.param(1, 4).min(4));
    let mut xd = vec![n, groups * cpg, h, w];
    let mut wd = vec![groups * opg, cpg, kh, kw];
    if g.p(0.1) {
        xd = g.dims(Pool::Tiny);
    }
    if g.p(0.1) {
        wd = g.dims(Pool::Tiny);
    }
    let dt = g.float_dtype();
    let dt2 = if g.p(0.9) { dt } else { g.dtype() };
    let x = g.tensor(&xd, dt)?;
    let wt = g.tensor(&wd, dt2)?;
    let bias = match g.int(0, 3) {
        0 | 1 => None,
        2 => Some(g.tensor(&[wd.first().copied().unwrap_or(1)], dt)?),
        _ => {
            let d = g.dims(Pool::Tiny);
            Some(g.tensor(&d, dt)?)
        }
    };
    let p = conv_params(g, groups);
    let bs = bias
        .as_ref()
        .map_or("None".into(), |b| format!("Some(&{})", b.n));
    g.call(format!("{}.conv2d(&{}, {bs}, {})", x.n, wt.n, fmt_conv(&p)));
    done(x.t.conv2d(&wt.t, bias.as_ref().map(|b| &b.t), p))
}

/// Random window params around `image` (sometimes another image size).
pub fn window_params(g: &mut Gen, image: [usize; 2]) -> WindowParams {
    WindowParams {
        kernel: pair(g, 1, 4),
        stride: pair(g, 1, 3),
        padding: pair(g, 0, 2),
        dilation: pair(g, 1, 3),
        pad_value: g.scalar(),
        image: if g.p(0.85) { image } else { pair(g, 0, 8) },
    }
}

/// Window positions along each axis, computed exactly; `None` for zero kernel, stride or
/// dilation (which must be rejected).
pub fn out_hw(p: &WindowParams) -> Option<[u128; 2]> {
    let mut out = [0u128; 2];
    for i in 0..2 {
        let (k, s, pd, d, im) = (
            p.kernel[i] as u128,
            p.stride[i] as u128,
            p.padding[i] as u128,
            p.dilation[i] as u128,
            p.image[i] as u128,
        );
        if k == 0 || s == 0 || d == 0 {
            return None;
        }
        let eff = d.saturating_mul(k - 1).saturating_add(1);
        let padded = im.saturating_add(pd.saturating_mul(2));
        out[i] = if padded < eff {
            0
        } else {
            (padded - eff) / s + 1
        };
    }
    Some(out)
}

fn im2col(g: &mut Gen) -> Result<Out> {
    let (n, c, h, w) = (g.int(0, 2), g.int(0, 3), g.int(0, 8), g.int(0, 8));
    let xd = if g.p(0.9) {
        vec![n, c, h, w]
    } else {
        g.dims(Pool::Tiny)
    };
    let dt = g.dtype();
    let x = g.tensor(&xd, dt)?;
    let p = window_params(g, [h, w]);
    g.call(format!("{}.im2col({})", x.n, fmt_window(&p)));
    done(x.t.im2col(p))
}

fn col2im(g: &mut Gen) -> Result<Out> {
    let (n, c) = (g.int(0, 2), g.int(0, 3));
    let image = if g.p(0.9) {
        [g.int(0, 8), g.int(0, 8)]
    } else {
        [g.pick(&HUGE), g.int(1, 4)]
    };
    let mut p = window_params(g, image);
    p.pad_value = 0.0;
    let kk = (p.kernel[0] as u128).saturating_mul(p.kernel[1] as u128);
    let l = out_hw(&p).map_or(1, |[a, b]| a.saturating_mul(b));
    // A legitimate input must stay small; a zero batch keeps it empty whatever its dims.
    let size = (n as u128 * c as u128).saturating_mul(kk).saturating_mul(l);
    let n = if size > CAP as u128 { 0 } else { n };
    let l = if g.p(0.9) { l } else { l + 1 };
    let xd = match (
        usize::try_from(kk.saturating_mul(c as u128)),
        usize::try_from(l),
    ) {
        (Ok(ck), Ok(l)) if g.p(0.9) => vec![n, ck, l],
        _ => g.dims(Pool::Tiny),
    };
    let dt = g.dtype();
    let x = g.tensor(&xd, dt)?;
    g.call(format!("{}.col2im({})", x.n, fmt_window(&p)));
    done(x.t.col2im(p))
}

fn pool(g: &mut Gen, max: bool) -> Result<Out> {
    let xd = if g.p(0.9) {
        vec![g.int(0, 2), g.int(0, 3), g.int(0, 8), g.int(0, 8)]
    } else {
        g.dims(Pool::Tiny)
    };
    let dt = if g.p(0.8) { g.float_dtype() } else { g.dtype() };
    let x = g.tensor(&xd, dt)?;
    let (k, s, p) = (pair(g, 1, 4), pair(g, 1, 3), pair(g, 0, 2));
    g.call(format!(
        "{}.{}({}, {}, {})",
        x.n,
        g.op,
        fmt_pair(k),
        fmt_pair(s),
        fmt_pair(p)
    ));
    done(if max {
        x.t.max_pool2d(k, s, p)
    } else {
        x.t.avg_pool2d(k, s, p)
    })
}

/// Neural-network ops.
pub const NN: &[Entry] = table![
    "matmul" => matmul,
    "softmax" => |g| softmax(g, false),
    "log_softmax" => |g| softmax(g, true),
    "cross_entropy" => cross_entropy,
    "conv2d" => conv2d,
    "im2col" => im2col,
    "col2im" => col2im,
    "max_pool2d" => |g| pool(g, true),
    "avg_pool2d" => |g| pool(g, false),
];
