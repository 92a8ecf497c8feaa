//! The backward pass. [`backward`] accumulates gradients into the leaves' [`Tensor::grad`];
//! [`grad`] returns the gradients of chosen inputs instead (PyTorch's `torch.autograd.grad`).
//! Both can keep the graph for another pass (`retain_graph`) and record the pass itself, so
//! the gradients can be differentiated again (`create_graph`).
//!
//! Note [Double backward]: a node saves a *detached* copy of its output (a strong link from
//! the node to its own output would be a reference cycle). Rules such as exp's (`g · y`) use
//! that output, so with `create_graph` the pass hands them the output re-attached to the node
//! being run: a tensor with the same storage whose `grad_fn` is that node. The recorded rule
//! then depends on `y` through the node's own inputs, exactly as PyTorch's saved-output
//! unpacking does, and the second derivative is right.

use super::engine::{Node, Saved};
use super::grad_mode::set_grad_enabled;
use super::rules;
use crate::error::{Error, Result};
use crate::tensor::{Tensor, TensorImpl};
use smallvec::SmallVec;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Options of a backward pass ([`Tensor::backward_opts`], [`backward_opts`]).
///
/// ```
/// use st_core::autograd::BackwardOptions;
/// let o = BackwardOptions::default().retain_graph(true);
/// assert!(o.retain_graph && !o.create_graph);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackwardOptions {
    /// Keep the tensors the graph saved, so another backward pass can run through it. Off by
    /// default: the graph is freed as the pass runs (PyTorch's `retain_graph`).
    pub retain_graph: bool,
    /// Run the backward rules with grad mode on, so the gradients have a `grad_fn` and can be
    /// differentiated again (PyTorch's `create_graph`). Implies `retain_graph`.
    pub create_graph: bool,
}

impl BackwardOptions {
    /// Sets [`BackwardOptions::retain_graph`].
    pub fn retain_graph(mut self, on: bool) -> Self {
        self.retain_graph = on;
        self
    }

    /// Sets [`BackwardOptions::create_graph`].
    pub fn create_graph(mut self, on: bool) -> Self {
        self.create_graph = on;
        self
    }
}

/// Options of [`grad`].
///
/// ```
/// use st_core::autograd::GradOptions;
/// let o = GradOptions::default().create_graph(true).allow_unused(true);
/// assert!(o.create_graph && o.allow_unused && !o.retain_graph);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GradOptions {
    /// Keep the graph for another pass (see [`BackwardOptions::retain_graph`]).
    pub retain_graph: bool,
    /// Record the pass (see [`BackwardOptions::create_graph`]); implies `retain_graph`.
    pub create_graph: bool,
    /// Return `None` for an input the outputs do not depend on, instead of an error
    /// (PyTorch's `allow_unused`, off by default as there).
    pub allow_unused: bool,
}

impl GradOptions {
    /// Sets [`GradOptions::retain_graph`].
    pub fn retain_graph(mut self, on: bool) -> Self {
        self.retain_graph = on;
        self
    }

    /// Sets [`GradOptions::create_graph`].
    pub fn create_graph(mut self, on: bool) -> Self {
        self.create_graph = on;
        self
    }

    /// Sets [`GradOptions::allow_unused`].
    pub fn allow_unused(mut self, on: bool) -> Self {
        self.allow_unused = on;
        self
    }
}

/// [`backward_opts`] with the default options: the graph is freed afterwards.
///
/// # Errors
/// As [`backward_opts`].
pub fn backward(root: &Tensor, seed: Option<&Tensor>) -> Result<()> {
    backward_opts(root, seed, BackwardOptions::default())
}

/// Runs the backward pass from `root`, accumulating gradients into the leaves that require
/// them (after their hooks). `seed` is d(loss)/d(root); it may be omitted for one-element
/// roots. Unless `opts` retains the graph, its saved tensors are freed, and a second pass
/// through it is an error. See Note [Double backward] for `create_graph`; with it a leaf's
/// accumulated gradient keeps its graph, which (as in PyTorch) links the leaf to itself
/// until the gradient is cleared with [`Tensor::zero_grad`].
///
/// # Errors
/// [`Error::Autograd`] when `root` does not require grad, the seed is missing or mis-shaped,
/// or the graph was already freed; errors of the backward rules and of the hooks.
pub fn backward_opts(root: &Tensor, seed: Option<&Tensor>, opts: BackwardOptions) -> Result<()> {
    if !root.requires_grad() {
        return Err(Error::Autograd(
            "backward() on a tensor that does not require grad (no input had requires_grad, \
             or it was computed under no_grad)"
                .into(),
        ));
    }
    let seed = make_seed(root, seed, opts.create_graph)?;
    run(&[(root, seed)], opts, None).map(|_| ())
}

