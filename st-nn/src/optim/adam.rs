//! [`Adam`] and [`AdamW`] (decoupled weight decay), with AMSGrad.

use super::optimizer::{
    flat_params, group_states, load_groups, validate_groups, Optimizer, OptimizerState, ParamGroup,
};
use super::scalars::Scalars;
use st_core::{no_grad, DType, Device, Error, Result, Tensor};
use std::collections::BTreeMap;

/// Adam's options with PyTorch's defaults (`weight_decay` 0 for Adam; [`AdamW::new`] uses
/// 0.01 as `torch.optim.AdamW` does).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate (1e-3).
    pub lr: f64,
    /// Decay of the first moment (0.9).
    pub beta1: f64,
    /// Decay of the second moment (0.999).
    pub beta2: f64,
    /// Added to the denominator (1e-8).
    pub eps: f64,
    /// Weight decay: L2 added to the gradient (Adam) or decoupled (AdamW).
    pub weight_decay: f64,
    /// Use the maximum of past second moments (AMSGrad).
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        }
    }
}

struct AdamState {
    step: u64,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    max_exp_avg_sq: Option<Tensor>,
    scratch: Tensor,
    decayed: Option<Tensor>,
}

/// `torch.optim.Adam`:
///
/// ```text
/// g = g + weight_decay·p                (Adam; AdamW instead does p = p·(1 - lr·weight_decay))
/// m = β1·m + (1 - β1)·g
/// v = β2·v + (1 - β2)·g²                (AMSGrad: v̂ = max(v̂, v), used below for v)
/// p = p - lr/(1 - β1^t) · m / (√v / √(1 - β2^t) + eps)
/// ```
pub struct Adam {
    groups: Vec<ParamGroup>,
    cfg: AdamConfig,
    decoupled: bool,
    state: Vec<Option<AdamState>>,
    scalars: Scalars,
}

/// `torch.optim.AdamW`: [`Adam`] with decoupled weight decay.
pub struct AdamW;

impl AdamW {
    /// AdamW over `params` with `cfg` (set `weight_decay`; PyTorch's default is 0.01).
    ///
    /// # Errors
    /// As [`Adam::with_groups`].
    #[allow(clippy::new_ret_no_self)]
    pub fn new(params: Vec<Tensor>, cfg: AdamConfig) -> Result<Adam> {
        Adam::build(
            vec![ParamGroup::new(params, cfg.lr, cfg.weight_decay)],
            cfg,
            true,
        )
    }

    /// AdamW over parameter groups.
    ///
    /// # Errors
    /// As [`Adam::with_groups`].
    pub fn with_groups(groups: Vec<ParamGroup>, cfg: AdamConfig) -> Result<Adam> {
        Adam::build(groups, cfg, true)
    }
}

const B1: u8 = 1;
const OMB1: u8 = 2;
const B2: u8 = 3;
const OMB2: u8 = 4;
const INV_BC2: u8 = 5;
const EPS: u8 = 6;
const STEP: u8 = 7;
const WD: u8 = 8;

impl Adam {
    /// Adam over `params` as one group.
    ///
    /// # Errors
    /// As [`Adam::with_groups`].
    pub fn new(params: Vec<Tensor>, cfg: AdamConfig) -> Result<Adam> {
        Adam::build(
            vec![ParamGroup::new(params, cfg.lr, cfg.weight_decay)],
            cfg,
            false,
        )
    }

    /// Adam over parameter groups, each with its own `lr` and `weight_decay`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for betas outside `[0, 1)`, a negative eps, lr or weight
    /// decay; [`Error::DTypeMismatch`] for a non-float parameter.
    pub fn with_groups(groups: Vec<ParamGroup>, cfg: AdamConfig) -> Result<Adam> {
        Adam::build(groups, cfg, false)
    }

    fn build(groups: Vec<ParamGroup>, cfg: AdamConfig, decoupled: bool) -> Result<Adam> {
        let name = if decoupled { "AdamW" } else { "Adam" };
        let n = validate_groups(name, &groups)?;
        let beta_ok = |b: f64| (0.0..1.0).contains(&b);
        if !beta_ok(cfg.beta1) || !beta_ok(cfg.beta2) || !crate::check::nonneg(cfg.eps) {
            return Err(Error::invalid(
                name,
                format!(
                    "need betas in [0, 1) and eps >= 0, got ({}, {}) and {}",
                    cfg.beta1, cfg.beta2, cfg.eps
                ),
            ));
        }
        Ok(Adam {
            groups,
            cfg,
            decoupled,
            state: (0..n).map(|_| None).collect(),
            scalars: Scalars::default(),
        })
    }

    fn fresh(p: &Tensor, amsgrad: bool, decay: bool) -> Result<AdamState> {
        Ok(AdamState {
            step: 0,
            exp_avg: Tensor::zeros_like(p)?,
            exp_avg_sq: Tensor::zeros_like(p)?,
            max_exp_avg_sq: if amsgrad {
                Some(Tensor::zeros_like(p)?)
            } else {
                None
            },
            scratch: Tensor::zeros_like(p)?,
            decayed: if decay {
                Some(Tensor::zeros_like(p)?)
            } else {
                None
            },
        })
    }
}

