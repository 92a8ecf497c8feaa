//! Deterministic test data and the layouts (contiguous, transposed, strided with an offset,
//! expanded) inputs are built with on a device through the public [`Tensor`] API.

use crate::device::Device;
use crate::dtype::DType;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::testing::reference::RefTensor;

/// A small deterministic generator (splitmix64): the same seed gives the same data everywhere.
#[derive(Clone, Debug)]
pub struct Gen {
    state: u64,
}

/// The range test values are drawn from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Domain {
    /// Floats in [-2, 2), signed ints in [-5, 5], u8 in [0, 10], bool 0/1.
    Any,
    /// Floats in [0.25, 3), ints in [1, 6], bool 1.
    Positive,
    /// Nonzero: floats ±[0.25, 3), signed ints ±[1, 5], u8 [1, 10], bool 1.
    NonZero,
    /// Floats in [0.5, 1.5), signed ints in [-2, 2], u8 [0, 2]: products stay small.
    NearOne,
    /// Floats in [-2, 2), ints in [0, 3] (exponents, class-like values).
    SmallNonNeg,
    /// Floats in [lo, hi) (ints: the integers of that range).
    Range(f64, f64),
}

impl Gen {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Gen {
        Gen { state: seed }
    }

    /// A generator seeded from a label (op name, dtype, case).
    pub fn for_label(label: &str) -> Gen {
        let mut h: u64 = 0xCBF2_9CE4_8422_2325;
        for b in label.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01B3);
        }
        Gen::new(h)
    }

    /// Next raw 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [lo, hi] (inclusive).
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    /// One value of `dtype` from `domain`.
    pub fn value(&mut self, dtype: DType, domain: Domain) -> f64 {
        let float = dtype.is_float();
        let unsigned = dtype == DType::U8;
        let v = match (domain, dtype) {
            (_, DType::Bool) => match domain {
                Domain::Positive | Domain::NonZero => 1.0,
                _ => self.int(0, 1) as f64,
            },
            (Domain::Any, _) if float => self.uniform(-2.0, 2.0),
            (Domain::Any, _) if unsigned => self.int(0, 10) as f64,
            (Domain::Any, _) => self.int(-5, 5) as f64,
            (Domain::Positive, _) if float => self.uniform(0.25, 3.0),
            (Domain::Positive, _) => self.int(1, 6) as f64,
            (Domain::NonZero, _) if float => {
                let m = self.uniform(0.25, 3.0);
                if self.int(0, 1) == 0 {
                    m
                } else {
                    -m
                }
            }
            (Domain::NonZero, _) if unsigned => self.int(1, 10) as f64,
            (Domain::NonZero, _) => {
                let m = self.int(1, 5) as f64;
                if self.int(0, 1) == 0 {
                    m
                } else {
                    -m
                }
            }
            (Domain::NearOne, _) if float => self.uniform(0.5, 1.5),
            (Domain::NearOne, _) if unsigned => self.int(0, 2) as f64,
            (Domain::NearOne, _) => self.int(-2, 2) as f64,
            (Domain::SmallNonNeg, _) if float => self.uniform(-2.0, 2.0),
            (Domain::SmallNonNeg, _) => self.int(0, 3) as f64,
            (Domain::Range(lo, hi), _) if float => self.uniform(lo, hi),
            (Domain::Range(lo, hi), _) => self.int(lo.ceil() as i64, hi.floor() as i64) as f64,
        };
        crate::testing::reference::round_to(v, dtype)
    }

    /// A tensor of `shape` with values of `dtype` from `domain` (exactly representable).
    pub fn tensor(&mut self, shape: &[usize], dtype: DType, domain: Domain) -> RefTensor {
        RefTensor::from_fn(shape, |_| self.value(dtype, domain))
    }
}

