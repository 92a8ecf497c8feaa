//! Higher-order autograd: second derivatives of every family of differentiable op checked
//! against central finite differences (in f64, computed here) of the first derivative, a
//! Hessian-vector product against the closed-form Hessian, and a gradient penalty.
//!
//! The check: with `L(x) = Σ f(x) ⊙ w` and fixed non-uniform weights `v_i`, the scalar
//! `S(x) = Σ_i ⟨∂L/∂x_i, v_i⟩` is built with `create_graph` and differentiated again, giving
//! `∂S/∂x_j = Σ_i (H v)_j`. Numerically, `S` is evaluated at `x ± ε e_k` from first
//! derivatives alone (no graph) and differenced, so a wrong second derivative cannot agree.

use st_core::autograd::{grad, GradOptions};
use st_core::{Conv2dParams, DType, Device, Generator, Result, Shape, Tensor};

fn dev() -> Device {
    Device::cpu()
}

/// Seeded uniform values in `[lo, hi)`.
fn uniform(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    let u = Tensor::rand_with(&mut Generator::new(seed), [n], DType::F64, &dev()).unwrap();
    u.to_f64_vec()
        .unwrap()
        .iter()
        .map(|x| lo + (hi - lo) * x)
        .collect()
}

/// An f64 leaf requiring grad with the given values.
fn vals(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_f64_slice(v, shape, DType::F64, &dev())
        .unwrap()
        .requires_grad_()
        .unwrap()
}

