//! The dispatcher: infer → device check → registry lookup → contiguity → kernel → autograd →
//! event. Everything a backend would otherwise repeat happens here once.
//!
//! The common case (inputs already in the shape and layout the kernel takes) borrows every
//! input's layout: no copies, no allocations besides the output. Broadcasting or
//! contiguity fix-ups take a second path that owns the adjusted views.

use super::kernel::{KernelArgs, KernelInput};
use super::registry::{registry, Entry};
use crate::autograd;
use crate::backend::{backend, Storage, StorageRead};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::events;
use crate::layout::Layout;
use crate::op::{dispatch_dtype, infer, OpId, OpParams};
use crate::shape::Shape;
use crate::tensor::Tensor;
use crate::DType;
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
///
/// # Errors
/// As [`dispatch`].
pub fn dispatch_on(
    device: Device,
    op: OpId,
    inputs: &[&Tensor],
    params: &OpParams,
) -> Result<Tensor> {
    if inputs.iter().any(|t| t.device() != device) {
        return Err(device_mismatch(op, inputs));
    }
    let (out_shape, out_dtype) = infer(op, inputs, params)?;
    out_shape.valid_numel(op.name())?;
    let key_dtype = dispatch_dtype(op, inputs, params);
    let reg = registry()?;
    let Some(entry) = reg.get(op, device.backend(), key_dtype) else {
        return Err(reg.not_found(op, device.backend(), key_dtype));
    };
    let broadcast = op.def().broadcast;
    let strided = entry.caps.strided;
    let direct = inputs
        .iter()
        .all(|t| !(broadcast && t.shape() != &out_shape) && (strided || t.is_contiguous()));
    let timed = events::tensor_op_listened();
    let start = timed.then(std::time::Instant::now);
    let out = if direct {
        // Fixed-size arrays for the usual arities: collecting into a SmallVec costs more
        // than a small op's kernel. Read locks are taken in address order (Note [Storage
        // locking]) and released before the event is published.
        let run =
            |kin: &[KernelInput<'_>]| run(entry, op, kin, params, &out_shape, out_dtype, device);
        let storage = match inputs {
            [a] => {
                let ga = a.storage().read();
                run(&[ki(a, &ga)])?
            }
            [a, b] => {
                let (ga, gb) = read2(a.storage(), b.storage());
                run(&[ki(a, &ga), ki(b, &gb)])?
            }
            _ => {
                let guards = read_all(inputs);
                let kin: SmallVec<[KernelInput<'_>; 4]> =
                    inputs.iter().zip(&guards).map(|(t, g)| ki(t, g)).collect();
                run(&kin)?
            }
        };
        Tensor::wrap(storage, Layout::contiguous(out_shape), out_dtype, device)
    } else {
        run_adjusted(entry, op, inputs, params, out_shape, out_dtype, device)?
    };
    if let Some(start) = start {
        super::events::publish_tensor_op(op, device, inputs, &out, start.elapsed());
    }
    Ok(autograd::record(op, params, inputs, out))
}

/// The kernel's view of an input tensor, read through `guard` (a read lock of its storage).
#[inline(always)]
fn ki<'a>(t: &'a Tensor, guard: &'a StorageRead<'_>) -> KernelInput<'a> {
    KernelInput::new(&**guard, t.layout(), t.dtype())
}

/// Read locks of two storages, taken in address order.
#[inline(always)]
pub(crate) fn read2<'a>(a: &'a Storage, b: &'a Storage) -> (StorageRead<'a>, StorageRead<'a>) {
    if a.addr() <= b.addr() {
        let ga = a.read();
        (ga, b.read())
    } else {
        let gb = b.read();
        (a.read(), gb)
    }
}

