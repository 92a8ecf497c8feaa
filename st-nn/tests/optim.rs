//! Optimizers against independent f64 reference implementations of the algorithms in the
//! `torch.optim` docs (SGD, Adam, AdamW, RMSprop, Adagrad) on a small least-squares problem
//! with gradients from autograd; parameter groups, gradient clipping, state dicts, argument
//! errors and parameters without a gradient.

use st_core::{Device, Error, Tensor};
use st_nn::optim::{
    clip_grad_norm_, clip_grad_value_, Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, Optimizer,
    OptimizerState, ParamGroup, RmsProp, RmsPropConfig, Sgd, SgdConfig,
};
use std::collections::BTreeMap;

/// Batch size, input and output width: `W` is `[I, K]`, `b` is `[K]`, `x` is `[N, I]`.
const N: usize = 5;
const I: usize = 3;
const K: usize = 4;

fn x_data() -> Vec<f64> {
    (0..N * I).map(|j| (j as f64 * 1.37 + 0.3).sin()).collect()
}

fn y_data() -> Vec<f64> {
    (0..N * K).map(|j| (j as f64 * 0.71 - 0.2).cos()).collect()
}

/// The starting values of `W` and `b`.
fn init() -> Vec<Vec<f64>> {
    vec![
        (0..I * K)
            .map(|j| 0.3 * (j as f64 * 0.9 + 1.0).sin())
            .collect(),
        (0..K).map(|j| 0.1 * j as f64 - 0.15).collect(),
    ]
}

fn leaf(v: &[f64], dims: &[usize]) -> Tensor {
    let t = Tensor::from_vec(v.to_vec(), dims, &Device::cpu()).unwrap();
    t.requires_grad_().unwrap()
}

/// f64 leaves `W` and `b` holding `v`.
fn params_from(v: &[Vec<f64>]) -> Vec<Tensor> {
    vec![leaf(&v[0], &[I, K]), leaf(&v[1], &[K])]
}

fn values(ps: &[Tensor]) -> Vec<Vec<f64>> {
    ps.iter().map(|p| p.to_f64_vec().unwrap()).collect()
}

fn bits(ps: &[Tensor]) -> Vec<Vec<u64>> {
    values(ps)
        .iter()
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect()
}

/// `loss = Σ (x W + b - y)²` with autograd; backward leaves the gradients on `W` and `b`.
fn forward_backward(ps: &[Tensor]) -> f64 {
    let cpu = Device::cpu();
    let x = Tensor::from_vec(x_data(), [N, I], &cpu).unwrap();
    let y = Tensor::from_vec(y_data(), [N, K], &cpu).unwrap();
    let r = x.matmul(&ps[0]).unwrap().add(&ps[1]).unwrap();
    let r = r.sub(&y).unwrap();
    let loss = r.mul(&r).unwrap().sum_all().unwrap();
    loss.backward().unwrap();
    loss.to_scalar::<f64>().unwrap()
}

/// The same loss and its gradients in plain f64: `r = xW + b - y`, `dW = 2xᵀr`,
/// `db = 2 Σ_n r`.
fn ref_loss_grads(p: &[Vec<f64>]) -> (f64, Vec<Vec<f64>>) {
    let (x, y) = (x_data(), y_data());
    let (mut loss, mut gw, mut gb) = (0.0, vec![0.0; I * K], vec![0.0; K]);
    for n in 0..N {
        for k in 0..K {
            let mut r = p[1][k] - y[n * K + k];
            for i in 0..I {
                r += x[n * I + i] * p[0][i * K + k];
            }
            loss += r * r;
            gb[k] += 2.0 * r;
            for i in 0..I {
                gw[i * K + k] += 2.0 * x[n * I + i] * r;
            }
        }
    }
    (loss, vec![gw, gb])
}

fn close(got: f64, want: f64, what: &str) {
    let tol = 1e-10 * got.abs().max(want.abs()).max(1.0);
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}");
}

