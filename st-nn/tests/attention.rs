//! MultiheadAttention against a plain-loop f64 reference (projections, per-head softmax
//! attention, masks, output projection), gradchecked, with PyTorch's parameter names.

use st_core::autograd::gradcheck::{gradcheck, GradcheckOptions};
use st_core::{DType, Device, Tensor};
use st_nn::layers::MultiheadAttention;
use st_nn::Module;

fn t64(v: &[f64], dims: &[usize]) -> Tensor {
    Tensor::from_f64_slice(v, dims, DType::F64, &Device::cpu()).unwrap()
}

fn vals(n: usize, salt: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (((i * 31 + salt * 7) % 23) as f64 - 11.0) / 13.0)
        .collect()
}

/// The reference: q/k/v `[L|S, N, E]` (sequence first), weights as flat row-major vectors.
#[allow(clippy::too_many_arguments)]
fn reference(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    (l, s, n, e, h): (usize, usize, usize, usize, usize),
    w_in: &[f64],
    b_in: &[f64],
    w_out: &[f64],
    b_out: &[f64],
    hide: &dyn Fn(usize, usize) -> bool,
) -> Vec<f64> {
    let d = e / h;
    let proj = |x: &[f64], which: usize, len: usize| -> Vec<f64> {
        // [len, n, e] -> projected [len, n, e]
        let mut out = vec![0.0; len * n * e];
        for p in 0..len {
            for b in 0..n {
                for o in 0..e {
                    let mut acc = b_in[which * e + o];
                    for i in 0..e {
                        acc += x[(p * n + b) * e + i] * w_in[(which * e + o) * e + i];
                    }
                    out[(p * n + b) * e + o] = acc;
                }
            }
        }
        out
    };
    let (qp, kp, vp) = (proj(q, 0, l), proj(k, 1, s), proj(v, 2, s));
    let mut ctx = vec![0.0; l * n * e];
    for b in 0..n {
        for hh in 0..h {
            for i in 0..l {
                let mut sc: Vec<f64> = (0..s)
                    .map(|j| {
                        if hide(i, j) {
                            return f64::NEG_INFINITY;
                        }
                        (0..d)
                            .map(|c| {
                                qp[(i * n + b) * e + hh * d + c] * kp[(j * n + b) * e + hh * d + c]
                            })
                            .sum::<f64>()
                            / (d as f64).sqrt()
                    })
                    .collect();
                let m = sc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = sc.iter().map(|x| (x - m).exp()).sum();
                for x in &mut sc {
                    *x = (*x - m).exp() / z;
                }
                for c in 0..d {
                    ctx[(i * n + b) * e + hh * d + c] = (0..s)
                        .map(|j| sc[j] * vp[(j * n + b) * e + hh * d + c])
                        .sum();
                }
            }
        }
    }
    let mut out = vec![0.0; l * n * e];
    for r in 0..l * n {
        for o in 0..e {
            out[r * e + o] = b_out[o]
                + (0..e)
                    .map(|i| ctx[r * e + i] * w_out[o * e + i])
                    .sum::<f64>();
        }
    }
    out
}

fn layer(e: usize, h: usize) -> MultiheadAttention {
    let m = MultiheadAttention::build(e, h, true, DType::F64, &Device::cpu()).unwrap();
    // Non-zero biases, so the reference checks them too.
    let _g = st_core::no_grad();
    m.in_proj_bias
        .as_ref()
        .unwrap()
        .copy_(&t64(&vals(3 * e, 5), &[3 * e]))
        .unwrap();
    m.out_proj
        .bias
        .as_ref()
        .unwrap()
        .copy_(&t64(&vals(e, 6), &[e]))
        .unwrap();
    m
}

fn flat(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec().unwrap()
}

