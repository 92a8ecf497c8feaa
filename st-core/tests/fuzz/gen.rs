//! The case generator: its random source and reproduction log ([`Gen`]), and the value domains
//! (sizes, axes, scalars, dtypes). Tensors are built in `tensors.rs`, text in `text.rs`.
//!
//! Memory rule: every size this module hands out is either small (the case materializes at
//! most [`CAP`] elements) or absurd (at least [`ABSURD`] elements, or overflowing), where the
//! only correct outcome is an error. Nothing in between is ever requested, because on Linux a
//! successful multi-GiB allocation is zero-filled and can take the machine down.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use st_core::{DType, Device, Tensor};
use std::fs::File;
use std::io::Write;

pub use super::text::*;

/// Most elements a legitimate case may materialize (inputs, outputs, intermediates).
pub const CAP: usize = 1 << 20;
/// Sizes at or above this are absurd: the only correct outcome is an error.
pub const ABSURD: usize = 1 << 40;

/// Absurd dims. All are powers of two or near `usize::MAX`, so their wrapping products (what a
/// release build without overflow checks computes) are 0, 1 or absurd again, never medium.
pub const HUGE: [usize; 7] = [
    1 << 40,
    1 << 41,
    1 << 48,
    1 << 62,
    1 << 63,
    usize::MAX,
    usize::MAX / 2,
];

/// Scalars worth trying: integer-range edges, f16/f32 overflow, NaN, infinities, signed zero.
pub const SPECIAL: [f64; 30] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -2.5,
    2.0,
    3.0,
    7.0,
    127.0,
    255.0,
    256.0,
    1000.0,
    -1000.0,
    65504.0,
    65536.0,
    3e9,
    -3e9,
    1e18,
    9.3e18,
    -9.3e18,
    1e39,
    1e300,
    -1e300,
    1e-300,
    f64::MIN_POSITIVE,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    0.1,
];

/// A tensor bound to a variable of the reproduction text.
pub struct V {
    /// The tensor.
    pub t: Tensor,
    /// Its variable name in the text (`x0`, `x1`, ...).
    pub n: String,
}

/// Which input tensors a generator may hand out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// Small, zero-size and zero-size-with-huge-dims shapes; any layout.
    Any,
    /// Like `Any`, plus (rarely) views expanded to an absurd element count. Only for ops whose
    /// output has the input's element count, so the one correct outcome is an allocation error
    /// (a reduction over such a view would legitimately run for hours).
    Elementwise,
    /// At most 64 elements (raw dispatch, where params may multiply sizes).
    Tiny,
}

/// One case's random source and reproduction log.
pub struct Gen {
    /// The case's random stream (seed, case index).
    pub rng: ChaCha8Rng,
    /// The device every tensor lives on.
    pub cpu: Device,
    /// Whether float leaves are created with `requires_grad_()` (then `backward` runs).
    pub grad: bool,
    /// The leaves created with `requires_grad_()`: their grads are checked after backward.
    pub leaves: Vec<V>,
    /// The op under test; entries that pick a sub-op refine it with [`Gen::set_op`].
    pub op: String,
    /// Set once the inputs are built and the call under test starts.
    pub called: bool,
    /// The reproduction text so far.
    pub lines: Vec<String>,
    /// Sanity-check failures found by the case (kind, details), reported like panics.
    pub sanity: Vec<(&'static str, String)>,
    /// False for results of user-built layouts, which may legitimately fail to read back.
    pub readable: bool,
    /// The setup expression being evaluated, for reports of setup panics.
    pub pending: String,
    vars: usize,
    sink: Option<(File, u64)>,
}

impl Gen {
    /// The generator of case `idx` under `seed`. Lines are also written to `sink` as they are
    /// produced, so the parent knows what an aborting case was doing.
    pub fn new(seed: u64, idx: u64, op: &str, sink: Option<File>) -> Gen {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(idx);
        let grad = rng.random_bool(0.3);
        Gen {
            rng,
            cpu: Device::cpu(),
            grad,
            leaves: Vec::new(),
            op: op.to_string(),
            called: false,
            lines: Vec::new(),
            sanity: Vec::new(),
            readable: true,
            pending: String::new(),
            vars: 0,
            sink: sink.map(|f| (f, idx)),
        }
    }

    fn emit(&mut self, tag: char, text: &str) {
        if let Some((f, idx)) = &mut self.sink {
            // A lost line only weakens the report of an aborting case; keep going.
            let _ = writeln!(f, "{tag} {idx} {}", escape(text));
        }
    }

