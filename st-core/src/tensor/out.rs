//! `out=` variants (PyTorch's `torch.add(a, b, out=c)`): the result is written into a given
//! tensor, through the kernel's output-buffer form where the backend has one (Note [Writing
//! into a tensor] in `dispatch/into.rs`). As in PyTorch they take no part in autograd.

use super::Tensor;
use crate::autograd::is_grad_enabled;
use crate::dispatch::dispatch_into;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{OpId, OpParams};

/// Runs `op` into `out`; an input that requires grad under grad mode is an error, as PyTorch's
/// "functions with out=... arguments don't support automatic differentiation".
fn into(op: OpId, name: &'static str, inputs: &[&Tensor], out: &Tensor) -> Result<()> {
    if is_grad_enabled() && inputs.iter().chain([&out]).any(|t| t.requires_grad()) {
        return Err(Error::Autograd(format!(
            "{name}: functions with out= arguments don't support automatic differentiation, \
             but an argument requires grad; call it under no_grad()"
        )));
    }
    dispatch_into(op, inputs, &OpParams::None, out)
}

macro_rules! binary_out {
    ($($name:ident => $op:ident, $doc:literal;)*) => {
        impl Tensor {$(
            #[doc = $doc]
            ///
            /// Written into `out` (shape of the broadcast result; its dtype must hold the
            /// result type). Operands are promoted as in the out-of-place op.
            ///
            /// # Errors
            /// [`Error::ShapeMismatch`] when `out` does not have the result's shape;
            /// [`Error::DTypeMismatch`] when the result cannot be cast to `out`'s dtype;
            /// [`Error::Autograd`] when an argument requires grad under grad mode.
            pub fn $name(&self, other: &Tensor, out: &Tensor) -> Result<()> {
                let dt = DType::result_type(
                    self.dtype(), self.rank() == 0, other.dtype(), other.rank() == 0);
                let (a, b) = (self.to_dtype(dt)?, other.to_dtype(dt)?);
                into(OpId::$op, stringify!($name), &[&a, &b], out)
            }
        )*}
    };
}

binary_out! {
    add_out => Add, "`out = self + other`.";
    sub_out => Sub, "`out = self - other`.";
    mul_out => Mul, "`out = self * other`.";
    pow_out => Pow, "`out = self ** other`.";
    maximum_out => Maximum, "`out = max(self, other)`.";
    minimum_out => Minimum, "`out = min(self, other)`.";
}

macro_rules! unary_out {
    ($($name:ident => $op:ident;)*) => {
        impl Tensor {$(
            #[doc = concat!("`", stringify!($op), "` of `self`, written into `out` (same shape).")]
            ///
            /// # Errors
            /// As the out-of-place op; [`Error::ShapeMismatch`] / [`Error::DTypeMismatch`]
            /// for an `out` that cannot hold the result; [`Error::Autograd`] when an argument
            /// requires grad under grad mode.
            pub fn $name(&self, out: &Tensor) -> Result<()> {
                into(OpId::$op, stringify!($name), &[self], out)
            }
        )*}
    };
}

unary_out! {
    neg_out => Neg;
    abs_out => Abs;
    exp_out => Exp;
    log_out => Log;
    sqrt_out => Sqrt;
    rsqrt_out => Rsqrt;
    sin_out => Sin;
    cos_out => Cos;
    tanh_out => Tanh;
    sigmoid_out => Sigmoid;
    relu_out => Relu;
    gelu_out => Gelu;
    silu_out => Silu;
    reciprocal_out => Reciprocal;
}

impl Tensor {
    /// `out = self / other` (true division: integer operands are promoted to f32).
    ///
    /// # Errors
    /// As [`Tensor::add_out`].
    pub fn div_out(&self, other: &Tensor, out: &Tensor) -> Result<()> {
        let dt = DType::result_type(
            self.dtype(),
            self.rank() == 0,
            other.dtype(),
            other.rank() == 0,
        );
        let dt = if dt.is_float() { dt } else { DType::F32 };
        let (a, b) = (self.to_dtype(dt)?, other.to_dtype(dt)?);
        into(OpId::Div, "div_out", &[&a, &b], out)
    }

    /// `out = self @ other` (PyTorch's `torch.matmul(a, b, out=c)`); a contiguous `out` is
    /// written directly, a strided one through a temporary.
    ///
    /// # Errors
    /// As [`Tensor::matmul`]; as [`Tensor::add_out`] for `out`.
    pub fn matmul_out(&self, other: &Tensor, out: &Tensor) -> Result<()> {
        into(OpId::Matmul, "matmul_out", &[self, other], out)
    }
}
