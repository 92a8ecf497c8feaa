//! Integration tests of `st_nn::layers`: f64 gradchecks of every layer's own forward with
//! respect to its input and parameters, forward values against plain-loop references,
//! Dropout, PyTorch's initialisation, parameter shapes and names, and error cases.

use st_core::autograd::gradcheck::{gradcheck, GradcheckOptions};
use st_core::{DType, Device, Result, Tensor};
use st_nn::layers::{
    AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Conv2dConfig, Dropout,
    Embedding, Flatten, Gelu, LayerNorm, Linear, LogSoftmax, MaxPool2d, Relu, Sigmoid, Silu,
    Softmax, Tanh,
};
use st_nn::Module;

fn cpu() -> Device {
    Device::cpu()
}

/// Deterministic values in roughly [-1, 1], different for each `seed`.
fn vals(n: usize, seed: u64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let z = (i as f64 + 1.0) * 12.9898 + seed as f64 * 78.233;
            (z.sin() * 43_758.545_3).rem_euclid(1.0) * 2.0 - 1.0
        })
        .collect()
}

/// `n` distinct values at least `4 / n` apart (a permutation), so max-pooling has no ties.
fn distinct(n: usize) -> Vec<f64> {
    assert!(!n.is_multiple_of(7919));
    (0..n)
        .map(|i| ((i * 7919) % n) as f64 * 4.0 / n as f64 - 2.0)
        .collect()
}

fn t64(data: &[f64], dims: &[usize]) -> Tensor {
    Tensor::from_f64_slice(data, dims, DType::F64, &cpu()).unwrap()
}

/// An f64 leaf requiring grad.
fn leaf(data: &[f64], dims: &[usize]) -> Tensor {
    t64(data, dims).requires_grad_().unwrap()
}

/// A leaf of `dims` holding `vals(.., seed)`.
fn rnd(dims: &[usize], seed: u64) -> Tensor {
    leaf(&vals(dims.iter().product(), seed), dims)
}

fn check(f: &dyn Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) {
    if let Err(e) = gradcheck(f, inputs, GradcheckOptions::default()) {
        panic!("gradcheck failed: {e}");
    }
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "element {i}: got {g}, want {w}"
        );
    }
}

fn v64(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec().unwrap()
}

/// Gradchecks a module of one input with respect to `x`.
fn check_module(m: &dyn Module, x: &Tensor) {
    check(&|t| m.forward(&t[0]), std::slice::from_ref(x));
}

/// A Conv2d configuration: stride, padding, dilation, groups, bias.
fn conv_cfg(
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    groups: usize,
    bias: bool,
) -> Conv2dConfig {
    Conv2dConfig {
        stride: s,
        padding: p,
        dilation: d,
        groups,
        bias,
    }
}

/// An f64 Conv2d on the CPU.
fn conv(i: usize, o: usize, k: [usize; 2], cfg: Conv2dConfig) -> Result<Conv2d> {
    Conv2d::build(i, o, k, cfg, DType::F64, &cpu())
}

// ---------------------------------------------------------------- gradchecks

#[test]
fn gradcheck_linear_with_bias() {
    let f = |t: &[Tensor]| {
        let mut lin = Linear::build(4, 5, true, DType::F64, &cpu())?;
        lin.weight = t[1].clone();
        lin.bias = Some(t[2].clone());
        lin.forward(&t[0])
    };
    check(&f, &[rnd(&[3, 4], 1), rnd(&[5, 4], 2), rnd(&[5], 3)]);
}

#[test]
fn gradcheck_linear_without_bias_batched_3d() {
    let f = |t: &[Tensor]| {
        let mut lin = Linear::build(4, 3, false, DType::F64, &cpu())?;
        assert!(lin.bias.is_none());
        lin.weight = t[1].clone();
        lin.forward(&t[0])
    };
    check(&f, &[rnd(&[2, 3, 4], 4), rnd(&[3, 4], 5)]);
    // A 1-d input [in].
    check(&f, &[rnd(&[4], 6), rnd(&[3, 4], 7)]);
}

