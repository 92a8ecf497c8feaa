//! Entries for views and movement (reshape, view, permute, transpose, narrow, slice, select,
//! expand, squeeze, unsqueeze, flatten, contiguous, copy) and for joining and indexing (cat,
//! stack, split, chunk, index_select, gather, scatter_add, embedding).

use super::case::{done, table, Entry, Out};
use super::gen::{fmt_dims, fmt_i, fmt_idims, fmt_u, numel_u128, Gen, Pool, ABSURD, CAP, HUGE, V};
use st_core::{DType, Result, Shape, Tensor};

/// A tensor for a permute/transpose case: usually from the pool, sometimes of rank above 64
/// (all dims 1), past the fixed-size tables a permutation check might use.
fn maybe_high_rank(g: &mut Gen) -> Result<V> {
    if g.p(0.1) {
        let r = g.pick(&[63, 64, 65, 70, 130]);
        let dt = g.dtype();
        g.tensor(&vec![1; r], dt)
    } else {
        g.any(Pool::Any)
    }
}

/// A target for reshape/view: a valid refactoring of the element count (with a `-1`
/// sometimes), or a random, absurd or overflowing shape, or malformed `-1`s.
fn reshape_target(g: &mut Gen, t: &Tensor) -> Vec<isize> {
    let n = t.numel();
    let mut d: Vec<isize> = match g.int(0, 9) {
        0..=3 => {
            let f = (1..=n.clamp(1, 16))
                .filter(|f| n.is_multiple_of(*f))
                .collect::<Vec<_>>();
            let f = g.pick(&f);
            match g.int(0, 2) {
                0 => vec![n as isize],
                1 => vec![f as isize, (n / f) as isize],
                _ => vec![1, (n / f) as isize, f as isize],
            }
        }
        4 | 5 => t.dims().iter().rev().map(|&x| x as isize).collect(),
        6 | 7 => g.target_dims().into_iter().map(|x| x as isize).collect(),
        8 => vec![-1, -1],
        _ => g
            .pick(&[
                &[-2][..],
                &[0, -1],
                &[-1, 0],
                &[isize::MAX, 2],
                &[1 << 32, 1 << 32],
                &[isize::MIN],
            ])
            .to_vec(),
    };
    if !d.is_empty() && g.p(0.3) {
        let i = g.int(0, d.len() - 1);
        d[i] = -1;
    }
    d
}

fn reshape(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = reshape_target(g, &a.t);
    g.call(format!("{}.reshape(&{})", a.n, fmt_idims(&d)));
    done(a.t.reshape(&d))
}

fn view(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = reshape_target(g, &a.t);
    g.call(format!("{}.view(&{})", a.n, fmt_idims(&d)));
    done(a.t.view(&d))
}

fn reshape_to(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d: Vec<usize> = if g.p(0.5) {
        reshape_target(g, &a.t)
            .into_iter()
            .map(|x| x as usize)
            .collect()
    } else {
        g.target_dims()
    };
    g.call(format!(
        "{}.reshape_to(&Shape::new(&{}))",
        a.n,
        fmt_dims(&d)
    ));
    done(a.t.reshape_to(&Shape::new(&d)))
}

fn permute(g: &mut Gen) -> Result<Out> {
    let a = maybe_high_rank(g)?;
    let r = a.t.rank();
    let mut p: Vec<isize> = (0..r as isize).collect();
    for i in (1..r).rev() {
        let j = g.int(0, i);
        p.swap(i, j);
    }
    match g.int(0, 9) {
        0..=5 => {}
        6 => p.iter_mut().for_each(|x| *x -= r as isize),
        7 => {
            p.pop();
        }
        8 if r > 0 => p[0] = p[r - 1],
        _ => {
            let ax = g.axis(r);
            p.push(ax);
        }
    }
    g.call(format!("{}.permute(&{})", a.n, fmt_idims(&p)));
    done(a.t.permute(&p))
}

fn transpose(g: &mut Gen) -> Result<Out> {
    let a = maybe_high_rank(g)?;
    let (x, y) = (g.axis(a.t.rank()), g.axis(a.t.rank()));
    g.call(format!("{}.transpose({}, {})", a.n, fmt_i(x), fmt_i(y)));
    done(a.t.transpose(x, y))
}

