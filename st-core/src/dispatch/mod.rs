//! Kernel registration (`register_kernel!`), the registry table and the dispatcher.

pub(crate) mod custom;
pub mod custom_op;
mod dispatcher;
mod events;
pub(crate) mod fused;
mod into;
mod kernel;
mod registry;

pub use custom::{call_op, custom_ops, intern, register_op, unregister_op, CustomOpTable};
pub use dispatcher::{dispatch, dispatch_on};
pub use fused::{composite_only, register_fused, unregister_fused, FusedKernelFn};
pub(crate) use into::copy_into;
pub use into::dispatch_into;
pub use kernel::{
    KernelArgs, KernelCaps, KernelFn, KernelInput, KernelIntoFn, KernelOut, KernelReg,
};
pub use registry::{registry, Coverage, Registry};