    /// Appends a line to the reproduction text.
    pub fn line(&mut self, s: String) {
        self.emit('L', &s);
        self.lines.push(s);
    }

    /// Renames the op under test (for entries that pick a sub-op).
    pub fn set_op(&mut self, name: String) {
        self.emit('N', &name);
        self.op = name;
    }

    /// Binds `t`, built by `expr`, to a fresh variable.
    pub fn bind(&mut self, expr: String, t: Tensor) -> V {
        let n = format!("x{}", self.vars);
        self.vars += 1;
        self.line(format!("let {n} = {expr};"));
        V { t, n }
    }

    /// Marks the start of the call under test, with its text.
    pub fn call(&mut self, expr: String) {
        self.called = true;
        self.line(format!("let out = {expr};"));
    }

    /// Records a sanity-check failure of `kind` (which names the check, and is the failure's
    /// site in the report).
    pub fn fail(&mut self, kind: &'static str, msg: String) {
        self.sanity.push((kind, msg));
    }

    // ----- random primitives -----

    /// True with probability `p`.
    pub fn p(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// Uniform in `lo..=hi`.
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        self.rng.random_range(lo..=hi)
    }

    /// One of `xs`.
    pub fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.rng.random_range(0..xs.len())].clone()
    }

    /// A seed for `Generator::new`.
    pub fn seed(&mut self) -> u64 {
        self.rng.next_u64() % 1000
    }

    // ----- value domains -----

    /// Any dtype, f32 weighted up.
    pub fn dtype(&mut self) -> DType {
        use DType::*;
        self.pick(&[F32, F32, F32, F64, F16, BF16, I32, I64, U8, Bool])
    }

    /// Mostly a float dtype, sometimes any (to hit the dtype checks).
    pub fn float_dtype(&mut self) -> DType {
        if self.p(0.85) {
            self.pick(&[DType::F32, DType::F32, DType::F64, DType::F16, DType::BF16])
        } else {
            self.dtype()
        }
    }

    /// A small dim, 0 sometimes.
    pub fn small_dim(&mut self) -> usize {
        match self.int(0, 9) {
            0 => 0,
            1..=3 => 1,
            4..=8 => self.int(2, 5),
            _ => self.int(6, 12),
        }
    }

    /// A size-like argument (split sizes, counts, lengths): small, or absurd.
    pub fn count(&mut self) -> usize {
        if self.p(0.8) {
            self.int(0, 6)
        } else {
            self.pick(&HUGE)
        }
    }

    /// A conv/pool/window parameter in `lo..=hi`, sometimes 0 (invalid for kernels, strides
    /// and dilations) or absurd.
    pub fn param(&mut self, lo: usize, hi: usize) -> usize {
        match self.int(0, 99) {
            0..=3 => 0,
            4..=7 => self.pick(&HUGE),
            _ => self.int(lo, hi),
        }
    }

    /// A dim for a tensor of `rank`: mostly valid (negative too), sometimes out of range.
    pub fn axis(&mut self, rank: usize) -> isize {
        let r = rank as isize;
        if self.p(0.85) {
            if rank == 0 {
                self.pick(&[0, -1])
            } else {
                self.rng.random_range(-(r as i64)..r as i64) as isize
            }
        } else {
            self.pick(&[r, -r - 1, r + 1, 64, -65, isize::MAX, isize::MIN])
        }
    }

    /// A list of dims for reductions: empty (all), valid, duplicated or out of range.
    pub fn axes(&mut self, rank: usize) -> Vec<isize> {
        if self.p(0.2) {
            return Vec::new();
        }
        let n = self.int(1, (rank + 1).min(4));
        (0..n).map(|_| self.axis(rank)).collect()
    }

    /// A scalar argument: special values half of the time.
    pub fn scalar(&mut self) -> f64 {
        if self.p(0.5) {
            self.pick(&SPECIAL)
        } else {
            let v: f64 = self.rng.random_range(-4.0..4.0);
            (v * 100.0).round() / 100.0
        }
    }

    /// An integer-valued f64 for integer dtypes: in range or far outside it.
    pub fn int_scalar(&mut self) -> f64 {
        self.pick(&[
            0.0, 1.0, -1.0, 2.0, 3.0, 200.0, 255.0, 256.0, 1000.0, 3e9, -3e9, 1e18, 1e19, -1e19,
            64.0, 63.0, 31.0, 1e300,
        ])
    }

    /// Dims of an input tensor drawn from `pool`.
    pub fn dims(&mut self, pool: Pool) -> Vec<usize> {
        if pool == Pool::Tiny {
            return match self.int(0, 9) {
                0 => vec![],
                1 => self.zero_huge_dims(),
                _ => {
                    let r = self.int(1, 3);
                    (0..r).map(|_| self.int(0, 4)).collect()
                }
            };
        }
        match self.int(0, 99) {
            0..=5 => vec![],
            6..=45 => {
                let r = self.int(1, 3);
                (0..r).map(|_| self.small_dim()).collect()
            }
            46..=55 => {
                let r = self.int(4, 8);
                (0..r).map(|_| self.int(1, 3)).collect()
            }
            56..=65 => {
                let n = self.int(1, 4096);
                if self.p(0.5) {
                    vec![n]
                } else {
                    let a = self.int(1, 64);
                    vec![a, n / a]
                }
            }
            66..=67 => vec![self.int(4096, 1 << 16)],
            68..=77 => {
                let r = self.int(1, 4);
                let mut d: Vec<usize> = (0..r).map(|_| self.int(1, 5)).collect();
                let z = self.int(0, r - 1);
                d[z] = 0;
                d
            }
            78..=86 => self.zero_huge_dims(),
            _ => {
                let r = self.int(0, 6);
                (0..r).map(|_| if self.p(0.7) { 1 } else { 3 }).collect()
            }
        }
    }

    /// A zero-element shape whose other dims are absurd: `[0, 1 << 40, 1 << 40]` and kin.
    pub fn zero_huge_dims(&mut self) -> Vec<usize> {
        let r = self.int(2, 4);
        let mut d: Vec<usize> = (0..r)
            .map(|_| {
                if self.p(0.6) {
                    self.pick(&HUGE)
                } else {
                    self.int(1, 4)
                }
            })
            .collect();
        let z = self.int(0, r - 1);
        d[z] = 0;
        d
    }

    /// A shape given as an argument (creation, reshape, expand targets): small, rank up to 8,
    /// absurd, overflowing, or zero-size with huge dims. Never medium; see [`alloc_safe`].
    pub fn target_dims(&mut self) -> Vec<usize> {
        loop {
            let d = match self.int(0, 9) {
                0..=3 => {
                    let r = self.int(0, 4);
                    (0..r).map(|_| self.small_dim()).collect()
                }
                4 => {
                    let r = self.int(5, 8);
                    (0..r).map(|_| self.int(1, 3)).collect()
                }
                5 | 6 => {
                    let r = self.int(1, 3);
                    (0..r)
                        .map(|_| {
                            if self.p(0.5) {
                                self.pick(&HUGE)
                            } else {
                                self.int(1, 3)
                            }
                        })
                        .collect()
                }
                7 => self.pick(&OVERFLOWING).to_vec(),
                _ => self.zero_huge_dims(),
            };
            if alloc_safe(&d) {
                return d;
            }
        }
    }
}

