//! The user-facing [`Tensor`] API, one file per op family.

mod binary;
mod create;
mod external;
mod handle;
mod index;
mod index_put;
mod inplace;
mod mmap;
mod movement;
#[cfg(feature = "ndarray")]
mod ndarray;
mod nn;
mod out;
mod reduce;
mod slicing;
mod unary;

#[cfg(feature = "ndarray")]
pub use self::ndarray::ArrayViewGuard;
pub use create::{default_device, manual_seed, set_default_device, Generator};
pub use external::TensorBytes;
pub use handle::Tensor;
pub(crate) use handle::TensorImpl;
pub use mmap::MappedFile;
pub use slicing::SliceIndex;