/// The gradients of `outputs` with respect to `inputs` (PyTorch's `torch.autograd.grad`):
/// entry `i` is `Σ_k grad_outputs[k] · ∂outputs[k]/∂inputs[i]`. Nothing is accumulated into
/// any [`Tensor::grad`]; `inputs` may be intermediate tensors; only the part of the graph
/// that leads to them runs. `grad_outputs` defaults to ones for one-element outputs. Hooks of
/// the inputs (and of the tensors between) run as in [`backward`].
///
/// ```
/// use st_core::autograd::{grad, GradOptions};
/// use st_core::{Tensor, Device};
/// let x = Tensor::from_vec(vec![3.0f64], [1], &Device::cpu())?.requires_grad_()?;
/// let y = x.mul(&x)?.mul(&x)?.sum_all()?; // x³
/// let dy = grad(&[&y], &[&x], None, GradOptions::default().create_graph(true))?;
/// let dy = dy[0].clone().unwrap(); // 3x² = 27
/// let d2y = grad(&[&dy.sum_all()?], &[&x], None, GradOptions::default())?; // 6x = 18
/// assert_eq!(d2y[0].as_ref().unwrap().to_vec::<f64>()?, vec![18.0]);
/// assert!(x.grad().is_none());
/// # Ok::<(), st_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::Autograd`] when there are no outputs, an output or input does not require grad,
/// `grad_outputs` has the wrong length or a mis-shaped entry (or is missing for an output
/// with several elements), an input is not used by the outputs and `allow_unused` is off,
/// or the graph was already freed; errors of the backward rules and hooks.
pub fn grad(
    outputs: &[&Tensor],
    inputs: &[&Tensor],
    grad_outputs: Option<&[&Tensor]>,
    opts: GradOptions,
) -> Result<Vec<Option<Tensor>>> {
    if outputs.is_empty() {
        return Err(Error::Autograd("grad: no outputs to differentiate".into()));
    }
    if let Some(go) = grad_outputs {
        if go.len() != outputs.len() {
            return Err(Error::Autograd(format!(
                "grad: {} grad_outputs for {} outputs",
                go.len(),
                outputs.len()
            )));
        }
    }
    let mut roots = Vec::with_capacity(outputs.len());
    for (k, &out) in outputs.iter().enumerate() {
        if !out.requires_grad() {
            return Err(Error::Autograd(format!(
                "grad: output {k} does not require grad and has no grad_fn"
            )));
        }
        let seed = grad_outputs.map(|go| go[k]);
        let seed = make_seed(out, seed, opts.create_graph).map_err(|e| match e {
            Error::Autograd(m) => Error::Autograd(format!("grad: output {k}: {m}")),
            other => other,
        })?;
        roots.push((out, seed));
    }
    if let Some(i) = inputs.iter().position(|t| !t.requires_grad()) {
        return Err(Error::Autograd(format!(
            "grad: input {i} does not require grad, so it has no gradient"
        )));
    }
    let pass = BackwardOptions {
        retain_graph: opts.retain_graph,
        create_graph: opts.create_graph,
    };
    let got = run(&roots, pass, Some(inputs))?;
    if !opts.allow_unused {
        if let Some(i) = got.iter().position(Option::is_none) {
            return Err(Error::Autograd(format!(
                "grad: input {i} (shape {}) was not used in the graph of the outputs; set \
                 allow_unused to get None for it",
                inputs[i].shape()
            )));
        }
    }
    Ok(got)
}

impl Tensor {
    /// Backpropagates from this tensor with options: `seed` is the output gradient (`None`
    /// for a one-element tensor), `opts` can retain the graph for another pass or create a
    /// graph of the pass itself (see [`backward_opts`]).
    ///
    /// ```
    /// use st_core::autograd::BackwardOptions;
    /// use st_core::{Tensor, Device};
    /// let x = Tensor::from_vec(vec![2.0f64], [1], &Device::cpu())?.requires_grad_()?;
    /// let y = x.mul(&x)?.sum_all()?;
    /// y.backward_opts(None, BackwardOptions::default().retain_graph(true))?;
    /// y.backward()?; // the graph was kept: gradients add up
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>()?, vec![8.0]);
    /// assert!(y.backward().is_err()); // and now it is freed
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`backward_opts`].
    pub fn backward_opts(&self, seed: Option<&Tensor>, opts: BackwardOptions) -> Result<()> {
        backward_opts(self, seed, opts)
    }
}

/// The output gradient a pass starts from: `seed` checked against `out`, or ones for a
/// one-element `out`. It stays in the graph only when the pass records one.
fn make_seed(out: &Tensor, seed: Option<&Tensor>, keep_graph: bool) -> Result<Tensor> {
    match seed {
        Some(s) if s.shape() != out.shape() => Err(Error::Autograd(format!(
            "seed gradient shape {} does not match output shape {}",
            s.shape(),
            out.shape()
        ))),
        Some(s) if keep_graph => Ok(s.clone()),
        Some(s) => Ok(s.detach()),
        None if out.numel() == 1 => Tensor::ones_like(out),
        None => Err(Error::Autograd(format!(
            "grad can be implicitly created only for one-element outputs; pass a seed for \
             shape {}",
            out.shape()
        ))),
    }
}

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

/// The tensors [`grad`] returns gradients for: leaves by handle, non-leaves by their node
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
                Some(n) => t.nodes.entry(key(n)).or_default().push(i),
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
                    Some(n) => needed.contains(&key(n)),
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
                if !visited.contains(&key(n)) {
                    stack.push((n.clone(), false));
                }
            }
        }
    }
    (order, freed)
}

/// One pass from `roots` (each with its seed). Without `capture` the leaves' gradients are
/// accumulated and the result is empty; with it, entry `i` is the gradient of `capture[i]`.
fn run(
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
                add_to(&mut grads, key(n), seed.clone())?;
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
        let input_refs: SmallVec<[&Tensor; 3]> = saved.inputs.iter().collect();
        let in_grads = rules::backward(node.op(), node.params(), &input_refs, &y, &grad)?;
        for (inp, g) in saved.inputs.iter().zip(in_grads) {
            let Some(g) = g else { continue };
            if !inp.requires_grad() {
                continue;
            }
            if g.shape() != inp.shape() {
                return Err(Error::Internal(format!(
                    "backward of {} produced gradient of shape {} for input of shape {}",
                    node.op().name(),
                    g.shape(),
                    inp.shape()
                )));
            }
            match inp.grad_fn() {
                Some(n) => add_to(&mut grads, key(n), g)?,
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
