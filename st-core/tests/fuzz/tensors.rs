//! Building input tensors: random shapes from a [`Pool`], random layouts (transposed,
//! permuted, stepped, offset, selected, expanded, empty with an offset), values (random,
//! special, constant), index tensors, absurd stride-0 views, and broadcast partners.

use super::gen::{alloc_safe, numel_u128, Gen, Pool, CAP, V};
use super::text::{fmt_dims, fmt_f, fmt_floats, fmt_u};
use rand::Rng;
use st_core::{DType, Generator, Result, Shape, Tensor};

impl Gen {
    /// A tensor from `pool` with a random dtype.
    pub fn any(&mut self, pool: Pool) -> Result<V> {
        let dt = self.dtype();
        self.of_dtype(pool, dt)
    }

    /// A tensor from `pool` with dtype `dt`.
    pub fn of_dtype(&mut self, pool: Pool, dt: DType) -> Result<V> {
        if pool == Pool::Elementwise && self.p(0.015) {
            return self.absurd_view(dt);
        }
        let dims = self.dims(pool);
        self.tensor(&dims, dt)
    }

    /// A tensor from `pool` with a mostly-float dtype.
    pub fn float(&mut self, pool: Pool) -> Result<V> {
        let dt = self.float_dtype();
        self.of_dtype(pool, dt)
    }

    /// A tensor of exactly `dims` and `dt`, with a random layout: contiguous, transposed,
    /// permuted, sliced with a step, narrowed (offset), selected, expanded (stride 0), or an
    /// empty view with a nonzero offset; up to two of these stacked.
    pub fn tensor(&mut self, dims: &[usize], dt: DType) -> Result<V> {
        let depth = self.pick(&[0, 1, 1, 2]);
        let (t, expr) = self.make(dims, dt, depth)?;
        if self.leaves.last().is_some_and(|v| v.n == expr) {
            // A bare grad-requiring leaf is bound already.
            return Ok(V { t, n: expr });
        }
        if t.dims() != dims {
            self.fail(
                "a view chain built the wrong dims",
                format!(
                    "view chain `{expr}` built dims {:?}, expected {dims:?}",
                    t.dims()
                ),
            );
        }
        Ok(self.bind(expr, t))
    }

    fn make(&mut self, dims: &[usize], dt: DType, depth: u32) -> Result<(Tensor, String)> {
        let r = dims.len();
        let kind = if depth == 0 { 0 } else { self.int(0, 9) };
        let mut inner = dims.to_vec();
        let step = match kind {
            1 | 2 if r >= 2 => {
                let a = self.int(0, r - 1);
                let b = self.int(0, r - 1);
                inner.swap(a, b);
                Some(if r == 2 && a != b && self.p(0.3) {
                    Step::T
                } else {
                    Step::Transpose(a, b)
                })
            }
            3 if r >= 3 => {
                let mut perm: Vec<usize> = (0..r).collect();
                for i in (1..r).rev() {
                    let j = self.int(0, i);
                    perm.swap(i, j);
                }
                for (i, &p) in perm.iter().enumerate() {
                    inner[p] = dims[i];
                }
                Some(Step::Permute(perm))
            }
            4 if r >= 1 => {
                let d = self.int(0, r - 1);
                let (step, start) = (self.int(2, 3), self.int(0, 1));
                let end = dims[d]
                    .checked_mul(step)
                    .and_then(|n| n.checked_add(start))
                    .filter(|&n| n <= isize::MAX as usize);
                end.map(|end| {
                    inner[d] = end;
                    Step::Slice(d, start, end, step)
                })
            }
            5 if r >= 1 => {
                let d = self.int(0, r - 1);
                let (start, extra) = (self.int(1, 3), self.int(0, 2));
                dims[d].checked_add(start + extra).map(|n| {
                    inner[d] = n;
                    Step::Narrow(d, start, dims[d])
                })
            }
            6 => {
                // Selecting index >= 1 of a new dim gives a nonzero offset, also for empty views.
                let d = self.int(0, r);
                let k = self.int(2, 3);
                let i = self.int(1, k - 1) as isize;
                let i = if self.p(0.3) { i - k as isize } else { i };
                inner.insert(d, k);
                Some(Step::Select(d, i))
            }
            7 if r >= 1 => {
                let lead = if self.p(0.3) { self.int(0, r) } else { 0 };
                inner = dims[lead..].to_vec();
                for x in inner.iter_mut() {
                    if self.p(0.5) {
                        *x = 1;
                    }
                }
                Some(Step::Expand(dims.to_vec(), self.p(0.5)))
            }
            _ => None,
        };
        // Building the inner tensor must stay small: a transform of a zero-size shape can make
        // a dim nonzero and the product of the huge ones real.
        let inner_ok = numel_u128(&inner).is_some_and(|n| n <= CAP as u128)
            || (numel_u128(&inner) == Some(0) && alloc_safe(&inner));
        let Some(step) = step.filter(|_| inner_ok) else {
            return self.base(dims, dt);
        };
        let (t, expr) = self.make(&inner, dt, depth - 1)?;
        let expr = format!("{expr}{}", step.text());
        self.pending = expr.clone();
        let t = step.apply(&t)?;
        Ok((t, expr))
    }