impl Optimizer for Adam {
    fn step(&mut self) -> Result<()> {
        let _g = no_grad();
        let c = self.cfg;
        let mut i = 0;
        for group in &self.groups {
            for p in &group.params {
                let idx = i;
                i += 1;
                let Some(g) = p.grad() else { continue };
                let l2 = !self.decoupled && group.weight_decay != 0.0;
                let st = match &mut self.state[idx] {
                    Some(s) => s,
                    slot => slot.insert(Adam::fresh(p, c.amsgrad, l2)?),
                };
                st.step += 1;
                let t = st.step as f64;
                let sc = &mut self.scalars;
                if self.decoupled && group.weight_decay != 0.0 {
                    p.mul_(&sc.get(WD, 1.0 - group.lr * group.weight_decay, p)?)?;
                }
                if l2 && st.decayed.is_none() {
                    // Weight decay turned on after the first step (or by a loaded state).
                    st.decayed = Some(Tensor::zeros_like(p)?);
                }
                let d = match (&st.decayed, l2) {
                    (Some(d), true) => {
                        d.copy_(p)?;
                        d.mul_(&sc.get(WD, group.weight_decay, p)?)?;
                        d.add_(&g)?;
                        d.clone()
                    }
                    _ => g,
                };
                let e = &st.scratch;
                st.exp_avg.mul_(&sc.get(B1, c.beta1, p)?)?;
                e.copy_(&d)?;
                e.mul_(&sc.get(OMB1, 1.0 - c.beta1, p)?)?;
                st.exp_avg.add_(e)?;
                st.exp_avg_sq.mul_(&sc.get(B2, c.beta2, p)?)?;
                e.copy_(&d)?;
                e.mul_(&d)?;
                e.mul_(&sc.get(OMB2, 1.0 - c.beta2, p)?)?;
                st.exp_avg_sq.add_(e)?;
                let v = match &st.max_exp_avg_sq {
                    Some(vmax) => {
                        vmax.maximum_(&st.exp_avg_sq)?;
                        vmax
                    }
                    None => &st.exp_avg_sq,
                };
                let bc1 = 1.0 - c.beta1.powf(t);
                let bc2 = 1.0 - c.beta2.powf(t);
                v.sqrt_out(e)?;
                e.mul_(&sc.get(INV_BC2, 1.0 / bc2.sqrt(), p)?)?;
                e.add_(&sc.get(EPS, c.eps, p)?)?;
                st.exp_avg.div_out(e, e)?;
                e.mul_(&sc.get(STEP, group.lr / bc1, p)?)?;
                p.sub_(e)?;
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
                let s = s.as_ref()?;
                let mut m = BTreeMap::from([
                    (
                        "step".to_string(),
                        Tensor::scalar(s.step as f64, DType::F32, &Device::cpu()).ok()?,
                    ),
                    ("exp_avg".to_string(), s.exp_avg.detach()),
                    ("exp_avg_sq".to_string(), s.exp_avg_sq.detach()),
                ]);
                if let Some(v) = &s.max_exp_avg_sq {
                    m.insert("max_exp_avg_sq".to_string(), v.detach());
                }
                Some((i, m))
            })
            .collect();
        OptimizerState {
            state,
            param_groups: group_states(
                &self.groups,
                &[
                    ("beta1", c.beta1),
                    ("beta2", c.beta2),
                    ("eps", c.eps),
                    ("amsgrad", f64::from(u8::from(c.amsgrad))),
                ],
            ),
        }
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        let names = ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];
        let loaded = load_groups(&self.groups, state, &names)?;
        let _g = no_grad();
        let c = self.cfg;
        let mut new = Vec::with_capacity(self.state.len());
        for (i, ((p, wd), e)) in flat_params(&self.groups)
            .iter()
            .zip(&loaded.per_param)
            .enumerate()
        {
            if e.is_empty() {
                new.push(None);
                continue;
            }
            let s = Adam::fresh(p, c.amsgrad, !self.decoupled && *wd != 0.0)?;
            let take = |k: &str, dst: &Tensor| -> Result<()> {
                match e.get(k) {
                    Some(t) => dst.copy_(&t.to(&p.device())?.to_dtype(p.dtype())?),
                    None => Err(Error::state_dict(
                        vec![format!("state {i}.{k}")],
                        vec![],
                        vec![],
                    )),
                }
            };
            take("exp_avg", &s.exp_avg)?;
            take("exp_avg_sq", &s.exp_avg_sq)?;
            if let Some(v) = &s.max_exp_avg_sq {
                take("max_exp_avg_sq", v)?;
            }
            let step = match e.get("step") {
                Some(t) => t
                    .to(&Device::cpu())?
                    .to_dtype(DType::F64)?
                    .to_scalar::<f64>()? as u64,
                None => 0,
            };
            new.push(Some(AdamState { step, ..s }));
        }
        self.state = new;
        loaded.apply(&mut self.groups);
        Ok(())
    }
}