#[test]
fn gradcheck_conv2d_stride_padding_dilation_groups() {
    // (x dims, out channels, kernel, config)
    let c0 = conv_cfg([2, 1], [1, 2], [2, 1], 2, true);
    let c1 = conv_cfg([1, 1], [1, 1], [1, 1], 1, false);
    let cases = [([2, 4, 7, 6], 6, [3, 2], c0), ([1, 2, 5, 4], 3, [3, 3], c1)];
    for (i, (xd, o, k, cfg)) in cases.into_iter().enumerate() {
        let f = move |t: &[Tensor]| {
            let mut c = conv(xd[1], o, k, cfg)?;
            c.weight = t[1].clone();
            c.bias = t.get(2).cloned();
            c.forward(&t[0])
        };
        let seed = 10 * i as u64;
        let mut inputs = vec![
            rnd(&xd, seed),
            rnd(&[o, xd[1] / cfg.groups, k[0], k[1]], seed + 1),
        ];
        if cfg.bias {
            inputs.push(rnd(&[o], seed + 2));
        }
        check(&f, &inputs);
    }
}

#[test]
fn gradcheck_pooling_and_flatten() {
    let x = leaf(&distinct(2 * 3 * 5 * 5), &[2, 3, 5, 5]);
    let (mut mp, mut ap) = (MaxPool2d::new(3), AvgPool2d::new(3));
    (mp.stride, mp.padding, ap.stride, ap.padding) = ([2, 2], [1, 1], [2, 2], [1, 1]);
    check_module(&mp, &x);
    check_module(&ap, &x);
    check_module(&MaxPool2d::new(2), &x);
    check_module(&AvgPool2d::new(2), &x);
    check_module(&Flatten::default(), &x);
    check_module(&Flatten { start: 0, end: 2 }, &x);
}

#[test]
fn gradcheck_adaptive_avg_pool2d() {
    let x = rnd(&[2, 2, 5, 7], 11);
    for output in [[3, 2], [1, 1], [5, 7], [2, 4], [7, 9]] {
        check_module(&AdaptiveAvgPool2d { output }, &x);
    }
    let y = rnd(&[2, 4, 6], 12);
    for output in [[2, 3], [3, 4]] {
        check_module(&AdaptiveAvgPool2d { output }, &y);
    }
}

#[test]
fn gradcheck_embedding_weight() {
    let ids = Tensor::from_vec(vec![0i64, 2, 2, 4, 1, 0], [2, 3], &cpu()).unwrap();
    let f = |t: &[Tensor]| {
        let mut e = Embedding::build(5, 3, DType::F64, &cpu())?;
        e.weight = t[0].clone();
        e.forward(&t[1])
    };
    check(&f, &[rnd(&[5, 3], 13), ids]);
}

#[test]
fn gradcheck_layer_norm() {
    let f = |t: &[Tensor]| {
        let mut ln = LayerNorm::build(&[4, 5], 1e-5, true, DType::F64, &cpu())?;
        ln.weight = Some(t[1].clone());
        ln.bias = Some(t[2].clone());
        ln.forward(&t[0])
    };
    check(
        &f,
        &[rnd(&[3, 4, 5], 14), rnd(&[4, 5], 15), rnd(&[4, 5], 16)],
    );
    let plain = LayerNorm::build(&[5], 1e-5, false, DType::F64, &cpu()).unwrap();
    check_module(&plain, &rnd(&[3, 5], 17));
}

/// Gradchecks a BatchNorm of 3 channels on `dims` in training mode and in eval mode.
macro_rules! gradcheck_batch_norm {
    ($ty:ty, $dims:expr, $seed:expr) => {{
        let dims: &[usize] = &$dims;
        let rm = t64(&[0.3, -0.2, 0.1], &[3]);
        let rv = t64(&[0.5, 2.0, 1.5], &[3]);
        for training in [true, false] {
            let (rm, rv) = (rm.clone(), rv.clone());
            let f = move |t: &[Tensor]| {
                let mut bn = <$ty>::build(3, 1e-5, Some(0.1), DType::F64, &cpu())?;
                bn.weight = t[1].clone();
                bn.bias = t[2].clone();
                if !training {
                    bn.eval();
                    bn.running_mean = rm.clone();
                    bn.running_var = rv.clone();
                }
                bn.forward(&t[0])
            };
            let (w, b) = (leaf(&[1.5, -0.7, 0.9], &[3]), leaf(&[0.1, 0.2, -0.3], &[3]));
            check(&f, &[rnd(dims, $seed), w, b]);
        }
    }};
}

