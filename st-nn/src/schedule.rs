//! Learning-rate schedules, as `torch.optim.lr_scheduler`, in closed form: a [`Schedule`]
//! maps a step count and a group's base learning rate to a learning rate, and an
//! [`LrScheduler`] applies one to an optimizer's groups.

use crate::optim::Optimizer;
use st_core::{Error, Result};
use std::collections::BTreeMap;
use std::f64::consts::PI;

/// A learning rate as a function of the step count.
pub trait Schedule: Send {
    /// The learning rate at step `t` (0 before the first `step()`) of a group whose initial
    /// learning rate is `base`.
    fn lr_at(&self, t: usize, base: f64) -> f64;

    /// Checks the schedule's parameters.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the schedule and the bad value.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

fn bad(op: &'static str, what: String) -> Result<()> {
    Err(Error::invalid(op, what))
}

/// `StepLR`: `base · γ^⌊t / step_size⌋`.
#[derive(Clone, Copy, Debug)]
pub struct StepLr {
    /// Steps between decays.
    pub step_size: usize,
    /// Decay factor (0.1 in PyTorch).
    pub gamma: f64,
}

/// `MultiStepLR`: `base · γ^(number of milestones ≤ t)` (in any order).
#[derive(Clone, Debug)]
pub struct MultiStepLr {
    /// Steps at which the rate decays.
    pub milestones: Vec<usize>,
    /// Decay factor.
    pub gamma: f64,
}

/// `ExponentialLR`: `base · γ^t`.
#[derive(Clone, Copy, Debug)]
pub struct ExponentialLr {
    /// Decay factor per step.
    pub gamma: f64,
}

/// `CosineAnnealingLR`: `η_min + (base - η_min)·(1 + cos(π·t / T_max)) / 2`.
#[derive(Clone, Copy, Debug)]
pub struct CosineAnnealingLr {
    /// Half period, in steps.
    pub t_max: usize,
    /// Floor of the rate.
    pub eta_min: f64,
}

/// `LinearLR` (warmup): the factor goes linearly from `start_factor` to `end_factor` over
/// `total_iters` steps, then stays.
#[derive(Clone, Copy, Debug)]
pub struct LinearLr {
    /// Factor at step 0 (1/3 in PyTorch).
    pub start_factor: f64,
    /// Factor from `total_iters` on (1).
    pub end_factor: f64,
    /// Steps of the ramp (5).
    pub total_iters: usize,
}

impl Default for LinearLr {
    fn default() -> Self {
        LinearLr {
            start_factor: 1.0 / 3.0,
            end_factor: 1.0,
            total_iters: 5,
        }
    }
}

/// `OneCycleLR` with cosine annealing (two phases): from `max_lr / div_factor` up to `max_lr`
/// over `pct_start` of the steps, then down to `max_lr / div_factor / final_div_factor`. The
/// groups' base rates are ignored, as in PyTorch.
#[derive(Clone, Copy, Debug)]
pub struct OneCycleLr {
    /// Peak learning rate.
    pub max_lr: f64,
    /// Total steps of the cycle.
    pub total_steps: usize,
    /// Fraction of the steps spent increasing (0.3).
    pub pct_start: f64,
    /// `initial = max_lr / div_factor` (25).
    pub div_factor: f64,
    /// `min = initial / final_div_factor` (1e4).
    pub final_div_factor: f64,
}

impl OneCycleLr {
    /// PyTorch's defaults for `max_lr` and `total_steps`.
    pub fn new(max_lr: f64, total_steps: usize) -> Self {
        OneCycleLr {
            max_lr,
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
        }
    }
}

/// `SequentialLR`: schedule `k` runs from milestone `k-1` on, counting its steps from 0.
pub struct SequentialLr {
    /// The schedules, in order.
    pub schedules: Vec<Box<dyn Schedule>>,
    /// The steps at which the next schedule takes over (one fewer than schedules).
    pub milestones: Vec<usize>,
}

fn cos_anneal(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
}

impl Schedule for StepLr {
    fn lr_at(&self, t: usize, base: f64) -> f64 {
        base * self.gamma.powi((t / self.step_size.max(1)) as i32)
    }
    fn validate(&self) -> Result<()> {
        if self.step_size == 0 {
            return bad("StepLR", "step_size must be positive".into());
        }
        Ok(())
    }
}

impl Schedule for MultiStepLr {
    fn lr_at(&self, t: usize, base: f64) -> f64 {
        base * self
            .gamma
            .powi(self.milestones.iter().filter(|&&m| m <= t).count() as i32)
    }
}

impl Schedule for ExponentialLr {
    fn lr_at(&self, t: usize, base: f64) -> f64 {
        base * self.gamma.powi(t as i32)
    }
}

impl Schedule for CosineAnnealingLr {
    fn lr_at(&self, t: usize, base: f64) -> f64 {
        let tm = self.t_max.max(1) as f64;
        self.eta_min + (base - self.eta_min) * (1.0 + (PI * t as f64 / tm).cos()) / 2.0
    }
    fn validate(&self) -> Result<()> {
        if self.t_max == 0 {
            return bad("CosineAnnealingLR", "T_max must be positive".into());
        }
        Ok(())
    }
}

impl Schedule for LinearLr {
    fn lr_at(&self, t: usize, base: f64) -> f64 {
        let n = self.total_iters.max(1) as f64;
        let f = self.start_factor
            + (self.end_factor - self.start_factor) * (t.min(self.total_iters) as f64) / n;
        base * f
    }
}

impl Schedule for OneCycleLr {
    fn lr_at(&self, t: usize, _base: f64) -> f64 {
        let initial = self.max_lr / self.div_factor;
        let min = initial / self.final_div_factor;
        let up_end = self.pct_start * self.total_steps as f64 - 1.0;
        let down_end = self.total_steps as f64 - 1.0;
        let t = t as f64;
        if t <= up_end {
            cos_anneal(
                initial,
                self.max_lr,
                if up_end > 0.0 { t / up_end } else { 1.0 },
            )
        } else {
            let span = down_end - up_end;
            let pct = if span > 0.0 {
                ((t - up_end) / span).min(1.0)
            } else {
                1.0
            };
            cos_anneal(self.max_lr, min, pct)
        }
    }
    fn validate(&self) -> Result<()> {
        if self.total_steps == 0 || !(0.0..=1.0).contains(&self.pct_start) {
            return bad(
                "OneCycleLR",
                format!(
                    "need total_steps > 0 and pct_start in [0, 1], got {} and {}",
                    self.total_steps, self.pct_start
                ),
            );
        }
        if !crate::check::positive(self.div_factor)
            || !crate::check::positive(self.final_div_factor)
        {
            return bad(
                "OneCycleLR",
                "div_factor and final_div_factor must be positive".into(),
            );
        }
        Ok(())
    }
}

impl Schedule for SequentialLr {
    fn lr_at(&self, t: usize, base: f64) -> f64 {
        let k = self.milestones.iter().filter(|&&m| m <= t).count();
        let start = if k == 0 { 0 } else { self.milestones[k - 1] };
        match self.schedules.get(k) {
            Some(s) => s.lr_at(t - start, base),
            None => base,
        }
    }
    fn validate(&self) -> Result<()> {
        if self.schedules.is_empty() || self.milestones.len() + 1 != self.schedules.len() {
            return bad(
                "SequentialLR",
                format!(
                    "needs one milestone fewer than schedules, got {} schedules and {} milestones",
                    self.schedules.len(),
                    self.milestones.len()
                ),
            );
        }
        if self.milestones.windows(2).any(|w| w[0] > w[1]) {
            return bad(
                "SequentialLR",
                format!("milestones must be sorted, got {:?}", self.milestones),
            );
        }
        self.schedules.iter().try_for_each(|s| s.validate())
    }
}

/// Applies a [`Schedule`] to an optimizer: made at step 0 (setting each group's rate to
/// `lr_at(0, base)`), then [`step`](LrScheduler::step) once per epoch or batch.
pub struct LrScheduler {
    schedule: Box<dyn Schedule>,
    base_lrs: Vec<f64>,
    last_epoch: usize,
}

impl LrScheduler {
    /// A scheduler over `opt`'s groups, whose current rates become the base rates.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a schedule that cannot run: a zero `step_size`,
    /// `t_max` or `total_steps`, a `pct_start` outside `[0, 1]`, or a `SequentialLR` whose
    /// milestones are not one fewer than its schedules.
    pub fn new(opt: &mut dyn Optimizer, schedule: impl Schedule + 'static) -> Result<LrScheduler> {
        schedule.validate()?;
        let base_lrs = opt.param_groups().iter().map(|g| g.lr).collect();
        let s = LrScheduler {
            schedule: Box::new(schedule),
            base_lrs,
            last_epoch: 0,
        };
        s.apply(opt);
        Ok(s)
    }

