//! Entries below the `Tensor` methods: `dispatch_on` with every [`OpId`] and random, often
//! malformed [`OpParams`]; `Tensor::from_storage` with layouts and dtypes that do not match the
//! buffer; and the CPU backend's `upload` / `download`.

use super::case::{done, table, Entry, Fallible, Out};
use super::gen::{fmt_dims, fmt_u, Gen, Pool, CAP, V};
use super::ops_nn::{conv_params, window_params};
use rand::Rng;
use st_core::backend::backend;
use st_core::dispatch::dispatch_on;
use st_core::layout::Strides;
use st_core::op::{DimVec, OpParams};
use st_core::{BackendId, DType, Layout, OpId, Result, Shape, Tensor};

/// A normalized-looking dim for rank `r`: valid, `r`, or huge.
fn udim(g: &mut Gen, r: usize) -> usize {
    if g.p(0.85) && r > 0 {
        g.int(0, r - 1)
    } else {
        g.pick(&[r, r + 1, 64, usize::MAX])
    }
}

/// A dim list: sorted and valid, unsorted, duplicated, or out of range.
fn dimvec(g: &mut Gen, r: usize) -> DimVec {
    let mut v: Vec<usize> = (0..r).filter(|_| g.p(0.5)).collect();
    match g.int(0, 9) {
        0..=5 => {}
        6 => v.reverse(),
        7 => v.extend(v.clone()),
        _ => v.push(udim(g, r)),
    }
    v.into_iter().collect()
}

/// The params variant `op` expects (`None` for ops without params).
fn natural(op: OpId) -> u8 {
    use OpId::*;
    match op {
        Clamp => 2,
        Sum | Prod | Max | Min => 3,
        ArgMax | ArgMin => 4,
        Softmax | LogSoftmax | Cat | IndexSelect | Gather | ScatterAdd => 5,
        Cast => 6,
        Conv2d => 7,
        Im2Col | Col2Im => 8,
        Reshape | Expand => 9,
        Fill => 10,
        Permute => 12,
        Slice => 13,
        MaskedFill => 1,
        _ => 0,
    }
}

/// Params of the expected variant (60 %) or any variant, with random contents.
fn params(g: &mut Gen, op: OpId, inputs: &[V]) -> OpParams {
    let r = inputs.first().map_or(0, |v| v.t.rank());
    let image = inputs
        .first()
        .filter(|v| v.t.rank() == 4)
        .map_or([4, 4], |v| [v.t.dims()[2], v.t.dims()[3]]);
    let variant = if g.p(0.6) {
        natural(op)
    } else {
        g.int(0, 13) as u8
    };
    match variant {
        1 => OpParams::Scalar(g.scalar()),
        2 => {
            let b = |g: &mut Gen| g.p(0.7).then(|| g.scalar());
            OpParams::Clamp {
                min: b(g),
                max: b(g),
            }
        }
        3 => OpParams::Reduce {
            dims: dimvec(g, r),
            keepdim: g.p(0.5),
        },
        4 => OpParams::Arg {
            dim: g.p(0.7).then(|| udim(g, r)),
            keepdim: g.p(0.5),
        },
        5 => OpParams::Dim(udim(g, r)),
        6 => OpParams::Cast(g.dtype()),
        7 => {
            let gr = g.pick(&[1, 1, 2]);
            OpParams::Conv2d(conv_params(g, gr))
        }
        8 => OpParams::Window(window_params(g, image)),
        9 => OpParams::Shape(Shape::new(&g.target_dims())),
        10 => OpParams::Fill {
            shape: Shape::new(&g.target_dims()),
            dtype: g.dtype(),
            value: g.scalar(),
        },
        11 => OpParams::Device(g.cpu),
        12 => {
            let mut p: Vec<usize> = (0..r).collect();
            if g.p(0.5) {
                p.reverse();
            }
            if g.p(0.3) {
                p.push(udim(g, r));
            }
            OpParams::Perm(p.into_iter().collect())
        }
        13 => OpParams::Slice {
            dim: udim(g, r),
            start: g.param(0, 4),
            len: g.param(0, 4),
            step: g.param(0, 3),
        },
        _ => OpParams::None,
    }
}

