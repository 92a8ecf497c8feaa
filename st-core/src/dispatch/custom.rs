//! The custom-op table and [`call_op`], the dispatcher path of custom ops: the same steps as a
//! built-in op (device check, promotion, inference, broadcast and contiguity fix-ups, kernel
//! lookup by (backend, dtype), autograd, `TensorOp` event), with the kernels from the table.
//!
//! Note [Custom op table across libraries]: the table lives behind an `Arc` made by the host;
//! a plugin's [`PluginContext`](crate::plugin::PluginContext) carries the host's `Arc`, so a
//! dynamic plugin (which links its own copy of st-core, with its own statics) registers into
//! the host's table. Its locks are `std::sync` ones for the reason given in Note [Bus locks
//! across plugin libraries] (`events.rs`). Each entry registered by a dynamic plugin holds its
//! library: a call in flight clones the entry, so unloading the plugin (which removes its
//! entries) unmaps the library only after the last call returns, and autograd nodes of the
//! op keep it too.
//!
//! Note [Code of dynamic plugins]: what a dynamic plugin's closures do runs in its own copy of
//! st-core. Inference (shapes and dtypes) and kernels (which touch only the buffers the host
//! hands them, through the host's `DeviceBuffer` methods) are sound there; tensor ops are not,
//! since they would make tensors whose buffers belong to the plugin's copy of the CPU backend.
//! So the table refuses a dynamic plugin's backward rule written with tensor ops (its
//! backward must be custom ops, [`Backward::Ops`](crate::dispatch::custom_op::Backward::Ops)), and the
//! conformance runner refuses its samples and reference: a plugin's ops are checked by linking
//! the plugin statically, as `examples/custom_op.rs` does.