#[test]
fn gradcheck_batch_norm_1d_and_2d() {
    gradcheck_batch_norm!(BatchNorm1d, [4, 3], 18);
    gradcheck_batch_norm!(BatchNorm1d, [3, 3, 4], 19);
    gradcheck_batch_norm!(BatchNorm2d, [2, 3, 3, 2], 20);
}

#[test]
fn gradcheck_dropout_eval_is_identity() {
    let d = Dropout::with_seed(0.5, 3).unwrap();
    d.eval();
    check_module(&d, &rnd(&[3, 4], 21));
}

#[test]
fn gradcheck_activations() {
    // Kept away from 0, where ReLU has a kink.
    let data: Vec<f64> = vals(24, 22)
        .iter()
        .map(|v| v * 2.0 + 0.1 * v.signum())
        .collect();
    let x = leaf(&data, &[2, 3, 4]);
    let mods: Vec<(&str, Box<dyn Module>)> = vec![
        ("relu", Box::new(Relu)),
        ("gelu", Box::new(Gelu { tanh: false })),
        ("gelu_tanh", Box::new(Gelu { tanh: true })),
        ("silu", Box::new(Silu)),
        ("tanh", Box::new(Tanh)),
        ("sigmoid", Box::new(Sigmoid)),
        ("softmax", Box::new(Softmax { dim: 1 })),
        ("softmax_last", Box::new(Softmax { dim: -1 })),
        ("log_softmax", Box::new(LogSoftmax { dim: -1 })),
        ("log_softmax0", Box::new(LogSoftmax { dim: 0 })),
    ];
    for (name, m) in &mods {
        let opts = GradcheckOptions::default();
        gradcheck(&|t| m.forward(&t[0]), std::slice::from_ref(&x), opts)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

// ---------------------------------------------------------------- forward values

#[test]
fn linear_forward_matches_reference() {
    let lin = Linear::build(4, 3, true, DType::F64, &cpu()).unwrap();
    let (w, b) = (v64(&lin.weight), v64(lin.bias.as_ref().unwrap()));
    let x = vals(2 * 5 * 4, 23);
    let y = lin.forward(&t64(&x, &[2, 5, 4])).unwrap();
    assert_eq!(y.dims(), &[2, 5, 3]);
    let mut want = Vec::new();
    for r in 0..10 {
        for o in 0..3 {
            let dot: f64 = (0..4).map(|i| x[r * 4 + i] * w[o * 4 + i]).sum();
            want.push(dot + b[o]);
        }
    }
    assert_close(&v64(&y), &want, 1e-12);
}

/// Direct convolution of `x [n, c, h, w]` with `w [o, c/g, kh, kw]`.
fn conv_ref(
    x: &[f64],
    [n, c, h, wd]: [usize; 4],
    w: &[f64],
    [o, cg, kh, kw]: [usize; 4],
    b: Option<&[f64]>,
    cfg: Conv2dConfig,
) -> (Vec<f64>, [usize; 4]) {
    let (s, p, d, g) = (cfg.stride, cfg.padding, cfg.dilation, cfg.groups);
    assert_eq!(cg * g, c);
    let oh = (h + 2 * p[0] - d[0] * (kh - 1) - 1) / s[0] + 1;
    let ow = (wd + 2 * p[1] - d[1] * (kw - 1) - 1) / s[1] + 1;
    let og = o / g;
    let mut out = vec![0.0; n * o * oh * ow];
    for bi in 0..n {
        for oc in 0..o {
            let grp = oc / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b.map_or(0.0, |b| b[oc]);
                    for ic in 0..cg {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * s[0] + ky * d[0]) as isize - p[0] as isize;
                                let ix = (ox * s[1] + kx * d[1]) as isize - p[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let ch = grp * cg + ic;
                                let xi = ((bi * c + ch) * h + iy as usize) * wd + ix as usize;
                                let wi = ((oc * cg + ic) * kh + ky) * kw + kx;
                                acc += x[xi] * w[wi];
                            }
                        }
                    }
                    out[((bi * o + oc) * oh + oy) * ow + ox] = acc;
                }
            }
        }
    }
    (out, [n, o, oh, ow])
}