/// Inputs for `op`: its arity (or a wrong count), tiny tensors, with the index and condition
/// inputs of the ops that take them usually well-formed.
fn inputs(g: &mut Gen, op: OpId) -> Result<Vec<V>> {
    use OpId::*;
    let arity = op.def().arity as usize;
    let n = if g.p(0.8) {
        match (op, arity) {
            (Cat | Stack, 0) => g.int(1, 4),
            (_, a) => a,
        }
    } else {
        g.int(0, 4)
    };
    let mut out: Vec<V> = Vec::with_capacity(n);
    for i in 0..n {
        let dt0 = out.first().map(|v| v.t.dtype());
        let v = match (op, i, dt0) {
            (Where, 0, _) | (MaskedFill, 1, _) if g.p(0.8) => {
                g.of_dtype(Pool::Tiny, DType::Bool)?
            }
            (IndexSelect | Gather | ScatterAdd, 1, _) if g.p(0.8) => {
                let (d0, b) = match out.first() {
                    Some(x) => (
                        x.t.dims().to_vec(),
                        x.t.dims().first().copied().unwrap_or(0),
                    ),
                    None => (vec![2], 2),
                };
                let d = if op == IndexSelect {
                    vec![g.int(0, 4)]
                } else {
                    d0.iter().map(|&x| x.min(3)).collect()
                };
                g.index(&d, b)?
            }
            (Conv2d, 1, Some(dt)) if g.p(0.7) => {
                let c = out[0].t.dims().get(1).copied().unwrap_or(1).min(4);
                let d = [g.int(0, 3), c, g.int(0, 3), g.int(0, 3)];
                g.tensor(&d, dt)?
            }
            (Conv2d | Im2Col, 0, _) if g.p(0.7) => {
                let d = [g.int(0, 2), g.int(0, 3), g.int(0, 5), g.int(0, 5)];
                let dt = g.dtype();
                g.tensor(&d, dt)?
            }
            (_, _, Some(dt)) if g.p(0.7) => g.of_dtype(Pool::Tiny, dt)?,
            _ => g.any(Pool::Tiny)?,
        };
        out.push(v);
    }
    Ok(out)
}

/// `dispatch_on(cpu, op, inputs, params)` for a random op: kernel, view and composite ops
/// alike.
fn dispatch(g: &mut Gen) -> Result<Out> {
    let op = g.pick(OpId::ALL);
    g.set_op(format!("dispatch_on({})", op.name()));
    let ins = inputs(g, op)?;
    let p = params(g, op, &ins);
    let names: Vec<String> = ins.iter().map(|v| format!("&{}", v.n)).collect();
    g.call(format!(
        "dispatch_on(cpu, OpId::{op:?}, &[{}], &{p:?})",
        names.join(", ")
    ));
    let refs: Vec<&Tensor> = ins.iter().map(|v| &v.t).collect();
    done(dispatch_on(g.cpu, op, &refs, &p))
}

/// Strides for `dims`: contiguous, or random (zero, negative, huge), or of the wrong length.
fn strides(g: &mut Gen, dims: &[usize]) -> Vec<isize> {
    if g.p(0.4) {
        // Row-major strides, computed here (saturating) so a defect in the library's own
        // stride computation does not show up as one of from_storage.
        let mut acc = 1isize;
        let mut s: Vec<isize> = dims
            .iter()
            .rev()
            .map(|&d| {
                let here = acc;
                acc = acc.saturating_mul(d.max(1).min(isize::MAX as usize) as isize);
                here
            })
            .collect();
        s.reverse();
        return s;
    }
    let n = if g.p(0.05) {
        dims.len() + 1
    } else {
        dims.len()
    };
    (0..n)
        .map(|_| g.pick(&[-2, -1, 0, 1, 1, 2, 3, 5, 1 << 40, isize::MAX, isize::MIN]))
        .collect()
}

/// Whether every element `layout` addresses lies in a buffer of `len` elements.
fn in_bounds(dims: &[usize], strides: &[isize], offset: usize, len: usize) -> bool {
    if dims.contains(&0) {
        return true;
    }
    if dims.len() != strides.len() {
        return false;
    }
    let (mut lo, mut hi) = (offset as i128, offset as i128);
    for (&d, &s) in dims.iter().zip(strides) {
        let span = (d as i128 - 1) * s as i128;
        if span < 0 {
            lo += span;
        } else {
            hi += span;
        }
    }
    lo >= 0 && hi < len as i128
}