/// How an input's memory is laid out on the device.
#[derive(Clone, Debug, PartialEq)]
pub enum InputLayout {
    /// Row-major.
    Contiguous,
    /// Stored transposed (last two dims swapped) and viewed back with `transpose(-1, -2)`.
    Transposed,
    /// Every other element of a larger buffer along the last dim, starting at offset 1
    /// (`slice(-1, 1, .., 2)`): inner stride 2 and a nonzero offset.
    Strided,
    /// A smaller source (this tensor) broadcast with `expand` (stride-0 dims).
    Expanded(RefTensor),
}

/// A test input: its exact logical values, its dtype and its device layout.
#[derive(Clone, Debug)]
pub struct Input {
    /// Logical values (already rounded to `dtype`).
    pub value: RefTensor,
    /// Element type.
    pub dtype: DType,
    /// Memory layout on the device.
    pub layout: InputLayout,
}

/// Value stored in the skipped positions of strided inputs; never read by a correct kernel.
const FILLER: f64 = 97.0;

impl Input {
    /// A contiguous input (values rounded to `dtype`).
    pub fn new(value: RefTensor, dtype: DType) -> Input {
        Input {
            value: value.round_to(dtype),
            dtype,
            layout: InputLayout::Contiguous,
        }
    }

    /// The same values, stored transposed (needs rank ≥ 2; lower ranks stay contiguous).
    pub fn transposed(mut self) -> Input {
        if self.value.rank() >= 2 {
            self.layout = InputLayout::Transposed;
        }
        self
    }

    /// The same values, read with inner stride 2 and an offset (rank ≥ 1).
    pub fn strided(mut self) -> Input {
        if self.value.rank() >= 1 {
            self.layout = InputLayout::Strided;
        }
        self
    }

    /// `src` broadcast to `shape` by `expand`.
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] when `src` does not broadcast to `shape`.
    pub fn expanded(src: RefTensor, shape: &[usize], dtype: DType) -> Result<Input> {
        let src = src.round_to(dtype);
        Ok(Input {
            value: src.broadcast_to(shape)?,
            dtype,
            layout: InputLayout::Expanded(src),
        })
    }

    /// The same input with another dtype (values re-rounded).
    pub fn with_dtype(&self, dtype: DType) -> Input {
        let layout = match &self.layout {
            InputLayout::Expanded(s) => InputLayout::Expanded(s.round_to(dtype)),
            l => l.clone(),
        };
        Input {
            value: self.value.round_to(dtype),
            dtype,
            layout,
        }
    }

    /// Short description (`f32[3, 4] transposed`).
    pub fn describe(&self) -> String {
        let l = match &self.layout {
            InputLayout::Contiguous => String::new(),
            InputLayout::Transposed => " transposed".into(),
            InputLayout::Strided => " strided".into(),
            InputLayout::Expanded(s) => format!(" expanded from {:?}", s.shape),
        };
        format!("{}{:?}{l}", self.dtype, self.value.shape)
    }

    /// Builds the tensor on `device` with this layout.
    ///
    /// # Errors
    /// Errors of tensor creation and the view ops.
    pub fn build(&self, device: &Device) -> Result<Tensor> {
        let up =
            |v: &RefTensor| Tensor::from_f64_slice(&v.data, v.shape.as_slice(), self.dtype, device);
        match &self.layout {
            InputLayout::Contiguous => up(&self.value),
            InputLayout::Transposed => up(&self.value.transpose_last()?)?.transpose(-1, -2),
            InputLayout::Strided => {
                let r = self.value.rank();
                let n = self.value.shape[r - 1];
                let mut big = self.value.shape.clone();
                big[r - 1] = 2 * n + 1;
                let v = &self.value;
                let host = RefTensor::from_fn(&big, |i| {
                    if i[r - 1] % 2 == 1 {
                        let mut j = i.to_vec();
                        j[r - 1] /= 2;
                        v.data[v.offset(&j)]
                    } else {
                        FILLER
                    }
                });
                up(&host)?.slice(-1, 1, (2 * n + 1) as isize, 2)
            }
            InputLayout::Expanded(src) => up(src)?.broadcast_to(&self.value.shape),
        }
    }
}
