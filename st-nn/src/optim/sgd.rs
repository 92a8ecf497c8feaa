//! [`Sgd`]: stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

use super::optimizer::{
    flat_params, group_states, load_groups, validate_groups, Optimizer, OptimizerState, ParamGroup,
};
use super::scalars::Scalars;
use st_core::{no_grad, Error, Result, Tensor};
use std::collections::BTreeMap;

/// SGD's options, with PyTorch's defaults (except `lr`, which PyTorch requires: 0.01 here).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor.
    pub momentum: f64,
    /// Dampening of the momentum.
    pub dampening: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum (needs momentum > 0 and zero dampening).
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 0.01,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

struct SgdState {
    momentum: Option<Tensor>,
    scratch: Tensor,
}

/// `torch.optim.SGD`:
///
/// ```text
/// d = g + weight_decay·p
/// b = d                                   (first step)
/// b = momentum·b + (1 - dampening)·d      (later steps)
/// d = d + momentum·b  (nesterov)  or  d = b
/// p = p - lr·d
/// ```
pub struct Sgd {
    groups: Vec<ParamGroup>,
    cfg: SgdConfig,
    state: Vec<Option<SgdState>>,
    scalars: Scalars,
}

const LR: u8 = 0;
const WD: u8 = 1;
const MOM: u8 = 2;
const DAMP: u8 = 3;

impl Sgd {
    /// SGD over `params` as one group with `cfg`.
    ///
    /// # Errors
    /// As [`Sgd::with_groups`].
    pub fn new(params: Vec<Tensor>, cfg: SgdConfig) -> Result<Sgd> {
        Sgd::with_groups(vec![ParamGroup::new(params, cfg.lr, cfg.weight_decay)], cfg)
    }

    /// SGD over parameter groups, each with its own `lr` and `weight_decay`; the rest of `cfg`
    /// applies to all.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for negative hyper-parameters or Nesterov without momentum or
    /// with dampening; [`Error::DTypeMismatch`] for a non-float parameter.
    pub fn with_groups(groups: Vec<ParamGroup>, cfg: SgdConfig) -> Result<Sgd> {
        let n = validate_groups("SGD", &groups)?;
        if !crate::check::nonneg(cfg.momentum) || !crate::check::nonneg(cfg.dampening) {
            return Err(Error::invalid(
                "SGD",
                format!(
                    "momentum and dampening must be >= 0, got {} and {}",
                    cfg.momentum, cfg.dampening
                ),
            ));
        }
        if cfg.nesterov && (cfg.momentum <= 0.0 || cfg.dampening != 0.0) {
            return Err(Error::invalid(
                "SGD",
                "Nesterov momentum requires a momentum and zero dampening",
            ));
        }
        Ok(Sgd {
            groups,
            cfg,
            state: (0..n).map(|_| None).collect(),
            scalars: Scalars::default(),
        })
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) -> Result<()> {
        let _g = no_grad();
        let c = self.cfg;
        let mut i = 0;
        for group in &self.groups {
            for p in &group.params {
                let idx = i;
                i += 1;
                let Some(g) = p.grad() else { continue };
                let st = match &mut self.state[idx] {
                    Some(s) => s,
                    slot => slot.insert(SgdState {
                        momentum: None,
                        scratch: Tensor::zeros_like(p)?,
                    }),
                };
                let d = &st.scratch;
                let lr = self.scalars.get(LR, group.lr, p)?;
                // `u` is the gradient with weight decay: the scratch buffer when there is any,
                // else the gradient itself (read, never written: it is the user's).
                let decayed = group.weight_decay != 0.0;
                if decayed {
                    d.copy_(p)?;
                    d.mul_(&self.scalars.get(WD, group.weight_decay, p)?)?;
                    d.add_(&g)?;
                }
                let u = if decayed { d } else { &g };
                if c.momentum == 0.0 {
                    if !decayed {
                        d.copy_(&g)?;
                    }
                    d.mul_(&lr)?;
                    p.sub_(d)?;
                    continue;
                }
                let mom = self.scalars.get(MOM, c.momentum, p)?;
                match &st.momentum {
                    None => st.momentum = Some(u.copy()?),
                    Some(b) => {
                        b.mul_(&mom)?;
                        if c.dampening != 0.0 {
                            if !decayed {
                                d.copy_(&g)?;
                            }
                            d.mul_(&self.scalars.get(DAMP, 1.0 - c.dampening, p)?)?;
                            b.add_(d)?;
                        } else {
                            b.add_(u)?;
                        }
                    }
                }
                let Some(b) = st.momentum.as_ref() else {
                    return Err(Error::Internal(
                        "SGD: momentum buffer missing after its first step".into(),
                    ));
                };
                if c.nesterov {
                    // p -= lr·u + lr·momentum·b, in two in-place passes (no dampening here).
                    if !decayed {
                        d.copy_(&g)?;
                    }
                    d.mul_(&lr)?;
                    p.sub_(d)?;
                    d.copy_(b)?;
                    d.mul_(&mom)?;
                } else {
                    d.copy_(b)?;
                }
                d.mul_(&lr)?;
                p.sub_(d)?;
            }
        }
        Ok(())
    }

    fn param_groups(&self) -> &[ParamGroup] {
        &self.groups
    }

    fn param_groups_mut(&mut self) -> &mut [ParamGroup] {
        &mut self.groups
    }

    fn state_dict(&self) -> OptimizerState {
        let c = self.cfg;
        let state = self
            .state
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let b = s.as_ref()?.momentum.as_ref()?;
                Some((
                    i,
                    BTreeMap::from([("momentum_buffer".to_string(), b.detach())]),
                ))
            })
            .collect();
        OptimizerState {
            state,
            param_groups: group_states(
                &self.groups,
                &[
                    ("momentum", c.momentum),
                    ("dampening", c.dampening),
                    ("nesterov", f64::from(u8::from(c.nesterov))),
                ],
            ),
        }
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        let loaded = load_groups(&self.groups, state, &["momentum_buffer"])?;
        let _g = no_grad();
        let mut new = Vec::with_capacity(self.state.len());
        for ((p, _), entries) in flat_params(&self.groups).iter().zip(&loaded.per_param) {
            new.push(match entries.get("momentum_buffer") {
                Some(b) => Some(SgdState {
                    momentum: Some(b.to(&p.device())?.to_dtype(p.dtype())?.copy()?),
                    scratch: Tensor::zeros_like(p)?,
                }),
                None => None,
            });
        }
        self.state = new;
        loaded.apply(&mut self.groups);
        Ok(())
    }
}
