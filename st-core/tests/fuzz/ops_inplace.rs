//! Entries for the in-place ops and `out=` variants: random broadcastable operands, random
//! dtype pairs (results that cannot be cast back must be errors), views as destinations
//! (transposed, sliced, expanded: overlapping ones must be errors).

use super::case::{done, table, Entry, Out};
use super::gen::{fmt_f, Gen, Pool};
use super::ops_math::scalar_operand;
use st_core::{Result, Tensor};

type Inplace = fn(&Tensor, &Tensor) -> Result<()>;
type InplaceScalar = fn(&Tensor, f64) -> Result<()>;
type OutFn = fn(&Tensor, &Tensor, &Tensor) -> Result<()>;

/// `x.op_(&y)`; the result is `x` itself, sanity-checked afterwards.
fn inplace(g: &mut Gen, f: Inplace) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    let d = g.broadcast_dims(a.t.dims());
    let dt = if g.p(0.6) { a.t.dtype() } else { g.dtype() };
    let b = g.tensor(&d, dt)?;
    g.call(format!("{}.{}(&{})", a.n, g.op, b.n));
    done(f(&a.t, &b.t).map(|()| a.t.clone()))
}

/// `x.op_scalar_(v)`.
fn inplace_scalar(g: &mut Gen, f: InplaceScalar) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    let v = scalar_operand(g, &a);
    g.call(format!("{}.{}({})", a.n, g.op, fmt_f(v)));
    done(f(&a.t, v).map(|()| a.t.clone()))
}

/// `x.op_out(&y, &out)` into a tensor of the other operand's shape and a random dtype.
fn out(g: &mut Gen, f: OutFn) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    let d = g.broadcast_dims(a.t.dims());
    let b = g.tensor(&d, a.t.dtype())?;
    let od = if g.p(0.5) { a.t.dims().to_vec() } else { d };
    let odt = if g.p(0.6) { a.t.dtype() } else { g.dtype() };
    let o = g.tensor(&od, odt)?;
    g.call(format!("{}.{}(&{}, &{})", a.n, g.op, b.n, o.n));
    done(f(&a.t, &b.t, &o.t).map(|()| o.t.clone()))
}

/// `x.copy_(&y)` from a broadcastable tensor of any dtype.
fn copy_(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    let d = g.broadcast_dims(a.t.dims());
    let bdt = g.dtype();
    let b = g.tensor(&d, bdt)?;
    g.call(format!("{}.copy_(&{})", a.n, b.n));
    done(a.t.copy_(&b.t).map(|()| a.t.clone()))
}

/// `x.fill_(v)`, any value (out-of-range integers must be errors).
fn fill_(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    let v = g.scalar();
    g.call(format!("{}.fill_({})", a.n, fmt_f(v)));
    done(a.t.fill_(v).map(|()| a.t.clone()))
}

/// In-place ops and `out=` variants. Names are the `Tensor` methods they call.
pub const INPLACE: &[Entry] = table![
    "add_" => |g| inplace(g, Tensor::add_),
    "sub_" => |g| inplace(g, Tensor::sub_),
    "mul_" => |g| inplace(g, Tensor::mul_),
    "div_" => |g| inplace(g, Tensor::div_),
    "pow_" => |g| inplace(g, Tensor::pow_),
    "maximum_" => |g| inplace(g, Tensor::maximum_),
    "add_scalar_" => |g| inplace_scalar(g, Tensor::add_scalar_),
    "mul_scalar_" => |g| inplace_scalar(g, Tensor::mul_scalar_),
    "div_scalar_" => |g| inplace_scalar(g, Tensor::div_scalar_),
    "add_out" => |g| out(g, Tensor::add_out),
    "mul_out" => |g| out(g, Tensor::mul_out),
    "matmul_out" => |g| out(g, Tensor::matmul_out),
    "copy_" => copy_,
    "fill_" => fill_,
];