#[test]
fn conv2d_forward_matches_direct_loops() {
    let cases = [
        ([2, 4, 7, 6], 6, [3, 2], [2, 1], [1, 2], [2, 1], 2, true),
        ([1, 3, 5, 5], 2, [3, 3], [1, 1], [0, 0], [1, 1], 1, false),
        ([2, 6, 6, 5], 3, [2, 3], [1, 2], [1, 0], [1, 2], 3, true),
        ([1, 4, 8, 8], 4, [3, 3], [3, 2], [2, 1], [2, 2], 4, true),
    ];
    for (i, (xd, o, k, s, p, d, g, bias)) in cases.into_iter().enumerate() {
        let cfg = conv_cfg(s, p, d, g, bias);
        let conv = conv(xd[1], o, k, cfg).unwrap();
        let wd = [o, xd[1] / g, k[0], k[1]];
        assert_eq!(conv.weight.dims(), &wd);
        let x = vals(xd.iter().product(), 30 + i as u64);
        let w = v64(&conv.weight);
        let b = conv.bias.as_ref().map(v64);
        let (want, od) = conv_ref(&x, xd, &w, wd, b.as_deref(), cfg);
        let y = conv.forward(&t64(&x, &xd)).unwrap();
        assert_eq!(y.dims(), &od, "case {i}");
        assert_close(&v64(&y), &want, 1e-12);
    }
}

#[test]
fn layer_norm_forward_matches_reference() {
    let mut ln = LayerNorm::build(&[3, 4], 1e-5, true, DType::F64, &cpu()).unwrap();
    let (w, b) = (vals(12, 40), vals(12, 41));
    ln.weight = Some(leaf(&w, &[3, 4]));
    ln.bias = Some(leaf(&b, &[3, 4]));
    let x: Vec<f64> = vals(2 * 3 * 4, 42).iter().map(|v| v * 3.0 + 1.0).collect();
    let y = v64(&ln.forward(&t64(&x, &[2, 3, 4])).unwrap());
    let mut want = Vec::new();
    for row in x.chunks(12) {
        let m = row.iter().sum::<f64>() / 12.0;
        let var = row.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 12.0;
        for (j, v) in row.iter().enumerate() {
            want.push((v - m) / (var + 1e-5).sqrt() * w[j] + b[j]);
        }
    }
    assert_close(&y, &want, 1e-10);
}

/// Batch norm of `x [n, c, inner]` in training: (output, batch mean, unbiased batch var).
fn bn_train_ref(x: &[f64], [n, c, inner]: [usize; 3], w: &[f64], b: &[f64]) -> [Vec<f64>; 3] {
    let cnt = (n * inner) as f64;
    let mut out = vec![0.0; x.len()];
    let (mut means, mut uvars) = (vec![0.0; c], vec![0.0; c]);
    for ch in 0..c {
        let idx: Vec<usize> = (0..n)
            .flat_map(|i| (0..inner).map(move |k| (i * c + ch) * inner + k))
            .collect();
        let m = idx.iter().map(|&i| x[i]).sum::<f64>() / cnt;
        let ss = idx.iter().map(|&i| (x[i] - m).powi(2)).sum::<f64>();
        for &i in &idx {
            out[i] = (x[i] - m) / (ss / cnt + 1e-5).sqrt() * w[ch] + b[ch];
        }
        means[ch] = m;
        uvars[ch] = ss / (cnt - 1.0);
    }
    [out, means, uvars]
}

