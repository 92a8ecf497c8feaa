//! The output-buffer path of the dispatcher: runs an op into an existing tensor (`out=` and
//! the in-place ops), through the kernel's output-buffer form when it has one.
//!
//! Note [Writing into a tensor]: the result is checked before anything is written — its shape
//! must equal the destination's, its dtype must cast to the destination's under PyTorch's
//! rules (no float into an integer, no number into bool), and the destination must not have
//! two elements at one address (an expanded view), and its storage must be writable (not a
//! read-only memory map; see Note [External memory] in `cpu/external.rs`). The write then goes
//! one of three ways:
//! - **into**: the kernel has an output-buffer form and the result dtype is the destination's:
//!   the kernel writes the destination's elements directly, allocating nothing. An input that
//!   shares the destination's storage is passed as the output itself when its layout is the
//!   destination's (`a.add_(b)` reads `a` where it writes it), and copied first otherwise
//!   (`a.add_(a.t())` must read the old values);
//! - **cast**: the result has another dtype: computed out of place, then cast into the
//!   destination by the copy kernel's output-buffer form;
//! - **fallback**: the backend has no output-buffer form for the op: computed out of place,
//!   then copied. This allocates the result once; `docs/op-support.md` shows which kernels
//!   have the form.
//!
//! Every successful write bumps the destination storage's version (autograd's check).

use super::dispatcher::dispatch_on;
use super::kernel::{KernelArgs, KernelInput, KernelOut};
use super::registry::registry;
use crate::backend::StorageRead;
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::events;
use crate::layout::Layout;
use crate::op::{dispatch_dtype, infer, OpId, OpParams};
use crate::tensor::Tensor;
use smallvec::SmallVec;

/// Runs `op` on `inputs` and writes the result into `out` (see Note [Writing into a tensor]).
/// Records no autograd history: the tensor layer's in-place ops do that.
///
/// # Errors
/// Inference errors; [`Error::ShapeMismatch`] when the result's shape is not `out`'s;
/// [`Error::DTypeMismatch`] when the result dtype cannot be cast to `out`'s;
/// [`Error::InvalidArgument`] when `out` has overlapping elements or is read-only memory;
/// [`Error::DeviceMismatch`]; kernel errors. Nothing is written when an error is returned
/// before the kernel runs.
pub fn dispatch_into(op: OpId, inputs: &[&Tensor], params: &OpParams, out: &Tensor) -> Result<()> {
    let device = out.device();
    if inputs.iter().any(|t| t.device() != device) {
        return Err(Error::DeviceMismatch {
            op: op.name(),
            devices: inputs
                .iter()
                .map(|t| t.device().to_string())
                .chain([format!("{} (out)", device)])
                .collect(),
        });
    }
    let (out_shape, out_dtype) = infer(op, inputs, params)?;
    check_destination(op.name(), &out_shape, out_dtype, out)?;
    let key_dtype = dispatch_dtype(op, inputs, params);
    let reg = registry()?;
    let Some(entry) = reg.get(op, device.backend(), key_dtype) else {
        return Err(reg.not_found(op, device.backend(), key_dtype));
    };
    let timed = events::tensor_op_listened();
    let start = timed.then(std::time::Instant::now);
    match entry.into {
        Some(into) if out_dtype == out.dtype() => {
            if out.numel() != 0 {
                run_into(into, entry.caps.strided, op, inputs, params, out, device)?;
            }
        }
        _ => {
            // Cast or fallback: compute out of place, then copy (cast) into `out`.
            let tmp = dispatch_on(device, op, inputs, params)?;
            copy_into(&tmp, out)?;
        }
    }
    out.storage().bump_version();
    if let Some(start) = start {
        super::events::publish_tensor_op(op, device, inputs, out, start.elapsed());
    }
    Ok(())
}

/// Copies (casting) `src` into `dst` of the same shape, through the copy kernel's
/// output-buffer form.
///
/// # Errors
/// As [`dispatch_into`]; [`Error::KernelNotFound`] when the backend has no output-buffer
/// copy.
pub(crate) fn copy_into(src: &Tensor, dst: &Tensor) -> Result<()> {
    let params = OpParams::Cast(dst.dtype());
    let (out_shape, out_dtype) = infer(OpId::Cast, &[src], &params)?;
    check_destination("copy_", &out_shape, out_dtype, dst)?;
    let device = dst.device();
    if src.device() != device {
        return copy_into(&src.to(&device)?, dst);
    }
    let reg = registry()?;
    let key = dispatch_dtype(OpId::Cast, &[src], &params);
    // A copy between equal dtypes may use the copy kernel's form (a backend may lack casts of
    // a dtype it can move, such as wgpu's i64).
    let copy = (src.dtype() == dst.dtype())
        .then(|| {
            reg.get(OpId::Copy, device.backend(), key)
                .and_then(|e| e.into)
        })
        .flatten();
    let (op, params, into) = match copy {
        Some(into) => (OpId::Copy, OpParams::None, into),
        None => {
            let into = reg
                .get(OpId::Cast, device.backend(), key)
                .and_then(|e| e.into)
                .ok_or_else(|| Error::KernelNotFound {
                    op: "copy_ (output-buffer form of cast)",
                    backend: device.backend().name().to_string(),
                    dtype: key,
                    available: "none".into(),
                })?;
            (OpId::Cast, params, into)
        }
    };
    if dst.numel() == 0 {
        return Ok(());
    }
    run_into(into, true, op, &[src], &params, dst, device)
}