/// Plain-f64 `torch.optim` algorithms, by config type; `st` holds, per parameter, the step
/// count and up to three buffers.
struct Ref<C> {
    c: C,
    st: BTreeMap<usize, (i32, [Vec<f64>; 3])>,
}

impl<C> Ref<C> {
    fn new(c: C) -> Self {
        let st = BTreeMap::new();
        Ref { c, st }
    }

    /// Parameter `i`'s step count (0 on its first step, before counting it) and buffers.
    fn slot(&mut self, i: usize, n: usize) -> &mut (i32, [Vec<f64>; 3]) {
        let zeros = || [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
        self.st.entry(i).or_insert_with(|| (0, zeros()))
    }
}

/// A reference optimizer: updates parameter `i` (values `p`, gradient `g`) in place.
trait Reference {
    fn update(&mut self, i: usize, lr: f64, wd: f64, p: &mut [f64], g: &[f64]);
}

/// Runs `steps` steps of `opt` over `ps` and of `r` over `rp` (`(lr, weight_decay)` per
/// parameter in `hp`), comparing the loss before and the parameters after every step.
fn compare(
    opt: &mut dyn Optimizer,
    ps: &[Tensor],
    r: &mut dyn Reference,
    rp: &mut [Vec<f64>],
    hp: &[(f64, f64)],
    steps: usize,
) {
    for s in 0..steps {
        opt.zero_grad();
        let loss = forward_backward(ps);
        let (want, grads) = ref_loss_grads(rp);
        close(loss, want, &format!("loss before step {s}"));
        opt.step().unwrap();
        for (i, g) in grads.iter().enumerate() {
            r.update(i, hp[i].0, hp[i].1, &mut rp[i], g);
        }
        for (i, (got, want)) in values(ps).iter().zip(rp.iter()).enumerate() {
            for (j, (a, b)) in got.iter().zip(want).enumerate() {
                close(*a, *b, &format!("param {i}[{j}] after step {s}"));
            }
        }
    }
}

/// 50 steps of the optimizer `make` builds against `r`, one group with `lr` and `wd`; returns
/// the final reference parameters.
fn check(
    make: impl FnOnce(Vec<Tensor>) -> Box<dyn Optimizer>,
    mut r: impl Reference,
    lr: f64,
    wd: f64,
) -> Vec<Vec<f64>> {
    let mut rp = init();
    let ps = params_from(&rp);
    let mut opt = make(ps.clone());
    compare(&mut *opt, &ps, &mut r, &mut rp, &[(lr, wd); 2], 50);
    let start = ref_loss_grads(&init()).0;
    assert!(ref_loss_grads(&rp).0 < start, "the problem did not train");
    rp
}

/// SGD: `d = g + λp`; `b = d` on the first step, else `b = μb + (1-τ)d`; `d = d + μb`
/// (Nesterov) or `d = b`; `p = p - γd`.
impl Reference for Ref<SgdConfig> {
    fn update(&mut self, i: usize, lr: f64, wd: f64, p: &mut [f64], g: &[f64]) {
        let c = self.c;
        let (t, [b, ..]) = self.slot(i, p.len());
        for j in 0..p.len() {
            let mut d = g[j] + wd * p[j];
            if c.momentum != 0.0 {
                b[j] = if *t == 0 {
                    d
                } else {
                    c.momentum * b[j] + (1.0 - c.dampening) * d
                };
                d = if c.nesterov {
                    d + c.momentum * b[j]
                } else {
                    b[j]
                };
            }
            p[j] -= lr * d;
        }
        *t += 1;
    }
}

/// Adam (`.1 == false`, L2 `g = g + λp`) and AdamW (`.1 == true`, `p = p(1 - γλ)` first):
/// `m = β1 m + (1-β1)g`, `v = β2 v + (1-β2)g²`, `m̂ = m/(1-β1^t)`, AMSGrad `v_max = max(v_max,
/// v)` (the raw second moment: PyTorch 2.x docs and every PyTorch implementation),
/// `v̂ = v/(1-β2^t)`, `p = p - γ m̂/(√v̂ + ε)`.
impl Reference for Ref<(AdamConfig, bool)> {
    fn update(&mut self, i: usize, lr: f64, wd: f64, p: &mut [f64], g: &[f64]) {
        let (c, decoupled) = self.c;
        let (t, [m, v, vmax]) = self.slot(i, p.len());
        *t += 1;
        for j in 0..p.len() {
            let mut gj = g[j];
            if decoupled {
                p[j] *= 1.0 - lr * wd;
            } else {
                gj += wd * p[j];
            }
            m[j] = c.beta1 * m[j] + (1.0 - c.beta1) * gj;
            v[j] = c.beta2 * v[j] + (1.0 - c.beta2) * gj * gj;
            vmax[j] = vmax[j].max(v[j]);
            let m_hat = m[j] / (1.0 - c.beta1.powi(*t));
            let v_hat = if c.amsgrad { vmax[j] } else { v[j] } / (1.0 - c.beta2.powi(*t));
            p[j] -= lr * m_hat / (v_hat.sqrt() + c.eps);
        }
    }
}

/// RMSprop: `g = g + λp`, `v = αv + (1-α)g²`, centered `ḡ = αḡ + (1-α)g` and
/// `ṽ = v - ḡ²` (else `ṽ = v`); momentum `b = μb + g/(√ṽ + ε)`, `p = p - γb`, else
/// `p = p - γ g/(√ṽ + ε)`.
impl Reference for Ref<RmsPropConfig> {
    fn update(&mut self, i: usize, lr: f64, wd: f64, p: &mut [f64], g: &[f64]) {
        let c = self.c;
        let (_, [v, g_ave, b]) = self.slot(i, p.len());
        for j in 0..p.len() {
            let gj = g[j] + wd * p[j];
            v[j] = c.alpha * v[j] + (1.0 - c.alpha) * gj * gj;
            let mut v_tilde = v[j];
            if c.centered {
                g_ave[j] = c.alpha * g_ave[j] + (1.0 - c.alpha) * gj;
                v_tilde -= g_ave[j] * g_ave[j];
            }
            let step = gj / (v_tilde.sqrt() + c.eps);
            if c.momentum > 0.0 {
                b[j] = c.momentum * b[j] + step;
                p[j] -= lr * b[j];
            } else {
                p[j] -= lr * step;
            }
        }
    }
}

/// Adagrad: `γ̃ = γ/(1 + (t-1)η)`, `g = g + λp`, `s = s + g²` (from
/// `initial_accumulator_value`), `p = p - γ̃ g/(√s + ε)`.
impl Reference for Ref<AdagradConfig> {
    fn update(&mut self, i: usize, lr: f64, wd: f64, p: &mut [f64], g: &[f64]) {
        let c = self.c;
        let (t, [sum, ..]) = self.slot(i, p.len());
        if *t == 0 {
            sum.fill(c.initial_accumulator_value);
        }
        *t += 1;
        let clr = lr / (1.0 + f64::from(*t - 1) * c.lr_decay);
        for j in 0..p.len() {
            let gj = g[j] + wd * p[j];
            sum[j] += gj * gj;
            p[j] -= clr * gj / (sum[j].sqrt() + c.eps);
        }
    }
}

fn sgd(lr: f64, momentum: f64, dampening: f64, wd: f64, nesterov: bool) -> SgdConfig {
    let mut c = SgdConfig::default();
    (c.lr, c.momentum, c.dampening, c.weight_decay, c.nesterov) =
        (lr, momentum, dampening, wd, nesterov);
    c
}

fn adam(lr: f64, beta1: f64, beta2: f64, wd: f64, amsgrad: bool) -> AdamConfig {
    let mut c = AdamConfig::default();
    (c.lr, c.beta1, c.beta2, c.weight_decay, c.amsgrad) = (lr, beta1, beta2, wd, amsgrad);
    c
}

fn rms(lr: f64, alpha: f64, wd: f64, momentum: f64, centered: bool) -> RmsPropConfig {
    let mut c = RmsPropConfig::default();
    (c.lr, c.alpha, c.weight_decay, c.momentum, c.centered) = (lr, alpha, wd, momentum, centered);
    c
}

fn adagrad(lr: f64, lr_decay: f64, wd: f64, initial: f64) -> AdagradConfig {
    let mut c = AdagradConfig::default();
    (c.lr, c.lr_decay) = (lr, lr_decay);
    (c.weight_decay, c.initial_accumulator_value) = (wd, initial);
    c
}

fn sgd_case(c: SgdConfig) {
    let make = |ps| Box::new(Sgd::new(ps, c).unwrap()) as Box<dyn Optimizer>;
    check(make, Ref::new(c), c.lr, c.weight_decay);
}

fn adam_case(c: AdamConfig, decoupled: bool) -> Vec<Vec<f64>> {
    let make = |ps| -> Box<dyn Optimizer> {
        match decoupled {
            true => Box::new(AdamW::new(ps, c).unwrap()),
            false => Box::new(Adam::new(ps, c).unwrap()),
        }
    };
    check(make, Ref::new((c, decoupled)), c.lr, c.weight_decay)
}

fn rms_case(c: RmsPropConfig) {
    let make = |ps| Box::new(RmsProp::new(ps, c).unwrap()) as Box<dyn Optimizer>;
    check(make, Ref::new(c), c.lr, c.weight_decay);
}

fn adagrad_case(c: AdagradConfig) {
    let make = |ps| Box::new(Adagrad::new(ps, c).unwrap()) as Box<dyn Optimizer>;
    check(make, Ref::new(c), c.lr, c.weight_decay);
}

/// One test per case, each 50 steps against its reference.
macro_rules! reference_tests {
    ($($name:ident => $case:expr;)*) => {$(
        #[test]
        fn $name() {
            $case;
        }
    )*};
}

reference_tests! {
    sgd_plain_matches_reference => sgd_case(sgd(0.01, 0.0, 0.0, 0.0, false));
    sgd_momentum_dampening_matches_reference => sgd_case(sgd(0.01, 0.9, 0.3, 0.0, false));
    sgd_nesterov_matches_reference => sgd_case(sgd(0.01, 0.9, 0.0, 0.05, true));
    sgd_weight_decay_matches_reference => sgd_case(sgd(0.02, 0.0, 0.0, 0.1, false));
    adam_matches_reference => adam_case(adam(0.05, 0.9, 0.999, 0.0, false), false);
    adam_l2_weight_decay_matches_reference => adam_case(adam(0.05, 0.9, 0.999, 0.1, false), false);
    adamw_decoupled_weight_decay_matches_reference =>
        adam_case(adam(0.05, 0.9, 0.999, 0.1, false), true);
    rmsprop_plain_matches_reference => rms_case(rms(0.01, 0.99, 0.0, 0.0, false));
    rmsprop_centered_matches_reference => rms_case(rms(0.01, 0.99, 0.0, 0.0, true));
    rmsprop_momentum_matches_reference => rms_case(rms(0.005, 0.99, 0.0, 0.8, false));
    rmsprop_weight_decay_matches_reference => rms_case(rms(0.01, 0.99, 0.1, 0.0, false));
    adagrad_plain_matches_reference => adagrad_case(adagrad(0.1, 0.0, 0.0, 0.0));
    adagrad_lr_decay_weight_decay_initial_accumulator_match_reference =>
        adagrad_case(adagrad(0.1, 0.05, 0.1, 0.5));
}

#[test]
fn adam_amsgrad_matches_reference() {
    let ams = adam_case(adam(0.05, 0.9, 0.9, 0.0, true), false);
    // The maximum must have mattered, or this would only re-test plain Adam.
    let plain = adam_case(adam(0.05, 0.9, 0.9, 0.0, false), false);
    let diff = ams[0].iter().zip(&plain[0]).map(|(a, b)| (a - b).abs());
    assert!(diff.fold(0.0, f64::max) > 1e-6);
}

/// PyTorch reads `weight_decay` from the group on every step, so setting it between steps
/// takes effect at the next one.
#[test]
fn adam_weight_decay_set_after_first_step_is_applied() {
    let c = adam(0.05, 0.9, 0.999, 0.0, false);
    let mut rp = init();
    let ps = params_from(&rp);
    let mut opt = Adam::new(ps.clone(), c).unwrap();
    let mut r = Ref::new((c, false));
    compare(&mut opt, &ps, &mut r, &mut rp, &[(0.05, 0.0); 2], 5);
    for g in opt.param_groups_mut() {
        g.weight_decay = 0.5;
    }
    compare(&mut opt, &ps, &mut r, &mut rp, &[(0.05, 0.5); 2], 5);
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Sgd,
    Adam,
    AdamW,
    RmsProp,
    Adagrad,
}

const KINDS: [Kind; 5] = [
    Kind::Sgd,
    Kind::Adam,
    Kind::AdamW,
    Kind::RmsProp,
    Kind::Adagrad,
];

/// Each kind with stateful options (momentum, AMSGrad, centering, lr decay), over `ps`.
fn single(kind: Kind, ps: Vec<Tensor>, lr: f64, wd: f64) -> st_core::Result<Box<dyn Optimizer>> {
    Ok(match kind {
        Kind::Sgd => Box::new(Sgd::new(ps, sgd(lr, 0.9, 0.1, wd, false))?),
        Kind::Adam => Box::new(Adam::new(ps, adam(lr, 0.9, 0.95, wd, true))?),
        Kind::AdamW => Box::new(AdamW::new(ps, adam(lr, 0.9, 0.999, wd, false))?),
        Kind::RmsProp => Box::new(RmsProp::new(ps, rms(lr, 0.99, wd, 0.5, true))?),
        Kind::Adagrad => Box::new(Adagrad::new(ps, adagrad(lr, 0.01, wd, 0.1))?),
    })
}

/// As [`single`], over parameter groups (which carry `lr` and `weight_decay`).
fn build(kind: Kind, g: Vec<ParamGroup>) -> st_core::Result<Box<dyn Optimizer>> {
    Ok(match kind {
        Kind::Sgd => Box::new(Sgd::with_groups(g, sgd(0.0, 0.9, 0.1, 0.0, false))?),
        Kind::Adam => Box::new(Adam::with_groups(g, adam(0.0, 0.9, 0.95, 0.0, true))?),
        Kind::AdamW => Box::new(AdamW::with_groups(g, adam(0.0, 0.9, 0.999, 0.0, false))?),
        Kind::RmsProp => Box::new(RmsProp::with_groups(g, rms(0.0, 0.99, 0.0, 0.5, true))?),
        Kind::Adagrad => Box::new(Adagrad::with_groups(g, adagrad(0.0, 0.01, 0.0, 0.1))?),
    })
}

fn one_group(kind: Kind, ps: &[Tensor], lr: f64) -> Box<dyn Optimizer> {
    single(kind, ps.to_vec(), lr, 0.05).unwrap()
}

/// `steps` training steps: clear the gradients, forward and backward, update.
fn train(opt: &mut dyn Optimizer, ps: &[Tensor], steps: usize) {
    for _ in 0..steps {
        opt.zero_grad();
        forward_backward(ps);
        opt.step().unwrap();
    }
}

#[test]
fn param_groups_update_as_separate_optimizers() {
    for kind in KINDS {
        let (a, b) = (params_from(&init()), params_from(&init()));
        let groups = vec![
            ParamGroup::new(vec![a[0].clone()], 0.03, 0.2),
            ParamGroup::new(vec![a[1].clone()], 0.01, 0.0),
        ];
        let mut grouped = build(kind, groups).unwrap();
        let mut opt_w = build(kind, vec![ParamGroup::new(vec![b[0].clone()], 0.03, 0.2)]).unwrap();
        let mut opt_b = build(kind, vec![ParamGroup::new(vec![b[1].clone()], 0.01, 0.0)]).unwrap();
        for s in 0..20 {
            train(&mut *grouped, &a, 1);
            opt_w.zero_grad();
            opt_b.zero_grad();
            forward_backward(&b);
            opt_w.step().unwrap();
            opt_b.step().unwrap();
            assert_eq!(bits(&a), bits(&b), "{kind:?}, step {s}");
        }
        // The groups' options differ enough that one shared set would not pass.
        let lrs: Vec<f64> = grouped.param_groups().iter().map(|g| g.lr).collect();
        assert_eq!(lrs, [0.03, 0.01], "{kind:?}");
    }
}

#[test]
fn param_groups_match_reference() {
    let c = AdamConfig::default();
    let mut rp = init();
    let ps = params_from(&rp);
    let groups = vec![
        ParamGroup::new(vec![ps[0].clone()], 0.03, 0.2),
        ParamGroup::new(vec![ps[1].clone()], 0.01, 0.0),
    ];
    let mut opt = Adam::with_groups(groups, c).unwrap();
    let mut r = Ref::new((c, false));
    let hp = [(0.03, 0.2), (0.01, 0.0)];
    compare(&mut opt, &ps, &mut r, &mut rp, &hp, 50);
}

/// Leaves holding zeros whose gradients are exactly `gs` (from `loss = Σ_i Σ p_i · g_i`).
fn with_grads(gs: &[Vec<f64>]) -> Vec<Tensor> {
    let cpu = Device::cpu();
    let ps: Vec<Tensor> = gs
        .iter()
        .map(|g| leaf(&vec![0.0; g.len()], &[g.len()]))
        .collect();
    let mut loss = Tensor::scalar(0.0, st_core::DType::F64, &cpu).unwrap();
    for (p, g) in ps.iter().zip(gs) {
        let c = Tensor::from_vec(g.clone(), [g.len()], &cpu).unwrap();
        loss = loss.add(&p.mul(&c).unwrap().sum_all().unwrap()).unwrap();
    }
    loss.backward().unwrap();
    ps
}

fn grads(ps: &[Tensor]) -> Vec<Vec<f64>> {
    let g = |p: &Tensor| p.grad().unwrap().to_f64_vec().unwrap();
    ps.iter().map(g).collect()
}

fn clip_grads() -> Vec<Vec<f64>> {
    vec![vec![3.0, -4.0, 1.0], vec![2.0, -7.0]]
}

#[test]
fn clip_grad_norm_two_and_infinity_norms() {
    let gs = clip_grads();
    let two = gs.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
    for (norm_type, total) in [(2.0, two), (f64::INFINITY, 7.0)] {
        for max_norm in [0.5 * total, total, 2.0 * total] {
            let ps = with_grads(&gs);
            let no_grad = leaf(&[1.0, 2.0], &[2]);
            let all = [ps[0].clone(), ps[1].clone(), no_grad.clone()];
            let norm = clip_grad_norm_(&all, max_norm, norm_type, false).unwrap();
            let what = format!("norm_type {norm_type}, max_norm {max_norm}");
            assert!(
                (norm - total).abs() <= 1e-14 * total,
                "{what}: {norm} vs {total}"
            );
            // PyTorch: grads · min(1, max_norm / (norm + 1e-6)), so at max_norm too.
            let coef = max_norm / (total + 1e-6);
            let got = grads(&ps);
            if coef < 1.0 {
                for (a, b) in got.iter().flatten().zip(gs.iter().flatten()) {
                    let want = b * coef;
                    assert!((a - want).abs() <= 1e-14 * want.abs(), "{what}: {got:?}");
                }
            } else {
                assert_eq!(got, gs, "{what}");
            }
            assert!(no_grad.grad().is_none());
        }
    }
}

#[test]
fn clip_grad_value_clamps() {
    let ps = with_grads(&clip_grads());
    clip_grad_value_(&ps, 2.5).unwrap();
    assert_eq!(grads(&ps), vec![vec![2.5, -2.5, 1.0], vec![2.0, -2.5]]);
    assert!(clip_grad_value_(&ps, -1.0).is_err());
    assert!(clip_grad_norm_(&ps, -1.0, 2.0, false).is_err());
}

/// A copy of `s` that later steps of its optimizer do not change.
fn deep_copy(s: &OptimizerState) -> OptimizerState {
    let mut out = s.clone();
    for t in out.state.values_mut().flat_map(|m| m.values_mut()) {
        *t = t.copy().unwrap();
    }
    out
}

#[test]
fn state_dict_round_trip_is_bitwise() {
    for kind in KINDS {
        let ps = params_from(&init());
        let mut opt = one_group(kind, &ps, 0.02);
        train(&mut *opt, &ps, 10);
        let mid = values(&ps);
        let saved = deep_copy(&opt.state_dict());
        train(&mut *opt, &ps, 10);
        // A fresh optimizer with another lr: loading restores the lr and the buffers.
        let ps2 = params_from(&mid);
        let mut opt2 = one_group(kind, &ps2, 0.5);
        opt2.load_state_dict(&saved).unwrap();
        assert_eq!(opt2.param_groups()[0].lr, 0.02, "{kind:?}");
        train(&mut *opt2, &ps2, 10);
        assert_eq!(bits(&ps2), bits(&ps), "{kind:?}");
        // Without the state the last 10 steps differ (the state matters).
        let ps3 = params_from(&mid);
        train(&mut *one_group(kind, &ps3, 0.02), &ps3, 10);
        assert_ne!(bits(&ps3), bits(&ps), "{kind:?}");
    }
}

/// Loads `bad` into an optimizer after 3 steps, expecting `Error::StateDict`, then checks
/// that 3 more steps match an optimizer that never saw it.
fn rejected_changes_nothing(
    kind: Kind,
    make: impl Fn(&[Tensor]) -> Box<dyn Optimizer>,
    bad: &OptimizerState,
) {
    let (a, b) = (params_from(&init()), params_from(&init()));
    let (mut target, mut control) = (make(&a), make(&b));
    train(&mut *target, &a, 3);
    train(&mut *control, &b, 3);
    let before = target.state_dict();
    let err = target.load_state_dict(bad).unwrap_err();
    assert!(matches!(err, Error::StateDict { .. }), "{kind:?}: {err}");
    assert_eq!(
        target.state_dict().param_groups,
        before.param_groups,
        "{kind:?}"
    );
    train(&mut *target, &a, 3);
    train(&mut *control, &b, 3);
    assert_eq!(bits(&a), bits(&b), "{kind:?}");
}

#[test]
fn load_state_dict_rejects_group_size_mismatch() {
    for kind in KINDS {
        let src = params_from(&init());
        let mut opt = one_group(kind, &src, 0.5);
        train(&mut *opt, &src, 2);
        let saved = deep_copy(&opt.state_dict());
        let two_groups = |ps: &[Tensor]| {
            let groups = vec![
                ParamGroup::new(vec![ps[0].clone()], 0.02, 0.05),
                ParamGroup::new(vec![ps[1].clone()], 0.02, 0.05),
            ];
            build(kind, groups).unwrap()
        };
        rejected_changes_nothing(kind, two_groups, &saved);
    }
}

#[test]
fn load_state_dict_rejects_wrong_buffer_shape() {
    let cpu = Device::cpu();
    for kind in KINDS {
        let src = params_from(&init());
        let mut opt = one_group(kind, &src, 0.5);
        train(&mut *opt, &src, 2);
        let mut bad = deep_copy(&opt.state_dict());
        // Parameter 1 gets valid zero buffers (a partial load would show); parameter 0 gets
        // buffers with its element count but shape [2, 6] instead of [3, 4].
        for (i, entries) in bad.state.iter_mut() {
            for (k, t) in entries.iter_mut() {
                if k == "step" {
                    continue;
                }
                let dims: &[usize] = if *i == 0 { &[2, 6] } else { &[K] };
                *t = Tensor::from_vec(vec![0.0f64; t.numel()], dims, &cpu).unwrap();
            }
        }
        assert_eq!(bad.state.len(), 2, "{kind:?}");
        rejected_changes_nothing(kind, |ps| one_group(kind, ps, 0.02), &bad);
    }
}

fn invalid(r: st_core::Result<Box<dyn Optimizer>>, what: &str) {
    match r {
        Err(Error::InvalidArgument { .. }) => {}
        other => panic!("{what}: expected InvalidArgument, got {:?}", other.err()),
    }
}

#[test]
fn invalid_hyperparameters_are_errors() {
    let ps = || params_from(&init());
    for kind in KINDS {
        for (lr, wd) in [(-0.1, 0.0), (f64::NAN, 0.0), (0.01, -0.1), (0.01, f64::NAN)] {
            let what = format!("{kind:?}, lr {lr}, weight_decay {wd}");
            invalid(single(kind, ps(), lr, wd), &what);
            invalid(build(kind, vec![ParamGroup::new(ps(), lr, wd)]), &what);
        }
        assert!(single(kind, ps(), 0.0, 0.0).is_ok(), "{kind:?}");
    }
    let nesterov = |momentum, dampening| Sgd::new(ps(), sgd(0.1, momentum, dampening, 0.0, true));
    assert!(matches!(
        nesterov(0.0, 0.0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        nesterov(0.9, 0.1),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(nesterov(0.9, 0.0).is_ok());
    let nan = f64::NAN;
    for (beta1, beta2) in [(1.0, 0.9), (0.9, 1.0), (-0.1, 0.9), (0.9, -0.5), (nan, 0.9)] {
        let c = adam(0.01, beta1, beta2, 0.0, false);
        let what = format!("betas ({beta1}, {beta2})");
        invalid(Adam::new(ps(), c).map(|o| Box::new(o) as _), &what);
        invalid(AdamW::new(ps(), c).map(|o| Box::new(o) as _), &what);
    }
    assert!(Adam::new(ps(), adam(0.01, 0.0, 0.0, 0.0, false)).is_ok());
}

#[test]
fn integer_parameters_are_errors() {
    let cpu = Device::cpu();
    let int64 = Tensor::from_vec(vec![1i64, 2, 3], [3], &cpu).unwrap();
    let int32 = Tensor::from_vec(vec![1i32, 2], [2], &cpu).unwrap();
    for kind in KINDS {
        for p in [&int64, &int32] {
            let float = leaf(&[1.0], &[1]);
            let r = single(kind, vec![float, p.clone()], 0.01, 0.0);
            assert!(r.is_err(), "{kind:?} accepted a {} parameter", p.dtype());
        }
    }
}

#[test]
fn parameters_without_gradient_are_skipped() {
    for kind in KINDS {
        let ps = params_from(&init());
        let mut opt = one_group(kind, &ps, 0.02);
        // Only W gets a gradient: b stays (weight decay would otherwise move it).
        let only_w = |ps: &[Tensor]| {
            let sq = ps[0].mul(&ps[0]).unwrap();
            sq.sum_all().unwrap().backward().unwrap();
        };
        for first in [true, false] {
            if !first {
                train(&mut *opt, &ps, 2); // b now has state
            }
            opt.zero_grad();
            only_w(&ps);
            let before = bits(&ps);
            opt.step().unwrap();
            let after = bits(&ps);
            assert_eq!(after[1], before[1], "{kind:?}, first step {first}");
            assert_ne!(after[0], before[0], "{kind:?}, first step {first}");
            assert!(ps[1].grad().is_none());
        }
    }
}
