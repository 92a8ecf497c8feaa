//! Kernel registration (`register_kernel!`), the registry table and the dispatcher.

mod dispatcher;
mod kernel;
mod registry;

pub use dispatcher::{dispatch, dispatch_on};
pub use kernel::{KernelArgs, KernelCaps, KernelFn, KernelInput, KernelReg};
pub use registry::{registry, Coverage, Registry};
