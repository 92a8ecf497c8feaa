//! Integration tests of `st_nn::loss`: values against plain f64 loops written from PyTorch's
//! formulas (all three reductions, class weights, `ignore_index`, label smoothing,
//! probability targets, clamped logs, `pos_weight`), f64 gradchecks with respect to the
//! input, and error cases.

use st_core::autograd::gradcheck::{gradcheck, GradcheckOptions};
use st_core::{DType, Device, Result, Tensor};
use st_nn::loss::{
    BceLoss, BceWithLogitsLoss, CrossEntropyLoss, L1Loss, MseLoss, NllLoss, Reduction, SmoothL1Loss,
};

const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

fn cpu() -> Device {
    Device::cpu()
}

/// Deterministic values in [-1, 1), different for each `seed`.
fn vals(n: usize, seed: u64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let z = (i as f64 + 1.0) * 12.9898 + seed as f64 * 78.233;
            (z.sin() * 43_758.545_3).rem_euclid(1.0) * 2.0 - 1.0
        })
        .collect()
}

fn t64(data: &[f64], dims: &[usize]) -> Tensor {
    Tensor::from_f64_slice(data, dims, DType::F64, &cpu()).unwrap()
}

fn ids(data: &[i64]) -> Tensor {
    Tensor::from_vec(data.to_vec(), [data.len()], &cpu()).unwrap()
}

fn leaf(data: &[f64], dims: &[usize]) -> Tensor {
    t64(data, dims).requires_grad_().unwrap()
}

fn check(name: &str, f: &dyn Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) {
    if let Err(e) = gradcheck(f, inputs, GradcheckOptions::default()) {
        panic!("{name}: gradcheck failed: {e}");
    }
}

/// Checks `got` against `want`, and that a reduced loss is 0-d as in PyTorch.
fn assert_loss(what: &str, got: &Tensor, r: Reduction, unreduced: &[usize], want: &[f64]) {
    match r {
        Reduction::None => assert_eq!(got.dims(), unreduced, "{what}: shape"),
        _ => assert_eq!(got.rank(), 0, "{what}: a reduced loss is 0-d"),
    }
    let g = got.to_f64_vec().unwrap();
    assert_eq!(g.len(), want.len(), "{what}: length");
    for (i, (a, b)) in g.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-10 * (1.0 + b.abs()),
            "{what}: element {i}: got {a}, want {b}"
        );
    }
}

/// PyTorch's plain (unweighted) reductions.
fn reduce(per: &[f64], r: Reduction) -> Vec<f64> {
    let s: f64 = per.iter().sum();
    match r {
        Reduction::None => per.to_vec(),
        Reduction::Mean => vec![s / per.len() as f64],
        Reduction::Sum => vec![s],
    }
}

// ---------------------------------------------------------------- regression

fn regression_data() -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = vals(12, 1).iter().map(|v| v * 2.0).collect();
    let y: Vec<f64> = vals(12, 2).iter().map(|v| v * 2.0).collect();
    (x, y)
}

#[test]
fn mse_and_l1_match_reference() {
    let (x, y) = regression_data();
    let (xt, yt) = (t64(&x, &[3, 4]), t64(&y, &[3, 4]));
    let sq: Vec<f64> = x.iter().zip(&y).map(|(a, b)| (a - b).powi(2)).collect();
    let ab: Vec<f64> = x.iter().zip(&y).map(|(a, b)| (a - b).abs()).collect();
    for r in REDUCTIONS {
        let mse = MseLoss { reduction: r }.forward(&xt, &yt).unwrap();
        assert_loss("mse", &mse, r, &[3, 4], &reduce(&sq, r));
        let l1 = L1Loss { reduction: r }.forward(&xt, &yt).unwrap();
        assert_loss("l1", &l1, r, &[3, 4], &reduce(&ab, r));
    }
}

#[test]
fn smooth_l1_matches_reference_for_each_beta() {
    let (x, y) = regression_data();
    let (xt, yt) = (t64(&x, &[3, 4]), t64(&y, &[3, 4]));
    for beta in [1.0, 0.5, 0.0] {
        let per: Vec<f64> = x
            .iter()
            .zip(&y)
            .map(|(a, b)| {
                let d = (a - b).abs();
                if d < beta {
                    0.5 * d * d / beta
                } else {
                    d - 0.5 * beta
                }
            })
            .collect();
        // The data covers both branches.
        assert!(beta == 0.0 || x.iter().zip(&y).any(|(a, b)| (a - b).abs() < beta));
        assert!(x.iter().zip(&y).any(|(a, b)| (a - b).abs() > beta));
        for r in REDUCTIONS {
            let l = SmoothL1Loss { reduction: r, beta }
                .forward(&xt, &yt)
                .unwrap();
            assert_loss(
                &format!("smooth_l1 beta {beta}"),
                &l,
                r,
                &[3, 4],
                &reduce(&per, r),
            );
        }
    }
    assert_eq!(SmoothL1Loss::default().beta, 1.0);
}