#[test]
fn batch_norm2d_training_and_running_stats() {
    let mut bn = BatchNorm2d::build(3, 1e-5, Some(0.1), DType::F64, &cpu()).unwrap();
    let (w, b) = ([1.5, -0.5, 2.0], [0.1, -0.2, 0.3]);
    bn.weight = leaf(&w, &[3]);
    bn.bias = leaf(&b, &[3]);
    assert!(bn.is_training());
    let (mut rm, mut rv) = (vec![0.0; 3], vec![1.0; 3]);
    for step in 0..2u64 {
        let x: Vec<f64> = vals(2 * 3 * 3 * 4, 50 + step)
            .iter()
            .map(|v| v * (2.0 + step as f64) + step as f64)
            .collect();
        let y = bn.forward(&t64(&x, &[2, 3, 3, 4])).unwrap();
        let [want, m, uv] = bn_train_ref(&x, [2, 3, 12], &w, &b);
        assert_close(&v64(&y), &want, 1e-10);
        for ch in 0..3 {
            rm[ch] = 0.9 * rm[ch] + 0.1 * m[ch];
            rv[ch] = 0.9 * rv[ch] + 0.1 * uv[ch];
        }
    }
    assert_close(&v64(&bn.running_mean), &rm, 1e-12);
    assert_close(&v64(&bn.running_var), &rv, 1e-12);
    assert_eq!(bn.num_batches_tracked.dtype(), DType::I64);
    assert_eq!(bn.num_batches_tracked.to_scalar::<i64>().unwrap(), 2);

    // Eval uses the running statistics and leaves them (and the count) alone.
    bn.eval();
    let x = vals(2 * 3 * 2 * 2, 60);
    let y = v64(&bn.forward(&t64(&x, &[2, 3, 2, 2])).unwrap());
    let want: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let ch = (i / 4) % 3;
            (v - rm[ch]) / (rv[ch] + 1e-5).sqrt() * w[ch] + b[ch]
        })
        .collect();
    assert_close(&y, &want, 1e-10);
    assert_close(&v64(&bn.running_mean), &rm, 1e-12);
    assert_eq!(bn.num_batches_tracked.to_scalar::<i64>().unwrap(), 2);
}

#[test]
fn batch_norm1d_training_3d_and_cumulative_momentum() {
    // [N, C, L] with the default momentum.
    let bn = BatchNorm1d::build(2, 1e-5, Some(0.1), DType::F64, &cpu()).unwrap();
    let x = vals(3 * 2 * 5, 70);
    let y = bn.forward(&t64(&x, &[3, 2, 5])).unwrap();
    let [want, m, uv] = bn_train_ref(&x, [3, 2, 5], &[1.0; 2], &[0.0; 2]);
    assert_close(&v64(&y), &want, 1e-10);
    let rv: Vec<f64> = uv.iter().map(|v| 0.9 + 0.1 * v).collect();
    assert_close(&v64(&bn.running_var), &rv, 1e-12);
    let rm: Vec<f64> = m.iter().map(|v| 0.1 * v).collect();
    assert_close(&v64(&bn.running_mean), &rm, 1e-12);

    // momentum None: the cumulative average over the batches seen.
    let bn = BatchNorm1d::build(2, 1e-5, None, DType::F64, &cpu()).unwrap();
    let (x1, x2) = (vals(8, 71), vals(8, 72));
    bn.forward(&t64(&x1, &[4, 2])).unwrap();
    bn.forward(&t64(&x2, &[4, 2])).unwrap();
    let [_, m1, v1] = bn_train_ref(&x1, [4, 2, 1], &[1.0; 2], &[0.0; 2]);
    let [_, m2, v2] = bn_train_ref(&x2, [4, 2, 1], &[1.0; 2], &[0.0; 2]);
    let rm: Vec<f64> = (0..2).map(|c| (m1[c] + m2[c]) / 2.0).collect();
    let rv: Vec<f64> = (0..2).map(|c| (v1[c] + v2[c]) / 2.0).collect();
    assert_close(&v64(&bn.running_mean), &rm, 1e-12);
    assert_close(&v64(&bn.running_var), &rv, 1e-12);
}

#[test]
fn adaptive_avg_pool2d_matches_pytorch_windows() {
    let x = vals(2 * 3 * 5 * 7, 80);
    for (h, w, out) in [
        (5, 7, [3, 2]),
        (5, 7, [2, 4]),
        (5, 7, [5, 7]),
        (5, 7, [1, 1]),
    ] {
        let y = AdaptiveAvgPool2d { output: out }
            .forward(&t64(&x, &[2, 3, h, w]))
            .unwrap();
        assert_eq!(y.dims(), &[2, 3, out[0], out[1]]);
        let mut want = Vec::new();
        for plane in x.chunks(h * w) {
            for i in 0..out[0] {
                let (r0, r1) = (i * h / out[0], ((i + 1) * h).div_ceil(out[0]));
                for j in 0..out[1] {
                    let (c0, c1) = (j * w / out[1], ((j + 1) * w).div_ceil(out[1]));
                    let mut s = 0.0;
                    for r in r0..r1 {
                        for c in c0..c1 {
                            s += plane[r * w + c];
                        }
                    }
                    want.push(s / ((r1 - r0) * (c1 - c0)) as f64);
                }
            }
        }
        assert_close(&v64(&y), &want, 1e-12);
    }
    // 5 -> 3 rows: windows [0, 2), [1, 4), [3, 5), overlapping as in PyTorch.
    let col: Vec<f64> = (0..5).map(|v| v as f64).collect();
    let y = AdaptiveAvgPool2d { output: [3, 1] }
        .forward(&t64(&col, &[1, 1, 5, 1]))
        .unwrap();
    assert_close(&v64(&y), &[0.5, 2.0, 3.5], 1e-12);
}

