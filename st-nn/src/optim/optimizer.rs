//! The [`Optimizer`] trait, [`ParamGroup`] and the PyTorch-shaped [`OptimizerState`].

use st_core::{Error, Result, Tensor};
use std::collections::BTreeMap;

/// Parameters that share a learning rate and weight decay (a PyTorch param group).
#[derive(Clone)]
pub struct ParamGroup {
    /// The parameters (handles sharing the model's storage).
    pub params: Vec<Tensor>,
    /// Learning rate.
    pub lr: f64,
    /// Weight decay (L2 for SGD/Adam/RMSprop/Adagrad, decoupled for AdamW).
    pub weight_decay: f64,
}

impl ParamGroup {
    /// A group of `params` with `lr` and `weight_decay`.
    pub fn new(params: Vec<Tensor>, lr: f64, weight_decay: f64) -> Self {
        ParamGroup {
            params,
            lr,
            weight_decay,
        }
    }
}

/// One group in an [`OptimizerState`]: its options and the indices of its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupState {
    /// `lr`, `weight_decay` and the optimizer's other options, by PyTorch's names.
    pub options: BTreeMap<String, f64>,
    /// Indices of the group's parameters, counted across groups in order.
    pub params: Vec<usize>,
}

/// An optimizer's `state_dict()`, in PyTorch's shape: per-parameter state by index
/// (`momentum_buffer`, `exp_avg`, `exp_avg_sq`, `step`, …) and the groups.
#[derive(Clone, Default)]
pub struct OptimizerState {
    /// Per parameter index, its named state tensors.
    pub state: BTreeMap<usize, BTreeMap<String, Tensor>>,
    /// The parameter groups.
    pub param_groups: Vec<GroupState>,
}

/// An optimizer: PyTorch's `torch.optim.Optimizer`.
pub trait Optimizer {
    /// Updates every parameter that has a gradient, in place under `no_grad`.
    ///
    /// # Errors
    /// Errors of the update ops (a gradient whose shape, dtype or device differs from its
    /// parameter's).
    fn step(&mut self) -> Result<()>;

    /// The parameter groups.
    fn param_groups(&self) -> &[ParamGroup];

    /// The parameter groups, to change learning rates (schedules do).
    fn param_groups_mut(&mut self) -> &mut [ParamGroup];

    /// The state, sharing storage with the optimizer's buffers.
    fn state_dict(&self) -> OptimizerState;

    /// Restores a state saved by [`state_dict`](Optimizer::state_dict) of an optimizer of the
    /// same kind over parameters of the same shapes.
    ///
    /// # Errors
    /// [`Error::StateDict`] when the groups or the state's shapes do not fit.
    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()>;

    /// Clears every parameter's gradient (`set_to_none=True`).
    fn zero_grad(&self) {
        for g in self.param_groups() {
            for p in &g.params {
                p.zero_grad();
            }
        }
    }

    /// Sets the learning rate of every group.
    fn set_lr(&mut self, lr: f64) {
        for g in self.param_groups_mut() {
            g.lr = lr;
        }
    }
}

/// Checks the groups' hyper-parameters and flattens them: `(group, param)` per index.
pub(crate) fn validate_groups(op: &'static str, groups: &[ParamGroup]) -> Result<usize> {
    let mut n = 0;
    for (i, g) in groups.iter().enumerate() {
        if !crate::check::nonneg(g.lr) || !crate::check::nonneg(g.weight_decay) {
            return Err(Error::invalid(
                op,
                format!(
                    "group {i}: lr and weight_decay must be >= 0, got {} and {}",
                    g.lr, g.weight_decay
                ),
            ));
        }
        for p in &g.params {
            if !p.dtype().is_float() {
                return Err(Error::DTypeMismatch {
                    op,
                    got: vec![p.dtype()],
                    reason: "optimizers update floating-point parameters".into(),
                });
            }
        }
        n += g.params.len();
    }
    Ok(n)
}

/// The groups' options as [`GroupState`]s with `extra` options added to each.
pub(crate) fn group_states(groups: &[ParamGroup], extra: &[(&str, f64)]) -> Vec<GroupState> {
    let mut next = 0;
    groups
        .iter()
        .map(|g| {
            let mut options: BTreeMap<String, f64> =
                extra.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            options.insert("lr".into(), g.lr);
            options.insert("weight_decay".into(), g.weight_decay);
            let params = (next..next + g.params.len()).collect();
            next += g.params.len();
            GroupState { options, params }
        })
        .collect()
}

/// A checked [`OptimizerState`]: the state by parameter index and each group's
/// `(lr, weight_decay)`, applied by [`Loaded::apply`] once everything else has loaded.
pub(crate) struct Loaded {
    pub(crate) per_param: Vec<BTreeMap<String, Tensor>>,
    options: Vec<(Option<f64>, Option<f64>)>,
}

impl Loaded {
    /// Sets each group's learning rate and weight decay from the state.
    pub(crate) fn apply(&self, groups: &mut [ParamGroup]) {
        for (g, (lr, wd)) in groups.iter_mut().zip(&self.options) {
            if let Some(lr) = lr {
                g.lr = *lr;
            }
            if let Some(wd) = wd {
                g.weight_decay = *wd;
            }
        }
    }
}

/// Checks that the groups have the state's sizes and that each state tensor named in
/// `names` matches its parameter's shape. Changes nothing.
pub(crate) fn load_groups(
    groups: &[ParamGroup],
    state: &OptimizerState,
    names: &[&str],
) -> Result<Loaded> {
    let sizes: Vec<usize> = groups.iter().map(|g| g.params.len()).collect();
    let given: Vec<usize> = state.param_groups.iter().map(|g| g.params.len()).collect();
    if sizes != given {
        return Err(Error::state_dict(
            vec![],
            vec![],
            vec![format!(
                "param_groups: optimizer has groups of {sizes:?} parameters, state has {given:?}"
            )],
        ));
    }
    let params: Vec<&Tensor> = groups.iter().flat_map(|g| &g.params).collect();
    let mut bad = Vec::new();
    let mut out = vec![BTreeMap::new(); params.len()];
    for (&i, entries) in &state.state {
        let Some(p) = params.get(i) else {
            bad.push(format!("state {i}: no such parameter"));
            continue;
        };
        for (k, t) in entries {
            if k != "step" && !names.contains(&k.as_str()) {
                bad.push(format!("state {i}.{k}: unknown entry"));
            } else if k != "step" && t.dims() != p.dims() {
                bad.push(format!(
                    "state {i}.{k}: {:?}, parameter {:?}",
                    t.dims(),
                    p.dims()
                ));
            } else {
                out[i].insert(k.clone(), t.clone());
            }
        }
    }
    if !bad.is_empty() {
        return Err(Error::state_dict(vec![], vec![], bad));
    }
    let options = state
        .param_groups
        .iter()
        .map(|s| {
            (
                s.options.get("lr").copied(),
                s.options.get("weight_decay").copied(),
            )
        })
        .collect();
    Ok(Loaded {
        per_param: out,
        options,
    })
}

/// Each parameter with its group's weight decay, in index order.
pub(crate) fn flat_params(groups: &[ParamGroup]) -> Vec<(Tensor, f64)> {
    groups
        .iter()
        .flat_map(|g| g.params.iter().map(|p| (p.clone(), g.weight_decay)))
        .collect()
}
