//! Learning-rate schedules through `LrScheduler` over an SGD optimizer, checked for 100
//! steps against tables and formulas written from the `torch.optim.lr_scheduler` docs;
//! the scheduler's state dict and the schedules' validation errors.

use st_core::{DType, Device, Error, Tensor};
use st_nn::optim::{Optimizer, ParamGroup, Sgd, SgdConfig};
use st_nn::schedule::{
    CosineAnnealingLr, ExponentialLr, LinearLr, LrScheduler, MultiStepLr, OneCycleLr, Schedule,
    SequentialLr, StepLr,
};
use std::f64::consts::PI;

/// SGD over one f32 parameter per group, the groups with learning rates `lrs`.
fn sgd(lrs: &[f64]) -> Sgd {
    let p = || Tensor::zeros([1], DType::F32, &Device::cpu()).unwrap();
    let groups = lrs
        .iter()
        .map(|&lr| ParamGroup::new(vec![p()], lr, 0.0))
        .collect();
    Sgd::with_groups(groups, SgdConfig::default()).unwrap()
}

fn group_lrs(opt: &Sgd) -> Vec<f64> {
    opt.param_groups().iter().map(|g| g.lr).collect()
}

/// Each group's learning rate at steps 0..=n: after construction, then after each `step`.
fn run(base: &[f64], s: impl Schedule + 'static, n: usize) -> Vec<Vec<f64>> {
    let mut opt = sgd(base);
    let mut sched = LrScheduler::new(&mut opt, s).unwrap();
    let mut out = vec![group_lrs(&opt)];
    for t in 1..=n {
        sched.step(&mut opt);
        assert_eq!(sched.last_epoch(), t);
        assert_eq!(sched.last_lr(), group_lrs(&opt), "last_lr at step {t}");
        out.push(group_lrs(&opt));
    }
    out
}

/// Group 0's learning rates at steps 0..=100 with base rate `base`.
fn lrs(base: f64, s: impl Schedule + 'static) -> Vec<f64> {
    lrs_n(base, s, 100)
}

/// Group 0's learning rates at steps 0..=n.
fn lrs_n(base: f64, s: impl Schedule + 'static, n: usize) -> Vec<f64> {
    run(&[base], s, n).into_iter().map(|g| g[0]).collect()
}

/// `got[t]` equals `want(t)` to 1e-12 relative (and 1e-15 absolute, for rates near zero).
fn check(got: &[f64], want: impl Fn(usize) -> f64) {
    for (t, &g) in got.iter().enumerate() {
        let w = want(t);
        assert!(
            (g - w).abs() <= 1e-12 * w.abs() + 1e-15,
            "step {t}: got {g}, want {w}"
        );
    }
}

fn step_lr(step_size: usize, gamma: f64) -> StepLr {
    StepLr { step_size, gamma }
}

fn cosine(t_max: usize, eta_min: f64) -> CosineAnnealingLr {
    CosineAnnealingLr { t_max, eta_min }
}

fn linear(start_factor: f64, end_factor: f64, total_iters: usize) -> LinearLr {
    LinearLr {
        start_factor,
        end_factor,
        total_iters,
    }
}

#[test]
fn step_lr_follows_the_docs_table() {
    // Docs: StepLR(step_size=30, gamma=0.1), lr 0.05: 0.05 for epochs < 30, 0.005 for < 60,
    // 0.0005 for < 90, and so on.
    let table = |t: usize| [0.05, 0.005, 0.0005, 0.00005][t / 30];
    check(&lrs(0.05, step_lr(30, 0.1)), table);
    // Every group decays from its own base rate.
    let two = run(&[0.05, 0.2], step_lr(30, 0.1), 100);
    let g1: Vec<f64> = two.iter().map(|g| g[1]).collect();
    check(&g1, |t| 4.0 * table(t));
}

#[test]
fn multi_step_lr_follows_the_docs_table() {
    // Docs: MultiStepLR(milestones=[30, 80], gamma=0.1), lr 0.05: 0.05 for epochs < 30,
    // 0.005 for 30 <= epoch < 80, 0.0005 from 80. The order of milestones does not matter.
    let table = |t: usize| match t {
        0..=29 => 0.05,
        30..=79 => 0.005,
        _ => 0.0005,
    };
    for milestones in [vec![30, 80], vec![80, 30]] {
        check(
            &lrs(
                0.05,
                MultiStepLr {
                    milestones,
                    gamma: 0.1,
                },
            ),
            table,
        );
    }
    // A repeated milestone decays once per occurrence (PyTorch counts milestones).
    let twice = MultiStepLr {
        milestones: vec![30, 30, 80],
        gamma: 0.1,
    };
    check(&lrs(0.05, twice), |t| {
        table(t) * if t >= 30 { 0.1 } else { 1.0 }
    });
}