fn t(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    g.call(format!("{}.t()", a.n));
    done(a.t.t())
}

/// A start or length for `narrow`: in range, at the edge, past it, or huge.
fn position(g: &mut Gen, size: usize) -> usize {
    match g.int(0, 9) {
        0..=5 => g.int(0, size),
        6 => size,
        7 => size + g.int(1, 3),
        _ => g.pick(&HUGE),
    }
}

fn narrow(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = g.axis(a.t.rank());
    let size = dim_size(&a.t, d).min(1 << 20);
    let start = position(g, size);
    let len = position(g, size.saturating_sub(start));
    g.call(format!(
        "{}.narrow({}, {}, {})",
        a.n,
        fmt_i(d),
        fmt_u(start),
        fmt_u(len)
    ));
    done(a.t.narrow(d, start, len))
}

/// A Python-style slice bound: in range, negative, past the end or extreme.
fn bound(g: &mut Gen, size: isize) -> isize {
    match g.int(0, 9) {
        0..=4 => g.int(0, size.max(0) as usize) as isize,
        5 | 6 => -(g.int(0, size.max(0) as usize + 2) as isize),
        7 => size + g.int(1, 3) as isize,
        _ => g.pick(&[isize::MAX, isize::MIN, isize::MIN + 1, 1 << 40]),
    }
}

fn slice(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = g.axis(a.t.rank());
    let size = dim_size(&a.t, d).min(1 << 20) as isize;
    let (s, e) = (bound(g, size), bound(g, size));
    let step = g.pick(&[1, 1, 2, 3, 0, 7, 1 << 40, usize::MAX]);
    g.call(format!(
        "{}.slice({}, {}, {}, {})",
        a.n,
        fmt_i(d),
        fmt_i(s),
        fmt_i(e),
        fmt_u(step)
    ));
    done(a.t.slice(d, s, e, step))
}

fn select(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = g.axis(a.t.rank());
    let size = dim_size(&a.t, d).min(1 << 20) as isize;
    let i = match g.int(0, 9) {
        0..=5 => g.int(0, size.max(1) as usize - 1) as isize,
        6 => -size.max(1),
        7 => size,
        _ => g.pick(&[-size - 1, isize::MAX, isize::MIN]),
    };
    g.call(format!("{}.select({}, {})", a.n, fmt_i(d), fmt_i(i)));
    done(a.t.select(d, i))
}

/// An expand target for `t`: its size-1 dims grown (to small or absurd sizes, a view either
/// way), extra leading dims, or a random shape.
fn expand_target(g: &mut Gen, t: &Tensor) -> Vec<usize> {
    if g.p(0.2) {
        return g.target_dims();
    }
    let mut d: Vec<usize> = t
        .dims()
        .iter()
        .map(|&x| match x {
            1 if g.p(0.1) => g.pick(&HUGE),
            1 => g.int(1, 4),
            _ if g.p(0.05) => x.saturating_add(1),
            _ => x,
        })
        .collect();
    while g.p(0.3) && d.len() < 9 {
        let lead = if g.p(0.1) { g.pick(&HUGE) } else { g.int(0, 3) };
        d.insert(0, lead);
    }
    // Views with absurd sizes are fine (no memory); medium ones would be materialized by the
    // sanity read-back, so shrink those.
    if numel_u128(&d).is_some_and(|n| n > CAP as u128 && n < ABSURD as u128) {
        return t.dims().to_vec();
    }
    d
}

fn expand(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = expand_target(g, &a.t);
    g.call(format!("{}.expand(&Shape::new(&{}))", a.n, fmt_dims(&d)));
    done(a.t.expand(&Shape::new(&d)))
}

fn broadcast_to(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = expand_target(g, &a.t);
    g.call(format!("{}.broadcast_to(&{})", a.n, fmt_dims(&d)));
    done(a.t.broadcast_to(&d))
}

fn squeeze(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = g.p(0.6).then(|| g.axis(a.t.rank()));
    let ds = d.map_or("None".into(), |d| format!("Some({})", fmt_i(d)));
    g.call(format!("{}.squeeze({ds})", a.n));
    done(a.t.squeeze(d))
}

