//! [`Adagrad`].

use super::optimizer::{
    flat_params, group_states, load_groups, validate_groups, Optimizer, OptimizerState, ParamGroup,
};
use super::scalars::Scalars;
use st_core::{no_grad, DType, Device, Error, Result, Tensor};
use std::collections::BTreeMap;

/// Adagrad's options with PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdagradConfig {
    /// Learning rate (0.01).
    pub lr: f64,
    /// Learning-rate decay per step (0).
    pub lr_decay: f64,
    /// L2 penalty added to the gradient (0).
    pub weight_decay: f64,
    /// Starting value of the accumulator (0).
    pub initial_accumulator_value: f64,
    /// Added to the denominator (1e-10).
    pub eps: f64,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        AdagradConfig {
            lr: 0.01,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

struct AdagradState {
    step: u64,
    sum: Tensor,
    d: Tensor,
    e: Tensor,
}

/// `torch.optim.Adagrad`:
///
/// ```text
/// g = g + weight_decay·p
/// clr = lr / (1 + (t - 1)·lr_decay)
/// s = s + g²
/// p = p - clr · g / (√s + eps)
/// ```
pub struct Adagrad {
    groups: Vec<ParamGroup>,
    cfg: AdagradConfig,
    state: Vec<Option<AdagradState>>,
    scalars: Scalars,
}

const CLR: u8 = 0;
const EPS: u8 = 1;
const WD: u8 = 2;

impl Adagrad {
    /// Adagrad over `params` as one group.
    ///
    /// # Errors
    /// As [`Adagrad::with_groups`].
    pub fn new(params: Vec<Tensor>, cfg: AdagradConfig) -> Result<Adagrad> {
        Adagrad::with_groups(vec![ParamGroup::new(params, cfg.lr, cfg.weight_decay)], cfg)
    }

    /// Adagrad over parameter groups.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for negative hyper-parameters; [`Error::DTypeMismatch`] for a
    /// non-float parameter.
    pub fn with_groups(groups: Vec<ParamGroup>, cfg: AdagradConfig) -> Result<Adagrad> {
        let n = validate_groups("Adagrad", &groups)?;
        if !crate::check::nonneg(cfg.lr_decay)
            || !crate::check::nonneg(cfg.eps)
            || !crate::check::nonneg(cfg.initial_accumulator_value)
        {
            return Err(Error::invalid(
                "Adagrad",
                format!(
                    "lr_decay, eps and initial_accumulator_value must be >= 0, got {}, {}, {}",
                    cfg.lr_decay, cfg.eps, cfg.initial_accumulator_value
                ),
            ));
        }
        Ok(Adagrad {
            groups,
            cfg,
            state: (0..n).map(|_| None).collect(),
            scalars: Scalars::default(),
        })
    }

    fn fresh(p: &Tensor, init: f64) -> Result<AdagradState> {
        Ok(AdagradState {
            step: 0,
            sum: Tensor::full_like(p, init)?,
            d: Tensor::zeros_like(p)?,
            e: Tensor::zeros_like(p)?,
        })
    }
}

impl Optimizer for Adagrad {
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
                    slot => slot.insert(Adagrad::fresh(p, c.initial_accumulator_value)?),
                };
                st.step += 1;
                let sc = &mut self.scalars;
                let (d, e) = (&st.d, &st.e);
                if group.weight_decay != 0.0 {
                    d.copy_(p)?;
                    d.mul_(&sc.get(WD, group.weight_decay, p)?)?;
                    d.add_(&g)?;
                } else {
                    d.copy_(&g)?;
                }
                e.copy_(d)?;
                e.mul_(d)?;
                st.sum.add_(e)?;
                st.sum.sqrt_out(e)?;
                e.add_(&sc.get(EPS, c.eps, p)?)?;
                d.div_out(e, e)?;
                let clr = group.lr / (1.0 + (st.step - 1) as f64 * c.lr_decay);
                e.mul_(&sc.get(CLR, clr, p)?)?;
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
                Some((
                    i,
                    BTreeMap::from([
                        (
                            "step".to_string(),
                            Tensor::scalar(s.step as f64, DType::F32, &Device::cpu()).ok()?,
                        ),
                        ("sum".to_string(), s.sum.detach()),
                    ]),
                ))
            })
            .collect();
        OptimizerState {
            state,
            param_groups: group_states(
                &self.groups,
                &[
                    ("lr_decay", c.lr_decay),
                    ("eps", c.eps),
                    ("initial_accumulator_value", c.initial_accumulator_value),
                ],
            ),
        }
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        let loaded = load_groups(&self.groups, state, &["sum"])?;
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
            let s = Adagrad::fresh(p, 0.0)?;
            let t = e
                .get("sum")
                .ok_or_else(|| Error::state_dict(vec![format!("state {i}.sum")], vec![], vec![]))?;
            s.sum.copy_(&t.to(&p.device())?.to_dtype(p.dtype())?)?;
            let step = match e.get("step") {
                Some(t) => t
                    .to(&Device::cpu())?
                    .to_dtype(DType::F64)?
                    .to_scalar::<f64>()? as u64,
                None => 0,
            };
            new.push(Some(AdagradState { step, ..s }));
        }
        self.state = new;
        loaded.apply(&mut self.groups);
        Ok(())
    }
}