// ---------------------------------------------------------------- dropout

#[test]
fn dropout_training_drops_about_half_and_scales_by_two() {
    let d = Dropout::with_seed(0.5, 1234).unwrap();
    assert!(d.is_training());
    assert_eq!(d.p(), 0.5);
    let x = Tensor::ones([100, 100], DType::F32, &cpu()).unwrap();
    let y = v64(&d.forward(&x).unwrap());
    let zeros = y.iter().filter(|&&v| v == 0.0).count();
    assert!(y.iter().all(|&v| v == 0.0 || v == 2.0), "kept values are 2");
    // Binomial(10000, 0.5): std 50.
    assert!((4750..=5250).contains(&zeros), "{zeros} zeros of 10000");
    let y2 = v64(&d.forward(&x).unwrap());
    assert_ne!(y, y2, "the generator advances between calls");
}

#[test]
fn dropout_same_seed_same_mask() {
    let x = t64(&vals(1000, 90), &[10, 100]);
    let a = Dropout::with_seed(0.3, 7).unwrap().forward(&x).unwrap();
    let b = Dropout::with_seed(0.3, 7).unwrap().forward(&x).unwrap();
    let c = Dropout::with_seed(0.3, 8).unwrap().forward(&x).unwrap();
    assert_eq!(v64(&a), v64(&b));
    assert_ne!(v64(&a), v64(&c));
}

#[test]
fn dropout_eval_identity_and_bad_probabilities() {
    let d = Dropout::with_seed(0.9, 1).unwrap();
    d.eval();
    assert!(!d.is_training());
    let x = t64(&vals(50, 91), &[5, 10]);
    assert_eq!(v64(&d.forward(&x).unwrap()), v64(&x));
    let one = Dropout::with_seed(1.0, 1).unwrap();
    assert!(v64(&one.forward(&x).unwrap()).iter().all(|&v| v == 0.0));
    for p in [-0.1, 1.5, f64::NAN] {
        assert!(Dropout::with_seed(p, 0).is_err(), "p = {p}");
        assert!(Dropout::new(p).is_err(), "p = {p}");
    }
}

// ---------------------------------------------------------------- init

fn mean_var(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (
        m,
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64,
    )
}

#[test]
fn linear_init_is_uniform_one_over_sqrt_fan_in() {
    let lin = Linear::new(100, 200).unwrap();
    assert_eq!(lin.weight.dims(), &[200, 100]);
    let w = v64(&lin.weight);
    let max = w.iter().fold(0f64, |m, v| m.max(v.abs()));
    assert!(max <= 0.1 + 1e-7 && max > 0.099, "max |w| = {max}");
    let (m, var) = mean_var(&w);
    assert!(m.abs() < 0.003, "mean {m}");
    assert!((var / (0.01 / 3.0) - 1.0).abs() < 0.05, "var {var}");
    let b = v64(lin.bias.as_ref().unwrap());
    assert!(b.iter().all(|v| v.abs() <= 0.1 + 1e-7));
    assert!(b.iter().any(|v| v.abs() > 0.07));
}

