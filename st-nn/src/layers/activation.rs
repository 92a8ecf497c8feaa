//! Activation modules: stateless wrappers of the st-core ops.

use crate::module::{Module, Visitor, VisitorMut};
use st_core::{Result, Tensor};

/// Implements `Module` for a layer that owns no tensors.
macro_rules! stateless {
    ($($ty:ty => |$s:ident, $x:ident| $body:expr;)*) => {$(
        impl Module for $ty {
            fn forward(&self, $x: &Tensor) -> Result<Tensor> {
                let $s = self;
                $body
            }
            fn visit(&self, _v: &mut Visitor<'_>) {}
            fn visit_mut(&mut self, _v: &mut VisitorMut<'_>) {}
        }
    )*};
}
pub(crate) use stateless;

/// `max(x, 0)` (`nn.ReLU`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Relu;

/// GELU (`nn.GELU`); `tanh: true` is `approximate='tanh'`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gelu {
    /// Use the tanh approximation.
    pub tanh: bool,
}

/// `x·sigmoid(x)` (`nn.SiLU`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Silu;

/// `tanh(x)` (`nn.Tanh`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tanh;

/// `1 / (1 + e^-x)` (`nn.Sigmoid`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Sigmoid;

/// Softmax along `dim` (`nn.Softmax(dim)`).
#[derive(Clone, Copy, Debug)]
pub struct Softmax {
    /// The dimension that sums to one (negative counts from the end).
    pub dim: isize,
}

/// Log-softmax along `dim` (`nn.LogSoftmax(dim)`).
#[derive(Clone, Copy, Debug)]
pub struct LogSoftmax {
    /// The dimension normalised over (negative counts from the end).
    pub dim: isize,
}

stateless! {
    Relu => |_s, x| x.relu();
    Gelu => |s, x| if s.tanh { x.gelu_tanh() } else { x.gelu() };
    Silu => |_s, x| x.silu();
    Tanh => |_s, x| x.tanh();
    Sigmoid => |_s, x| x.sigmoid();
    Softmax => |s, x| x.softmax(s.dim);
    LogSoftmax => |s, x| x.log_softmax(s.dim);
}
