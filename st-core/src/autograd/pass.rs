//! One backward pass over the graph: the traversal, the gradients of its nodes and leaves,
//! hooks, freeing or keeping saved tensors, and recording the pass itself (`create_graph`).
//!
//! Note [Double backward]: a node saves a *detached* copy of its output (a strong link from
//! the node to its own output would be a reference cycle). Rules such as exp's (`g · y`) use
//! that output, so with `create_graph` the pass hands them the output re-attached to the node
//! being run: a tensor with the same storage whose `grad_fn` is that node. The recorded rule
//! then depends on `y` through the node's own inputs, exactly as PyTorch's saved-output
//! unpacking does, and the second derivative is right.

use super::backward::BackwardOptions;
use super::custom;
use super::engine::{Node, Rule, Saved};
use super::grad_mode::set_grad_enabled;
use super::rules;
use crate::error::{Error, Result};
use crate::tensor::{Tensor, TensorImpl};
use smallvec::SmallVec;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

type NodeKey = *const Node;
type LeafKey = *const TensorImpl;

fn key(n: &Arc<Node>) -> NodeKey {
    Arc::as_ptr(n)
}

fn leaf_key(t: &Tensor) -> LeafKey {
    Arc::as_ptr(&t.0)
}

fn freed_error() -> Error {
    Error::Autograd(
        "Trying to backward through the graph a second time (or to use its saved tensors \
         after they were freed). The saved tensors are freed by backward() and grad() unless \
         they retain the graph: specify retain_graph=true (BackwardOptions / GradOptions) on \
         the first pass if you need to backward through the graph again"
            .into(),
    )
}

/// The tensors [`super::grad`] returns gradients for: leaves by handle, non-leaves by their node
/// (a non-leaf is its node's only output). An input may be listed more than once.
struct Targets {
    leaves: HashMap<LeafKey, SmallVec<[usize; 1]>>,
    nodes: HashMap<NodeKey, SmallVec<[usize; 1]>>,
}

impl Targets {
    fn new(inputs: &[&Tensor]) -> Targets {
        let mut t = Targets {
            leaves: HashMap::new(),
            nodes: HashMap::new(),
        };
        for (i, x) in inputs.iter().enumerate() {
            match x.grad_fn() {
                Some(n) => t.nodes.entry(key(&n)).or_default().push(i),
                None => t.leaves.entry(leaf_key(x)).or_default().push(i),
            }
        }
        t
    }

    /// The nodes whose rule must run: those with an input that is a target or leads to one.
    /// `order` lists inputs before their consumers. A freed node's inputs are unknown, so it
    /// counts as leading to a target (running it is then the "second time" error).
    fn leading(&self, order: &[Arc<Node>]) -> HashSet<NodeKey> {
        let mut needed: HashSet<NodeKey> = HashSet::new();
        let mut leads: HashSet<NodeKey> = HashSet::new();
        for node in order {
            let k = key(node);
            let l = match node.saved.lock().as_ref() {
                None => true,
                Some(s) => s.inputs.iter().any(|i| match i.grad_fn() {
                    Some(n) => needed.contains(&key(&n)),
                    None => i.requires_grad() && self.leaves.contains_key(&leaf_key(i)),
                }),
            };
            if l {
                leads.insert(k);
            }
            if l || self.nodes.contains_key(&k) {
                needed.insert(k);
            }
        }
        leads
    }
}

/// Gradients summed per leaf over one pass, in first-arrival order.
#[derive(Default)]
struct LeafGrads {
    index: HashMap<LeafKey, usize>,
    grads: Vec<(Tensor, Tensor)>,
}

impl LeafGrads {
    fn add(&mut self, leaf: &Tensor, g: Tensor) -> Result<()> {
        match self.index.get(&leaf_key(leaf)) {
            Some(&i) => {
                let sum = self.grads[i].1.add(&g)?;
                self.grads[i].1 = sum;
            }
            None => {
                self.index.insert(leaf_key(leaf), self.grads.len());
                self.grads.push((leaf.clone(), g));
            }
        }
        Ok(())
    }
}

fn add_to(grads: &mut HashMap<NodeKey, Tensor>, k: NodeKey, g: Tensor) -> Result<()> {
    let acc = match grads.remove(&k) {
        Some(prev) => prev.add(&g)?,
        None => g,
    };
    grads.insert(k, acc);
    Ok(())
}

/// Every node reachable from `roots`, inputs before consumers (iterative post-order DFS),
/// and whether any of them was already freed (its inputs are then not traversed).
fn topo_order(roots: &[Arc<Node>]) -> (Vec<Arc<Node>>, Vec<NodeKey>) {
    let mut order: Vec<Arc<Node>> = Vec::new();
    let mut freed = Vec::new();
    let mut visited: HashSet<NodeKey> = HashSet::new();
    let mut stack: Vec<(Arc<Node>, bool)> = roots.iter().map(|n| (n.clone(), false)).collect();
    while let Some((node, done)) = stack.pop() {
        if done {
            order.push(node);
            continue;
        }
        if !visited.insert(key(&node)) {
            continue;
        }
        stack.push((node.clone(), true));
        let saved = node.saved.lock();
        let Some(saved) = saved.as_ref() else {
            freed.push(key(&node));
            continue;
        };
        for inp in &saved.inputs {
            if let Some(n) = inp.grad_fn() {
                if !visited.contains(&key(&n)) {
                    stack.push((n.clone(), false));
                }
            }
        }
    }
    (order, freed)
}