// ---------------------------------------------------------------- NLL and cross entropy

const N: usize = 6;
const C: usize = 4;
const CLASS_WEIGHT: [f64; C] = [0.5, 2.0, 1.0, 1.5];
/// Targets for `ignore_index = 1` (and no ignoring).
const TARGETS: [i64; N] = [0, 1, 3, 1, 2, 0];
/// Targets for `ignore_index = -100`.
const TARGETS_NEG: [i64; N] = [2, -100, 0, 3, -100, 1];

fn logits() -> Vec<f64> {
    vals(N * C, 3).iter().map(|v| v * 3.0).collect()
}

fn log_softmax_ref(x: &[f64], c: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks(c) {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        out.extend(row.iter().map(|v| v - lse));
    }
    out
}

/// PyTorch's class-index loss on log-probabilities `logp [n, c]`:
/// `(1 - eps)·nll + eps/C·smooth`, `nll_i = -w[t_i]·logp[i, t_i]`,
/// `smooth_i = -Σ_c w_c·logp[i, c]`, both zero where ignored; the mean divides both sums by
/// `Σ w[t_i]` over the samples not ignored. `eps = 0` is `NLLLoss`.
fn class_ref(
    logp: &[f64],
    c: usize,
    t: &[i64],
    w: Option<&[f64]>,
    ignore: Option<i64>,
    eps: f64,
    r: Reduction,
) -> Vec<f64> {
    let wc = |k: usize| w.map_or(1.0, |w| w[k]);
    let (mut nll, mut smooth, mut wsum) = (Vec::new(), Vec::new(), 0.0);
    for (i, &ti) in t.iter().enumerate() {
        if Some(ti) == ignore {
            nll.push(0.0);
            smooth.push(0.0);
            continue;
        }
        let k = ti as usize;
        nll.push(-wc(k) * logp[i * c + k]);
        smooth.push(-(0..c).map(|j| wc(j) * logp[i * c + j]).sum::<f64>());
        wsum += wc(k);
    }
    let mix = |a: f64, b: f64| (1.0 - eps) * a + eps / c as f64 * b;
    let (sn, ss) = (nll.iter().sum::<f64>(), smooth.iter().sum::<f64>());
    match r {
        Reduction::None => nll.iter().zip(&smooth).map(|(a, b)| mix(*a, *b)).collect(),
        Reduction::Sum => vec![mix(sn, ss)],
        Reduction::Mean => vec![mix(sn / wsum, ss / wsum)],
    }
}

#[test]
fn nll_matches_reference_with_weight_and_ignore_index() {
    // NLLLoss takes any input as log-probabilities; these are not normalised.
    let x = logits();
    let xt = t64(&x, &[N, C]);
    let w = t64(&CLASS_WEIGHT, &[C]);
    let configs: [(Option<&[f64]>, Option<i64>, &[i64]); 5] = [
        (None, None, &TARGETS),
        (Some(&CLASS_WEIGHT), None, &TARGETS),
        (None, Some(1), &TARGETS),
        (Some(&CLASS_WEIGHT), Some(1), &TARGETS),
        (Some(&CLASS_WEIGHT), Some(-100), &TARGETS_NEG),
    ];
    for (cw, ignore, t) in configs {
        for r in REDUCTIONS {
            let loss = NllLoss {
                weight: cw.map(|_| w.clone()),
                ignore_index: ignore,
                reduction: r,
            };
            let got = loss.forward(&xt, &ids(t)).unwrap();
            let want = class_ref(&x, C, t, cw, ignore, 0.0, r);
            let what = format!("nll weight {} ignore {ignore:?} {r:?}", cw.is_some());
            assert_loss(&what, &got, r, &[N], &want);
        }
    }
}