#[test]
fn conv2d_init_fan_in_counts_groups() {
    let c = conv(8, 64, [3, 3], conv_cfg([1, 1], [0, 0], [1, 1], 4, true)).unwrap();
    assert_eq!(c.weight.dims(), &[64, 2, 3, 3]);
    let bound = 1.0 / 18f64.sqrt(); // fan_in = 8 / 4 * 3 * 3
    let w = v64(&c.weight);
    let max = w.iter().fold(0f64, |m, v| m.max(v.abs()));
    assert!(max <= bound + 1e-6 && max > 0.95 * bound, "max |w| = {max}");
    let (_, var) = mean_var(&w);
    assert!(
        (var / (bound * bound / 3.0) - 1.0).abs() < 0.15,
        "var {var}"
    );
    let b = v64(c.bias.as_ref().unwrap());
    let bmax = b.iter().fold(0f64, |m, v| m.max(v.abs()));
    assert!(
        bmax <= bound + 1e-6 && bmax > 0.7 * bound,
        "max |b| = {bmax}"
    );
}

#[test]
fn norm_and_embedding_init() {
    let ln = LayerNorm::new(&[3, 4]).unwrap();
    assert!(v64(ln.weight.as_ref().unwrap()).iter().all(|&v| v == 1.0));
    assert!(v64(ln.bias.as_ref().unwrap()).iter().all(|&v| v == 0.0));
    assert_eq!(ln.weight.as_ref().unwrap().dims(), &[3, 4]);
    let bn = BatchNorm2d::new(5).unwrap();
    assert!(v64(&bn.running_var).iter().all(|&v| v == 1.0));
    assert!(v64(&bn.running_mean).iter().all(|&v| v == 0.0));
    assert!(v64(&bn.weight).iter().all(|&v| v == 1.0));
    assert!(v64(&bn.bias).iter().all(|&v| v == 0.0));
    assert_eq!(bn.num_batches_tracked.to_scalar::<i64>().unwrap(), 0);
    let e = Embedding::new(1000, 16).unwrap();
    assert_eq!(e.weight.dims(), &[1000, 16]);
    let (m, var) = mean_var(&v64(&e.weight));
    assert!(m.abs() < 0.05, "mean {m}");
    assert!((var - 1.0).abs() < 0.06, "var {var}");
}

// ---------------------------------------------------------------- shapes and names

fn names(m: &dyn Module) -> Vec<String> {
    m.state_dict().keys().map(str::to_string).collect()
}

#[test]
fn shapes_and_names_match_pytorch() {
    let lin = Linear::new(3, 7).unwrap();
    assert_eq!(names(&lin), ["weight", "bias"]);
    assert_eq!((lin.in_features(), lin.out_features()), (3, 7));
    assert_eq!(lin.bias.as_ref().unwrap().dims(), &[7]);
    let nb = Linear::build(3, 7, false, DType::F32, &cpu()).unwrap();
    assert_eq!(names(&nb), ["weight"]);
    let cfg = Conv2dConfig {
        groups: 2,
        ..Default::default()
    };
    assert_eq!(
        cfg,
        conv_cfg([1, 1], [0, 0], [1, 1], 2, true),
        "PyTorch's defaults"
    );
    let c = Conv2d::build(4, 6, [3, 5], cfg, DType::F32, &cpu()).unwrap();
    assert_eq!(c.weight.dims(), &[6, 2, 3, 5]);
    assert_eq!(names(&c), ["weight", "bias"]);
    let y = c
        .forward(&Tensor::zeros([2, 4, 8, 9], DType::F32, &cpu()).unwrap())
        .unwrap();
    assert_eq!(y.dims(), &[2, 6, 6, 5]);
    let keys = [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ];
    let bn1 = BatchNorm1d::new(4).unwrap();
    assert_eq!(names(&bn1), keys);
    let bn2 = BatchNorm2d::new(4).unwrap();
    assert_eq!(names(&bn2), keys);
    let params: Vec<String> = bn2.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(params, ["weight", "bias"]);
    assert_eq!(bn2.named_buffers().len(), 3);
    let e = Embedding::new(10, 4).unwrap();
    assert_eq!(names(&e), ["weight"]);
    let ids = Tensor::from_vec(vec![1i64, 9, 3, 1, 0, 2], [3, 2], &cpu()).unwrap();
    let out = e.forward(&ids).unwrap();
    assert_eq!(out.dims(), &[3, 2, 4]);
    let w = v64(&e.weight);
    assert_eq!(v64(&out)[4..8], w[36..40]);
    assert!(names(&Relu).is_empty());
}

