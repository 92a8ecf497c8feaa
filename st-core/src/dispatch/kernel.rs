//! What a kernel receives and returns, and the link-time registration record.

use crate::backend::{DeviceBuffer, Storage};
use crate::device::Device;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::{OpId, OpParams};
use crate::shape::Shape;

/// One input of a kernel: its buffer, its layout (already broadcast to the output shape for
/// broadcasting ops, already contiguous when the kernel does not accept strides) and dtype.
pub struct KernelInput<'a> {
    /// The buffer (downcast with `as_any()` to the backend's buffer type), or `None` for an
    /// input of an output-buffer kernel that *is* the output: its elements are read from
    /// [`KernelOut::buffer`], and its layout equals [`KernelOut::layout`] (see
    /// [`KernelIntoFn`]).
    pub buffer: Option<&'a dyn DeviceBuffer>,
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

impl<'a> KernelInput<'a> {
    /// An input read from `buffer` with `layout`.
    #[inline(always)]
    pub fn new(buffer: &'a dyn DeviceBuffer, layout: &'a Layout, dtype: DType) -> Self {
        KernelInput {
            buffer: Some(buffer),
            layout,
            dtype,
        }
    }

    /// The input's own buffer.
    ///
    /// # Errors
    /// [`Error::Internal`] for an input that is the output buffer (only output-buffer kernels
    /// get those, and they read it from [`KernelOut`]).
    #[inline(always)]
    pub fn buffer(&self) -> Result<&'a dyn DeviceBuffer> {
        self.buffer.ok_or_else(|| {
            Error::Internal("kernel read an input that is its output buffer as an input".into())
        })
    }

    /// True when this input is the output buffer of an output-buffer kernel.
    #[inline(always)]
    pub fn is_output(&self) -> bool {
        self.buffer.is_none()
    }

    /// The whole buffer as elements of `T` (index it with [`KernelInput::layout`]), for
    /// kernels built outside the backend's crate: works for buffers in host memory (the CPU
    /// backend's) through [`DeviceBuffer::host_bytes`], also across plugin libraries.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `T` is not the input's dtype, the memory is not host
    /// memory or is misaligned for `T`; [`Error::Internal`] for the output buffer itself.
    pub fn host_slice<T: Element>(&self) -> Result<&'a [T]> {
        let bytes = self
            .buffer()?
            .host_bytes()
            .ok_or_else(|| not_host("host_slice"))?;
        typed(bytes, self.dtype)
    }
}

impl KernelOut<'_> {
    /// The whole output buffer as elements of `T` (`T` must be the op's output dtype; write
    /// the elements [`KernelOut::layout`] addresses). See [`KernelInput::host_slice`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the memory is not writable host memory or is
    /// misaligned for `T`.
    pub fn host_slice_mut<T: Element>(&mut self) -> Result<&mut [T]> {
        let bytes = self
            .buffer
            .host_bytes_mut()
            .ok_or_else(|| not_host("host_slice_mut"))?;
        let n = bytes.len() / std::mem::size_of::<T>() * std::mem::size_of::<T>();
        bytemuck::try_cast_slice_mut(&mut bytes[..n])
            .map_err(|e| Error::invalid("host_slice_mut", format!("{} memory: {e}", T::DTYPE)))
    }
}

fn not_host(what: &'static str) -> Error {
    Error::invalid(what, "the buffer is not (writable) host memory")
}

fn typed<T: Element>(bytes: &[u8], dtype: DType) -> Result<&[T]> {
    if T::DTYPE != dtype {
        return Err(Error::invalid(
            "host_slice",
            format!("a {dtype} buffer read as {}", T::DTYPE),
        ));
    }
    let n = bytes.len() / std::mem::size_of::<T>() * std::mem::size_of::<T>();
    bytemuck::try_cast_slice(&bytes[..n])
        .map_err(|e| Error::invalid("host_slice", format!("{dtype} memory: {e}")))
}

/// Where an output-buffer kernel writes: a view of an existing buffer.
pub struct KernelOut<'a> {
    /// The buffer, held exclusively for the kernel.
    pub buffer: &'a mut dyn DeviceBuffer,
    /// The view to write: shape [`KernelArgs::out_shape`], dtype [`KernelArgs::out_dtype`], any
    /// strides, offset and order, but no two elements at one address; it lies inside the buffer.
    pub layout: &'a Layout,
}

/// A kernel: computes the op into a new contiguous buffer of `out_shape` / `out_dtype`.
pub type KernelFn = fn(&KernelArgs<'_>) -> Result<Storage>;

/// The output-buffer form of a kernel (`out=` and in-place ops): computes the op into
/// [`KernelOut`] and allocates nothing for the result.
///
/// Contract: an input whose [`KernelInput::buffer`] is `None` is the output buffer itself, with
/// exactly the output's layout (the dispatcher copies any other input that shares the output's
/// buffer first). Element `i` of such an input must be read before element `i` of the output
/// is written, and no other element of it after that — which an elementwise loop does by
/// construction. Kernels that are not elementwise (matmul) are never given such inputs.
/// Nothing is written when the kernel returns an error before its first write.
pub type KernelIntoFn = fn(&KernelArgs<'_>, &mut KernelOut<'_>) -> Result<()>;

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
    /// Its output-buffer form, when it has one.
    pub into: Option<KernelIntoFn>,
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
/// Without caps the kernel is assumed to accept strided inputs. A trailing `into = f` names the
/// kernel's output-buffer form ([`KernelIntoFn`](crate::dispatch::KernelIntoFn)):
///
/// ```ignore
/// register_kernel!(Add, "cpu", [F32], binary, into = binary_into);
/// ```
#[macro_export]
macro_rules! register_kernel {
    ($op:ident, $backend:expr, [$($dt:ident),+ $(,)?], $kernel:path) => {
        $crate::register_kernel!(@reg $op, $backend, [$($dt),+], $kernel,
            $crate::dispatch::KernelCaps::STRIDED, None);
    };
    ($op:ident, $backend:expr, [$($dt:ident),+ $(,)?], $kernel:path, into = $into:path) => {
        $crate::register_kernel!(@reg $op, $backend, [$($dt),+], $kernel,
            $crate::dispatch::KernelCaps::STRIDED, Some($into));
    };
    ($op:ident, $backend:expr, [$($dt:ident),+ $(,)?], $kernel:path, $caps:expr) => {
        $crate::register_kernel!(@reg $op, $backend, [$($dt),+], $kernel, $caps, None);
    };
    ($op:ident, $backend:expr, [$($dt:ident),+ $(,)?], $kernel:path, $caps:expr,
     into = $into:path) => {
        $crate::register_kernel!(@reg $op, $backend, [$($dt),+], $kernel, $caps, Some($into));
    };
    (@reg $op:ident, $backend:expr, [$($dt:ident),+], $kernel:path, $caps:expr,
     $into:expr) => {
        $crate::inventory::submit! {
            $crate::dispatch::KernelReg {
                op: $crate::op::OpId::$op,
                backend: $backend,
                dtypes: &[$($crate::DType::$dt),+],
                kernel: $kernel,
                into: $into,
                caps: $caps,
                source: concat!(file!(), ":", line!()),
            }
        }
    };
}
