//! Kernel registration (`register_kernel!`), the registry table and the dispatcher.

mod dispatcher;
mod into;
mod kernel;
mod registry;

pub use dispatcher::{dispatch, dispatch_on};
pub(crate) use into::copy_into;
pub use into::dispatch_into;
pub use kernel::{
    KernelArgs, KernelCaps, KernelFn, KernelInput, KernelIntoFn, KernelOut, KernelReg,
};
pub use registry::{registry, Coverage, Registry};
