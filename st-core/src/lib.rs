//! # st-core
//!
//! The SpiralTorch tensor core: N-d strided [`Tensor`]s over eight dtypes, one closed op list
//! ([`OpId`]), a kernel registry keyed by (op, backend, dtype) that backends fill at link time
//! with [`register_kernel!`], reverse-mode autograd, the plugin system and event bus, and the
//! CPU backend.
//!
//! ```
//! use st_core::{Tensor, Device, DType};
//! let x = Tensor::randn([2, 3], DType::F32, &Device::cpu())?.requires_grad_()?;
//! let y = x.mul(&x)?.sum_all()?;
//! y.backward()?;
//! assert_eq!(x.grad().unwrap().dims(), &[2, 3]);
//! # Ok::<(), st_core::Error>(())
//! ```

#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod alloc;
pub mod autograd;
pub mod backend;
pub mod cpu;
pub mod device;
pub mod dispatch;
pub mod dtype;
pub mod error;
pub mod events;
pub mod layout;
pub mod op;
pub mod plugin;
pub mod shape;
pub mod shape_check;
pub mod tensor;
#[cfg(feature = "testing")]
pub mod testing;

pub use autograd::{is_grad_enabled, no_grad};
pub use device::{BackendId, Device};
pub use dispatch::custom_op::{Attr, Attrs, CustomOp};
pub use dispatch::{call_op, register_op};
pub use dtype::{DType, Element};
pub use error::{Error, Result};
pub use layout::Layout;
pub use op::{Conv2dParams, OpId, WindowParams};
pub use shape::Shape;
pub use tensor::{
    default_device, manual_seed, set_default_device, Generator, MappedFile, SliceIndex, Tensor,
    TensorBytes,
};

#[doc(hidden)]
pub use half;
#[doc(hidden)]
pub use inventory;
// `conformance_suite!` builds flat test names with it, so backend test crates need no direct
// dependency on paste.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub use paste;

/// Call from a binary that must keep st-core's CPU kernels linked (they always are when any
/// st-core item is used; this exists for symmetry with the backend crates).
pub fn link() {}
