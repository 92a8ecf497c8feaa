//! The graph: one [`Node`] per recorded op, linked to the tensors it was computed from. The
//! backward pass over it is in `pass.rs`, its public entry points in `backward.rs`.

use super::grad_mode::is_grad_enabled;
use super::hooks::HookList;
use crate::dispatch::custom::OpEntry;
use crate::dispatch::custom_op::Attrs;
use crate::dispatch::fused::CompositeFn;
use crate::error::{Error, Result};
use crate::op::{OpId, OpParams};
use crate::tensor::Tensor;
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::sync::Arc;

/// Tensors a node keeps for its backward rule; dropped once a backward pass that does not
/// retain the graph has used them.
#[derive(Clone)]
pub(crate) struct Saved {
    pub(crate) inputs: SmallVec<[Tensor; 3]>,
    pub(crate) output: Tensor,
    /// Storage versions of the inputs, then of the output, when they were saved.
    pub(crate) versions: SmallVec<[u64; 4]>,
}

impl Saved {
    fn new(inputs: SmallVec<[Tensor; 3]>, output: Tensor) -> Saved {
        let versions = inputs
            .iter()
            .chain([&output])
            .map(Tensor::version)
            .collect();
        Saved {
            inputs,
            output,
            versions,
        }
    }

    /// PyTorch's check: a tensor whose values the backward rule reads must not have been
    /// written in place since it was saved.
    pub(super) fn check_versions(&self, rule: &Rule) -> Result<()> {
        // A custom rule may read anything it was given.
        let (inputs, output) = match rule {
            Rule::Op(op, _) => super::rules::reads_saved(*op),
            Rule::Custom(..) | Rule::Recompute(..) => (true, true),
        };
        let n = self.inputs.len();
        for (i, &saved) in self.versions.iter().enumerate() {
            let (t, checked, what) = match self.inputs.get(i) {
                Some(t) => (t, inputs, format!("input {i} of {n}")),
                None => (&self.output, output, "its output".to_string()),
            };
            let now = t.version();
            if checked && now != saved {
                return Err(Error::Autograd(format!(
                    "one of the variables needed for gradient computation has been modified by an \
                     inplace operation: [{}, shape {}] ({what}) is at version {now}; expected \
                     version {saved} instead. Op: {}",
                    t.dtype(),
                    t.shape(),
                    rule.name()
                )));
            }
        }
        Ok(())
    }
}

/// How a node's backward is computed.
#[derive(Clone)]
pub(crate) enum Rule {
    /// The built-in rule of a primitive op (`rules.rs`).
    Op(OpId, OpParams),
    /// A custom op's backward (or the error that it has none).
    Custom(Arc<OpEntry>, Attrs),
    /// A fused override of a composite op: differentiate the composite, recomputed.
    Recompute(OpId, CompositeFn),
}

impl Rule {
    /// The op's name, for errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Rule::Op(op, _) | Rule::Recompute(op, _) => op.name(),
            Rule::Custom(e, _) => e.name,
        }
    }
}

/// A recorded op: how to send the output's gradient back to the inputs.
pub struct Node {
    pub(super) rule: Rule,
    pub(super) saved: Mutex<Option<Saved>>,
    /// Hooks of the tensor this node produced; see Note [Where hooks live].
    hooks: HookList,
}

impl Node {
    /// The built-in op that produced the tensor (`None` for a custom op).
    pub fn op(&self) -> Option<OpId> {
        match &self.rule {
            Rule::Op(op, _) | Rule::Recompute(op, _) => Some(*op),
            Rule::Custom(..) => None,
        }
    }

    /// The name of the op that produced the tensor (`"add"`, `"myns::fused_bias_gelu"`).
    pub fn name(&self) -> &'static str {
        self.rule.name()
    }

    /// Its parameters (`None` for a custom op).
    pub fn params(&self) -> Option<&OpParams> {
        match &self.rule {
            Rule::Op(_, p) => Some(p),
            Rule::Custom(..) | Rule::Recompute(..) => None,
        }
    }

    /// The gradient hooks of the node's output tensor.
    pub(crate) fn hooks(&self) -> &HookList {
        &self.hooks
    }
}

