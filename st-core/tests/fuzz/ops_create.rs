//! Entries for the constructors: from host data, constants, `*_like`, ranges (`arange`,
//! `linspace`, `eye`) and seeded random tensors, with huge, overflowing, infinite and NaN
//! arguments.

use super::case::{done, table, Entry, Out};
use super::gen::{fmt_dims, fmt_f, fmt_floats, fmt_u, Gen, Pool, HUGE};
use st_core::{half, manual_seed, Element, Generator, Result, Shape, Tensor};

/// A shape argument for a constructor, and the data length of a `from_vec` call.
fn data_shape(g: &mut Gen, len: usize) -> Vec<usize> {
    match g.int(0, 4) {
        0 | 1 => vec![len],
        2 => g.target_dims(),
        3 => vec![1, len, 1],
        _ => vec![len + 1],
    }
}

fn from_data(g: &mut Gen, how: u8) -> Result<Out> {
    let len = g.int(0, 8);
    let dims = data_shape(g, len);
    let dt = g.dtype();
    let v: Vec<f64> = (0..len).map(|_| g.scalar()).collect();
    let (d, dev) = (fmt_dims(&dims), g.cpu);
    let shape = Shape::new(&dims);
    if how == 2 {
        g.call(format!(
            "Tensor::from_f64_slice(&{}, {d}, {dt:?}, &cpu)",
            fmt_floats(&v)
        ));
        return done(Tensor::from_f64_slice(&v, shape, dt, &dev));
    }
    st_core::with_dtype!(dt, T, {
        let typed: Vec<T> = v.iter().map(|&x| T::from_f64(x)).collect();
        let f = if how == 0 { "from_vec" } else { "from_slice" };
        g.call(format!(
            "Tensor::{f}({}vec!{typed:?} /* {dt:?} */, {d}, &cpu)",
            if how == 0 { "" } else { "&" }
        ));
        done(if how == 0 {
            Tensor::from_vec(typed, shape, &dev)
        } else {
            Tensor::from_slice(&typed, shape, &dev)
        })
    })
}

fn scalar(g: &mut Gen) -> Result<Out> {
    let (v, dt) = (g.scalar(), g.dtype());
    g.call(format!("Tensor::scalar({}, {dt:?}, &cpu)", fmt_f(v)));
    done(Tensor::scalar(v, dt, &g.cpu))
}

/// `full`, `zeros` and `ones` (`which` 0, 1, 2) on small, absurd and overflowing shapes.
fn filled(g: &mut Gen, which: u8) -> Result<Out> {
    let dims = g.target_dims();
    let dt = g.dtype();
    let d = fmt_dims(&dims);
    let shape = Shape::new(&dims);
    match which {
        0 => {
            let v = if dt.is_float() {
                g.scalar()
            } else {
                g.int_scalar()
            };
            g.call(format!("Tensor::full({d}, {}, {dt:?}, &cpu)", fmt_f(v)));
            done(Tensor::full(shape, v, dt, &g.cpu))
        }
        1 => {
            g.call(format!("Tensor::zeros({d}, {dt:?}, &cpu)"));
            done(Tensor::zeros(shape, dt, &g.cpu))
        }
        _ => {
            g.call(format!("Tensor::ones({d}, {dt:?}, &cpu)"));
            done(Tensor::ones(shape, dt, &g.cpu))
        }
    }
}

/// The `*_like` constructors, on inputs that include zero-size-huge and absurd views.
fn like(g: &mut Gen, f: fn(&Tensor) -> Result<Tensor>) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    g.call(format!("Tensor::{}(&{})", g.op, a.n));
    done(f(&a.t))
}

fn full_like(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    let v = g.scalar();
    g.call(format!("Tensor::full_like(&{}, {})", a.n, fmt_f(v)));
    done(Tensor::full_like(&a.t, v))
}

/// `arange` arguments: short ranges, NaN/inf, absurd lengths, zero or wrong-sign steps.
/// Lengths between 64Ki and 2^40 are never produced.
fn arange(g: &mut Gen) -> Result<Out> {
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    let (s, e, st) = match g.int(0, 9) {
        0..=4 => {
            let s = g.int(0, 10) as f64 - 5.0;
            let st = g.pick(&[1.0, 0.5, -1.0, 0.25, 3.0, -0.7, 1e-3]);
            let k = g.int(0, 100) as f64;
            (s, s + st * k + g.pick(&[0.0, 0.1, -0.1]), st)
        }
        5 => {
            let xs = [nan, inf, -inf, 0.0, 1.0, -1.0];
            (g.pick(&xs), g.pick(&xs), g.pick(&xs))
        }
        6 | 7 => g.pick(&[
            (0.0, 1e300, 1.0),
            (0.0, (1u64 << 40) as f64, 1.0),
            (0.0, 1.0, 1e-300),
            (-1e308, 1e308, 1e-10),
            (0.0, 2f64.powi(62), 1.0),
            (0.0, 2f64.powi(64), 1.0),
            (0.0, f64::MAX, f64::MIN_POSITIVE),
            (1e300, -1e300, -1e-300),
        ]),
        8 => g.pick(&[
            (0.0, 5.0, 0.0),
            (0.0, 5.0, -1.0),
            (5.0, 0.0, 1.0),
            (0.0, 0.0, 1.0),
        ]),
        _ => g.pick(&[(0.0, 3e9, 1e9), (-3e9, 3e9, 2e9), (250.0, 260.0, 1.0)]),
    };
    let n = ((e - s) / st).ceil();
    let (s, e, st) = if n.is_finite() && n > 65536.0 && n < 2f64.powi(40) {
        (0.0, 10.0, 1.0)
    } else {
        (s, e, st)
    };
    let dt = g.dtype();
    g.call(format!(
        "Tensor::arange({}, {}, {}, {dt:?}, &cpu)",
        fmt_f(s),
        fmt_f(e),
        fmt_f(st)
    ));
    done(Tensor::arange(s, e, st, dt, &g.cpu))
}