    fn apply(&self, opt: &mut dyn Optimizer) {
        for (g, &b) in opt.param_groups_mut().iter_mut().zip(&self.base_lrs) {
            g.lr = self.schedule.lr_at(self.last_epoch, b);
        }
    }

    /// Advances one step and sets the groups' rates.
    pub fn step(&mut self, opt: &mut dyn Optimizer) {
        self.last_epoch += 1;
        self.apply(opt);
    }

    /// The rates of the current step, per group (`get_last_lr()`).
    pub fn last_lr(&self) -> Vec<f64> {
        self.base_lrs
            .iter()
            .map(|&b| self.schedule.lr_at(self.last_epoch, b))
            .collect()
    }

    /// Steps taken.
    pub fn last_epoch(&self) -> usize {
        self.last_epoch
    }

    /// `last_epoch` and `base_lrs.{i}`.
    pub fn state_dict(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::from([("last_epoch".to_string(), self.last_epoch as f64)]);
        for (i, b) in self.base_lrs.iter().enumerate() {
            m.insert(format!("base_lrs.{i}"), *b);
        }
        m
    }

    /// The `(last_epoch, base_lrs)` of `state`, checked against this scheduler's groups.
    ///
    /// # Errors
    /// [`Error::StateDict`] naming the missing keys.
    pub fn check_state(&self, state: &BTreeMap<String, f64>) -> Result<(usize, Vec<f64>)> {
        let mut missing = Vec::new();
        let last = state.get("last_epoch").copied();
        if last.is_none() {
            missing.push("last_epoch".to_string());
        }
        let mut bases = Vec::with_capacity(self.base_lrs.len());
        for i in 0..self.base_lrs.len() {
            match state.get(&format!("base_lrs.{i}")) {
                Some(&b) => bases.push(b),
                None => missing.push(format!("base_lrs.{i}")),
            }
        }
        let extra: Vec<String> = state
            .keys()
            .filter(|k| {
                let base_index = k
                    .strip_prefix("base_lrs.")
                    .and_then(|i| i.parse::<usize>().ok());
                *k != "last_epoch" && base_index.is_none_or(|i| i >= self.base_lrs.len())
            })
            .cloned()
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            return Err(Error::state_dict(missing, extra, vec![]));
        }
        Ok((last.unwrap_or(0.0) as usize, bases))
    }

    /// Restores a [`state_dict`](LrScheduler::state_dict) and sets `opt`'s rates from it.
    ///
    /// # Errors
    /// As [`check_state`](LrScheduler::check_state); nothing changes then.
    pub fn load_state_dict(
        &mut self,
        state: &BTreeMap<String, f64>,
        opt: &mut dyn Optimizer,
    ) -> Result<()> {
        let (last, bases) = self.check_state(state)?;
        self.last_epoch = last;
        self.base_lrs = bases;
        self.apply(opt);
        Ok(())
    }
}
