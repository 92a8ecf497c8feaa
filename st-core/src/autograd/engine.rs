//! The graph: one [`Node`] per recorded op, and the backward pass over it.

use super::grad_mode::{is_grad_enabled, no_grad};
use super::rules;
use crate::error::{Error, Result};
use crate::op::{OpId, OpParams};
use crate::tensor::Tensor;
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::collections::HashMap;
use std::sync::Arc;

/// Tensors a node keeps for its backward rule; dropped once backward has used them.
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
    fn check_versions(&self, op: OpId) -> Result<()> {
        let (inputs, output) = super::rules::reads_saved(op);
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
                    op.name()
                )));
            }
        }
        Ok(())
    }
}

/// A recorded op: how to send the output's gradient back to the inputs.
pub struct Node {
    op: OpId,
    params: OpParams,
    saved: Mutex<Option<Saved>>,
}

impl Node {
    /// The op that produced the tensor.
    pub fn op(&self) -> OpId {
        self.op
    }

    /// Its parameters.
    pub fn params(&self) -> &OpParams {
        &self.params
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
        write!(f, "Node({})", self.op.name())
    }
}

/// Records `op` if grad mode is on and an input requires grad; returns the output, linked.
pub(crate) fn record(op: OpId, params: &OpParams, inputs: &[&Tensor], out: Tensor) -> Tensor {
    if !op.def().differentiable || !inputs.iter().any(|t| t.requires_grad()) || !is_grad_enabled() {
        return out;
    }
    link(
        op,
        params.clone(),
        inputs.iter().map(|t| (*t).clone()).collect(),
        out,
    )
}

fn link(op: OpId, params: OpParams, inputs: SmallVec<[Tensor; 3]>, out: Tensor) -> Tensor {
    let output = out.detach();
    let node = Arc::new(Node {
        op,
        params,
        saved: Mutex::new(Some(Saved::new(inputs, output))),
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
        op,
        params,
        saved: Mutex::new(Some(Saved::new(inputs, target.detach()))),
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
        OpId::Copy,
        OpParams::Device(src.device()),
        SmallVec::from_elem(src.clone(), 1),
        out,
    ))
}

fn key(n: &Arc<Node>) -> *const Node {
    Arc::as_ptr(n)
}

/// Runs the backward pass from `root`, accumulating gradients into the leaves that require
/// them. `seed` is d(loss)/d(root); it may be omitted for one-element roots. The graph is
/// freed afterwards (a second backward through it is an error).
///
/// # Errors
/// [`Error::Autograd`] when `root` does not require grad, the seed is missing or mis-shaped,
/// or the graph was already freed.
pub fn backward(root: &Tensor, seed: Option<&Tensor>) -> Result<()> {
    if !root.requires_grad() {
        return Err(Error::Autograd(
            "backward() on a tensor that does not require grad (no input had requires_grad, \
             or it was computed under no_grad)"
                .into(),
        ));
    }
    let seed = match seed {
        Some(s) => {
            if s.shape() != root.shape() {
                return Err(Error::Autograd(format!(
                    "seed gradient shape {} does not match output shape {}",
                    s.shape(),
                    root.shape()
                )));
            }
            s.detach()
        }
        None if root.numel() == 1 => Tensor::ones_like(root)?,
        None => {
            return Err(Error::Autograd(format!(
                "grad can be implicitly created only for one-element outputs; pass a seed \
                 for shape {}",
                root.shape()
            )))
        }
    };
    let _guard = no_grad();
    let Some(root_node) = root.grad_fn() else {
        accumulate_leaf(root, seed)?;
        return Ok(());
    };
    // Topological order by iterative DFS (post-order), then walk it backwards.
    let mut order: Vec<Arc<Node>> = Vec::new();
    let mut visited: HashMap<*const Node, ()> = HashMap::new();
    let mut stack: Vec<(Arc<Node>, bool)> = vec![(root_node.clone(), false)];
    while let Some((node, done)) = stack.pop() {
        if done {
            order.push(node);
            continue;
        }
        if visited.insert(key(&node), ()).is_some() {
            continue;
        }
        stack.push((node.clone(), true));
        let saved = node.saved.lock();
        let Some(saved) = saved.as_ref() else {
            return Err(Error::Autograd(
                "trying to backward through the graph a second time; its buffers were freed".into(),
            ));
        };
        for inp in &saved.inputs {
            if let Some(n) = inp.grad_fn() {
                if !visited.contains_key(&key(&n)) {
                    stack.push((n, false));
                }
            }
        }
    }
    let mut grads: HashMap<*const Node, Tensor> = HashMap::new();
    grads.insert(key(&root_node), seed);
    for node in order.iter().rev() {
        let Some(grad) = grads.remove(&key(node)) else {
            continue;
        };
        let saved = node
            .saved
            .lock()
            .take()
            .ok_or_else(|| Error::Autograd("graph freed while running backward".into()))?;
        saved.check_versions(node.op)?;
        let input_refs: SmallVec<[&Tensor; 3]> = saved.inputs.iter().collect();
        let in_grads = rules::backward(node.op, &node.params, &input_refs, &saved.output, &grad)?;
        for (inp, g) in saved.inputs.iter().zip(in_grads) {
            let Some(g) = g else { continue };
            if !inp.requires_grad() {
                continue;
            }
            if g.shape() != inp.shape() {
                return Err(Error::Internal(format!(
                    "backward of {} produced gradient of shape {} for input of shape {}",
                    node.op.name(),
                    g.shape(),
                    inp.shape()
                )));
            }
            match inp.grad_fn() {
                Some(n) => {
                    let k = key(&n);
                    let acc = match grads.remove(&k) {
                        Some(prev) => prev.add(&g)?,
                        None => g,
                    };
                    grads.insert(k, acc);
                }
                None => accumulate_leaf(inp, g)?,
            }
        }
    }
    Ok(())
}

/// Adds `g` to the leaf's gradient. The gradient's lock is held from the read to the write,
/// so backward passes on several threads that share a leaf never lose an update.
fn accumulate_leaf(leaf: &Tensor, g: Tensor) -> Result<()> {
    let g = if g.dtype() != leaf.dtype() {
        g.to_dtype(leaf.dtype())?
    } else {
        g
    };
    let mut slot = leaf.0.grad.lock();
    let new = match slot.as_ref() {
        Some(prev) => prev.add(&g)?,
        None => g.contiguous()?,
    };
    *slot = Some(new);
    Ok(())
}