#[test]
fn exponential_lr_multiplies_by_gamma_each_step() {
    // lr_t = gamma · lr_{t-1}, computed recursively.
    let mut want = vec![0.1];
    for t in 1..=100 {
        want.push(want[t - 1] * 0.95);
    }
    check(&lrs(0.1, ExponentialLr { gamma: 0.95 }), |t| want[t]);
}

#[test]
fn cosine_annealing_lr_follows_the_docs_formula() {
    // η_t = η_min + (η_max - η_min)(1 + cos(T_cur π / T_max)) / 2, T_cur = t, continuing
    // past T_max (back up to η_max at 2·T_max) as PyTorch does without restarts.
    let (eta_max, eta_min, t_max) = (0.1, 0.001, 30.0);
    let got = lrs(eta_max, cosine(30, eta_min));
    check(&got, |t| {
        let t_cur = t as f64;
        eta_min + 0.5 * (eta_max - eta_min) * (1.0 + (t_cur * PI / t_max).cos())
    });
    let mid = eta_min + (eta_max - eta_min) / 2.0;
    for (t, w) in [
        (0, eta_max),
        (15, mid),
        (30, eta_min),
        (45, mid),
        (60, eta_max),
        (90, eta_min),
    ] {
        assert!((got[t] - w).abs() < 1e-15, "step {t}: {} vs {w}", got[t]);
    }
}

#[test]
fn linear_lr_follows_the_docs_table() {
    // Docs: LinearLR(start_factor=0.5, total_iters=4), lr 0.05: 0.025, 0.03125, 0.0375,
    // 0.04375, then 0.05 from epoch 4 on.
    let s = linear(0.5, 1.0, 4);
    let table = [0.025, 0.03125, 0.0375, 0.04375];
    check(&lrs(0.05, s), |t| if t < 4 { table[t] } else { 0.05 });
    // The defaults (1/3 to 1 over 5 steps), and a decreasing ramp.
    check(&lrs(0.3, LinearLr::default()), |t| {
        0.3 * (1.0 / 3.0 + (2.0 / 3.0) * t.min(5) as f64 / 5.0)
    });
    let down = linear(1.0, 0.25, 10);
    check(&lrs(0.2, down), |t| {
        0.2 * (1.0 - 0.75 * t.min(10) as f64 / 10.0)
    });
}

/// PyTorch's `_annealing_cos`: from `start` at `pct = 0` to `end` at `pct = 1`.
fn anneal(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
}

/// OneCycleLR (two phases, cosine) as documented: up from `max_lr / div_factor` to `max_lr`
/// until step `pct_start · total_steps - 1`, then down to `initial / final_div_factor` at
/// step `total_steps - 1`.
fn one_cycle(max_lr: f64, total: usize, pct_start: f64, div: f64, final_div: f64) -> Vec<f64> {
    let initial = max_lr / div;
    let min = initial / final_div;
    let up_end = pct_start * total as f64 - 1.0;
    let down_end = total as f64 - 1.0;
    (0..total)
        .map(|t| {
            let t = t as f64;
            if t <= up_end {
                anneal(initial, max_lr, t / up_end)
            } else {
                anneal(max_lr, min, (t - up_end) / (down_end - up_end))
            }
        })
        .collect()
}

#[test]
fn one_cycle_lr_follows_the_docs_formula() {
    // The groups' own rate (0.7) is ignored; the cycle's 100 steps are 0..=99.
    let got = lrs_n(0.7, OneCycleLr::new(0.1, 100), 99);
    let want = one_cycle(0.1, 100, 0.3, 25.0, 1e4);
    check(&got, |t| want[t]);
    assert_eq!(got.len(), 100);
    for (t, w) in [(0, 0.004), (29, 0.1), (99, 4e-7)] {
        assert!((got[t] - w).abs() < 1e-15, "step {t}: {} vs {w}", got[t]);
    }
    // A phase boundary between steps (0.25 · 90 - 1 = 21.5) and other factors.
    let mut s = OneCycleLr::new(0.01, 90);
    (s.pct_start, s.div_factor, s.final_div_factor) = (0.25, 10.0, 100.0);
    let want = one_cycle(0.01, 90, 0.25, 10.0, 100.0);
    check(&lrs_n(0.7, s, 89), |t| want[t]);
}

#[test]
fn sequential_lr_warmup_then_cosine() {
    // LinearLR warmup for 5 steps, then CosineAnnealingLR(T_max=95) counting from 0 at the
    // milestone.
    let s = SequentialLr {
        schedules: vec![Box::new(linear(0.1, 1.0, 5)), Box::new(cosine(95, 0.0))],
        milestones: vec![5],
    };
    check(&lrs(0.1, s), |t| {
        if t < 5 {
            0.1 * (0.1 + 0.9 * t as f64 / 5.0)
        } else {
            0.05 * (1.0 + (PI * (t - 5) as f64 / 95.0).cos())
        }
    });
}