/// A storage (another tensor's, or freshly uploaded bytes) wrapped with a random layout and
/// dtype through `Tensor::from_storage`, then read by a follow-up op. A read through a layout
/// that leaves the buffer must fail; returning `Ok` means out-of-bounds memory was read.
fn from_storage(g: &mut Gen) -> Result<Out> {
    let src_dt = g.dtype();
    let (storage, src) = if g.p(0.5) {
        let v = g.of_dtype(Pool::Tiny, src_dt)?;
        (v.t.storage().clone(), format!("{}.storage().clone()", v.n))
    } else {
        let n = g.int(0, 40);
        let bytes: Vec<u8> = (0..n).map(|_| g.rng.random()).collect();
        let s = backend(BackendId::CPU)?.upload(0, src_dt, &bytes)?;
        let e = format!("backend(BackendId::CPU)?.upload(0, {src_dt:?}, &{bytes:?})?");
        (s, e)
    };
    let dt = if g.p(0.5) { src_dt } else { g.dtype() };
    let len = storage.len_bytes() / dt.size_in_bytes();
    let dims = if g.p(0.7) {
        let r = g.int(0, 3);
        (0..r).map(|_| g.int(0, 4)).collect()
    } else {
        g.target_dims()
    };
    let st = strides(g, &dims);
    let offset = g.pick(&[0, 0, 1, 2, 7, len, len + 1, 1 << 40, usize::MAX]);
    let small = super::gen::numel_u128(&dims).is_some_and(|n| n <= CAP as u128);
    // Reductions over an absurd (stride-0, in-bounds) view would legitimately run for hours;
    // those get only allocating follow-ups, which must fail.
    let follow = if small { g.int(0, 6) } else { g.int(0, 2) };
    let names = [
        "to_f64_vec()",
        "copy()",
        "to_bytes()",
        "sum_all()",
        "add(&t)",
        "transpose(0, -1)?.contiguous()",
        "exp()",
    ];
    g.line(format!("let s = {src};"));
    g.call(format!(
        "Tensor::from_storage(s, Layout::from_parts(Shape::new(&{}), {st:?}.into_iter().collect(), \
         {}), {dt:?}, cpu)?.{}",
        fmt_dims(&dims),
        fmt_u(offset),
        names[follow]
    ));
    let strides_v: Strides = st.iter().copied().collect();
    g.readable = false;
    let layout = Layout::from_parts(Shape::new(&dims), strides_v, offset).fallible()?;
    let t = Tensor::from_storage(storage, layout, dt, g.cpu).fallible()?;
    // Whether the follow-up must read the elements (`contiguous` of a view that already is
    // contiguous is a no-op, and legitimately Ok whatever the offset).
    let mut reads = true;
    let r: Result<Out> = match follow {
        0 => done(t.to_f64_vec()),
        1 => done(t.copy()),
        2 => done(t.to_bytes()),
        3 => done(t.sum_all()),
        4 => done(t.add(&t)),
        5 => done(t.transpose(0, -1).and_then(|x| {
            reads = !x.is_contiguous();
            x.contiguous()
        })),
        _ => done(t.exp()),
    };
    if r.is_ok() && reads && !in_bounds(&dims, &st, offset, len) {
        g.fail(
            "a read through an out-of-bounds layout returned Ok",
            format!(
                "{} through a layout outside its {len}-element buffer returned Ok",
                names[follow]
            ),
        );
    }
    r
}

/// The CPU backend's `upload` (byte counts that are not a multiple of the element size) and
/// `download` (offsets and counts past the buffer, and overflowing).
fn upload_download(g: &mut Gen) -> Result<Out> {
    let (up_dt, dt) = (g.dtype(), g.dtype());
    let n = g.int(0, 33);
    let bytes: Vec<u8> = (0..n).map(|_| g.rng.random()).collect();
    let ord = g.pick(&[0, 0, 1, usize::MAX]);
    let len = n / dt.size_in_bytes().max(1);
    let off = g.pick(&[0, 0, 1, len, len + 1, 1 << 40, usize::MAX / 2, usize::MAX]);
    let cnt = g.pick(&[0, 1, len, len + 1, 1 << 40, usize::MAX / 2, usize::MAX]);
    g.call(format!(
        "{{ let b = backend(BackendId::CPU)?; let s = b.upload({}, {up_dt:?}, &{bytes:?})?; \
         b.download(&*s.read(), {dt:?}, {}, {}) }}",
        fmt_u(ord),
        fmt_u(off),
        fmt_u(cnt)
    ));
    let b = backend(BackendId::CPU)?;
    let s = b.upload(ord, up_dt, &bytes)?;
    let got = b.download(&*s.read(), dt, off, cnt);
    done(got)
}

/// Raw dispatch, storage and backend entries.
pub const RAW: &[Entry] = table![
    "dispatch_on" => dispatch,
    "from_storage" => from_storage,
    "upload/download" => upload_download,
];