#[test]
fn to_dtype_keeps_integer_buffers() {
    let mut bn = BatchNorm2d::new(3).unwrap();
    bn.to_dtype(DType::F64).unwrap();
    assert_eq!(bn.weight.dtype(), DType::F64);
    assert_eq!(bn.running_var.dtype(), DType::F64);
    assert!(bn.weight.requires_grad());
    assert_eq!(bn.num_batches_tracked.dtype(), DType::I64);
}

// ---------------------------------------------------------------- errors

#[test]
fn wrong_shapes_are_errors() {
    // Every layer is f64 and accepts the right shape, so the errors are about shapes.
    let z = |d: &[usize]| Tensor::zeros(d, DType::F64, &cpu()).unwrap();
    let lin = Linear::build(4, 3, true, DType::F64, &cpu()).unwrap();
    assert!(lin.forward(&z(&[2, 4])).is_ok());
    assert!(lin.forward(&z(&[2, 5])).is_err());
    assert!(lin.forward(&z(&[])).is_err());
    let cfg = |g| conv_cfg([1, 1], [0, 0], [1, 1], g, true);
    let c = conv(4, 6, [3, 3], cfg(2)).unwrap();
    assert!(c.forward(&z(&[1, 4, 5, 5])).is_ok());
    assert!(c.forward(&z(&[1, 3, 5, 5])).is_err());
    assert!(c.forward(&z(&[1, 6, 5, 5])).is_err());
    assert!(
        conv(6, 4, [3, 3], cfg(4)).is_err(),
        "4 does not divide 6 inputs"
    );
    assert!(
        conv(4, 6, [3, 3], cfg(4)).is_err(),
        "4 does not divide 6 outputs"
    );
    assert!(conv(4, 6, [3, 3], cfg(0)).is_err());
    let ln = LayerNorm::build(&[3, 4], 1e-5, true, DType::F64, &cpu()).unwrap();
    assert!(ln.forward(&z(&[2, 3, 4])).is_ok());
    assert!(ln.forward(&z(&[2, 4, 3])).is_err());
    assert!(ln.forward(&z(&[4])).is_err());
    let bn1 = BatchNorm1d::build(3, 1e-5, Some(0.1), DType::F64, &cpu()).unwrap();
    assert!(bn1.forward(&z(&[4, 3])).is_ok() && bn1.forward(&z(&[4, 3, 2])).is_ok());
    assert!(bn1.forward(&z(&[4, 2])).is_err());
    assert!(bn1.forward(&z(&[4, 2, 5])).is_err());
    assert!(bn1.forward(&z(&[2, 3, 2, 2])).is_err());
    let bn2 = BatchNorm2d::build(3, 1e-5, Some(0.1), DType::F64, &cpu()).unwrap();
    assert!(bn2.forward(&z(&[2, 3, 2, 2])).is_ok());
    assert!(bn2.forward(&z(&[2, 4, 2, 2])).is_err());
    assert!(bn2.forward(&z(&[2, 3, 2])).is_err());
}

#[test]
fn batch_norm_training_needs_more_than_one_value_per_channel() {
    let bn1 = BatchNorm1d::new(3).unwrap();
    let one = Tensor::ones([1, 3], DType::F32, &cpu()).unwrap();
    assert!(bn1.forward(&one).is_err());
    assert_eq!(bn1.num_batches_tracked.to_scalar::<i64>().unwrap(), 0);
    let bn2 = BatchNorm2d::new(3).unwrap();
    assert!(bn2
        .forward(&Tensor::ones([1, 3, 1, 1], DType::F32, &cpu()).unwrap())
        .is_err());
    // Eval mode uses the running statistics, so a single value is fine.
    bn1.eval();
    assert_eq!(v64(&bn1.forward(&one).unwrap()).len(), 3);
}

#[test]
fn embedding_out_of_range_is_error() {
    let e = Embedding::new(5, 2).unwrap();
    for bad in [vec![0i64, 5], vec![-1i64, 0]] {
        let ids = Tensor::from_vec(bad, [2], &cpu()).unwrap();
        assert!(e.forward(&ids).is_err());
    }
    let float_ids = Tensor::zeros([2], DType::F32, &cpu()).unwrap();
    assert!(e.forward(&float_ids).is_err());
}
