//! The user-facing [`Tensor`] API, one file per op family.

mod binary;
mod create;
mod handle;
mod index;
mod index_put;
mod inplace;
mod movement;
mod nn;
mod out;
mod reduce;
mod slicing;
mod unary;

pub use create::{manual_seed, Generator};
pub use handle::Tensor;
pub(crate) use handle::TensorImpl;
pub use slicing::SliceIndex;
