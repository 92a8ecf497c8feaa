//! The user-facing [`Tensor`] API, one file per op family.

mod binary;
mod create;
mod handle;
mod index;
mod inplace;
mod movement;
mod nn;
mod out;
mod reduce;
mod unary;

pub use create::{manual_seed, Generator};
pub use handle::Tensor;
pub(crate) use handle::TensorImpl;
