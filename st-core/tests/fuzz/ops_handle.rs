//! Entries for the handle API: size and metadata getters, read-back (`to_vec`, `to_scalar`,
//! `to_f64_vec`, `to_bytes`, `Debug`), devices and transfers, and the autograd surface
//! (`set_requires_grad`, `backward`, `backward_with`, `grad`, `detach`, `no_grad`).

use super::case::{done, table, Entry, Out};
use super::gen::{fmt_i, fmt_u, Gen, Pool};
use st_core::{half, no_grad, DType, Device, Element, Result, Tensor};

fn size(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = g.axis(a.t.rank());
    g.call(format!("{}.size({})", a.n, fmt_i(d)));
    done(a.t.size(d))
}

/// Every getter, `Debug`, `same_storage`, `detach`, `clone`: none may panic.
fn meta(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    g.call(format!("format!(\"{{:?}}\", {}) and the getters", a.n));
    let t = &a.t;
    let s = format!(
        "{t:?} {:?} {} {} {} {:?} {:?} {} {} {} {} {}",
        t.shape(),
        t.rank(),
        t.numel(),
        t.dtype(),
        t.layout(),
        t.strides(),
        t.is_contiguous(),
        t.requires_grad(),
        t.is_leaf(),
        t.grad_fn().is_some(),
        t.storage().len_bytes(),
    );
    let d = t.detach();
    if !d.same_storage(t) || d.dims() != t.dims() || d.requires_grad() {
        g.fail("detach is not a plain view", a.n.clone());
    }
    let _ = (t.clone(), t.device(), t.grad());
    done(Ok(s))
}

/// `to_vec::<T>` / `to_scalar::<T>` with `T` the tensor's dtype or another one.
fn read_typed(g: &mut Gen, scalar: bool) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    let dt = if g.p(0.7) { a.t.dtype() } else { g.dtype() };
    let m = if scalar { "to_scalar" } else { "to_vec" };
    let ty = match dt {
        DType::Bool => "Bool8".to_string(),
        DType::F16 | DType::BF16 => format!("half::{}", dt.as_str()),
        _ => dt.as_str().to_string(),
    };
    g.call(format!("{}.{m}::<{ty}>()", a.n));
    st_core::with_dtype!(dt, T, {
        if scalar {
            done(a.t.to_scalar::<T>().map(|x| x.to_f64().to_string()))
        } else {
            done(a.t.to_vec::<T>().map(|v| v.len()))
        }
    })
}

fn to_f64_vec(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    g.call(format!("{}.to_f64_vec()", a.n));
    done(a.t.to_f64_vec())
}

fn to_bytes(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    g.call(format!("{}.to_bytes()", a.n));
    done(a.t.to_bytes())
}

/// A device name and ordinal: real, unknown, out of range.
fn device_args(g: &mut Gen) -> (&'static str, usize) {
    if g.p(0.6) {
        return ("cpu", 0);
    }
    let name = g.pick(&["cpu", "wgpu", "cuda", "", "CPU", "no-such-backend"]);
    let ord = g.pick(&[0, 1, 7, usize::MAX]);
    (name, ord)
}

fn device_new(g: &mut Gen) -> Result<Out> {
    let (name, ord) = device_args(g);
    g.call(format!("Device::new({name:?}, {})", fmt_u(ord)));
    done(Device::new(name, ord).map(|d| {
        let _ = (d.backend(), d.ordinal(), d.is_cpu(), d.to_string());
        d.sync()
    })?)
}

fn to_device(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let (name, ord) = device_args(g);
    let dev = Device::new(name, ord)?;
    g.call(format!(
        "{}.to(&Device::new({name:?}, {})?)",
        a.n,
        fmt_u(ord)
    ));
    done(a.t.to(&dev))
}

fn set_requires_grad(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let on = g.p(0.7);
    g.call(format!("{}.set_requires_grad({on})", a.n));
    done(a.t.set_requires_grad(on))
}

fn requires_grad_(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    g.call(format!("{}.clone().requires_grad_()", a.n));
    done(a.t.clone().requires_grad_())
}

/// `backward()` / `backward_with(seed)` straight on an input (a leaf, a view of one, or a
/// tensor that does not require grad), then `grad()` and `zero_grad()`.
fn backward_direct(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let r = if g.p(0.5) {
        g.call(format!("{}.backward()", a.n));
        a.t.backward()
    } else {
        let d = g.dims(Pool::Tiny);
        let dt = g.dtype();
        let s = g.tensor(&d, dt)?;
        g.call(format!("{}.backward_with(&{})", a.n, s.n));
        a.t.backward_with(&s.t)
    };
    let leaves: Vec<Tensor> = g.leaves.iter().map(|v| v.t.clone()).collect();
    for l in &leaves {
        let _ = l.grad();
        l.zero_grad();
    }
    done(r)
}

/// An op under `no_grad()`, then a backward that must fail cleanly (nothing was recorded).
fn under_no_grad(g: &mut Gen) -> Result<Out> {
    let a = g.float(Pool::Any)?;
    let v = g.scalar();
    g.call(format!(
        "{{ let _g = no_grad(); {}.mul_scalar({v:?}) }} then .sum_all()?.backward()",
        a.n
    ));
    let y = {
        let _guard = no_grad();
        a.t.mul_scalar(v)?
    };
    if y.requires_grad() {
        g.fail("no_grad result requires grad", String::new());
    }
    done(y.sum_all()?.backward())
}

/// The handle API.
pub const HANDLE: &[Entry] = table![
    "size" => size,
    "meta" => meta,
    "to_vec" => |g| read_typed(g, false),
    "to_scalar" => |g| read_typed(g, true),
    "to_f64_vec" => to_f64_vec,
    "to_bytes" => to_bytes,
    "Device::new" => device_new,
    "to" => to_device,
    "set_requires_grad" => set_requires_grad,
    "requires_grad_" => requires_grad_,
    "backward" => backward_direct,
    "no_grad" => under_no_grad,
];
