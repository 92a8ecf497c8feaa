//! [`RmsProp`]: RMSprop with momentum and the centered variant.

use super::optimizer::{
    flat_params, group_states, load_groups, validate_groups, Optimizer, OptimizerState, ParamGroup,
};
use super::scalars::Scalars;
use st_core::{no_grad, Error, Result, Tensor};
use std::collections::BTreeMap;

/// RMSprop's options with PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate (0.01).
    pub lr: f64,
    /// Smoothing constant (0.99).
    pub alpha: f64,
    /// Added to the denominator (1e-8).
    pub eps: f64,
    /// L2 penalty added to the gradient (0).
    pub weight_decay: f64,
    /// Momentum factor (0).
    pub momentum: f64,
    /// Normalise by the variance estimate instead of the second moment (false).
    pub centered: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            lr: 0.01,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

struct RmsState {
    square_avg: Tensor,
    grad_avg: Option<Tensor>,
    momentum_buffer: Option<Tensor>,
    d: Tensor,
    e: Tensor,
}

/// `torch.optim.RMSprop`:
///
/// ```text
/// g = g + weight_decay·p
/// s = α·s + (1 - α)·g²
/// a = √(s - ḡ²) + eps  with ḡ = α·ḡ + (1 - α)·g   (centered)   or   a = √s + eps
/// b = momentum·b + g/a;  p = p - lr·b              (momentum > 0)
/// p = p - lr·g/a                                   (otherwise)
/// ```
pub struct RmsProp {
    groups: Vec<ParamGroup>,
    cfg: RmsPropConfig,
    state: Vec<Option<RmsState>>,
    scalars: Scalars,
}

const LR: u8 = 0;
const ALPHA: u8 = 1;
const OMA: u8 = 2;
const EPS: u8 = 3;
const MOM: u8 = 4;
const WD: u8 = 5;

impl RmsProp {
    /// RMSprop over `params` as one group.
    ///
    /// # Errors
    /// As [`RmsProp::with_groups`].
    pub fn new(params: Vec<Tensor>, cfg: RmsPropConfig) -> Result<RmsProp> {
        RmsProp::with_groups(vec![ParamGroup::new(params, cfg.lr, cfg.weight_decay)], cfg)
    }

    /// RMSprop over parameter groups.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for negative hyper-parameters; [`Error::DTypeMismatch`] for a
    /// non-float parameter.
    pub fn with_groups(groups: Vec<ParamGroup>, cfg: RmsPropConfig) -> Result<RmsProp> {
        let n = validate_groups("RMSprop", &groups)?;
        if !crate::check::nonneg(cfg.alpha)
            || !crate::check::nonneg(cfg.eps)
            || !crate::check::nonneg(cfg.momentum)
        {
            return Err(Error::invalid(
                "RMSprop",
                format!(
                    "alpha, eps and momentum must be >= 0, got {}, {}, {}",
                    cfg.alpha, cfg.eps, cfg.momentum
                ),
            ));
        }
        Ok(RmsProp {
            groups,
            cfg,
            state: (0..n).map(|_| None).collect(),
            scalars: Scalars::default(),
        })
    }

    fn fresh(p: &Tensor, c: &RmsPropConfig) -> Result<RmsState> {
        Ok(RmsState {
            square_avg: Tensor::zeros_like(p)?,
            grad_avg: if c.centered {
                Some(Tensor::zeros_like(p)?)
            } else {
                None
            },
            momentum_buffer: if c.momentum > 0.0 {
                Some(Tensor::zeros_like(p)?)
            } else {
                None
            },
            d: Tensor::zeros_like(p)?,
            e: Tensor::zeros_like(p)?,
        })
    }
}

impl Optimizer for RmsProp {
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
                    slot => slot.insert(RmsProp::fresh(p, &c)?),
                };
                let sc = &mut self.scalars;
                let (d, e) = (&st.d, &st.e);
                if group.weight_decay != 0.0 {
                    d.copy_(p)?;
                    d.mul_(&sc.get(WD, group.weight_decay, p)?)?;
                    d.add_(&g)?;
                } else {
                    d.copy_(&g)?;
                }
                let alpha = sc.get(ALPHA, c.alpha, p)?;
                let oma = sc.get(OMA, 1.0 - c.alpha, p)?;
                st.square_avg.mul_(&alpha)?;
                e.copy_(d)?;
                e.mul_(d)?;
                e.mul_(&oma)?;
                st.square_avg.add_(e)?;
                match &st.grad_avg {
                    Some(ga) => {
                        ga.mul_(&alpha)?;
                        e.copy_(d)?;
                        e.mul_(&oma)?;
                        ga.add_(e)?;
                        e.copy_(ga)?;
                        e.mul_(ga)?;
                        st.square_avg.sub_out(e, e)?;
                        e.sqrt_out(e)?;
                    }
                    None => st.square_avg.sqrt_out(e)?,
                }
                e.add_(&sc.get(EPS, c.eps, p)?)?;
                d.div_out(e, e)?;
                let lr = sc.get(LR, group.lr, p)?;
                if let Some(b) = &st.momentum_buffer {
                    b.mul_(&sc.get(MOM, c.momentum, p)?)?;
                    b.add_(e)?;
                    e.copy_(b)?;
                }
                e.mul_(&lr)?;
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
                let mut m = BTreeMap::from([("square_avg".to_string(), s.square_avg.detach())]);
                if let Some(t) = &s.grad_avg {
                    m.insert("grad_avg".into(), t.detach());
                }
                if let Some(t) = &s.momentum_buffer {
                    m.insert("momentum_buffer".into(), t.detach());
                }
                Some((i, m))
            })
            .collect();
        OptimizerState {
            state,
            param_groups: group_states(
                &self.groups,
                &[
                    ("alpha", c.alpha),
                    ("eps", c.eps),
                    ("momentum", c.momentum),
                    ("centered", f64::from(u8::from(c.centered))),
                ],
            ),
        }
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        let names = ["square_avg", "grad_avg", "momentum_buffer"];
        let loaded = load_groups(&self.groups, state, &names)?;
        let _g = no_grad();
        let mut new = Vec::with_capacity(self.state.len());
        for (i, ((p, _), e)) in flat_params(&self.groups)
            .iter()
            .zip(&loaded.per_param)
            .enumerate()
        {
            if e.is_empty() {
                new.push(None);
                continue;
            }
            let s = RmsProp::fresh(p, &self.cfg)?;
            for (k, dst) in [
                ("square_avg", Some(&s.square_avg)),
                ("grad_avg", s.grad_avg.as_ref()),
                ("momentum_buffer", s.momentum_buffer.as_ref()),
            ] {
                let Some(dst) = dst else { continue };
                let t = e.get(k).ok_or_else(|| {
                    Error::state_dict(vec![format!("state {i}.{k}")], vec![], vec![])
                })?;
                dst.copy_(&t.to(&p.device())?.to_dtype(p.dtype())?)?;
            }
            new.push(Some(s));
        }
        self.state = new;
        loaded.apply(&mut self.groups);
        Ok(())
    }
}