/// One pass from `roots` (each with its seed). Without `capture` the leaves' gradients are
/// accumulated and the result is empty; with it, entry `i` is the gradient of `capture[i]`.
pub(super) fn run(
    roots: &[(&Tensor, Tensor)],
    opts: BackwardOptions,
    capture: Option<&[&Tensor]>,
) -> Result<Vec<Option<Tensor>>> {
    let _mode = set_grad_enabled(opts.create_graph);
    let retain = opts.retain_graph || opts.create_graph;
    let targets = capture.map(Targets::new);
    let wanted_leaf = |t: &Tensor| {
        targets
            .as_ref()
            .is_none_or(|tg| tg.leaves.contains_key(&leaf_key(t)))
    };
    let mut out: Vec<Option<Tensor>> = vec![None; capture.map_or(0, <[_]>::len)];
    let mut grads: HashMap<NodeKey, Tensor> = HashMap::new();
    let mut leaves = LeafGrads::default();
    let mut root_nodes = Vec::new();
    for (t, seed) in roots {
        match t.grad_fn() {
            Some(n) => {
                add_to(&mut grads, key(&n), seed.clone())?;
                root_nodes.push(n.clone());
            }
            None if wanted_leaf(t) => leaves.add(t, seed.clone())?,
            None => {}
        }
    }
    let (order, freed) = topo_order(&root_nodes);
    let leads = targets.as_ref().map(|t| t.leading(&order));
    let runs = |k: NodeKey| leads.as_ref().is_none_or(|l| l.contains(&k));
    // Fail before anything is accumulated or freed.
    if freed.iter().any(|&k| runs(k)) {
        return Err(freed_error());
    }
    for node in order.iter().rev() {
        let k = key(node);
        let Some(grad) = grads.remove(&k) else {
            continue;
        };
        let target = targets.as_ref().and_then(|t| t.nodes.get(&k));
        if target.is_none() && !runs(k) {
            // Off every path to the inputs of `grad`: nothing to do, no hook to call.
            continue;
        }
        let grad = node.hooks().run(grad)?;
        for &i in target.into_iter().flatten() {
            out[i] = Some(grad.clone());
        }
        if !runs(k) {
            continue;
        }
        let saved: Saved = {
            let mut slot = node.saved.lock();
            if retain {
                slot.clone()
            } else {
                slot.take()
            }
        }
        .ok_or_else(freed_error)?;
        // See Note [Double backward].
        let y = if opts.create_graph {
            let o = &saved.output.0;
            Tensor::with_grad_fn(
                o.storage.clone(),
                o.layout.clone(),
                o.dtype,
                o.device,
                Some(node.clone()),
            )
        } else {
            saved.output.clone()
        };
        saved.check_versions(&node.rule)?;
        let input_refs: SmallVec<[&Tensor; 3]> = saved.inputs.iter().collect();
        let in_grads = match &node.rule {
            Rule::Op(op, params) => rules::backward(*op, params, &input_refs, &y, &grad)?,
            rule => custom::backward(rule, &saved.inputs, &y, &grad)?,
        };
        for (inp, g) in saved.inputs.iter().zip(in_grads) {
            let Some(g) = g else { continue };
            if !inp.requires_grad() {
                continue;
            }
            if g.shape() != inp.shape() {
                return Err(Error::Internal(format!(
                    "backward of {} produced gradient of shape {} for input of shape {}",
                    node.name(),
                    g.shape(),
                    inp.shape()
                )));
            }
            match inp.grad_fn() {
                Some(n) => add_to(&mut grads, key(&n), g)?,
                None if wanted_leaf(inp) => leaves.add(inp, g)?,
                None => {}
            }
        }
    }
    for (leaf, g) in leaves.grads {
        let g = if g.dtype() != leaf.dtype() {
            g.to_dtype(leaf.dtype())?
        } else {
            g
        };
        let g = leaf.0.hooks.run(g)?;
        match targets
            .as_ref()
            .and_then(|t| t.leaves.get(&leaf_key(&leaf)))
        {
            Some(ix) => {
                for &i in ix {
                    out[i] = Some(g.clone());
                }
            }
            None => accumulate_leaf(&leaf, g)?,
        }
    }
    Ok(out)
}

/// Adds `g` to the leaf's gradient. The gradient's lock is held from the read to the write,
/// so backward passes on several threads that share a leaf never lose an update.
fn accumulate_leaf(leaf: &Tensor, g: Tensor) -> Result<()> {
    let mut slot = leaf.0.grad.lock();
    let new = match slot.as_ref() {
        Some(prev) => prev.add(&g)?,
        None => g.contiguous()?,
    };
    *slot = Some(new);
    Ok(())
}