#[test]
fn cross_entropy_indices_match_reference() {
    let x = logits();
    let logp = log_softmax_ref(&x, C);
    let xt = t64(&x, &[N, C]);
    let w = t64(&CLASS_WEIGHT, &[C]);
    let configs: [(Option<&[f64]>, Option<i64>, f64, &[i64]); 8] = [
        (None, None, 0.0, &TARGETS),
        (Some(&CLASS_WEIGHT), None, 0.0, &TARGETS),
        (None, Some(1), 0.0, &TARGETS),
        (None, None, 0.1, &TARGETS),
        (Some(&CLASS_WEIGHT), None, 0.1, &TARGETS),
        (None, Some(1), 0.1, &TARGETS),
        (Some(&CLASS_WEIGHT), Some(1), 0.1, &TARGETS),
        (Some(&CLASS_WEIGHT), Some(-100), 0.3, &TARGETS_NEG),
    ];
    for (cw, ignore, eps, t) in configs {
        for r in REDUCTIONS {
            let loss = CrossEntropyLoss {
                weight: cw.map(|_| w.clone()),
                ignore_index: ignore,
                label_smoothing: eps,
                reduction: r,
            };
            let got = loss.forward(&xt, &ids(t)).unwrap();
            let want = class_ref(&logp, C, t, cw, ignore, eps, r);
            let what = format!(
                "ce weight {} ignore {ignore:?} eps {eps} {r:?}",
                cw.is_some()
            );
            assert_loss(&what, &got, r, &[N], &want);
        }
    }
    // A single sample: logits [C] with a 0-d target.
    let row = t64(&x[..C], &[C]);
    let t0 = Tensor::from_vec(vec![2i64], (), &cpu()).unwrap();
    let got = CrossEntropyLoss::default().forward(&row, &t0).unwrap();
    assert_loss("ce [C]", &got, Reduction::Mean, &[], &[-logp[2]]);
}

/// PyTorch's loss against probabilities `p [n, c]`: `-Σ_c w_c·logp_ic·p'_ic` with
/// `p' = (1 - eps)·p + eps/C`; the mean divides by `n`.
fn prob_ref(
    logp: &[f64],
    c: usize,
    p: &[f64],
    w: Option<&[f64]>,
    eps: f64,
    r: Reduction,
) -> Vec<f64> {
    let per: Vec<f64> = logp
        .chunks(c)
        .zip(p.chunks(c))
        .map(|(lr, pr)| {
            -(0..c)
                .map(|j| w.map_or(1.0, |w| w[j]) * lr[j] * ((1.0 - eps) * pr[j] + eps / c as f64))
                .sum::<f64>()
        })
        .collect();
    reduce(&per, r)
}

fn probabilities() -> Vec<f64> {
    let raw: Vec<f64> = vals(N * C, 4).iter().map(|v| v + 1.2).collect();
    raw.chunks(C)
        .flat_map(|r| {
            let s: f64 = r.iter().sum();
            r.iter().map(move |v| v / s)
        })
        .collect()
}

#[test]
fn cross_entropy_probabilities_match_reference() {
    let x = logits();
    let logp = log_softmax_ref(&x, C);
    let p = probabilities();
    let (xt, pt) = (t64(&x, &[N, C]), t64(&p, &[N, C]));
    let w = t64(&CLASS_WEIGHT, &[C]);
    for (cw, eps) in [
        (None, 0.0),
        (None, 0.1),
        (Some(&CLASS_WEIGHT[..]), 0.0),
        (Some(&CLASS_WEIGHT[..]), 0.2),
    ] {
        for r in REDUCTIONS {
            let loss = CrossEntropyLoss {
                weight: cw.map(|_| w.clone()),
                label_smoothing: eps,
                reduction: r,
                ..Default::default()
            };
            let got = loss.forward(&xt, &pt).unwrap();
            let want = prob_ref(&logp, C, &p, cw, eps, r);
            let what = format!("ce probs weight {} eps {eps} {r:?}", cw.is_some());
            assert_loss(&what, &got, r, &[N], &want);
        }
    }
    // Logits [C] with probabilities [C].
    let got = CrossEntropyLoss::default()
        .forward(&t64(&x[..C], &[C]), &t64(&p[..C], &[C]))
        .unwrap();
    let want = prob_ref(&logp[..C], C, &p[..C], None, 0.0, Reduction::Mean);
    assert_loss("ce probs [C]", &got, Reduction::Mean, &[], &want);
}

// ---------------------------------------------------------------- binary cross entropy

fn bce_ref(p: &[f64], t: &[f64], w: &[f64]) -> Vec<f64> {
    let clog = |v: f64| v.ln().max(-100.0);
    (0..p.len())
        .map(|i| -w[i] * (t[i] * clog(p[i]) + (1.0 - t[i]) * clog(1.0 - p[i])))
        .collect()
}

