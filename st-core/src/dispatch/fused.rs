//! Fused overrides of composite ops: a kernel registered for a [`Composite`](OpKind::Composite)
//! op (`register_kernel!(CrossEntropy, "cpu", [F32], fused_ce)` at link time, or
//! [`register_fused`] / a plugin context at run time) runs instead of the composite where it
//! exists for (op, backend, dtype of the first input).
//!
//! The fused kernel gives the forward. The gradient is the composite's: when an input
//! requires grad, the node records the composite and its backward runs it again on the saved
//! inputs and differentiates that (a recompute, as activation checkpointing does), so a fused
//! override never needs its own backward rule and can never disagree with the composite's
//! gradient. The conformance suite checks that the fused forward agrees with the composite
//! (`run_fused_agreement` in `testing`), with [`composite_only`] turning overrides off.

use super::custom::{custom_ops, CustomOpTable};
use super::kernel::{KernelArgs, KernelCaps, KernelInput, KernelOut};
use super::registry::registry;
use crate::autograd;
use crate::backend::{backend, Storage};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::events;
use crate::events::Keep;
use crate::layout::Layout;
use crate::op::{OpId, OpKind, OpParams};
use crate::shape::Shape;
use crate::tensor::Tensor;
use std::cell::Cell;
use std::sync::Arc;

/// A fused override registered at run time: writes the op's result into the given
/// (host-allocated, contiguous) output, as an output-buffer kernel does.
pub type FusedKernelFn =
    Arc<dyn Fn(&KernelArgs<'_>, &mut KernelOut<'_>) -> Result<()> + Send + Sync>;

/// The composite a fused node recomputes for its gradient.
pub(crate) type CompositeFn = Arc<dyn Fn(&[Tensor]) -> Result<Tensor> + Send + Sync>;

/// A run-time fused override. The kernel drops before `keep` (its plugin's library).
pub(crate) struct FusedEntry {
    pub(crate) kernel: FusedKernelFn,
    pub(crate) caps: KernelCaps,
    pub(crate) owner: Option<String>,
    _keep: Option<Keep>,
}

thread_local! {
    static COMPOSITE_ONLY: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with fused overrides off on this thread: every composite op runs as written.
pub fn composite_only<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            COMPOSITE_ONLY.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(COMPOSITE_ONLY.with(|c| c.replace(true)));
    f()
}

impl CustomOpTable {
    /// Adds a run-time fused override of composite `op`.
    ///
    /// # Errors
    /// [`Error::Registry`] when `op` is not a composite or a (backend, dtype) is taken.
    pub(crate) fn insert_fused(
        &self,
        op: OpId,
        backend: &str,
        dtypes: &[DType],
        kernel: FusedKernelFn,
        caps: KernelCaps,
        owner: Option<String>,
        keep: Option<Keep>,
    ) -> Result<()> {
        if op.def().kind != OpKind::Composite {
            return Err(Error::Registry(format!(
                "{op} is a {:?} op; only composite ops take fused overrides",
                op.def().kind
            )));
        }
        let mut t = self.fused.write().unwrap_or_else(|e| e.into_inner());
        for &dt in dtypes {
            if t.contains_key(&(op, backend.to_string(), dt)) {
                return Err(Error::Registry(format!(
                    "a fused override of ({op}, {backend}, {dt}) is already registered"
                )));
            }
        }
        let entry = Arc::new(FusedEntry {
            kernel,
            caps,
            owner,
            _keep: keep,
        });
        for &dt in dtypes {
            t.insert((op, backend.to_string(), dt), entry.clone());
        }
        Ok(())
    }

    fn fused_for(&self, op: OpId, backend: &str, dtype: DType) -> Option<Arc<FusedEntry>> {
        let t = self.fused.read().unwrap_or_else(|e| e.into_inner());
        if t.is_empty() {
            return None;
        }
        t.get(&(op, backend.to_string(), dtype)).cloned()
    }
}

/// Registers a fused override of composite `op` for `backend` and `dtypes` in this process.
///
/// # Errors
/// As [`CustomOpTable`]'s insertion: not a composite, or a key already taken.
pub fn register_fused(
    op: OpId,
    backend: &str,
    dtypes: &[DType],
    caps: KernelCaps,
    kernel: impl Fn(&KernelArgs<'_>, &mut KernelOut<'_>) -> Result<()> + Send + Sync + 'static,
) -> Result<()> {
    custom_ops().insert_fused(op, backend, dtypes, Arc::new(kernel), caps, None, None)
}