/// Products whose exact value overflows usize, with wrapping values 0, 1 or absurd.
pub const OVERFLOWING: [&[usize]; 8] = [
    &[1 << 32, 1 << 32],
    &[usize::MAX, usize::MAX],
    &[1 << 62, 8],
    &[usize::MAX, 2],
    &[3, 1 << 63],
    &[1 << 40, 1 << 40, 1 << 40],
    &[2, 2, 1 << 62, 1 << 62],
    &[usize::MAX / 2, usize::MAX / 2],
];

/// Exact element count, `None` on u128 overflow.
pub fn numel_u128(dims: &[usize]) -> Option<u128> {
    if dims.contains(&0) {
        return Some(0);
    }
    dims.iter()
        .try_fold(1u128, |a, &d| a.checked_mul(d as u128))
}

/// True when building a buffer for `dims` is safe for the machine: the exact element count,
/// and what a release build's wrapping product times any element size would allocate, are
/// each either small or absurd (at least [`ABSURD`] elements).
pub fn alloc_safe(dims: &[usize]) -> bool {
    let exact_ok = numel_u128(dims).is_none_or(|n| n <= CAP as u128 || n >= ABSURD as u128);
    let wrapped = dims.iter().fold(1usize, |a, &d| a.wrapping_mul(d));
    let bytes_ok = [1usize, 2, 4, 8].iter().all(|&s| {
        let b = wrapped.wrapping_mul(s);
        b <= 8 * CAP || b >= ABSURD
    });
    exact_ok && bytes_ok
}