#[test]
fn matches_the_reference_with_and_without_masks() {
    let (l, s, n, e, h) = (3, 4, 2, 4, 2);
    let m = layer(e, h);
    let (q, k, v) = (vals(l * n * e, 1), vals(s * n * e, 2), vals(s * n * e, 3));
    let (qt, kt, vt) = (
        t64(&q, &[l, n, e]),
        t64(&k, &[s, n, e]),
        t64(&v, &[s, n, e]),
    );
    let w_in = flat(&m.in_proj_weight);
    let b_in = flat(m.in_proj_bias.as_ref().unwrap());
    let w_out = flat(&m.out_proj.weight);
    let b_out = flat(m.out_proj.bias.as_ref().unwrap());
    let dims = (l, s, n, e, h);
    let check = |got: &Tensor, hide: &dyn Fn(usize, usize) -> bool, what: &str| {
        let want = reference(&q, &k, &v, dims, &w_in, &b_in, &w_out, &b_out, hide);
        assert_eq!(got.dims(), &[l, n, e]);
        for (i, (a, b)) in flat(got).iter().zip(&want).enumerate() {
            assert!((a - b).abs() < 1e-12, "{what}[{i}]: {a} vs {b}");
        }
    };
    let (out, w) = m.attend(&qt, &kt, &vt, None, false).unwrap();
    check(&out, &|_, _| false, "plain");
    assert_eq!(w.dims(), &[n, l, s]);
    for row in flat(&w).chunks(s) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    let (out, _) = m.attend(&qt, &kt, &vt, None, true).unwrap();
    check(&out, &|i, j| j > i, "causal");
    let hide = |i: usize, j: usize| (i + j) % 3 == 1;
    let mask: Vec<f64> = (0..l * s)
        .map(|x| f64::from(u8::from(hide(x / s, x % s))))
        .collect();
    let mask = Tensor::from_f64_slice(&mask, [l, s], DType::Bool, &Device::cpu()).unwrap();
    let (out, _) = m.attend(&qt, &kt, &vt, Some(&mask), false).unwrap();
    check(&out, &hide, "bool mask");
    let additive = mask
        .to_dtype(DType::F64)
        .unwrap()
        .mul_scalar(-1e300)
        .unwrap();
    let (out, _) = m.attend(&qt, &kt, &vt, Some(&additive), false).unwrap();
    check(&out, &hide, "float mask");
}

#[test]
fn batch_first_is_the_transpose() {
    let m = layer(4, 2);
    let x = t64(&vals(3 * 2 * 4, 9), &[3, 2, 4]);
    let seq = m.forward(&x).unwrap();
    let mut bf = layer(4, 2);
    bf.load_state_dict(&m.state_dict(), true).unwrap();
    bf.batch_first = true;
    let y = bf.forward(&x.transpose(0, 1).unwrap()).unwrap();
    let (a, b) = (
        flat(&seq.transpose(0, 1).unwrap().contiguous().unwrap()),
        flat(&y),
    );
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-12);
    }
}

#[test]
fn gradients_match_finite_differences() {
    let x = t64(&vals(3 * 2 * 4, 4), &[3, 2, 4])
        .requires_grad_()
        .unwrap();
    let m = layer(4, 2);
    let (w, b) = (m.in_proj_weight.detach(), m.out_proj.weight.detach());
    let inputs = [x, w.requires_grad_().unwrap(), b.requires_grad_().unwrap()];
    gradcheck(
        &|t| {
            let mut m = layer(4, 2);
            m.in_proj_weight = t[1].clone();
            m.out_proj.weight = t[2].clone();
            m.causal = true;
            m.forward(&t[0])
        },
        &inputs,
        GradcheckOptions::default(),
    )
    .unwrap();
}

#[test]
fn names_shapes_and_errors_follow_pytorch() {
    let m = MultiheadAttention::new(8, 2).unwrap();
    let names: Vec<(String, Vec<usize>)> = m
        .named_parameters()
        .into_iter()
        .map(|(n, t)| (n, t.dims().to_vec()))
        .collect();
    assert_eq!(
        names,
        [
            ("in_proj_weight".to_string(), vec![24, 8]),
            ("in_proj_bias".to_string(), vec![24]),
            ("out_proj.weight".to_string(), vec![8, 8]),
            ("out_proj.bias".to_string(), vec![8]),
        ]
    );
    assert!(flat(m.in_proj_bias.as_ref().unwrap())
        .iter()
        .all(|&v| v == 0.0));
    assert!(MultiheadAttention::new(8, 3).is_err());
    assert!(MultiheadAttention::new(8, 0).is_err());
    let x = Tensor::zeros([3, 2, 7], DType::F32, &Device::cpu()).unwrap();
    assert!(m.forward(&x).is_err());
    let x = Tensor::zeros([3, 2, 8], DType::F32, &Device::cpu()).unwrap();
    let bad_mask = Tensor::zeros([2, 2], DType::Bool, &Device::cpu()).unwrap();
    assert!(m.attend(&x, &x, &x, Some(&bad_mask), false).is_err());
    let short = Tensor::zeros([4, 2, 8], DType::F32, &Device::cpu()).unwrap();
    assert!(m.attend(&x, &short, &x, None, false).is_err());
}
