//! The dispatcher's `TensorOp` events: published only when someone listens
//! ([`events::tensor_op_listened`](crate::events)), from the op's inputs and output.

use crate::device::Device;
use crate::dtype::DType;
use crate::events::{global_event_bus, PluginEvent};
use crate::op::OpId;
use crate::tensor::Tensor;
use std::time::Duration;

/// Publishes the `TensorOp` event of a built-in op.
#[cold]
#[inline(never)]
pub(crate) fn publish_tensor_op(
    op: OpId,
    device: Device,
    inputs: &[&Tensor],
    out: &Tensor,
    elapsed: Duration,
) {
    let event = PluginEvent::TensorOp {
        op: op.name(),
        backend: device.backend().name(),
        dtype: inputs
            .first()
            .map(|t| t.dtype())
            .unwrap_or(out.dtype())
            .as_str(),
        input_shapes: inputs.iter().map(|t| t.dims().to_vec()).collect(),
        output_shape: out.dims().to_vec(),
        duration_ns: elapsed.as_nanos() as u64,
    };
    global_event_bus().publish(&event);
}

/// Publishes the `TensorOp` event of a custom or fused op.
pub(crate) fn publish(
    op: &'static str,
    dtype: DType,
    device: Device,
    inputs: &[Tensor],
    out: &Tensor,
    elapsed: Duration,
) {
    let event = PluginEvent::TensorOp {
        op,
        backend: device.backend().name(),
        dtype: dtype.as_str(),
        input_shapes: inputs.iter().map(|t| t.dims().to_vec()).collect(),
        output_shape: out.dims().to_vec(),
        duration_ns: elapsed.as_nanos() as u64,
    };
    global_event_bus().publish(&event);
}