#[test]
fn sequential_lr_three_schedules() {
    let s = SequentialLr {
        schedules: vec![
            Box::new(linear(0.5, 1.0, 10)),
            Box::new(step_lr(20, 0.5)),
            Box::new(ExponentialLr { gamma: 0.9 }),
        ],
        milestones: vec![10, 60],
    };
    check(&lrs(0.1, s), |t| match t {
        0..=9 => 0.1 * (0.5 + 0.5 * t as f64 / 10.0),
        10..=59 => 0.1 * 0.5f64.powi(((t - 10) / 20) as i32),
        _ => 0.1 * 0.9f64.powi((t - 60) as i32),
    });
}

#[test]
fn scheduler_state_dict_round_trip() {
    let s = || cosine(40, 0.002);
    let mut a = sgd(&[0.1, 0.03]);
    let mut sa = LrScheduler::new(&mut a, s()).unwrap();
    for _ in 0..37 {
        sa.step(&mut a);
    }
    let sd = sa.state_dict();
    assert_eq!(sd["last_epoch"], 37.0);
    assert_eq!((sd["base_lrs.0"], sd["base_lrs.1"]), (0.1, 0.03));
    // Another optimizer with other rates takes the saved step and base rates.
    let mut b = sgd(&[0.5, 0.5]);
    let mut sb = LrScheduler::new(&mut b, s()).unwrap();
    sb.load_state_dict(&sd, &mut b).unwrap();
    assert_eq!(sb.last_epoch(), 37);
    assert_eq!(group_lrs(&b), group_lrs(&a));
    assert_ne!(group_lrs(&b), [0.5, 0.5]);
    for t in 38..60 {
        sa.step(&mut a);
        sb.step(&mut b);
        assert_eq!(group_lrs(&b), group_lrs(&a), "step {t}");
    }
    // A state without a key is an error and changes nothing.
    let mut c = sgd(&[0.5, 0.5]);
    let mut sc = LrScheduler::new(&mut c, s()).unwrap();
    let mut missing = sd.clone();
    missing.remove("base_lrs.1");
    let err = sc.load_state_dict(&missing, &mut c).unwrap_err();
    assert!(matches!(err, Error::StateDict { .. }), "{err}");
    assert_eq!((sc.last_epoch(), group_lrs(&c)), (0, vec![0.5, 0.5]));
    sc.step(&mut c);
    let fresh = run(&[0.5, 0.5], s(), 1);
    assert_eq!(group_lrs(&c), fresh[1]);
}

/// `LrScheduler::new` with `s` is an `InvalidArgument` and leaves the rate alone.
fn rejected(s: impl Schedule + 'static, what: &str) {
    let mut opt = sgd(&[0.1]);
    match LrScheduler::new(&mut opt, s) {
        Err(Error::InvalidArgument { .. }) => {}
        Err(e) => panic!("{what}: expected InvalidArgument, got {e}"),
        Ok(_) => panic!("{what}: accepted"),
    }
    assert_eq!(group_lrs(&opt), [0.1], "{what}");
}

#[test]
fn invalid_schedules_are_errors() {
    rejected(step_lr(0, 0.1), "StepLR step_size 0");
    rejected(cosine(0, 0.0), "CosineAnnealingLR T_max 0");
    let cycle = |pct_start| OneCycleLr {
        pct_start,
        ..OneCycleLr::new(0.1, 100)
    };
    rejected(cycle(1.5), "OneCycleLR pct_start 1.5");
    rejected(cycle(-0.1), "OneCycleLR pct_start -0.1");
    rejected(OneCycleLr::new(0.1, 0), "OneCycleLR total_steps 0");
    let seq = |n: usize, milestones: Vec<usize>| SequentialLr {
        schedules: (0..n)
            .map(|_| Box::new(ExponentialLr { gamma: 0.9 }) as Box<dyn Schedule>)
            .collect(),
        milestones,
    };
    rejected(seq(2, vec![]), "SequentialLR 2 schedules, 0 milestones");
    rejected(
        seq(2, vec![10, 20]),
        "SequentialLR 2 schedules, 2 milestones",
    );
    rejected(seq(0, vec![]), "SequentialLR without schedules");
    let bad_inner = SequentialLr {
        schedules: vec![
            Box::new(ExponentialLr { gamma: 0.9 }),
            Box::new(step_lr(0, 0.1)),
        ],
        milestones: vec![10],
    };
    rejected(bad_inner, "SequentialLR with an invalid schedule");
    // The same kinds of schedule with valid arguments are accepted.
    let mut opt = sgd(&[0.1]);
    assert!(LrScheduler::new(&mut opt, step_lr(1, 0.1)).is_ok());
    assert!(LrScheduler::new(&mut opt, cycle(1.0)).is_ok());
    assert!(LrScheduler::new(&mut opt, seq(2, vec![10])).is_ok());
}
