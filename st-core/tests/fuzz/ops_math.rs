//! Entries for elementwise ops (unary, clamp, casts, binary with tensors and scalars, logical,
//! `where`, `masked_fill`, the `std::ops` operators) and reductions.

use super::case::{done, table, Entry, Out};
use super::gen::{fmt_f, fmt_i, fmt_idims, fmt_opt, Gen, Pool, V};
use st_core::{DType, Result, Tensor};

type Unary = fn(&Tensor) -> Result<Tensor>;
type Binary = fn(&Tensor, &Tensor) -> Result<Tensor>;
type BinaryScalar = fn(&Tensor, f64) -> Result<Tensor>;
type Reduce = fn(&Tensor, &[isize], bool) -> Result<Tensor>;
type Moment = fn(&Tensor, &[isize], usize, bool) -> Result<Tensor>;

/// `x.op()` on a mostly-float input (`any`: any dtype).
fn unary(g: &mut Gen, f: Unary, any: bool) -> Result<Out> {
    let a = if any {
        g.any(Pool::Elementwise)?
    } else {
        g.float(Pool::Elementwise)?
    };
    g.call(format!("{}.{}()", a.n, g.op));
    done(f(&a.t))
}

/// A right operand for `a`: broadcastable dims (sometimes not), same or another dtype.
fn rhs(g: &mut Gen, a: &V) -> Result<V> {
    let d = g.broadcast_dims(a.t.dims());
    let dt = if g.p(0.6) { a.t.dtype() } else { g.dtype() };
    g.tensor(&d, dt)
}

/// `x.op(&y)` with broadcasting shapes and random dtype pairs (operands sometimes swapped).
fn binary(g: &mut Gen, f: Binary) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    let b = rhs(g, &a)?;
    let (x, y) = if g.p(0.2) { (b, a) } else { (a, b) };
    g.call(format!("{}.{}(&{})", x.n, g.op, y.n));
    done(f(&x.t, &y.t))
}

/// `x.op_scalar(v)`: integer tensors get integral values far outside their range too
/// (`i32.add_scalar(3e9)`, `u8.mul_scalar(1000.0)`, `i64.pow_scalar(1e18)`).
fn binary_scalar(g: &mut Gen, f: BinaryScalar) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    let v = scalar_operand(g, &a);
    g.call(format!("{}.{}({})", a.n, g.op, fmt_f(v)));
    done(f(&a.t, v))
}

/// A scalar operand for `a`: any number for floats (and sometimes for integers), else an
/// integral value, often far outside the dtype's range.
pub fn scalar_operand(g: &mut Gen, a: &V) -> f64 {
    if a.t.dtype().is_float() || g.p(0.3) {
        g.scalar()
    } else {
        g.int_scalar()
    }
}

/// `&x <op> &y` through the `std::ops` impls.
fn operator(g: &mut Gen, sym: &str, f: Binary) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    let b = rhs(g, &a)?;
    g.call(format!("&{} {sym} &{}", a.n, b.n));
    done(f(&a.t, &b.t))
}

fn clamp(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    let bound = |g: &mut Gen| g.p(0.7).then(|| g.scalar());
    let (lo, hi) = (bound(g), bound(g));
    g.call(format!("{}.clamp({}, {})", a.n, fmt_opt(lo), fmt_opt(hi)));
    done(a.t.clamp(lo, hi))
}

fn to_dtype(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    let dt = g.dtype();
    g.call(format!("{}.to_dtype({dt:?})", a.n));
    done(a.t.to_dtype(dt))
}

fn where_cond(g: &mut Gen) -> Result<Out> {
    let c = if g.p(0.8) {
        g.of_dtype(Pool::Any, DType::Bool)?
    } else {
        g.any(Pool::Any)?
    };
    let a = rhs(g, &c)?;
    let db = g.broadcast_dims(c.t.dims());
    let dt = if g.p(0.7) { a.t.dtype() } else { g.dtype() };
    let b = g.tensor(&db, dt)?;
    g.call(format!("{}.where_cond(&{}, &{})", c.n, a.n, b.n));
    done(c.t.where_cond(&a.t, &b.t))
}

fn masked_fill(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let dm = g.broadcast_dims(a.t.dims());
    let dt = if g.p(0.85) { DType::Bool } else { g.dtype() };
    let m = g.tensor(&dm, dt)?;
    let v = g.scalar();
    g.call(format!("{}.masked_fill(&{}, {})", a.n, m.n, fmt_f(v)));
    done(a.t.masked_fill(&m.t, v))
}

/// `x.op(&dims, keepdim)` with valid, duplicated, negative and out-of-range dims.
fn reduce(g: &mut Gen, f: Reduce) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let axes = g.axes(a.t.rank());
    let keep = g.p(0.5);
    g.call(format!("{}.{}(&{}, {keep})", a.n, g.op, fmt_idims(&axes)));
    done(f(&a.t, &axes, keep))
}

/// `var` / `std` with corrections 0, 1, more than the count, and `usize::MAX`.
fn moment(g: &mut Gen, f: Moment) -> Result<Out> {
    let a = g.float(Pool::Any)?;
    let axes = g.axes(a.t.rank());
    let c = g.pick(&[0, 1, 1, 2, 7, usize::MAX]);
    let keep = g.p(0.5);
    let cs = super::gen::fmt_u(c);
    g.call(format!(
        "{}.{}(&{}, {cs}, {keep})",
        a.n,
        g.op,
        fmt_idims(&axes)
    ));
    done(f(&a.t, &axes, c, keep))
}