    /// A contiguous tensor of `dims`, with random, special or constant values.
    fn base(&mut self, dims: &[usize], dt: DType) -> Result<(Tensor, String)> {
        let d = fmt_dims(dims);
        let shape = Shape::new(dims);
        let small = numel_u128(dims).is_some_and(|n| n <= 6);
        let s = self.seed();
        let recipe = match self.int(0, 9) {
            0..=5 if dt.is_float() => Recipe::Randn,
            0..=5 => Recipe::Randint(match dt {
                DType::Bool => (0, 2),
                DType::U8 => self.pick(&[(0, 5), (0, 256)]),
                _ => self.pick(&[(-5, 5), (-1000, 1000), (0, 4)]),
            }),
            6 | 7 if small => {
                let n = numel_u128(dims).unwrap_or(0) as usize;
                Recipe::Values((0..n).map(|_| self.scalar()).collect())
            }
            _ => Recipe::Full(self.scalar()),
        };
        let mut expr = match &recipe {
            Recipe::Randn => {
                format!("Tensor::randn_with(&mut Generator::new({s}), {d}, {dt:?}, &cpu)?")
            }
            Recipe::Randint((lo, hi)) => format!(
                "Tensor::randint_with(&mut Generator::new({s}), {lo}, {hi}, {d}, {dt:?}, &cpu)?"
            ),
            Recipe::Values(v) => format!(
                "Tensor::from_f64_slice(&{}, {d}, {dt:?}, &cpu)?",
                fmt_floats(v)
            ),
            Recipe::Full(v) => format!("Tensor::full({d}, {}, {dt:?}, &cpu)?", fmt_f(*v)),
        };
        self.pending = expr.clone();
        let cpu = self.cpu;
        let t = match recipe {
            Recipe::Randn => Tensor::randn_with(&mut Generator::new(s), shape, dt, &cpu)?,
            Recipe::Randint((lo, hi)) => {
                Tensor::randint_with(&mut Generator::new(s), lo, hi, shape, dt, &cpu)?
            }
            Recipe::Values(v) => Tensor::from_f64_slice(&v, shape, dt, &cpu)?,
            Recipe::Full(v) => Tensor::full(shape, v, dt, &cpu)?,
        };
        if self.grad && dt.is_float() {
            expr.push_str(".requires_grad_()?");
            self.pending = expr.clone();
            let t = t.requires_grad_()?;
            let v = self.bind(expr, t.clone());
            let n = v.n.clone();
            self.leaves.push(v);
            return Ok((t, n));
        }
        Ok((t, expr))
    }

    /// A small tensor expanded (stride 0) to an absurd or overflowing element count.
    pub fn absurd_view(&mut self, dt: DType) -> Result<V> {
        let (src, target): (&[usize], &[usize]) = self.pick(&[
            (&[1][..], &[1 << 40][..]),
            (&[3, 1][..], &[3, 1 << 40][..]),
            (&[][..], &[1 << 20, 1 << 20][..]),
            (&[1, 2][..], &[1 << 41, 2][..]),
            (&[1][..], &[1 << 40, 1 << 40][..]),
            (&[1, 1][..], &[usize::MAX, 2][..]),
        ]);
        let (t, expr) = self.base(src, dt)?;
        let step = Step::Expand(target.to_vec(), true);
        let expr = format!("{expr}{}", step.text());
        self.pending = expr.clone();
        let t = step.apply(&t)?;
        Ok(self.bind(expr, t))
    }