use super::kernel::{KernelInput, KernelOut};
use crate::autograd;
use crate::backend::backend;
use crate::device::Device;
use crate::dispatch::custom_op::{Attrs, CustomArgs, CustomKernel, CustomOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::events;
use crate::events::Keep;
use crate::layout::Layout;
use crate::shape::Shape;
use crate::tensor::Tensor;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use super::fused::FusedEntry;

/// A registered custom op. Field order matters: the op (whose closures may be a dynamic
/// plugin's code) drops before `keep` (its library).
pub(crate) struct OpEntry {
    pub(crate) name: &'static str,
    pub(crate) op: CustomOp,
    owner: Option<String>,
    dynamic: bool,
    _keep: Option<Keep>,
}

impl OpEntry {
    fn kernel(&self, backend: &str, dtype: DType) -> Option<&CustomKernel> {
        self.op
            .kernels
            .iter()
            .find(|k| k.backend == backend && k.dtypes.contains(&dtype))
    }
}

/// Fused overrides of composite ops registered at run time, by (op, backend, dtype).
type FusedMap = BTreeMap<(crate::op::OpId, String, DType), Arc<FusedEntry>>;

/// Custom ops by name and run-time fused overrides (see Note [Custom op table across
/// libraries]).
#[derive(Default)]
pub struct CustomOpTable {
    ops: RwLock<BTreeMap<String, Arc<OpEntry>>>,
    pub(crate) fused: RwLock<FusedMap>,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl CustomOpTable {
    /// Adds `op`, owned by plugin `owner` (whose library `keep` holds, for a dynamic one).
    ///
    /// # Errors
    /// [`Error::Registry`] for an invalid definition or a name already registered.
    pub(crate) fn insert(
        &self,
        op: CustomOp,
        owner: Option<String>,
        keep: Option<Keep>,
    ) -> Result<()> {
        op.validate()?;
        // See Note [Code of dynamic plugins].
        if keep.is_some()
            && matches!(
                op.backward,
                Some(crate::dispatch::custom_op::Backward::Rule(_))
            )
        {
            return Err(Error::Registry(format!(
                "custom op '{}' of dynamic plugin {}: a backward rule written with tensor ops \
                 would run in the plugin's own copy of st-core; give the backward as custom \
                 ops (CustomOp::backward_ops), or link the plugin statically",
                op.name,
                owner.as_deref().unwrap_or("?")
            )));
        }
        let mut ops = write(&self.ops);
        if let Some(prev) = ops.get(&op.name) {
            return Err(Error::Registry(format!(
                "custom op '{}' is already registered{}",
                op.name,
                prev.owner
                    .as_deref()
                    .map(|o| format!(" by plugin {o}"))
                    .unwrap_or_default()
            )));
        }
        let entry = OpEntry {
            name: intern(&op.name),
            op,
            owner,
            dynamic: keep.is_some(),
            _keep: keep,
        };
        ops.insert(entry.op.name.clone(), Arc::new(entry));
        Ok(())
    }

    /// Removes op `name`; returns whether it existed.
    pub(crate) fn remove(&self, name: &str) -> bool {
        let removed = write(&self.ops).remove(name);
        removed.is_some()
    }

    /// Removes every op and fused override registered by plugin `id`.
    pub(crate) fn remove_owned(&self, id: &str) {
        let ops: Vec<Arc<OpEntry>> = {
            let mut t = write(&self.ops);
            let names: Vec<String> = t
                .iter()
                .filter(|(_, e)| e.owner.as_deref() == Some(id))
                .map(|(n, _)| n.clone())
                .collect();
            names.iter().filter_map(|n| t.remove(n)).collect()
        };
        let fused: Vec<Arc<FusedEntry>> = {
            let mut t = write(&self.fused);
            let keys: Vec<_> = t
                .iter()
                .filter(|(_, e)| e.owner.as_deref() == Some(id))
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| t.remove(k)).collect()
        };
        // Dropped outside the locks (a closure's destructor may call back into the table).
        drop((ops, fused));
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<OpEntry>> {
        read(&self.ops).get(name).cloned()
    }

    /// Names of the registered custom ops, sorted.
    pub fn names(&self) -> Vec<String> {
        read(&self.ops).keys().cloned().collect()
    }

    /// The (op, backend) → dtypes matrix of the custom ops.
    pub fn coverage(&self) -> BTreeMap<(String, String), Vec<DType>> {
        let mut out: BTreeMap<(String, String), Vec<DType>> = BTreeMap::new();
        for (name, e) in read(&self.ops).iter() {
            for k in &e.op.kernels {
                let cell = out.entry((name.clone(), k.backend.clone())).or_default();
                cell.extend(&k.dtypes);
                cell.sort();
                cell.dedup();
            }
        }
        out
    }

    /// A copy of op `name`'s definition.
    pub fn definition(&self, name: &str) -> Option<CustomOp> {
        self.get(name).map(|e| e.op.clone())
    }

    /// The plugin that registered op `name` and whether it is a dynamic one (`None` for an
    /// unknown op; an owner of `None` for the process's own registrations).
    pub fn owner(&self, name: &str) -> Option<(Option<String>, bool)> {
        self.get(name).map(|e| (e.owner.clone(), e.dynamic))
    }
}

/// The host's table, shared with every plugin context.
pub fn custom_ops() -> &'static Arc<CustomOpTable> {
    static TABLE: OnceLock<Arc<CustomOpTable>> = OnceLock::new();
    TABLE.get_or_init(Arc::default)
}

/// `name` as a `&'static str`, for errors and events (each distinct name is leaked once).
pub fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(&n) = names.get(name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(n);
    n
}

/// Registers custom op `op` in this process (for link-time crates; plugins use
/// [`PluginContext::register_op`](crate::plugin::PluginContext::register_op)).
///
/// # Errors
/// [`Error::Registry`] for an invalid definition or a taken name.
pub fn register_op(op: CustomOp) -> Result<()> {
    custom_ops().insert(op, None, None)
}

/// Removes custom op `name`; returns whether it was registered. Calls in flight finish.
pub fn unregister_op(name: &str) -> bool {
    custom_ops().remove(name)
}

/// Runs custom op `name` on `inputs` with `attrs`: see the module docs.
///
/// # Errors
/// [`Error::InvalidArgument`] for an unknown op or a wrong number of inputs,
/// [`Error::DeviceMismatch`], the op's inference errors, [`Error::KernelNotFound`] listing the
/// op's kernels, and kernel errors.
pub fn call_op(name: &str, inputs: &[&Tensor], attrs: &Attrs) -> Result<Tensor> {
    let Some(entry) = custom_ops().get(name) else {
        let known = custom_ops().names();
        return Err(Error::invalid(
            intern(name),
            format!("no such custom op; registered: [{}]", known.join(", ")),
        ));
    };
    call_entry(&entry, inputs, attrs)
}

pub(crate) fn call_entry(
    entry: &Arc<OpEntry>,
    inputs: &[&Tensor],
    attrs: &Attrs,
) -> Result<Tensor> {
    let op = entry.name;
    let def = &entry.op;
    if inputs.len() != def.arity {
        return Err(Error::invalid(
            op,
            format!("takes {} tensors, got {}", def.arity, inputs.len()),
        ));
    }
    let device = match inputs.first() {
        Some(t) => t.device(),
        None => return Err(Error::invalid(op, "needs at least one input tensor")),
    };
    if inputs.iter().any(|t| t.device() != device) {
        return Err(Error::DeviceMismatch {
            op,
            devices: inputs.iter().map(|t| t.device().to_string()).collect(),
        });
    }
    // Promotion is recorded by the casts' own autograd nodes.
    let promoted: Vec<Tensor> = if def.promote {
        let common = inputs
            .iter()
            .map(|t| t.dtype())
            .reduce(DType::promote)
            .unwrap_or(DType::F32);
        inputs
            .iter()
            .map(|t| {
                if t.dtype() == common {
                    Ok((*t).clone())
                } else {
                    t.to_dtype(common)
                }
            })
            .collect::<Result<_>>()?
    } else {
        inputs.iter().map(|t| (*t).clone()).collect()
    };
    let metas: Vec<(&Shape, DType)> = promoted.iter().map(|t| (t.shape(), t.dtype())).collect();
    let infer = def
        .infer
        .as_ref()
        .ok_or_else(|| Error::Internal(format!("custom op {op} has no inference")))?;
    let (out_shape, out_dtype) = infer(&metas, attrs)?;
    out_shape.valid_numel(op)?;
    let key = promoted.first().map_or(out_dtype, Tensor::dtype);
    let bname = device.backend().name();
    let Some(k) = entry.kernel(bname, key) else {
        return Err(not_found(entry, bname, key));
    };
    let timed = events::tensor_op_listened();
    let start = timed.then(std::time::Instant::now);
    let out = run_kernel(entry, k, &promoted, attrs, &out_shape, out_dtype, device)?;
    if let Some(start) = start {
        super::events::publish(op, key, device, &promoted, &out, start.elapsed());
    }
    let refs: Vec<&Tensor> = promoted.iter().collect();
    Ok(autograd::record_rule(
        || autograd::Rule::Custom(entry.clone(), attrs.clone()),
        &refs,
        out,
    ))
}

fn not_found(entry: &OpEntry, backend: &str, dtype: DType) -> Error {
    let mut avail: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for k in &entry.op.kernels {
        avail
            .entry(&k.backend)
            .or_default()
            .extend(k.dtypes.iter().map(|d| d.as_str()));
    }
    Error::KernelNotFound {
        op: entry.name,
        backend: backend.to_string(),
        dtype,
        available: avail
            .iter()
            .map(|(b, d)| format!("{b}: [{}]", d.join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// Broadcast and contiguity fix-ups, the host-allocated output, the kernel call.
fn run_kernel(
    entry: &OpEntry,
    k: &CustomKernel,
    inputs: &[Tensor],
    attrs: &Attrs,
    out_shape: &Shape,
    out_dtype: DType,
    device: Device,
) -> Result<Tensor> {
    let op = entry.name;
    let mut srcs: Vec<Tensor> = Vec::with_capacity(inputs.len());
    let mut layouts: Vec<Layout> = Vec::with_capacity(inputs.len());
    for t in inputs {
        let reshaped = entry.op.broadcast && t.shape() != out_shape;
        let src = if !k.caps.strided && (reshaped || !t.is_contiguous()) {
            let e = if reshaped {
                t.expand(out_shape)?
            } else {
                t.clone()
            };
            e.contiguous()?
        } else {
            t.clone()
        };
        layouts.push(if entry.op.broadcast && src.shape() != out_shape {
            src.layout().broadcast_as(op, out_shape)?
        } else {
            src.layout().clone()
        });
        srcs.push(src);
    }
    let b = backend(device.backend())?;
    let storage = b.alloc(device.ordinal(), out_dtype, out_shape.numel())?;
    let out_layout = Layout::contiguous(out_shape.clone());
    if out_shape.numel() > 0 {
        let refs: Vec<&Tensor> = srcs.iter().collect();
        let guards = super::dispatcher::read_all(&refs);
        let kin: Vec<KernelInput<'_>> = srcs
            .iter()
            .zip(&layouts)
            .zip(&guards)
            .map(|((t, l), g)| KernelInput::new(&**g, l, t.dtype()))
            .collect();
        let args = CustomArgs {
            op,
            inputs: &kin,
            attrs,
            out_shape,
            out_dtype,
            device,
        };
        // The output is new: nobody else holds its lock.
        let mut w = storage.write();
        let mut kout = KernelOut {
            buffer: &mut *w,
            layout: &out_layout,
        };
        (k.kernel)(&args, &mut kout)?;
    }
    Ok(Tensor::wrap(storage, out_layout, out_dtype, device))
}