/// `argmax` / `argmin` over one dim or all.
fn arg(g: &mut Gen, f: fn(&Tensor, Option<isize>, bool) -> Result<Tensor>) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = g.p(0.7).then(|| g.axis(a.t.rank()));
    let keep = g.p(0.5);
    let ds = d.map_or("None".into(), |d| format!("Some({})", fmt_i(d)));
    g.call(format!("{}.{}({ds}, {keep})", a.n, g.op));
    done(f(&a.t, d, keep))
}

/// `max_dim` / `min_dim` over one (possibly out-of-range) dim.
fn extremum_dim(
    g: &mut Gen,
    f: fn(&Tensor, isize, bool) -> Result<(Tensor, Tensor)>,
) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = g.axis(a.t.rank());
    let keep = g.p(0.5);
    g.call(format!("{}.{}({}, {keep})", a.n, g.op, fmt_i(d)));
    done(f(&a.t, d, keep))
}

fn sum_all(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    g.call(format!("{}.sum_all()", a.n));
    done(a.t.sum_all())
}

/// Elementwise ops. Names are the `Tensor` methods they call.
pub const ELEMENTWISE: &[Entry] = table![
    "neg" => |g| unary(g, Tensor::neg, true),
    "abs" => |g| unary(g, Tensor::abs, true),
    "exp" => |g| unary(g, Tensor::exp, false),
    "log" => |g| unary(g, Tensor::log, false),
    "sqrt" => |g| unary(g, Tensor::sqrt, false),
    "rsqrt" => |g| unary(g, Tensor::rsqrt, false),
    "sin" => |g| unary(g, Tensor::sin, false),
    "cos" => |g| unary(g, Tensor::cos, false),
    "tanh" => |g| unary(g, Tensor::tanh, false),
    "sigmoid" => |g| unary(g, Tensor::sigmoid, false),
    "relu" => |g| unary(g, Tensor::relu, true),
    "gelu" => |g| unary(g, Tensor::gelu, false),
    "gelu_tanh" => |g| unary(g, Tensor::gelu_tanh, false),
    "silu" => |g| unary(g, Tensor::silu, false),
    "erf" => |g| unary(g, Tensor::erf, false),
    "floor" => |g| unary(g, Tensor::floor, true),
    "ceil" => |g| unary(g, Tensor::ceil, true),
    "round" => |g| unary(g, Tensor::round, true),
    "sign" => |g| unary(g, Tensor::sign, true),
    "reciprocal" => |g| unary(g, Tensor::reciprocal, false),
    "logical_not" => |g| unary(g, Tensor::logical_not, true),
    "clamp" => clamp,
    "to_dtype" => to_dtype,
    "add" => |g| binary(g, Tensor::add),
    "sub" => |g| binary(g, Tensor::sub),
    "mul" => |g| binary(g, Tensor::mul),
    "div" => |g| binary(g, Tensor::div),
    "pow" => |g| binary(g, Tensor::pow),
    "maximum" => |g| binary(g, Tensor::maximum),
    "minimum" => |g| binary(g, Tensor::minimum),
    "eq" => |g| binary(g, Tensor::eq),
    "ne" => |g| binary(g, Tensor::ne),
    "lt" => |g| binary(g, Tensor::lt),
    "le" => |g| binary(g, Tensor::le),
    "gt" => |g| binary(g, Tensor::gt),
    "ge" => |g| binary(g, Tensor::ge),
    "logical_and" => |g| binary(g, Tensor::logical_and),
    "logical_or" => |g| binary(g, Tensor::logical_or),
    "add_scalar" => |g| binary_scalar(g, Tensor::add_scalar),
    "sub_scalar" => |g| binary_scalar(g, Tensor::sub_scalar),
    "mul_scalar" => |g| binary_scalar(g, Tensor::mul_scalar),
    "div_scalar" => |g| binary_scalar(g, Tensor::div_scalar),
    "pow_scalar" => |g| binary_scalar(g, Tensor::pow_scalar),
    "maximum_scalar" => |g| binary_scalar(g, Tensor::maximum_scalar),
    "minimum_scalar" => |g| binary_scalar(g, Tensor::minimum_scalar),
    "eq_scalar" => |g| binary_scalar(g, Tensor::eq_scalar),
    "ne_scalar" => |g| binary_scalar(g, Tensor::ne_scalar),
    "lt_scalar" => |g| binary_scalar(g, Tensor::lt_scalar),
    "le_scalar" => |g| binary_scalar(g, Tensor::le_scalar),
    "gt_scalar" => |g| binary_scalar(g, Tensor::gt_scalar),
    "ge_scalar" => |g| binary_scalar(g, Tensor::ge_scalar),
    "where_cond" => where_cond,
    "masked_fill" => masked_fill,
    "ops::Add" => |g| operator(g, "+", |a, b| a + b),
    "ops::Sub" => |g| operator(g, "-", |a, b| a - b),
    "ops::Mul" => |g| operator(g, "*", |a, b| a * b),
    "ops::Div" => |g| operator(g, "/", |a, b| a / b),
];

/// Reductions.
pub const REDUCTIONS: &[Entry] = table![
    "sum" => |g| reduce(g, Tensor::sum),
    "prod" => |g| reduce(g, Tensor::prod),
    "amax" => |g| reduce(g, Tensor::amax),
    "amin" => |g| reduce(g, Tensor::amin),
    "mean" => |g| reduce(g, Tensor::mean),
    "logsumexp" => |g| reduce(g, Tensor::logsumexp),
    "var" => |g| moment(g, Tensor::var),
    "std" => |g| moment(g, Tensor::std),
    "argmax" => |g| arg(g, Tensor::argmax),
    "argmin" => |g| arg(g, Tensor::argmin),
    "max_dim" => |g| extremum_dim(g, Tensor::max_dim),
    "min_dim" => |g| extremum_dim(g, Tensor::min_dim),
    "sum_all" => sum_all,
];