/// Dropping a graph is iterative: a chain of a million ops (a loss summed over an epoch
/// without calling backward) would otherwise recurse once per node through
/// `Node → Saved → Tensor → Node` and overflow the stack. Each node this drop owns the last
/// reference to hands its saved tensors to one work list instead.
impl Drop for Node {
    fn drop(&mut self) {
        let Some(saved) = self.saved.get_mut().take() else {
            return;
        };
        fn push(pending: &mut Vec<Tensor>, s: Saved) {
            pending.extend(s.inputs);
            pending.push(s.output);
        }
        let mut pending: Vec<Tensor> = Vec::new();
        push(&mut pending, saved);
        while let Some(t) = pending.pop() {
            // Only a tensor whose handle is held nowhere else can release its node here;
            // any other is still alive, and its graph with it.
            let Ok(mut inner) = Arc::try_unwrap(t.0) else {
                continue;
            };
            if let Some(g) = inner.grad.get_mut().take() {
                pending.push(g);
            }
            if let Some(node) = inner.grad_fn.get_mut().take() {
                if let Ok(mut node) = Arc::try_unwrap(node) {
                    if let Some(s) = node.saved.get_mut().take() {
                        push(&mut pending, s);
                    }
                    // `node` drops here with nothing saved: no recursion.
                }
            }
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({})", self.name())
    }
}

/// Records `op` if grad mode is on and an input requires grad; returns the output, linked.
pub(crate) fn record(op: OpId, params: &OpParams, inputs: &[&Tensor], out: Tensor) -> Tensor {
    if !op.def().differentiable || !inputs.iter().any(|t| t.requires_grad()) || !is_grad_enabled() {
        return out;
    }
    link(
        Rule::Op(op, params.clone()),
        inputs.iter().map(|t| (*t).clone()).collect(),
        out,
    )
}

/// Records a custom op (`Rule::Custom`: every custom op is differentiable as far as the graph
/// goes, and one without a backward fails `backward()` naming it) or the output of a fused
/// override (`Rule::Recompute`, whose backward recomputes the composite, `dispatch/fused.rs`)
/// if grad mode is on and an input requires grad.
pub(crate) fn record_rule(rule: impl FnOnce() -> Rule, inputs: &[&Tensor], out: Tensor) -> Tensor {
    if !inputs.iter().any(|t| t.requires_grad()) || !is_grad_enabled() {
        return out;
    }
    link(rule(), inputs.iter().map(|t| (*t).clone()).collect(), out)
}

fn link(rule: Rule, inputs: SmallVec<[Tensor; 3]>, out: Tensor) -> Tensor {
    let output = out.detach();
    let node = Arc::new(Node {
        rule,
        saved: Mutex::new(Some(Saved::new(inputs, output))),
        hooks: HookList::default(),
    });
    let inner = &out.0;
    Tensor::with_grad_fn(
        inner.storage.clone(),
        inner.layout.clone(),
        inner.dtype,
        inner.device,
        Some(node),
    )
}

/// Records an in-place op that wrote `target`: `inputs` are what the op read (the target's
/// old history first, as a snapshot or a copy of its old values), and `target` takes the new
/// node as its history (PyTorch's rebase of an in-place op's output).
pub(crate) fn record_inplace(
    op: OpId,
    params: OpParams,
    inputs: SmallVec<[Tensor; 3]>,
    target: &Tensor,
) {
    let node = Arc::new(Node {
        rule: Rule::Op(op, params),
        saved: Mutex::new(Some(Saved::new(inputs, target.detach()))),
        hooks: HookList::default(),
    });
    *target.0.grad_fn.lock() = Some(node);
    target
        .0
        .requires_grad
        .store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Records a device transfer (`Tensor::to`) so gradients move back to the source device.
pub(crate) fn record_transfer(src: &Tensor, out: Tensor) -> Result<Tensor> {
    if !src.requires_grad() || !is_grad_enabled() {
        return Ok(out);
    }
    Ok(link(
        Rule::Op(OpId::Copy, OpParams::Device(src.device())),
        SmallVec::from_elem(src.clone(), 1),
        out,
    ))
}