/// Ops whose kernels read input element `i` only to write output element `i`, so an input may
/// be the output buffer itself (see [`KernelIntoFn`](super::kernel::KernelIntoFn)).
fn elementwise(op: OpId) -> bool {
    matches!(
        op.def().family,
        "unary" | "binary" | "compare" | "ternary" | "copy"
    ) && op != OpId::Fill
}

/// The checks of Note [Writing into a tensor] on the destination.
fn check_destination(
    op: &'static str,
    shape: &crate::Shape,
    dtype: DType,
    out: &Tensor,
) -> Result<()> {
    if shape != out.shape() {
        return Err(Error::ShapeMismatch {
            op,
            lhs: Box::new(shape.clone()),
            rhs: Box::new(out.shape().clone()),
            detail: format!(
                ": the result (left) must have the shape of the tensor written into (right, {} \
                 on {})",
                out.dtype(),
                out.device()
            ),
        });
    }
    if !DType::can_cast(dtype, out.dtype()) {
        return Err(Error::DTypeMismatch {
            op,
            got: vec![dtype, out.dtype()],
            reason: format!(
                "result type {dtype} can't be cast to the desired output type {}",
                out.dtype()
            ),
        });
    }
    if !out.storage().is_writable() {
        return Err(Error::invalid(
            op,
            format!(
                "the tensor written into ({} of shape {} on {}) is read-only memory (a \
                 memory-mapped file or other read-only external memory); write into a copy \
                 (.copy()) instead",
                out.dtype(),
                out.shape(),
                out.device()
            ),
        ));
    }
    if !out.layout().is_non_overlapping() {
        return Err(Error::invalid(
            op,
            format!(
                "unsupported operation: more than one element of the written-to tensor (shape \
                 {}, strides {:?}) refers to a single memory location; call .contiguous() first",
                out.shape(),
                out.strides()
            ),
        ));
    }
    Ok(())
}

/// Runs an output-buffer kernel: prepares the inputs (broadcast layouts, contiguous copies for
/// kernels without strides, copies of inputs that overlap `out` in another layout), takes the
/// locks in address order and calls it.
fn run_into(
    into: super::kernel::KernelIntoFn,
    strided: bool,
    op: OpId,
    inputs: &[&Tensor],
    params: &OpParams,
    out: &Tensor,
    device: Device,
) -> Result<()> {
    let out_shape = out.shape();
    let broadcast = op.def().broadcast;
    // Inputs as the kernel will read them; `None` marks "this input is `out` itself".
    let mut srcs: SmallVec<[Option<(Tensor, Layout)>; 4]> = SmallVec::new();
    for t in inputs {
        let reshaped = broadcast && t.shape() != out_shape;
        let mut src = (*t).clone();
        if !strided && (reshaped || !src.is_contiguous()) {
            src = if reshaped {
                src.expand(out_shape)?
            } else {
                src
            }
            .contiguous()?;
        }
        let layout = if broadcast && src.shape() != out_shape {
            src.layout().broadcast_as(op.name(), out_shape)?
        } else {
            src.layout().clone()
        };
        if src.same_storage(out) {
            if elementwise(op) && src.dtype() == out.dtype() && &layout == out.layout() {
                srcs.push(None);
                continue;
            }
            // Another view of the memory being written: read a copy of the old values.
            src = src.copy()?;
            let layout = if broadcast && src.shape() != out_shape {
                src.layout().broadcast_as(op.name(), out_shape)?
            } else {
                src.layout().clone()
            };
            srcs.push(Some((src, layout)));
            continue;
        }
        srcs.push(Some((src, layout)));
    }
    // Locks in address order: the write lock of `out`, read locks of the other storages.
    let mut order: SmallVec<[(usize, usize); 5]> = srcs
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_ref().map(|(t, _)| (t.storage().addr(), i)))
        .collect();
    order.push((out.storage().addr(), usize::MAX));
    order.sort_unstable();
    let mut reads: SmallVec<[Option<StorageRead<'_>>; 4]> = srcs.iter().map(|_| None).collect();
    let mut write = None;
    for (_, i) in order {
        if i == usize::MAX {
            write = Some(out.storage().write());
        } else if let Some((t, _)) = &srcs[i] {
            reads[i] = Some(t.storage().read());
        }
    }
    let mut write = write.ok_or_else(|| Error::Internal("output lock not taken".into()))?;
    let kin: SmallVec<[KernelInput<'_>; 4]> = srcs
        .iter()
        .zip(&reads)
        .zip(inputs)
        .map(|((s, g), t)| match (s, g) {
            (Some((src, layout)), Some(g)) => KernelInput::new(&**g, layout, src.dtype()),
            _ => KernelInput {
                buffer: None,
                layout: out.layout(),
                dtype: t.dtype(),
            },
        })
        .collect();
    let args = KernelArgs {
        op,
        inputs: &kin,
        params,
        out_shape,
        out_dtype: out.dtype(),
        device,
    };
    let mut kout = KernelOut {
        buffer: &mut *write,
        layout: out.layout(),
    };
    into(&args, &mut kout)
}