fn unsqueeze(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = g.axis(a.t.rank() + 1);
    g.call(format!("{}.unsqueeze({})", a.n, fmt_i(d)));
    done(a.t.unsqueeze(d))
}

fn flatten(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let (s, e) = (g.axis(a.t.rank()), g.axis(a.t.rank()));
    g.call(format!("{}.flatten({}, {})", a.n, fmt_i(s), fmt_i(e)));
    done(a.t.flatten(s, e))
}

fn contiguous(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    g.call(format!("{}.contiguous()", a.n));
    done(a.t.contiguous())
}

fn copy(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Elementwise)?;
    g.call(format!("{}.copy()", a.n));
    done(a.t.copy())
}

/// 0 to 4 tensors (rarely up to 8) agreeing outside `dim` (sometimes not, or in dtype).
fn joinable(g: &mut Gen, same_shape: bool) -> Result<(Vec<V>, isize)> {
    let n = if g.p(0.9) { g.int(0, 4) } else { g.int(5, 8) };
    let dims = g.dims(Pool::Any);
    let d = g.axis(dims.len() + usize::from(same_shape));
    let dt = g.dtype();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut di = dims.clone();
        let ok_dim = (!same_shape && d >= 0 && (d as usize) < di.len()).then_some(d as usize);
        if let Some(k) = ok_dim {
            di[k] = g.int(0, 4);
            if numel_u128(&di).is_none_or(|x| x > CAP as u128) {
                di[k] = dims[k];
            }
        }
        if g.p(0.05) {
            di = g.dims(Pool::Tiny);
        }
        let dti = if g.p(0.05) { g.dtype() } else { dt };
        out.push(g.tensor(&di, dti)?);
    }
    Ok((out, d))
}

fn names(vs: &[V]) -> String {
    let v: Vec<String> = vs.iter().map(|v| format!("&{}", v.n)).collect();
    format!("[{}]", v.join(", "))
}

fn cat(g: &mut Gen) -> Result<Out> {
    let (ts, d) = joinable(g, false)?;
    g.call(format!("Tensor::cat(&{}, {})", names(&ts), fmt_i(d)));
    let refs: Vec<&Tensor> = ts.iter().map(|v| &v.t).collect();
    done(Tensor::cat(&refs, d))
}

fn stack(g: &mut Gen) -> Result<Out> {
    let (ts, d) = joinable(g, true)?;
    g.call(format!("Tensor::stack(&{}, {})", names(&ts), fmt_i(d)));
    let refs: Vec<&Tensor> = ts.iter().map(|v| &v.t).collect();
    done(Tensor::stack(&refs, d))
}

/// Whether splitting a dim of `n` elements into pieces of `size` gives a piece count that is
/// small or absurd. A medium count (millions of views) is a legitimate but huge output, which
/// the generator must not ask for.
fn pieces_ok(n: usize, size: usize) -> bool {
    let count = (n as u128).div_ceil(size.max(1) as u128);
    count <= 4096 || count >= ABSURD as u128
}

fn split(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let (size, d) = (g.count(), g.axis(a.t.rank()));
    let n = dim_size(&a.t, d);
    let size = if pieces_ok(n, size) { size } else { n };
    g.call(format!("{}.split({}, {})", a.n, fmt_u(size), fmt_i(d)));
    done(a.t.split(size, d))
}

fn chunk(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let (chunks, d) = (g.count(), g.axis(a.t.rank()));
    let n = dim_size(&a.t, d);
    let size = (n as u128).div_ceil(chunks.max(1) as u128).max(1);
    let chunks = if pieces_ok(n, size.min(usize::MAX as u128) as usize) {
        chunks
    } else {
        1
    };
    g.call(format!("{}.chunk({}, {})", a.n, fmt_u(chunks), fmt_i(d)));
    done(a.t.chunk(chunks, d))
}

/// The size of dim `d` of `t` when `d` is valid, else 0. Computed here rather than with
/// `Tensor::size`, so a defect there does not show up as one of the op under test.
pub fn dim_size(t: &Tensor, d: isize) -> usize {
    let r = t.rank() as isize;
    let k = if d < 0 { d + r } else { d };
    if (0..r).contains(&k) {
        t.dims()[k as usize]
    } else {
        0
    }
}