/// An f64 leaf requiring grad with seeded values in `[lo, hi)`.
fn leaf(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor {
    vals(&uniform(shape.iter().product(), lo, hi, seed), shape)
}

/// An f64 leaf with magnitudes in `[0.3, 1.5)` and mixed signs (away from kinks at 0).
fn away_from_zero(shape: &[usize], seed: u64) -> Tensor {
    let n = shape.iter().product();
    let signs = uniform(n, 0.0, 1.0, seed + 1000);
    let v: Vec<f64> = uniform(n, 0.3, 1.5, seed)
        .iter()
        .zip(signs)
        .map(|(m, s)| if s < 0.5 { -m } else { *m })
        .collect();
    vals(&v, shape)
}

/// Weights in `±[0.5, 1.5)`, never zero and non-uniform.
fn weights(n: usize, seed: u64) -> Vec<f64> {
    uniform(n, 0.5, 1.5, seed)
        .iter()
        .enumerate()
        .map(|(i, w)| if i % 3 == 1 { -w } else { *w })
        .collect()
}

type Func<'a> = &'a dyn Fn(&[Tensor]) -> Result<Tensor>;

/// Fresh leaves sharing the data of `xs` (requires_grad as in `xs`).
fn fresh(xs: &[Tensor]) -> Vec<Tensor> {
    xs.iter()
        .map(|t| {
            let l = t.detach();
            if t.requires_grad() {
                l.set_requires_grad(true).unwrap();
            }
            l
        })
        .collect()
}

/// `S(xs) = Σ_i ⟨∂L/∂x_i, v_i⟩` over the checked inputs, with or without a graph.
fn s_of(f: Func, xs: &[Tensor], checked: &[usize], create: bool) -> Result<Tensor> {
    let out = f(xs)?;
    let w = Tensor::from_f64_slice(
        &weights(out.numel(), 7),
        out.shape().clone(),
        DType::F64,
        &dev(),
    )?;
    let l = out.mul(&w)?.sum_all()?;
    let ins: Vec<&Tensor> = checked.iter().map(|&i| &xs[i]).collect();
    let opts = GradOptions::default()
        .create_graph(create)
        .allow_unused(true);
    let gs = grad(&[&l], &ins, None, opts)?;
    let mut s = Tensor::scalar(0.0, DType::F64, &dev())?;
    for (k, g) in gs.into_iter().enumerate() {
        if let Some(g) = g {
            let v = Tensor::from_f64_slice(
                &weights(g.numel(), 100 + k as u64),
                g.shape().clone(),
                DType::F64,
                &dev(),
            )?;
            s = s.add(&g.mul(&v)?.sum_all()?)?;
        }
    }
    Ok(s)
}

/// Checks the second derivatives of `f` with respect to the inputs that require grad.
fn check2(f: Func, inputs: &[Tensor]) {
    let checked: Vec<usize> = (0..inputs.len())
        .filter(|&i| inputs[i].requires_grad())
        .collect();
    let xs = fresh(inputs);
    let s = s_of(f, &xs, &checked, true).unwrap();
    let ins: Vec<&Tensor> = checked.iter().map(|&i| &xs[i]).collect();
    let analytic: Vec<Vec<f64>> = if s.requires_grad() {
        grad(&[&s], &ins, None, GradOptions::default().allow_unused(true))
            .unwrap()
            .into_iter()
            .zip(&ins)
            .map(|(g, x)| match g {
                Some(g) => g.to_f64_vec().unwrap(),
                None => vec![0.0; x.numel()],
            })
            .collect()
    } else {
        // The first derivative does not depend on the inputs: the Hessian is zero.
        ins.iter().map(|x| vec![0.0; x.numel()]).collect()
    };
    for (c, &i) in checked.iter().enumerate() {
        assert!(
            xs[i].grad().is_none(),
            "grad() must not accumulate into .grad"
        );
        let base = inputs[i].to_f64_vec().unwrap();
        let eps = 1e-6;
        let s_at = |j: usize, d: f64| -> f64 {
            let mut v = base.clone();
            v[j] += d;
            let mut args = fresh(inputs);
            args[i] = vals(&v, inputs[i].dims());
            s_of(f, &args, &checked, false)
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        for (j, &a) in analytic[c].iter().enumerate() {
            let numeric = (s_at(j, eps) - s_at(j, -eps)) / (2.0 * eps);
            let tol = 1e-5 + 1e-4 * numeric.abs();
            assert!(
                (a - numeric).abs() <= tol,
                "input {i} element {j}: second derivative {a:e}, finite differences {numeric:e}"
            );
        }
    }
}

/// Checks `f` and `f²` (the square makes the first derivative depend on `f`'s output
/// gradient, which exercises each rule's dependence on `g` as well as on its inputs).
fn check2_sq(f: &dyn Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) {
    check2(f, inputs);
    check2(
        &|t| {
            let y = f(t)?;
            y.mul(&y)
        },
        inputs,
    );
}

#[test]
fn unary_second_derivatives() {
    let x = away_from_zero(&[2, 3], 1);
    let pos = leaf(&[2, 3], 0.4, 2.0, 2);
    type Op = fn(&Tensor) -> Result<Tensor>;
    let anywhere: [(&str, Op); 13] = [
        ("exp", Tensor::exp),
        ("tanh", Tensor::tanh),
        ("sigmoid", Tensor::sigmoid),
        ("sin", Tensor::sin),
        ("cos", Tensor::cos),
        ("neg", Tensor::neg),
        ("abs", Tensor::abs),
        ("relu", Tensor::relu),
        ("gelu", Tensor::gelu),
        ("gelu_tanh", Tensor::gelu_tanh),
        ("silu", Tensor::silu),
        ("erf", Tensor::erf),
        ("reciprocal", Tensor::reciprocal),
    ];
    for (name, op) in anywhere {
        eprintln!("{name}");
        check2_sq(&|t| op(&t[0]), std::slice::from_ref(&x));
    }
    let positive: [(&str, Op); 3] = [
        ("log", Tensor::log),
        ("sqrt", Tensor::sqrt),
        ("rsqrt", Tensor::rsqrt),
    ];
    for (name, op) in positive {
        eprintln!("{name}");
        check2_sq(&|t| op(&t[0]), std::slice::from_ref(&pos));
    }
    check2_sq(&|t| t[0].clamp(Some(-0.9), Some(0.8)), &[x]);
}

#[test]
fn binary_second_derivatives_with_broadcasting() {
    let a = away_from_zero(&[2, 3], 10);
    let b = away_from_zero(&[3], 11);
    let pa = leaf(&[2, 3], 0.5, 2.0, 12);
    let pb = leaf(&[2, 1], -1.5, 1.5, 13);
    check2_sq(&|t| t[0].add(&t[1]), &[a.clone(), b.clone()]);
    check2_sq(&|t| t[0].sub(&t[1]), &[a.clone(), b.clone()]);
    check2_sq(&|t| t[0].mul(&t[1]), &[a.clone(), b.clone()]);
    check2_sq(&|t| t[0].div(&t[1]), &[a.clone(), b.clone()]);
    check2_sq(&|t| t[0].pow(&t[1]), &[pa.clone(), pb.clone()]);
    check2_sq(&|t| t[0].pow_scalar(3.0), std::slice::from_ref(&a));
    check2_sq(&|t| t[0].maximum(&t[1]), &[a.clone(), b.clone()]);
    check2_sq(&|t| t[0].minimum(&t[1]), &[a.clone(), b.clone()]);
    // One operand without grad.
    check2_sq(&|t| t[0].div(&t[1]), &[a, b.detach()]);
}

#[test]
fn matmul_second_derivatives() {
    let cases: [(&[usize], &[usize]); 4] = [
        (&[2, 3], &[3, 4]),
        (&[2, 2, 3], &[3, 2]),
        (&[3], &[3, 2]),
        (&[2, 3], &[3]),
    ];
    for (k, (sa, sb)) in cases.into_iter().enumerate() {
        let a = leaf(sa, -1.0, 1.0, 20 + k as u64);
        let b = leaf(sb, -1.0, 1.0, 30 + k as u64);
        check2_sq(&|t| t[0].matmul(&t[1]), &[a, b]);
    }
}

#[test]
fn softmax_second_derivatives() {
    let x = leaf(&[2, 4], -2.0, 2.0, 40);
    for d in [0, 1, -1] {
        check2_sq(&|t| t[0].softmax(d), std::slice::from_ref(&x));
        check2_sq(&|t| t[0].log_softmax(d), std::slice::from_ref(&x));
    }
    check2(&|t| t[0].logsumexp(&[1], false), std::slice::from_ref(&x));
}

#[test]
fn reduction_second_derivatives() {
    let x = away_from_zero(&[2, 3, 2], 50);
    for (dims, keep) in [(vec![], false), (vec![1], true), (vec![0, 2], false)] {
        check2_sq(&|t| t[0].sum(&dims, keep), std::slice::from_ref(&x));
        check2_sq(&|t| t[0].mean(&dims, keep), std::slice::from_ref(&x));
        check2_sq(&|t| t[0].prod(&dims, keep), std::slice::from_ref(&x));
        check2_sq(&|t| t[0].amax(&dims, keep), std::slice::from_ref(&x));
        check2_sq(&|t| t[0].amin(&dims, keep), std::slice::from_ref(&x));
    }
    check2_sq(&|t| t[0].var(&[1], 1, false), std::slice::from_ref(&x));
}

#[test]
fn prod_second_derivatives_at_zeros() {
    // One zero in the first row, two in the second, none in the third: the exclusive
    // product next to a zero depends on it, which a masked rule would miss.
    let x = vals(
        &[
            0.0, 1.5, -0.7, 2.0, 0.0, 0.0, 1.1, 0.6, -1.2, 0.9, 0.8, -1.3,
        ],
        &[3, 4],
    );
    check2_sq(&|t| t[0].prod(&[1], false), std::slice::from_ref(&x));
    check2(&|t| t[0].prod(&[], false), std::slice::from_ref(&x));
    check2(&|t| t[0].prod(&[0], true), &[x]);
}

#[test]
fn conv2d_second_derivatives() {
    let configs = [
        (Conv2dParams::default(), 2, 1),
        (
            Conv2dParams {
                stride: [2, 1],
                padding: [1, 1],
                dilation: [1, 2],
                ..Default::default()
            },
            2,
            1,
        ),
        (
            Conv2dParams {
                groups: 2,
                ..Default::default()
            },
            2,
            2,
        ),
    ];
    for (i, (p, c, groups)) in configs.into_iter().enumerate() {
        let x = leaf(&[1, c, 4, 4], -1.0, 1.0, 60 + i as u64);
        let w = leaf(&[2, c / groups, 2, 3], -1.0, 1.0, 70 + i as u64);
        let b = leaf(&[2], -1.0, 1.0, 80 + i as u64);
        check2_sq(&|t| t[0].conv2d(&t[1], Some(&t[2]), p), &[x, w, b]);
    }
}

#[test]
fn movement_and_index_second_derivatives() {
    let x = away_from_zero(&[3, 4], 90);
    let y = away_from_zero(&[2, 4], 91);
    let idx = Tensor::from_vec(vec![2i64, 0, 2], [3], &dev()).unwrap();
    let gidx = Tensor::from_vec(vec![1i64, 0, 3, 3, 2, 1], [3, 2], &dev()).unwrap();
    check2_sq(
        &|t| t[0].slice(1, 1, 4, 2)?.permute(&[1, 0])?.reshape(&[-1]),
        std::slice::from_ref(&x),
    );
    check2_sq(&|t| Tensor::cat(&[&t[0], &t[1]], 0), &[x.clone(), y]);
    check2_sq(&|t| t[0].index_select(0, &t[1]), &[x.clone(), idx.clone()]);
    check2_sq(&|t| t[0].gather(1, &t[1]), &[x.clone(), gidx]);
    check2_sq(
        &|t| t[0].unsqueeze(0)?.expand(&Shape::from([2, 3, 4])),
        &[x],
    );
}

#[test]
fn hessian_vector_product_matches_closed_form() {
    // f(x) = Σ x_i³ + (Σ x_i)², so H = diag(6x) + 2·11ᵀ and Hv = 6 x ⊙ v + 2 Σ v.
    let xv = [0.5, -1.2, 2.0, 0.3];
    let vv = [1.0, -0.5, 0.25, 2.0];
    let x = vals(&xv, &[4]);
    let v = Tensor::from_f64_slice(&vv, [4], DType::F64, &dev()).unwrap();
    let s = x.sum_all().unwrap();
    let f = x
        .pow_scalar(3.0)
        .unwrap()
        .sum_all()
        .unwrap()
        .add(&s.mul(&s).unwrap())
        .unwrap();
    let g = grad(
        &[&f],
        &[&x],
        None,
        GradOptions::default().create_graph(true),
    )
    .unwrap();
    let g = g[0].clone().unwrap();
    assert!(
        g.grad_fn().is_some(),
        "create_graph gives gradients a grad_fn"
    );
    let hv = grad(&[&g], &[&x], Some(&[&v]), GradOptions::default()).unwrap();
    let hv = hv[0].as_ref().unwrap().to_vec::<f64>().unwrap();
    let sv: f64 = vv.iter().sum();
    for i in 0..4 {
        let want = 6.0 * xv[i] * vv[i] + 2.0 * sv;
        assert!(
            (hv[i] - want).abs() < 1e-12,
            "Hv[{i}] = {}, want {want}",
            hv[i]
        );
    }
}

/// `||∂L/∂x||²` for `L = Σ tanh(x @ w) ⊙ c`, built with or without a graph.
fn penalty(x: &Tensor, w: &Tensor, create: bool) -> Tensor {
    let c = Tensor::from_f64_slice(&weights(6, 3), [3, 2], DType::F64, &dev()).unwrap();
    let l = x.matmul(w).unwrap().tanh().unwrap().mul(&c).unwrap();
    let l = l.sum_all().unwrap();
    let opts = GradOptions::default().create_graph(create);
    let gx = grad(&[&l], &[x], None, opts).unwrap()[0].clone().unwrap();
    gx.mul(&gx).unwrap().sum_all().unwrap()
}

#[test]
fn gradient_penalty_backpropagates_to_the_weights() {
    let xv = uniform(12, -1.0, 1.0, 5);
    let wv = uniform(8, -1.0, 1.0, 6);
    let x = vals(&xv, &[3, 4]);
    let w = vals(&wv, &[4, 2]);
    let gp = penalty(&x, &w, true);
    gp.backward().unwrap();
    let analytic = w.grad().unwrap().to_vec::<f64>().unwrap();
    // d gp / d x also flows (second derivative w.r.t. x itself).
    assert!(x.grad().is_some());
    let eps = 1e-6;
    for j in 0..wv.len() {
        let at = |d: f64| {
            let mut v = wv.clone();
            v[j] += d;
            let gp = penalty(&vals(&xv, &[3, 4]), &vals(&v, &[4, 2]), false);
            gp.to_scalar::<f64>().unwrap()
        };
        let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
        assert!(
            (analytic[j] - numeric).abs() <= 1e-6 + 1e-5 * numeric.abs(),
            "w element {j}: {} vs {numeric}",
            analytic[j]
        );
    }
}
