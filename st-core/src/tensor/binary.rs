//! Binary ops with NumPy broadcasting and PyTorch type promotion, comparisons, logical ops,
//! `where` and `masked_fill`.

use super::Tensor;
use crate::dispatch::dispatch;
use crate::dtype::DType;
use crate::error::Result;
use crate::op::{check_scalar, OpId, OpParams};

/// Promotes two operands to their common dtype (PyTorch `result_type`), casting as needed.
fn promoted(a: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor)> {
    let dt = DType::result_type(a.dtype(), a.rank() == 0, b.dtype(), b.rank() == 0);
    Ok((a.to_dtype(dt)?, b.to_dtype(dt)?))
}

fn binary(op: OpId, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.dtype() == b.dtype() {
        return dispatch(op, &[a, b], &OpParams::None);
    }
    let (a, b) = promoted(a, b)?;
    dispatch(op, &[&a, &b], &OpParams::None)
}

/// A 0-d tensor for a Python-style scalar operand: the tensor's dtype when the scalar fits its
/// category (float tensor and any number, int tensor and an integral number), else f32.
///
/// # Errors
/// An integral scalar outside the integer dtype's range is an error, as in PyTorch
/// (`int32 + 3e9` does not wrap silently).
pub(super) fn scalar_for(op: OpId, t: &Tensor, v: f64) -> Result<Tensor> {
    let dt = if t.dtype().is_float() || (v.fract() == 0.0 && t.dtype() != DType::Bool) {
        t.dtype()
    } else if v.fract() == 0.0 {
        DType::I64
    } else {
        DType::F32
    };
    check_scalar(op.name(), dt, v)?;
    Tensor::scalar(v, dt, &t.device())
}

macro_rules! binary_ops {
    ($($name:ident, $sname:ident => $op:ident, $doc:literal;)*) => {
        impl Tensor {$(
            #[doc = $doc]
            ///
            /// Broadcasts with NumPy rules and promotes dtypes like PyTorch.
            ///
            /// # Errors
            /// [`crate::Error::ShapeMismatch`] when shapes do not broadcast;
            /// [`crate::Error::DeviceMismatch`] when devices differ.
            pub fn $name(&self, rhs: &Tensor) -> Result<Tensor> {
                binary(OpId::$op, self, rhs)
            }

            #[doc = $doc]
            ///
            /// With a scalar right operand.
            pub fn $sname(&self, rhs: f64) -> Result<Tensor> {
                binary(OpId::$op, self, &scalar_for(OpId::$op, self, rhs)?)
            }
        )*}
    };
}

binary_ops! {
    add, add_scalar => Add, "Elementwise a + b.";
    sub, sub_scalar => Sub, "Elementwise a - b.";
    mul, mul_scalar => Mul, "Elementwise a * b.";
    pow, pow_scalar => Pow, "Elementwise a ** b.";
    maximum, maximum_scalar => Maximum, "Elementwise max(a, b) (NaN propagates).";
    minimum, minimum_scalar => Minimum, "Elementwise min(a, b) (NaN propagates).";
    eq, eq_scalar => Eq, "Elementwise a == b, as bool.";
    ne, ne_scalar => Ne, "Elementwise a != b, as bool.";
    lt, lt_scalar => Lt, "Elementwise a < b, as bool.";
    le, le_scalar => Le, "Elementwise a <= b, as bool.";
    gt, gt_scalar => Gt, "Elementwise a > b, as bool.";
    ge, ge_scalar => Ge, "Elementwise a >= b, as bool.";
}

impl Tensor {
    /// True division a / b (integer inputs are promoted to f32 first, as in PyTorch).
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let a = Tensor::from_vec(vec![1i64, 3], [2], &Device::cpu())?;
    /// assert_eq!(a.div_scalar(2.0)?.to_vec::<f32>()?, vec![0.5, 1.5]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    pub fn div(&self, rhs: &Tensor) -> Result<Tensor> {
        let dt = DType::result_type(self.dtype(), self.rank() == 0, rhs.dtype(), rhs.rank() == 0);
        if dt.is_float() {
            binary(OpId::Div, self, rhs)
        } else {
            binary(
                OpId::Div,
                &self.to_dtype(DType::F32)?,
                &rhs.to_dtype(DType::F32)?,
            )
        }
    }

    /// True division by a scalar.
    pub fn div_scalar(&self, rhs: f64) -> Result<Tensor> {
        self.div(&scalar_for(OpId::Div, self, rhs)?)
    }

    /// Elementwise logical and (nonzero is true); returns bool.
    pub fn logical_and(&self, rhs: &Tensor) -> Result<Tensor> {
        dispatch(
            OpId::LogicalAnd,
            &[&self.to_dtype(DType::Bool)?, &rhs.to_dtype(DType::Bool)?],
            &OpParams::None,
        )
    }

    /// Elementwise logical or (nonzero is true); returns bool.
    pub fn logical_or(&self, rhs: &Tensor) -> Result<Tensor> {
        dispatch(
            OpId::LogicalOr,
            &[&self.to_dtype(DType::Bool)?, &rhs.to_dtype(DType::Bool)?],
            &OpParams::None,
        )
    }

    /// `cond ? a : b` elementwise, with `cond` = `self` (bool). `a` and `b` are promoted.
    ///
    /// # Errors
    /// [`crate::Error::DTypeMismatch`] when the condition is not bool.
    pub fn where_cond(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let (a, b) = promoted(a, b)?;
        dispatch(OpId::Where, &[self, &a, &b], &OpParams::None)
    }

    /// Replaces elements where `mask` (bool, broadcastable to `self`) is true with `value`.
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Result<Tensor> {
        dispatch(OpId::MaskedFill, &[self, mask], &OpParams::Scalar(value))
    }
}

impl std::ops::Add for &Tensor {
    type Output = Result<Tensor>;
    fn add(self, rhs: &Tensor) -> Result<Tensor> {
        Tensor::add(self, rhs)
    }
}

impl std::ops::Sub for &Tensor {
    type Output = Result<Tensor>;
    fn sub(self, rhs: &Tensor) -> Result<Tensor> {
        Tensor::sub(self, rhs)
    }
}

impl std::ops::Mul for &Tensor {
    type Output = Result<Tensor>;
    fn mul(self, rhs: &Tensor) -> Result<Tensor> {
        Tensor::mul(self, rhs)
    }
}

impl std::ops::Div for &Tensor {
    type Output = Result<Tensor>;
    fn div(self, rhs: &Tensor) -> Result<Tensor> {
        Tensor::div(self, rhs)
    }
}