/// Removes every run-time fused override of `op` on `backend`; returns how many keys went.
pub fn unregister_fused(op: OpId, backend: &str) -> usize {
    let mut t = custom_ops()
        .fused
        .write()
        .unwrap_or_else(|e| e.into_inner());
    let before = t.len();
    t.retain(|(o, b, _), _| !(*o == op && b == backend));
    before - t.len()
}

enum Found {
    Linked(super::registry::Entry),
    Runtime(Arc<FusedEntry>),
}

/// Composite op `op` (output `out_shape` / `out_dtype`, already validated by the caller)
/// through its fused override where one exists, else `composite` itself.
pub(crate) fn run_fused(
    op: OpId,
    inputs: &[&Tensor],
    params: &OpParams,
    out_shape: Shape,
    out_dtype: DType,
    composite: impl Fn(&[Tensor]) -> Result<Tensor> + Send + Sync + 'static,
) -> Result<Tensor> {
    let owned = || inputs.iter().map(|t| (*t).clone()).collect::<Vec<_>>();
    let (Some(first), false) = (inputs.first(), COMPOSITE_ONLY.with(Cell::get)) else {
        return composite(&owned());
    };
    let device = first.device();
    let dtype = first.dtype();
    let linked = registry()?.get(op, device.backend(), dtype).copied();
    let found = match linked {
        Some(e) => Found::Linked(e),
        None => match custom_ops().fused_for(op, device.backend().name(), dtype) {
            Some(e) => Found::Runtime(e),
            None => return composite(&owned()),
        },
    };
    if out_shape.numel() == 0 || inputs.iter().any(|t| t.device() != device) {
        return composite(&owned());
    }
    let strided = match &found {
        Found::Linked(e) => e.caps.strided,
        Found::Runtime(e) => e.caps.strided,
    };
    let srcs: Vec<Tensor> = inputs
        .iter()
        .map(|t| {
            if strided || t.is_contiguous() {
                Ok((*t).clone())
            } else {
                t.contiguous()
            }
        })
        .collect::<Result<_>>()?;
    let timed = events::tensor_op_listened();
    let start = timed.then(std::time::Instant::now);
    let storage = {
        let refs: Vec<&Tensor> = srcs.iter().collect();
        let guards = super::dispatcher::read_all(&refs);
        let kin: Vec<KernelInput<'_>> = srcs
            .iter()
            .zip(&guards)
            .map(|(t, g)| KernelInput::new(&**g, t.layout(), t.dtype()))
            .collect();
        let args = KernelArgs {
            op,
            inputs: &kin,
            params,
            out_shape: &out_shape,
            out_dtype,
            device,
        };
        run_found(&found, &args)?
    };
    let out = Tensor::wrap(storage, Layout::contiguous(out_shape), out_dtype, device);
    if let Some(start) = start {
        super::events::publish(op.name(), dtype, device, &srcs, &out, start.elapsed());
    }
    Ok(autograd::record_rule(
        || autograd::Rule::Recompute(op, Arc::new(composite)),
        inputs,
        out,
    ))
}

fn run_found(found: &Found, args: &KernelArgs<'_>) -> Result<Storage> {
    let out = match found {
        Found::Linked(e) => (e.kernel)(args)?,
        Found::Runtime(e) => {
            let b = backend(args.device.backend())?;
            let storage = b.alloc(
                args.device.ordinal(),
                args.out_dtype,
                args.out_shape.numel(),
            )?;
            {
                let layout = Layout::contiguous(args.out_shape.clone());
                let mut w = storage.write();
                let mut kout = KernelOut {
                    buffer: &mut *w,
                    layout: &layout,
                };
                (e.kernel)(args, &mut kout)?;
            }
            storage
        }
    };
    let want = args.out_shape.numel() * args.out_dtype.size_in_bytes();
    if out.len_bytes() < want {
        return Err(Error::Internal(format!(
            "fused {} kernel returned {} bytes for an output of {want} bytes",
            args.op,
            out.len_bytes()
        )));
    }
    Ok(out)
}
