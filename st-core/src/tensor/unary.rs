//! Elementwise unary ops, clamp and dtype conversion.

use super::Tensor;
use crate::dispatch::dispatch;
use crate::dtype::DType;
use crate::error::Result;
use crate::op::{OpId, OpParams};

macro_rules! unary {
    ($($name:ident => $op:ident, $doc:literal;)*) => {
        impl Tensor {$(
            #[doc = $doc]
            ///
            /// # Errors
            /// [`crate::Error::DTypeMismatch`] for dtypes the op is not defined on;
            /// [`crate::Error::KernelNotFound`] when the backend lacks the kernel.
            pub fn $name(&self) -> Result<Tensor> {
                dispatch(OpId::$op, &[self], &OpParams::None)
            }
        )*}
    };
}

unary! {
    neg => Neg, "Elementwise negation.";
    abs => Abs, "Elementwise absolute value.";
    exp => Exp, "Elementwise e^x.";
    log => Log, "Elementwise natural logarithm.";
    sqrt => Sqrt, "Elementwise square root.";
    rsqrt => Rsqrt, "Elementwise 1/sqrt(x).";
    sin => Sin, "Elementwise sine.";
    cos => Cos, "Elementwise cosine.";
    tanh => Tanh, "Elementwise hyperbolic tangent.";
    sigmoid => Sigmoid, "Elementwise logistic sigmoid 1/(1+e^-x).";
    relu => Relu, "Elementwise max(x, 0).";
    gelu => Gelu, "GELU, exact form x·Φ(x) with the error function.";
    gelu_tanh => GeluTanh, "GELU, tanh approximation (PyTorch `approximate='tanh'`).";
    silu => Silu, "SiLU / swish: x·sigmoid(x).";
    erf => Erf, "Elementwise error function.";
    floor => Floor, "Elementwise floor.";
    ceil => Ceil, "Elementwise ceiling.";
    round => Round, "Round half to even, as PyTorch.";
    sign => Sign, "Elementwise sign (-1, 0, 1).";
    reciprocal => Reciprocal, "Elementwise 1/x.";
    logical_not => LogicalNot, "Elementwise logical not (nonzero is true); returns bool.";
}

impl Tensor {
    /// Clamps into `[min, max]` (either bound optional).
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let t = Tensor::from_vec(vec![-2.0f32, 0.5, 3.0], [3], &Device::cpu())?;
    /// assert_eq!(t.clamp(Some(0.0), Some(1.0))?.to_vec::<f32>()?, vec![0.0, 0.5, 1.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        dispatch(OpId::Clamp, &[self], &OpParams::Clamp { min, max })
    }

    /// Converts to `dtype` (a no-op clone when equal). Float → int truncates toward zero.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        dispatch(OpId::Cast, &[self], &OpParams::Cast(dtype))
    }
}
