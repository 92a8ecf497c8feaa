//! The dispatcher: infer → device check → registry lookup → contiguity → kernel → autograd →
//! event. Everything a backend would otherwise repeat happens here once.

use super::kernel::{KernelArgs, KernelInput};
use super::registry::registry;
use crate::autograd;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::events;
use crate::layout::Layout;
use crate::op::{dispatch_dtype, infer, OpId, OpParams};
use crate::tensor::Tensor;
use smallvec::SmallVec;

/// Runs kernel op `op` on `inputs` (all on one device).
///
/// # Errors
/// Inference errors, [`Error::DeviceMismatch`], [`Error::KernelNotFound`], kernel errors.
#[inline]
pub fn dispatch(op: OpId, inputs: &[&Tensor], params: &OpParams) -> Result<Tensor> {
    let device = match inputs.first() {
        Some(t) => t.device(),
        None => return Err(Error::invalid(op.name(), "needs at least one input tensor")),
    };
    dispatch_on(device, op, inputs, params)
}

/// Like [`dispatch`], for ops that may have no tensor input (`fill`): runs on `device`.
pub fn dispatch_on(
    device: Device,
    op: OpId,
    inputs: &[&Tensor],
    params: &OpParams,
) -> Result<Tensor> {
    if inputs.iter().any(|t| t.device() != device) {
        return Err(Error::DeviceMismatch {
            op: op.name(),
            devices: inputs.iter().map(|t| t.device().to_string()).collect(),
        });
    }
    let infer_in: SmallVec<[(&Layout, crate::DType); 4]> =
        inputs.iter().map(|t| (t.layout(), t.dtype())).collect();
    let (out_shape, out_dtype) = infer(op, &infer_in, params)?;
    let key_dtype = dispatch_dtype(op, &infer_in, params);
    let reg = registry()?;
    let entry = match reg.get(op, device.backend(), key_dtype) {
        Some(e) => *e,
        None => return Err(reg.not_found(op, device.backend(), key_dtype)),
    };
    let broadcast = op.def().broadcast;
    // Keeps contiguous copies alive while the kernel runs.
    let mut owned: SmallVec<[Tensor; 3]> = SmallVec::new();
    if !entry.caps.strided {
        for t in inputs {
            if !t.is_contiguous() || (broadcast && t.shape() != &out_shape) {
                let src = if broadcast {
                    t.expand(&out_shape)?
                } else {
                    (*t).clone()
                };
                owned.push(src.contiguous()?);
            }
        }
    }
    let mut owned_iter = owned.iter();
    let kin: SmallVec<[KernelInput<'_>; 3]> = inputs
        .iter()
        .map(|t| {
            let needs_copy = !entry.caps.strided
                && (!t.is_contiguous() || (broadcast && t.shape() != &out_shape));
            let t: &Tensor = if needs_copy {
                owned_iter.next().unwrap_or(t)
            } else {
                t
            };
            let layout = if broadcast && t.shape() != &out_shape {
                t.layout().broadcast_as(op.name(), &out_shape)?
            } else {
                t.layout().clone()
            };
            Ok(KernelInput {
                buffer: &**t.storage(),
                layout,
                dtype: t.dtype(),
            })
        })
        .collect::<Result<_>>()?;
    let timed = events::tensor_op_listened();
    let start = timed.then(std::time::Instant::now);
    let args = KernelArgs {
        op,
        inputs: &kin,
        params,
        out_shape: &out_shape,
        out_dtype,
        device,
    };
    let storage = (entry.kernel)(&args)?;
    let out = Tensor::from_storage(storage, Layout::contiguous(out_shape), out_dtype, device);
    if let Some(start) = start {
        events::publish_tensor_op(op, device, inputs, &out, start.elapsed());
    }
    Ok(autograd::record(op, params, inputs, out))
}