#[test]
fn bce_matches_reference_with_weight() {
    let p: Vec<f64> = vals(12, 5).iter().map(|v| 0.5 + 0.45 * v).collect();
    let t: Vec<f64> = vals(12, 6).iter().map(|v| (v + 1.0) / 2.0).collect();
    let w4 = [0.5, 1.0, 2.0, 3.0];
    let (pt, tt) = (t64(&p, &[3, 4]), t64(&t, &[3, 4]));
    for r in REDUCTIONS {
        let plain = BceLoss {
            weight: None,
            reduction: r,
        }
        .forward(&pt, &tt)
        .unwrap();
        assert_loss(
            "bce",
            &plain,
            r,
            &[3, 4],
            &reduce(&bce_ref(&p, &t, &[1.0; 12]), r),
        );
        // A [C] weight broadcasts over the rows.
        let wf: Vec<f64> = (0..12).map(|i| w4[i % 4]).collect();
        let weighted = BceLoss {
            weight: Some(t64(&w4, &[4])),
            reduction: r,
        }
        .forward(&pt, &tt)
        .unwrap();
        assert_loss(
            "bce weight",
            &weighted,
            r,
            &[3, 4],
            &reduce(&bce_ref(&p, &t, &wf), r),
        );
    }
}

#[test]
fn bce_clamps_logs_at_minus_100() {
    let p = [0.0, 0.0, 1.0, 1.0, 0.0, 1.0];
    let t = [0.0, 1.0, 0.0, 1.0, 0.3, 0.3];
    let l = BceLoss {
        weight: None,
        reduction: Reduction::None,
    }
    .forward(&t64(&p, &[6]), &t64(&t, &[6]))
    .unwrap();
    assert_loss(
        "bce edges",
        &l,
        Reduction::None,
        &[6],
        &[0.0, 100.0, 100.0, 0.0, 30.0, 70.0],
    );
    let m = BceLoss::default()
        .forward(&t64(&p, &[6]), &t64(&t, &[6]))
        .unwrap();
    assert_loss("bce edges mean", &m, Reduction::Mean, &[], &[50.0]);
}

#[test]
fn bce_gradient_is_finite_at_zero_and_one() {
    // PyTorch's backward is (p - t) / max(p (1 - p), 1e-12): finite at p = 0 and p = 1.
    let p = leaf(&[0.0, 0.0, 1.0, 1.0], &[4]);
    let t = t64(&[0.0, 1.0, 0.0, 1.0], &[4]);
    BceLoss::default()
        .forward(&p, &t)
        .unwrap()
        .backward()
        .unwrap();
    let g = p.grad().expect("a gradient").to_f64_vec().unwrap();
    assert!(g.iter().all(|v| v.is_finite()), "gradient {g:?}");
    assert_eq!((g[0], g[3]), (0.0, 0.0), "p == t has zero gradient");
}

fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// The definition `-w·(pw·t·log σ(x) + (1 - t)·log(1 - σ(x)))`, with `log σ(x) = -softplus(-x)`
/// and `log(1 - σ(x)) = -softplus(x)`; `pw` per column.
fn bce_logits_ref(x: &[f64], t: &[f64], w: &[f64], pw: &[f64]) -> Vec<f64> {
    let c = pw.len();
    (0..x.len())
        .map(|i| w[i] * (pw[i % c] * t[i] * softplus(-x[i]) + (1.0 - t[i]) * softplus(x[i])))
        .collect()
}

#[test]
fn bce_with_logits_matches_reference() {
    let x: Vec<f64> = vals(12, 7).iter().map(|v| v * 4.0).collect();
    let t: Vec<f64> = vals(12, 8).iter().map(|v| (v + 1.0) / 2.0).collect();
    let w: Vec<f64> = vals(12, 9).iter().map(|v| v + 1.5).collect();
    let pw = [1.0, 2.0, 0.5, 3.0];
    let (xt, tt) = (t64(&x, &[3, 4]), t64(&t, &[3, 4]));
    for r in REDUCTIONS {
        let plain = BceWithLogitsLoss {
            reduction: r,
            ..Default::default()
        }
        .forward(&xt, &tt)
        .unwrap();
        let want = bce_logits_ref(&x, &t, &[1.0; 12], &[1.0]);
        assert_loss("bce logits", &plain, r, &[3, 4], &reduce(&want, r));
        let full = BceWithLogitsLoss {
            weight: Some(t64(&w, &[3, 4])),
            pos_weight: Some(t64(&pw, &[4])),
            reduction: r,
        };
        let got = full.forward(&xt, &tt).unwrap();
        let want = bce_logits_ref(&x, &t, &w, &pw);
        assert_loss(
            "bce logits weight pos_weight",
            &got,
            r,
            &[3, 4],
            &reduce(&want, r),
        );
    }
}

