//! What a kernel receives and returns, and the link-time registration record.

use crate::device::Device;
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::Layout;
use crate::op::{OpId, OpParams};
use crate::shape::Shape;
use crate::storage::{DeviceBuffer, Storage};

/// One input of a kernel: its buffer, its layout (already broadcast to the output shape for
/// broadcasting ops, already contiguous when the kernel does not accept strides) and dtype.
pub struct KernelInput<'a> {
    /// The buffer (downcast with `as_any()` to the backend's buffer type).
    pub buffer: &'a dyn DeviceBuffer,
    /// The view of the buffer (borrowed from the tensor; the dispatcher owns broadcast views).
    pub layout: &'a Layout,
    /// Element type.
    pub dtype: DType,
}

/// Everything a kernel needs to run one op.
pub struct KernelArgs<'a> {
    /// The op.
    pub op: OpId,
    /// Inputs in op order.
    pub inputs: &'a [KernelInput<'a>],
    /// Parameters.
    pub params: &'a OpParams,
    /// Shape of the (contiguous) output the kernel must return.
    pub out_shape: &'a Shape,
    /// Output dtype.
    pub out_dtype: DType,
    /// The device everything lives on.
    pub device: Device,
}

/// A kernel: computes the op into a new contiguous buffer of `out_shape` / `out_dtype`.
pub type KernelFn = fn(&KernelArgs<'_>) -> Result<Storage>;

/// What a kernel can handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelCaps {
    /// Accepts arbitrary strided inputs (otherwise the dispatcher makes them contiguous).
    pub strided: bool,
    /// Gives bitwise-identical results run to run.
    pub deterministic: bool,
}

impl KernelCaps {
    /// Strided and deterministic.
    pub const STRIDED: KernelCaps = KernelCaps {
        strided: true,
        deterministic: true,
    };
    /// Contiguous inputs only, deterministic.
    pub const CONTIGUOUS: KernelCaps = KernelCaps {
        strided: false,
        deterministic: true,
    };
}

/// A link-time kernel registration, submitted through [`register_kernel!`](crate::register_kernel).
pub struct KernelReg {
    /// The op.
    pub op: OpId,
    /// Backend name.
    pub backend: &'static str,
    /// Dispatch dtypes this function handles (see Note [Dispatch dtype]).
    pub dtypes: &'static [DType],
    /// The kernel.
    pub kernel: KernelFn,
    /// Capabilities.
    pub caps: KernelCaps,
    /// `file:line` of the registration.
    pub source: &'static str,
}

inventory::collect!(KernelReg);

/// Registers a kernel for (op, backend, each dtype):
///
/// ```ignore
/// register_kernel!(Exp, "cpu", [F32, F64, F16, BF16], unary_kernel);
/// register_kernel!(Copy, "cpu", [F32], copy_kernel, KernelCaps::STRIDED);
/// ```
///
/// Without caps the kernel is assumed to accept strided inputs.
#[macro_export]
macro_rules! register_kernel {
    ($op:ident, $backend:expr, [$($dt:ident),+ $(,)?], $kernel:path) => {
        $crate::register_kernel!($op, $backend, [$($dt),+], $kernel,
            $crate::dispatch::KernelCaps::STRIDED);
    };
    ($op:ident, $backend:expr, [$($dt:ident),+ $(,)?], $kernel:path, $caps:expr) => {
        $crate::inventory::submit! {
            $crate::dispatch::KernelReg {
                op: $crate::op::OpId::$op,
                backend: $backend,
                dtypes: &[$($crate::DType::$dt),+],
                kernel: $kernel,
                caps: $caps,
                source: concat!(file!(), ":", line!()),
            }
        }
    };
}