fn linspace(g: &mut Gen) -> Result<Out> {
    let (s, e) = (g.scalar(), g.scalar());
    let steps = if g.p(0.8) {
        g.int(0, 100)
    } else {
        g.pick(&HUGE)
    };
    let dt = g.dtype();
    g.call(format!(
        "Tensor::linspace({}, {}, {}, {dt:?}, &cpu)",
        fmt_f(s),
        fmt_f(e),
        fmt_u(steps)
    ));
    done(Tensor::linspace(s, e, steps, dt, &g.cpu))
}

fn eye(g: &mut Gen) -> Result<Out> {
    // n * n is small, absurd (>= 2^42), or overflows.
    let n = if g.p(0.75) {
        g.int(0, 64)
    } else {
        g.pick(&[
            1 << 21,
            1 << 31,
            1 << 32,
            1 << 40,
            usize::MAX,
            usize::MAX / 2,
        ])
    };
    let dt = g.dtype();
    g.call(format!("Tensor::eye({}, {dt:?}, &cpu)", fmt_u(n)));
    done(Tensor::eye(n, dt, &g.cpu))
}

/// `randint` bounds: ordinary, full i64 range, empty, reversed, at the top of i64.
fn int_range(g: &mut Gen) -> (i64, i64) {
    g.pick(&[
        (0, 10),
        (-5, 5),
        (0, 2),
        (0, 256),
        (i64::MIN, i64::MAX),
        (5, 5),
        (10, 0),
        (i64::MAX - 1, i64::MAX),
        (-3_000_000_000, 3_000_000_000),
    ])
}

/// `rand`, `randn`, `randint` (`kind` 0, 1, 2), from the default generator (reseeded with
/// `manual_seed` sometimes) or from an explicit one (`with`).
fn random(g: &mut Gen, kind: u8, with: bool) -> Result<Out> {
    let dims = g.target_dims();
    let dt = if kind == 2 {
        g.dtype()
    } else {
        g.float_dtype()
    };
    let (d, dev) = (fmt_dims(&dims), g.cpu);
    let shape = Shape::new(&dims);
    let s = g.seed();
    let (lo, hi) = int_range(g);
    let name = ["rand", "randn", "randint"][kind as usize];
    let range = if kind == 2 {
        format!("{lo}, {hi}, ")
    } else {
        String::new()
    };
    if with {
        g.call(format!(
            "Tensor::{name}_with(&mut Generator::new({s}), {range}{d}, {dt:?}, &cpu)"
        ));
        let mut gen = Generator::new(s);
        return done(match kind {
            0 => Tensor::rand_with(&mut gen, shape, dt, &dev),
            1 => Tensor::randn_with(&mut gen, shape, dt, &dev),
            _ => Tensor::randint_with(&mut gen, lo, hi, shape, dt, &dev),
        });
    }
    let reseed = g.p(0.3);
    let pre = if reseed {
        format!("{{ manual_seed({s}); Tensor::")
    } else {
        "Tensor::".into()
    };
    let post = if reseed { " }" } else { "" };
    g.call(format!("{pre}{name}({range}{d}, {dt:?}, &cpu){post}"));
    if reseed {
        manual_seed(s);
    }
    done(match kind {
        0 => Tensor::rand(shape, dt, &dev),
        1 => Tensor::randn(shape, dt, &dev),
        _ => Tensor::randint(lo, hi, shape, dt, &dev),
    })
}

/// Constructors.
pub const CREATE: &[Entry] = table![
    "from_vec" => |g| from_data(g, 0),
    "from_slice" => |g| from_data(g, 1),
    "from_f64_slice" => |g| from_data(g, 2),
    "scalar" => scalar,
    "full" => |g| filled(g, 0),
    "zeros" => |g| filled(g, 1),
    "ones" => |g| filled(g, 2),
    "zeros_like" => |g| like(g, Tensor::zeros_like),
    "ones_like" => |g| like(g, Tensor::ones_like),
    "rand_like" => |g| like(g, Tensor::rand_like),
    "randn_like" => |g| like(g, Tensor::randn_like),
    "full_like" => full_like,
    "arange" => arange,
    "linspace" => linspace,
    "eye" => eye,
    "rand" => |g| random(g, 0, false),
    "randn" => |g| random(g, 1, false),
    "randint" => |g| random(g, 2, false),
    "rand_with" => |g| random(g, 0, true),
    "randn_with" => |g| random(g, 1, true),
    "randint_with" => |g| random(g, 2, true),
];