    /// An index tensor of `dims` for a dim of size `bound`: mostly in range, sometimes
    /// negative, out of range or extreme; mostly i64, sometimes another dtype.
    pub fn index(&mut self, dims: &[usize], bound: usize) -> Result<V> {
        let dt = if self.p(0.85) {
            DType::I64
        } else {
            self.dtype()
        };
        let n = numel_u128(dims).unwrap_or(0).min(CAP as u128) as usize;
        let b = bound.min(1 << 20) as i64;
        let bad = self.p(0.15);
        let v: Vec<i64> = (0..n)
            .map(|_| {
                if bad && self.p(0.3) {
                    self.pick(&[-1, -2, b, b + 1, i64::MAX, i64::MIN, 1 << 40])
                } else if b > 0 {
                    self.rng.random_range(0..b)
                } else {
                    0
                }
            })
            .collect();
        let d = fmt_dims(dims);
        let f: Vec<f64> = v.iter().map(|&x| x as f64).collect();
        self.pending = if dt == DType::I64 {
            format!("Tensor::from_vec(vec!{v:?}, {d}, &cpu)?")
        } else {
            format!(
                "Tensor::from_f64_slice(&{}, {d}, {dt:?}, &cpu)?",
                fmt_floats(&f)
            )
        };
        let expr = self.pending.clone();
        let t = if dt == DType::I64 {
            Tensor::from_vec(v, Shape::new(dims), &self.cpu)?
        } else {
            Tensor::from_f64_slice(&f, Shape::new(dims), dt, &self.cpu)?
        };
        Ok(self.bind(expr, t))
    }

    /// Dims that broadcast with `dims` (same, size-1 holes, fewer leading dims, one extra
    /// leading dim), or sometimes dims that do not.
    pub fn broadcast_dims(&mut self, dims: &[usize]) -> Vec<usize> {
        let mut out = dims.to_vec();
        match self.int(0, 9) {
            0..=3 => {}
            4 | 5 => {
                for x in out.iter_mut() {
                    if self.p(0.5) {
                        *x = 1;
                    }
                }
            }
            6 => out = out[self.int(0, out.len())..].to_vec(),
            7 => out.insert(0, self.int(1, 2)),
            8 => out = vec![],
            _ => {
                if let Some(x) = out.first_mut() {
                    *x = x.saturating_add(1);
                } else {
                    out = vec![2];
                }
            }
        }
        // The operand is materialized: keep it small (an absurd left operand gets ones).
        if numel_u128(&out).is_some_and(|n| n <= CAP as u128) && alloc_safe(&out) {
            out
        } else {
            vec![1; out.len()]
        }
    }
}

/// How [`Gen::base`] fills a tensor.
enum Recipe {
    Randn,
    Randint((i64, i64)),
    Values(Vec<f64>),
    Full(f64),
}

/// One view applied on top of a tensor by [`Gen::tensor`].
enum Step {
    T,
    Transpose(usize, usize),
    Permute(Vec<usize>),
    /// dim, start, end, step.
    Slice(usize, usize, usize, usize),
    /// dim, start, len.
    Narrow(usize, usize, usize),
    Select(usize, isize),
    /// Target dims; `true` for `expand`, `false` for `broadcast_to`.
    Expand(Vec<usize>, bool),
}

impl Step {
    fn apply(&self, t: &Tensor) -> Result<Tensor> {
        match self {
            Step::T => t.t(),
            Step::Transpose(a, b) => t.transpose(*a as isize, *b as isize),
            Step::Permute(p) => t.permute(&p.iter().map(|&x| x as isize).collect::<Vec<_>>()),
            Step::Slice(d, s, e, k) => t.slice(*d as isize, *s as isize, *e as isize, *k),
            Step::Narrow(d, s, n) => t.narrow(*d as isize, *s, *n),
            Step::Select(d, i) => t.select(*d as isize, *i),
            Step::Expand(dims, true) => t.expand(&Shape::new(dims)),
            Step::Expand(dims, false) => t.broadcast_to(dims),
        }
    }

    fn text(&self) -> String {
        match self {
            Step::T => ".t()?".into(),
            Step::Transpose(a, b) => format!(".transpose({a}, {b})?"),
            Step::Permute(p) => format!(".permute(&{p:?})?"),
            Step::Slice(d, s, e, k) => format!(".slice({d}, {s}, {}, {k})?", fmt_u(*e)),
            Step::Narrow(d, s, n) => format!(".narrow({d}, {s}, {})?", fmt_u(*n)),
            Step::Select(d, i) => format!(".select({d}, {i})?"),
            Step::Expand(dims, true) => format!(".expand(&Shape::new(&{}))?", fmt_dims(dims)),
            Step::Expand(dims, false) => format!(".broadcast_to(&{})?", fmt_dims(dims)),
        }
    }
}