/// Read locks of every input's storage, taken in address order, returned in input order.
pub(crate) fn read_all<'a>(inputs: &[&'a Tensor]) -> SmallVec<[StorageRead<'a>; 4]> {
    let mut order: SmallVec<[usize; 4]> = (0..inputs.len()).collect();
    order.sort_by_key(|&i| inputs[i].storage().addr());
    let mut taken: SmallVec<[Option<StorageRead<'a>>; 4]> =
        (0..inputs.len()).map(|_| None).collect();
    for i in order {
        taken[i] = Some(inputs[i].storage().read());
    }
    taken.into_iter().flatten().collect()
}

#[cold]
fn device_mismatch(op: OpId, inputs: &[&Tensor]) -> Error {
    Error::DeviceMismatch {
        op: op.name(),
        devices: inputs.iter().map(|t| t.device().to_string()).collect(),
    }
}

/// The path for inputs that need broadcasting or (for kernels without strided support) a
/// contiguous copy first: owns the copies and the broadcast layouts while the kernel runs.
#[cold]
#[inline(never)]
fn run_adjusted(
    entry: &Entry,
    op: OpId,
    inputs: &[&Tensor],
    params: &OpParams,
    out_shape: Shape,
    out_dtype: DType,
    device: Device,
) -> Result<Tensor> {
    let broadcast = op.def().broadcast;
    let mut srcs: SmallVec<[Tensor; 4]> = SmallVec::with_capacity(inputs.len());
    for t in inputs {
        let reshaped = broadcast && t.shape() != &out_shape;
        srcs.push(if !entry.caps.strided && (reshaped || !t.is_contiguous()) {
            let src = if reshaped {
                t.expand(&out_shape)?
            } else {
                (*t).clone()
            };
            src.contiguous()?
        } else {
            (*t).clone()
        });
    }
    let mut layouts: SmallVec<[Layout; 4]> = SmallVec::with_capacity(inputs.len());
    for t in &srcs {
        layouts.push(if broadcast && t.shape() != &out_shape {
            t.layout().broadcast_as(op.name(), &out_shape)?
        } else {
            t.layout().clone()
        });
    }
    let src_refs: SmallVec<[&Tensor; 4]> = srcs.iter().collect();
    let guards = read_all(&src_refs);
    let kin: SmallVec<[KernelInput<'_>; 4]> = srcs
        .iter()
        .zip(&layouts)
        .zip(&guards)
        .map(|((t, layout), g)| KernelInput::new(&**g, layout, t.dtype()))
        .collect();
    let storage = run(entry, op, &kin, params, &out_shape, out_dtype, device)?;
    Ok(Tensor::wrap(
        storage,
        Layout::contiguous(out_shape),
        out_dtype,
        device,
    ))
}

/// The output of an op with no output elements: an empty buffer, without running the kernel
/// (as PyTorch's TensorIterator returns early), so no kernel ever sees an empty output with
/// the huge other dims a zero-element shape may have. A dtype the device cannot run still
/// goes to the kernel, which reports why.
#[cold]
fn empty_output(entry: &Entry, args: &KernelArgs<'_>) -> Result<Storage> {
    let b = backend(args.device.backend())?;
    let ordinal = args.device.ordinal();
    let unsupported = args
        .inputs
        .iter()
        .map(|i| i.dtype)
        .chain([args.out_dtype])
        .any(|dt| b.dtype_unsupported(ordinal, dt).is_some());
    if unsupported {
        return (entry.kernel)(args);
    }
    b.upload(ordinal, args.out_dtype, &[])
}

/// Calls the kernel (or makes the empty output without it).
#[inline(always)]
fn run(
    entry: &Entry,
    op: OpId,
    kin: &[KernelInput<'_>],
    params: &OpParams,
    out_shape: &Shape,
    out_dtype: DType,
    device: Device,
) -> Result<Storage> {
    let args = KernelArgs {
        op,
        inputs: kin,
        params,
        out_shape,
        out_dtype,
        device,
    };
    if out_shape.numel() == 0 {
        empty_output(entry, &args)
    } else {
        (entry.kernel)(&args)
    }
}
