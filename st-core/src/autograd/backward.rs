//! The backward pass. [`backward`] accumulates gradients into the leaves' [`Tensor::grad`];
//! [`grad`] returns the gradients of chosen inputs instead (PyTorch's `torch.autograd.grad`).
//! Both can keep the graph for another pass (`retain_graph`) and record the pass itself, so
//! the gradients can be differentiated again (`create_graph`).

use super::pass::run;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

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
/// through it is an error. See Note [Double backward] (in `pass.rs`) for `create_graph`; with it a leaf's
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