#[test]
fn bce_with_logits_is_stable_for_large_logits() {
    let x = [100.0, -100.0, 100.0, -100.0, 50.0, -50.0, 40.0, -40.0];
    let t = [1.0, 1.0, 0.0, 0.0, 0.5, 0.5, 0.25, 0.75];
    let pw = [2.0, 3.0];
    let got = BceWithLogitsLoss {
        pos_weight: Some(t64(&pw, &[2])),
        reduction: Reduction::None,
        ..Default::default()
    }
    .forward(&t64(&x, &[4, 2]), &t64(&t, &[4, 2]))
    .unwrap();
    let want = bce_logits_ref(&x, &t, &[1.0; 8], &pw);
    // For instance x = -100, t = 1, pw = 3 costs 300; x = 100, t = 0 costs 100.
    assert!((want[1] - 300.0).abs() < 1e-9 && (want[2] - 100.0).abs() < 1e-9);
    assert_loss("bce logits large", &got, Reduction::None, &[4, 2], &want);
}

// ---------------------------------------------------------------- gradchecks

#[test]
fn gradcheck_regression_losses() {
    let (x, y) = regression_data();
    let (xl, yt) = (leaf(&x, &[3, 4]), t64(&y, &[3, 4]));
    let inputs = [xl, yt];
    check(
        "mse",
        &|t| MseLoss::default().forward(&t[0], &t[1]),
        &inputs,
    );
    let l1 = L1Loss {
        reduction: Reduction::Sum,
    };
    check("l1", &|t| l1.forward(&t[0], &t[1]), &inputs);
    for beta in [1.0, 0.5, 0.0] {
        let s = SmoothL1Loss {
            reduction: Reduction::Mean,
            beta,
        };
        check(
            &format!("smooth_l1 {beta}"),
            &|t| s.forward(&t[0], &t[1]),
            &inputs,
        );
    }
    let none = SmoothL1Loss {
        reduction: Reduction::None,
        beta: 0.7,
    };
    check("smooth_l1 none", &|t| none.forward(&t[0], &t[1]), &inputs);
}

#[test]
fn gradcheck_nll_and_cross_entropy() {
    let x = leaf(&logits(), &[N, C]);
    let w = t64(&CLASS_WEIGHT, &[C]);
    let inputs = [x.clone(), ids(&TARGETS)];
    for r in REDUCTIONS {
        let nll = NllLoss {
            weight: Some(w.clone()),
            ignore_index: Some(1),
            reduction: r,
        };
        check(
            &format!("nll {r:?}"),
            &|t| nll.forward(&t[0], &t[1]),
            &inputs,
        );
    }
    check(
        "ce plain",
        &|t| CrossEntropyLoss::default().forward(&t[0], &t[1]),
        &inputs,
    );
    for r in REDUCTIONS {
        let ce = CrossEntropyLoss {
            weight: Some(w.clone()),
            ignore_index: Some(1),
            label_smoothing: 0.1,
            reduction: r,
        };
        check(
            &format!("ce full {r:?}"),
            &|t| ce.forward(&t[0], &t[1]),
            &inputs,
        );
    }
    let probs = [x, t64(&probabilities(), &[N, C])];
    let ce = CrossEntropyLoss {
        weight: Some(w),
        label_smoothing: 0.2,
        ..Default::default()
    };
    check("ce probs", &|t| ce.forward(&t[0], &t[1]), &probs);
}