fn index_select(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = g.axis(a.t.rank());
    let n = g.int(0, 6);
    let idims = g.pick(&[vec![n], vec![n], vec![], vec![n, 2]]);
    let i = g.index(&idims, dim_size(&a.t, d))?;
    g.call(format!("{}.index_select({}, &{})", a.n, fmt_i(d), i.n));
    done(a.t.index_select(d, &i.t))
}

/// An index shape for gather/scatter on `t` along `d`: same rank, no larger outside `d`
/// (sometimes larger, or of another rank).
fn gather_dims(g: &mut Gen, t: &Tensor, d: isize) -> Vec<usize> {
    let r = t.rank();
    let k = if d < 0 { d + r as isize } else { d };
    let mut out: Vec<usize> = t
        .dims()
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if i as isize == k {
                g.int(0, 4)
            } else {
                g.int(0, x.min(4))
            }
        })
        .collect();
    if g.p(0.1) {
        out = g.dims(Pool::Tiny);
    } else if g.p(0.05) && !out.is_empty() {
        out[0] += 1;
    }
    out
}

fn gather(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = g.axis(a.t.rank());
    let idims = gather_dims(g, &a.t, d);
    let i = g.index(&idims, dim_size(&a.t, d))?;
    g.call(format!("{}.gather({}, &{})", a.n, fmt_i(d), i.n));
    done(a.t.gather(d, &i.t))
}

fn scatter_add(g: &mut Gen) -> Result<Out> {
    let a = g.any(Pool::Any)?;
    let d = g.axis(a.t.rank());
    let idims = gather_dims(g, &a.t, d);
    let i = g.index(&idims, dim_size(&a.t, d))?;
    let sdims = if g.p(0.9) {
        idims.clone()
    } else {
        g.dims(Pool::Tiny)
    };
    let dt = if g.p(0.8) { a.t.dtype() } else { g.dtype() };
    let s = g.tensor(&sdims, dt)?;
    g.call(format!(
        "{}.scatter_add({}, &{}, &{})",
        a.n,
        fmt_i(d),
        i.n,
        s.n
    ));
    done(a.t.scatter_add(d, &i.t, &s.t))
}

fn embedding(g: &mut Gen) -> Result<Out> {
    let wd = if g.p(0.9) {
        vec![g.int(0, 8), g.int(0, 8)]
    } else {
        g.dims(Pool::Tiny)
    };
    let dt = g.float_dtype();
    let w = g.tensor(&wd, dt)?;
    let ir = g.int(0, 3);
    let idims: Vec<usize> = (0..ir).map(|_| g.int(0, 4)).collect();
    let ids = g.index(&idims, wd.first().copied().unwrap_or(0))?;
    let ids = if g.p(0.15) {
        let dt = g.pick(&[DType::F32, DType::Bool, DType::F16]);
        let e = format!("{}.to_dtype({dt:?})?", ids.n);
        let t = ids.t.to_dtype(dt)?;
        g.bind(e, t)
    } else {
        ids
    };
    g.call(format!("{}.embedding(&{})", w.n, ids.n));
    done(w.t.embedding(&ids.t))
}

/// Views and movement.
pub const MOVEMENT: &[Entry] = table![
    "reshape" => reshape,
    "reshape_to" => reshape_to,
    "view" => view,
    "permute" => permute,
    "transpose" => transpose,
    "t" => t,
    "narrow" => narrow,
    "slice" => slice,
    "select" => select,
    "expand" => expand,
    "broadcast_to" => broadcast_to,
    "squeeze" => squeeze,
    "unsqueeze" => unsqueeze,
    "flatten" => flatten,
    "contiguous" => contiguous,
    "copy" => copy,
];

/// Joining, splitting and indexing.
pub const INDEXING: &[Entry] = table![
    "cat" => cat,
    "stack" => stack,
    "split" => split,
    "chunk" => chunk,
    "index_select" => index_select,
    "gather" => gather,
    "scatter_add" => scatter_add,
    "embedding" => embedding,
];