#[test]
fn gradcheck_binary_cross_entropy() {
    let p: Vec<f64> = vals(12, 10).iter().map(|v| 0.5 + 0.4 * v).collect();
    let t: Vec<f64> = vals(12, 11).iter().map(|v| (v + 1.0) / 2.0).collect();
    let w = t64(
        &vals(12, 12).iter().map(|v| v + 1.5).collect::<Vec<_>>(),
        &[3, 4],
    );
    let inputs = [leaf(&p, &[3, 4]), t64(&t, &[3, 4])];
    let bce = BceLoss {
        weight: Some(w.clone()),
        reduction: Reduction::Mean,
    };
    check("bce", &|t| bce.forward(&t[0], &t[1]), &inputs);
    let x: Vec<f64> = vals(12, 13).iter().map(|v| v * 5.0).collect();
    let inputs = [leaf(&x, &[3, 4]), t64(&t, &[3, 4])];
    let bl = BceWithLogitsLoss {
        weight: Some(w),
        pos_weight: Some(t64(&[1.0, 2.0, 0.5, 3.0], &[4])),
        reduction: Reduction::Sum,
    };
    check("bce logits", &|t| bl.forward(&t[0], &t[1]), &inputs);
}

// ---------------------------------------------------------------- errors

#[test]
fn elementwise_losses_reject_shape_mismatch() {
    let z = |d: &[usize]| t64(&vec![0.5; d.iter().product()], d);
    for (a, b) in [
        (z(&[3, 1]), z(&[3])),
        (z(&[2, 3]), z(&[3, 2])),
        (z(&[4]), z(&[5])),
    ] {
        assert!(MseLoss::default().forward(&a, &b).is_err());
        assert!(L1Loss::default().forward(&a, &b).is_err());
        assert!(SmoothL1Loss::default().forward(&a, &b).is_err());
        assert!(BceLoss::default().forward(&a, &b).is_err());
        assert!(BceWithLogitsLoss::default().forward(&a, &b).is_err());
    }
    let a = z(&[3]);
    assert!(SmoothL1Loss {
        beta: -1.0,
        ..Default::default()
    }
    .forward(&a, &a)
    .is_err());
}

#[test]
fn class_losses_reject_bad_targets() {
    let x = t64(&logits(), &[N, C]);
    let ce = CrossEntropyLoss::default();
    let sum = CrossEntropyLoss {
        reduction: Reduction::Sum,
        ..Default::default()
    };
    let nll = NllLoss::default();
    // Float targets of the wrong shape.
    assert!(ce.forward(&x, &t64(&[0.25; N * 5], &[N, 5])).is_err());
    assert!(ce.forward(&x, &t64(&[1.0; N], &[N])).is_err());
    assert!(nll.forward(&x, &t64(&[1.0; N], &[N])).is_err());
    // Integer targets of the wrong shape or batch size.
    assert!(ce.forward(&x, &ids(&[0; N - 1])).is_err());
    let col = Tensor::from_vec(vec![0i64; N], [N, 1], &cpu()).unwrap();
    assert!(ce.forward(&x, &col).is_err());
    assert!(nll.forward(&x, &col).is_err());
    // Classes outside [0, C), including -100 since ignore_index defaults to None.
    assert!(ce.ignore_index.is_none() && nll.ignore_index.is_none());
    for bad in [C as i64, -1, -100] {
        let mut t = TARGETS;
        t[2] = bad;
        assert!(ce.forward(&x, &ids(&t)).is_err(), "ce class {bad}");
        assert!(sum.forward(&x, &ids(&t)).is_err(), "ce sum class {bad}");
        assert!(nll.forward(&x, &ids(&t)).is_err(), "nll class {bad}");
    }
}

#[test]
fn class_losses_reject_bad_options() {
    let x = t64(&logits(), &[N, C]);
    let t = ids(&TARGETS);
    let p = t64(&probabilities(), &[N, C]);
    for len in [C - 1, C + 1] {
        let w = Some(t64(&vec![1.0; len], &[len]));
        let ce = CrossEntropyLoss {
            weight: w.clone(),
            ..Default::default()
        };
        assert!(ce.forward(&x, &t).is_err(), "ce weight [{len}]");
        assert!(ce.forward(&x, &p).is_err(), "ce probs weight [{len}]");
        let nll = NllLoss {
            weight: w,
            ..Default::default()
        };
        assert!(nll.forward(&x, &t).is_err(), "nll weight [{len}]");
    }
    for eps in [1.5, -0.1, f64::NAN] {
        let ce = CrossEntropyLoss {
            label_smoothing: eps,
            ..Default::default()
        };
        assert!(ce.forward(&x, &t).is_err(), "label_smoothing {eps}");
        assert!(ce.forward(&x, &p).is_err(), "label_smoothing {eps} probs");
    }
    let ce = CrossEntropyLoss {
        ignore_index: Some(0),
        ..Default::default()
    };
    assert!(
        ce.forward(&x, &p).is_err(),
        "ignore_index with probabilities"
    );
}
