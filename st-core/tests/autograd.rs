//! Autograd: gradcheck of every differentiable op (and the composites built on them) on small
//! f64 inputs, including broadcast, transposed and keepdim cases, plus engine behaviour and
//! gradcheck's own failure modes.

use st_core::autograd::gradcheck::{gradcheck, GradcheckOptions};
use st_core::dtype::Bool8;
use st_core::{
    no_grad, Conv2dParams, DType, Device, Error, Generator, Result, Tensor, WindowParams,
};

fn dev() -> Device {
    Device::cpu()
}

/// An f64 leaf requiring grad, with the given values.
fn vals(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_f64_slice(v, shape, DType::F64, &dev())
        .unwrap()
        .requires_grad_()
        .unwrap()
}

/// Seeded uniform values in `[lo, hi)`.
fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    let u = Tensor::rand_with(&mut Generator::new(seed), shape, DType::F64, &dev()).unwrap();
    u.to_f64_vec()
        .unwrap()
        .iter()
        .map(|x| lo + (hi - lo) * x)
        .collect()
}

/// An f64 leaf requiring grad with seeded values in `[lo, hi)`.
fn leaf(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor {
    vals(&uniform(shape, lo, hi, seed), shape)
}

/// An f64 leaf with magnitudes in `[0.3, 1.5)` and mixed signs (away from kinks at 0).
fn away_from_zero(shape: &[usize], seed: u64) -> Tensor {
    let v: Vec<f64> = uniform(shape, 0.3, 1.5, seed)
        .iter()
        .enumerate()
        .map(|(i, x)| {
            if (i * 7 + seed as usize).is_multiple_of(3) {
                -x
            } else {
                *x
            }
        })
        .collect();
    vals(&v, shape)
}

fn bools(v: &[bool], shape: &[usize]) -> Tensor {
    let b: Vec<Bool8> = v.iter().map(|&x| Bool8::from(x)).collect();
    Tensor::from_vec(b, shape, &dev()).unwrap()
}

fn idx(v: &[i64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape, &dev()).unwrap()
}

fn check(f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: impl Into<Vec<Tensor>>) {
    check_with(f, inputs, GradcheckOptions::default());
}

fn check_with(
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    inputs: impl Into<Vec<Tensor>>,
    opts: GradcheckOptions,
) {
    if let Err(e) = gradcheck(&f, &inputs.into(), opts) {
        panic!("{e}");
    }
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol, "{a:?} vs {b:?}");
    }
}

fn grad_of(t: &Tensor) -> Vec<f64> {
    t.grad().expect("leaf has a gradient").to_f64_vec().unwrap()
}

// ---- unary ----

macro_rules! unary_grad_tests {
    ($($name:ident: $lo:expr, $hi:expr, |$x:ident| $body:expr;)*) => {$(
        #[test]
        fn $name() {
            check(|t| { let $x = &t[0]; $body }, [leaf(&[2, 3], $lo, $hi, 11)]);
            // Transposed (non-contiguous) input.
            check(|t| { let $x = &t[0].t()?; $body }, [leaf(&[3, 2], $lo, $hi, 12)]);
        }
    )*};
}

unary_grad_tests! {
    neg_grad: -2.0, 2.0, |x| x.neg();
    exp_grad: -2.0, 2.0, |x| x.exp();
    log_grad: 0.2, 3.0, |x| x.log();
    sqrt_grad: 0.2, 3.0, |x| x.sqrt();
    rsqrt_grad: 0.2, 3.0, |x| x.rsqrt();
    sin_grad: -3.0, 3.0, |x| x.sin();
    cos_grad: -3.0, 3.0, |x| x.cos();
    tanh_grad: -2.0, 2.0, |x| x.tanh();
    sigmoid_grad: -3.0, 3.0, |x| x.sigmoid();
    gelu_grad: -3.0, 3.0, |x| x.gelu();
    gelu_tanh_grad: -3.0, 3.0, |x| x.gelu_tanh();
    silu_grad: -3.0, 3.0, |x| x.silu();
    erf_grad: -2.0, 2.0, |x| x.erf();
}

#[test]
fn abs_relu_reciprocal_grad_away_from_zero() {
    let x = away_from_zero(&[2, 3], 5);
    check(|t| t[0].abs(), [x.clone()]);
    check(|t| t[0].relu(), [x.clone()]);
    check(|t| t[0].reciprocal(), [x]);
}

#[test]
fn piecewise_constant_ops_have_zero_grad() {
    let x = vals(&[-1.7, -0.2, 0.3, 1.4, 2.6, -2.3], &[2, 3]);
    check(|t| t[0].floor(), [x.clone()]);
    check(|t| t[0].ceil(), [x.clone()]);
    check(|t| t[0].round(), [x.clone()]);
    check(|t| t[0].sign(), [x.clone()]);
    let y = x
        .floor()
        .unwrap()
        .add(&x.sign().unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    y.backward().unwrap();
    assert_eq!(grad_of(&x), vec![0.0; 6]);
}

#[test]
fn clamp_grad_passes_inside_bounds() {
    let x = vals(&[-1.5, -0.4, 0.1, 0.6, 1.3, 2.2], &[2, 3]);
    check(|t| t[0].clamp(Some(-0.5), Some(1.0)), [x.clone()]);
    check(|t| t[0].clamp(Some(0.0), None), [x.clone()]);
    check(|t| t[0].clamp(None, Some(0.5)), [x.clone()]);
    // Bounds are inclusive, as in PyTorch: x == min gets the gradient.
    let e = vals(&[-0.5, 1.0, 2.0], &[3]);
    e.clamp(Some(-0.5), Some(1.0))
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad_of(&e), vec![1.0, 1.0, 0.0]);
}

// ---- binary ----

/// (lhs shape, rhs shape) pairs: equal, trailing broadcast, both sides broadcast, 0-d.
const BROADCAST_CASES: [(&[usize], &[usize]); 5] = [
    (&[2, 3], &[2, 3]),
    (&[2, 3], &[3]),
    (&[2, 1], &[1, 3]),
    (&[], &[2, 3]),
    (&[4, 2, 3], &[2, 1]),
];

macro_rules! binary_grad_tests {
    ($($name:ident: ($alo:expr, $ahi:expr), ($blo:expr, $bhi:expr), |$a:ident, $b:ident| $body:expr;)*) => {$(
        #[test]
        fn $name() {
            for (i, (sa, sb)) in BROADCAST_CASES.iter().enumerate() {
                let a = leaf(sa, $alo, $ahi, 100 + i as u64);
                let b = leaf(sb, $blo, $bhi, 200 + i as u64);
                check(|t| { let ($a, $b) = (&t[0], &t[1]); $body }, [a, b]);
            }
            // Transposed lhs, and only one operand requiring grad.
            let a = leaf(&[3, 2], $alo, $ahi, 300);
            let b = leaf(&[2, 3], $blo, $bhi, 301);
            check(|t| { let ($a, $b) = (&t[0].t()?, &t[1]); $body }, [a.clone(), b.detach()]);
            check(|t| { let ($a, $b) = (&t[0].t()?, &t[1]); $body }, [a.detach(), b]);
        }
    )*};
}

binary_grad_tests! {
    add_grad: (-2.0, 2.0), (-2.0, 2.0), |a, b| a.add(b);
    sub_grad: (-2.0, 2.0), (-2.0, 2.0), |a, b| a.sub(b);
    mul_grad: (-2.0, 2.0), (-2.0, 2.0), |a, b| a.mul(b);
    div_grad: (-2.0, 2.0), (0.5, 2.0), |a, b| a.div(b);
    pow_grad: (0.5, 2.0), (-1.5, 1.5), |a, b| a.pow(b);
    maximum_grad: (-2.0, 2.0), (-2.0, 2.0), |a, b| a.maximum(b);
    minimum_grad: (-2.0, 2.0), (-2.0, 2.0), |a, b| a.minimum(b);
}

#[test]
fn scalar_operand_grads() {
    let x = leaf(&[2, 3], 0.5, 2.0, 21);
    check(|t| t[0].add_scalar(1.5), [x.clone()]);
    check(|t| t[0].sub_scalar(1.5), [x.clone()]);
    check(|t| t[0].mul_scalar(-2.5), [x.clone()]);
    check(|t| t[0].div_scalar(3.0), [x.clone()]);
    check(|t| t[0].pow_scalar(3.0), [x.clone()]);
    check(|t| t[0].pow_scalar(-0.5), [x]);
}

#[test]
fn maximum_minimum_split_ties_evenly() {
    let a = vals(&[1.0, 2.0, 3.0], &[3]);
    let b = vals(&[1.0, 5.0, 0.0], &[3]);
    a.maximum(&b)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad_of(&a), vec![0.5, 0.0, 1.0]);
    assert_eq!(grad_of(&b), vec![0.5, 1.0, 0.0]);
    a.zero_grad();
    b.zero_grad();
    a.minimum(&b)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad_of(&a), vec![0.5, 1.0, 0.0]);
    assert_eq!(grad_of(&b), vec![0.5, 0.0, 1.0]);
}

#[test]
fn pow_grad_at_zero_base_is_finite() {
    // d/da a^2 = 2a (0 at a = 0); d/db a^b = a^b ln a, taken as 0 where a <= 0.
    let a = vals(&[0.0, 2.0], &[2]);
    let b = vals(&[2.0, 3.0], &[2]);
    a.pow(&b).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(grad_of(&a), vec![0.0, 12.0]);
    close(&grad_of(&b), &[0.0, 8.0 * 2f64.ln()], 1e-12);
}

// ---- where / masked_fill ----

#[test]
fn where_grad_routes_to_both_branches() {
    let cond = bools(&[true, false, true, false, false, true], &[2, 3]);
    let a = leaf(&[2, 3], -1.0, 1.0, 31);
    let b = leaf(&[3], -1.0, 1.0, 32);
    check(|t| cond.where_cond(&t[0], &t[1]), [a.clone(), b.clone()]);
    // Condition broadcast along rows.
    let c1 = bools(&[true, false, true], &[3]);
    check(
        |t| c1.where_cond(&t[0].t()?, &t[1]),
        [leaf(&[3, 2], -1.0, 1.0, 33), b],
    );
}

#[test]
fn masked_fill_grad_skips_filled_positions() {
    let mask = bools(&[true, false, false], &[3]);
    check(
        |t| t[0].masked_fill(&mask, 7.0),
        [leaf(&[2, 3], -1.0, 1.0, 41)],
    );
    let x = vals(&[1.0, 2.0, 3.0], &[3]);
    x.masked_fill(&mask, 7.0)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad_of(&x), vec![0.0, 1.0, 1.0]);
}

// ---- reductions ----

#[test]
fn sum_grad_all_dims_and_keepdim() {
    let x = leaf(&[2, 3, 4], -1.0, 1.0, 51);
    check(|t| t[0].sum(&[], false), [x.clone()]);
    check(|t| t[0].sum(&[1], false), [x.clone()]);
    check(|t| t[0].sum(&[0, 2], true), [x.clone()]);
    check(|t| t[0].sum(&[-1], true), [x.clone()]);
    check(|t| t[0].permute(&[2, 0, 1])?.sum(&[1], false), [x]);
    check(|t| t[0].sum(&[], false), [vals(&[1.5], &[])]);
}

#[test]
fn prod_grad_without_and_with_zeros() {
    check(|t| t[0].prod(&[1], false), [leaf(&[2, 3], 0.5, 2.0, 61)]);
    check(|t| t[0].prod(&[], false), [away_from_zero(&[2, 3], 62)]);
    check(
        |t| t[0].prod(&[0], true),
        [leaf(&[3, 2], -2.0, 2.0, 63)
            .t()
            .unwrap()
            .contiguous()
            .unwrap()],
    );
    // Rows with no, one and two zeros. The product is a polynomial, so central differences
    // are exact up to rounding even at the zeros.
    let x = vals(&[2.0, 3.0, 4.0, 2.0, 0.0, 5.0, 0.0, 3.0, 0.0], &[3, 3]);
    check(|t| t[0].prod(&[1], false), [x.clone()]);
    x.prod(&[1], false)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(
        grad_of(&x),
        vec![12.0, 8.0, 6.0, 0.0, 10.0, 0.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn max_min_grad_over_dims() {
    let x = leaf(&[2, 3, 4], -1.0, 1.0, 71);
    for keep in [false, true] {
        check(|t| t[0].amax(&[], keep), [x.clone()]);
        check(|t| t[0].amax(&[1], keep), [x.clone()]);
        check(|t| t[0].amin(&[0, 2], keep), [x.clone()]);
        check(|t| t[0].amin(&[-1], keep), [x.clone()]);
    }
    check(
        |t| t[0].t()?.amax(&[0], false),
        [leaf(&[3, 2], -1.0, 1.0, 72)],
    );
}

#[test]
fn max_grad_splits_ties() {
    let x = vals(&[1.0, 3.0, 3.0, 2.0], &[4]);
    x.amax(&[], false).unwrap().backward().unwrap();
    assert_eq!(grad_of(&x), vec![0.0, 0.5, 0.5, 0.0]);
}

#[test]
fn composite_reduction_grads() {
    let x = leaf(&[3, 4], -1.0, 1.0, 81);
    check(|t| t[0].mean(&[], false), [x.clone()]);
    check(|t| t[0].mean(&[1], true), [x.clone()]);
    check(|t| t[0].var(&[0], 1, false), [x.clone()]);
    check(|t| t[0].std(&[1], 1, true), [x.clone()]);
    check(|t| t[0].logsumexp(&[1], false), [x]);
}

// ---- softmax ----

#[test]
fn softmax_log_softmax_grad() {
    let x = leaf(&[2, 3, 4], -2.0, 2.0, 91);
    for d in [0, 1, -1] {
        check(|t| t[0].softmax(d), [x.clone()]);
        check(|t| t[0].log_softmax(d), [x.clone()]);
    }
    check(|t| t[0].t()?.softmax(1), [leaf(&[4, 3], -2.0, 2.0, 92)]);
    check(|t| t[0].t()?.log_softmax(0), [leaf(&[4, 3], -2.0, 2.0, 93)]);
}

#[test]
fn cross_entropy_grad() {
    let target = idx(&[2, 0, 1], &[3]);
    check(
        |t| t[0].cross_entropy(&target),
        [leaf(&[3, 4], -2.0, 2.0, 95)],
    );
}

// ---- matmul ----

#[test]
fn matmul_grad_all_rank_combinations() {
    let cases: [(&[usize], &[usize]); 9] = [
        (&[2, 3], &[3, 4]),
        (&[3], &[3, 4]),
        (&[2, 3], &[3]),
        (&[3], &[3]),
        (&[2, 2, 3], &[3, 4]),
        (&[2, 3], &[2, 3, 4]),
        (&[2, 1, 2, 3], &[3, 3, 2]),
        (&[3], &[2, 3, 4]),
        (&[2, 2, 3], &[3]),
    ];
    for (i, (sa, sb)) in cases.iter().enumerate() {
        let a = leaf(sa, -1.0, 1.0, 400 + i as u64);
        let b = leaf(sb, -1.0, 1.0, 500 + i as u64);
        check(|t| t[0].matmul(&t[1]), [a, b]);
    }
    // Transposed operands.
    let a = leaf(&[3, 2], -1.0, 1.0, 600);
    let b = leaf(&[4, 3], -1.0, 1.0, 601);
    check(|t| t[0].t()?.matmul(&t[1].t()?), [a, b]);
}

// ---- joining and indexing ----

#[test]
fn cat_grad_splits_back() {
    let a = leaf(&[2, 1], -1.0, 1.0, 701);
    let b = leaf(&[2, 3], -1.0, 1.0, 702);
    let c = leaf(&[2, 2], -1.0, 1.0, 703);
    check(
        |t| Tensor::cat(&[&t[0], &t[1], &t[2]], 1),
        [a.clone(), b.detach(), c.clone()],
    );
    check(|t| Tensor::cat(&[&t[0].t()?, &t[1].t()?], 0), [a, c]);
}

#[test]
fn stack_split_chunk_grads() {
    let a = leaf(&[2, 3], -1.0, 1.0, 711);
    let b = leaf(&[2, 3], -1.0, 1.0, 712);
    check(|t| Tensor::stack(&[&t[0], &t[1]], 1), [a.clone(), b]);
    check(|t| t[0].split(2, 1)?[1].mul_scalar(2.0), [a.clone()]);
    check(
        |t| {
            let c = t[0].chunk(2, 0)?;
            c[0].mul(&c[1])
        },
        [a],
    );
}

#[test]
fn index_select_grad_accumulates_repeats() {
    let x = leaf(&[4, 3], -1.0, 1.0, 721);
    check(
        |t| t[0].index_select(0, &idx(&[2, 0, 2, 3], &[4])),
        [x.clone()],
    );
    check(|t| t[0].index_select(1, &idx(&[1, 1], &[2])), [x.clone()]);
    check(|t| t[0].index_select(0, &idx(&[1], &[])), [x.clone()]);
    x.index_select(0, &idx(&[1, 1, 3], &[3]))
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g = grad_of(&x);
    assert_eq!(
        g,
        vec![0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    );
}

#[test]
fn gather_and_scatter_add_grads() {
    let x = leaf(&[3, 4], -1.0, 1.0, 731);
    let i = idx(&[0, 3, 3, 1, 2, 2], &[3, 2]);
    check(|t| t[0].gather(1, &i), [x.clone()]);
    let i0 = idx(&[2, 0, 1, 1], &[2, 2]);
    check(|t| t[0].gather(0, &i0), [x.clone()]);
    // src larger than index: only its leading block is read.
    let src = leaf(&[3, 3], -1.0, 1.0, 732);
    check(|t| t[0].scatter_add(1, &i, &t[1]), [x.clone(), src.clone()]);
    check(|t| t[0].scatter_add(0, &i0, &t[1]), [x, src]);
}

#[test]
fn embedding_grad() {
    let w = leaf(&[5, 3], -1.0, 1.0, 741);
    check(|t| t[0].embedding(&idx(&[4, 0, 4, 2], &[2, 2])), [w]);
}

// ---- convolution ----

#[test]
fn conv2d_grad_stride_padding_dilation_groups() {
    let configs = [
        (Conv2dParams::default(), 2, 1),
        (
            Conv2dParams {
                stride: [2, 1],
                padding: [1, 1],
                ..Default::default()
            },
            2,
            1,
        ),
        (
            Conv2dParams {
                dilation: [2, 2],
                padding: [1, 0],
                ..Default::default()
            },
            2,
            1,
        ),
        (
            Conv2dParams {
                groups: 2,
                stride: [1, 2],
                ..Default::default()
            },
            4,
            2,
        ),
    ];
    for (i, (p, c, groups)) in configs.into_iter().enumerate() {
        let x = leaf(&[2, c, 5, 5], -1.0, 1.0, 800 + i as u64);
        let w = leaf(&[4, c / groups, 3, 2], -1.0, 1.0, 810 + i as u64);
        let b = leaf(&[4], -1.0, 1.0, 820 + i as u64);
        check(|t| t[0].conv2d(&t[1], None, p), [x.clone(), w.clone()]);
        check(|t| t[0].conv2d(&t[1], Some(&t[2]), p), [x, w, b]);
    }
}

#[test]
fn im2col_col2im_grads() {
    let p = WindowParams {
        kernel: [2, 3],
        stride: [1, 2],
        padding: [1, 1],
        dilation: [1, 1],
        pad_value: 0.0,
        image: [4, 5],
    };
    check(|t| t[0].im2col(p), [leaf(&[2, 2, 4, 5], -1.0, 1.0, 851)]);
    let [oh, ow] = p.out_hw();
    check(
        |t| t[0].col2im(p),
        [leaf(&[2, 2 * 6, oh * ow], -1.0, 1.0, 852)],
    );
}

#[test]
fn pooling_grads() {
    let x = leaf(&[1, 2, 4, 4], -1.0, 1.0, 861);
    check(|t| t[0].max_pool2d([2, 2], [2, 2], [0, 0]), [x.clone()]);
    check(|t| t[0].max_pool2d([3, 3], [1, 1], [1, 1]), [x.clone()]);
    check(|t| t[0].avg_pool2d([2, 2], [1, 1], [1, 1]), [x]);
}

// ---- cast, copy, views ----

#[test]
fn cast_and_copy_grads() {
    check(|t| t[0].copy(), [leaf(&[2, 3], -1.0, 1.0, 901)]);
    check(
        |t| t[0].t()?.contiguous()?.mul_scalar(2.0),
        [leaf(&[2, 3], -1.0, 1.0, 902)],
    );
    // Through f32 and back: looser step and tolerance for f32 rounding.
    let opts = GradcheckOptions {
        eps: 1e-2,
        atol: 1e-4,
        rtol: 1e-3,
    };
    check_with(
        |t| {
            t[0].to_dtype(DType::F32)?
                .mul_scalar(3.0)?
                .to_dtype(DType::F64)
        },
        [leaf(&[2, 3], -1.0, 1.0, 903)],
        opts,
    );
}

#[test]
fn cast_grad_has_the_input_dtype() {
    let x = Tensor::from_vec(vec![1.0f32, 2.0], [2], &dev())
        .unwrap()
        .requires_grad_()
        .unwrap();
    x.to_dtype(DType::F64)
        .unwrap()
        .mul_scalar(3.0)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g = x.grad().unwrap();
    assert_eq!(g.dtype(), DType::F32);
    assert_eq!(g.to_vec::<f32>().unwrap(), vec![3.0, 3.0]);
}

#[test]
fn view_grads() {
    let x = leaf(&[2, 3, 4], -1.0, 1.0, 911);
    check(|t| t[0].reshape(&[6, -1]), [x.clone()]);
    check(|t| t[0].permute(&[2, 0, 1]), [x.clone()]);
    check(|t| t[0].transpose(0, 2)?.reshape(&[4, 6]), [x.clone()]);
    check(
        |t| t[0].unsqueeze(1)?.squeeze(Some(1))?.flatten(0, 1),
        [x.clone()],
    );
    check(|t| t[0].narrow(1, 1, 2), [x.clone()]);
    check(|t| t[0].slice(2, 1, 4, 2), [x.clone()]);
    check(|t| t[0].slice(1, 0, 3, 2)?.slice(2, -3, -1, 1), [x.clone()]);
    check(|t| t[0].select(0, -1), [x.clone()]);
    check(
        |t| t[0].slice(2, 4, 4, 1)?.sum(&[], false)?.add_scalar(1.0),
        [x],
    );
    let y = leaf(&[3, 1], -1.0, 1.0, 912);
    check(|t| t[0].broadcast_to(&[2, 3, 4]), [y.clone()]);
    check(|t| t[0].expand(&st_core::Shape::new(&[3, 5])), [y]);
}

// ---- engine behaviour ----

#[test]
fn tensor_used_twice_accumulates() {
    let x = vals(&[1.0, -2.0, 3.0], &[3]);
    x.mul(&x).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(grad_of(&x), vec![2.0, -4.0, 6.0]);
    // A second backward on a new graph accumulates into the leaf.
    x.mul_scalar(1.0)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad_of(&x), vec![3.0, -3.0, 7.0]);
}

#[test]
fn diamond_graph_sums_both_paths() {
    let x = vals(&[0.5, 1.5], &[2]);
    let y = x.exp().unwrap();
    let z = y.mul(&y).unwrap().add(&y).unwrap().sum_all().unwrap();
    z.backward().unwrap();
    let expected: Vec<f64> = [0.5f64, 1.5]
        .iter()
        .map(|v| 2.0 * (2.0 * v).exp() + v.exp())
        .collect();
    close(&grad_of(&x), &expected, 1e-12);
}

#[test]
fn non_scalar_backward_needs_a_seed() {
    let x = vals(&[1.0, 2.0, 3.0], &[3]);
    let y = x.mul_scalar(3.0).unwrap();
    assert!(matches!(y.backward(), Err(Error::Autograd(_))));
    let seed = Tensor::from_vec(vec![1.0f64, 0.5, -2.0], [3], &dev()).unwrap();
    y.backward_with(&seed).unwrap();
    assert_eq!(grad_of(&x), vec![3.0, 1.5, -6.0]);
    let bad = Tensor::ones([2], DType::F64, &dev()).unwrap();
    let y2 = x.mul_scalar(3.0).unwrap();
    assert!(matches!(y2.backward_with(&bad), Err(Error::Autograd(_))));
}

#[test]
fn graph_is_freed_after_backward() {
    let x = vals(&[1.0, 2.0], &[2]);
    let y = x.mul(&x).unwrap().sum_all().unwrap();
    y.backward().unwrap();
    let e = y.backward().unwrap_err();
    assert!(matches!(e, Error::Autograd(_)), "{e}");
}

#[test]
fn no_grad_stops_recording() {
    let x = vals(&[1.0, 2.0], &[2]);
    let y = {
        let _g = no_grad();
        assert!(!st_core::is_grad_enabled());
        x.mul_scalar(2.0).unwrap()
    };
    assert!(st_core::is_grad_enabled());
    assert!(!y.requires_grad() && y.grad_fn().is_none());
    assert!(matches!(
        y.sum_all().unwrap().backward(),
        Err(Error::Autograd(_))
    ));
}

#[test]
fn detach_cuts_the_graph() {
    let x = vals(&[1.0, 2.0, 3.0], &[3]);
    let d = x.detach();
    assert!(!d.requires_grad() && d.is_leaf());
    // Only the non-detached factor carries a gradient: d/dx (x · stop(x)) = x.
    x.mul(&d).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(grad_of(&x), vec![1.0, 2.0, 3.0]);
    assert!(d.grad().is_none());
}

#[test]
fn only_leaves_get_grads() {
    let x = vals(&[1.0, 2.0], &[2]);
    let w = Tensor::from_vec(vec![3.0f64, 4.0], [2], &dev()).unwrap();
    let y = x.mul(&w).unwrap();
    assert!(!y.is_leaf());
    y.mul(&y).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(y.grad().is_none());
    assert!(w.grad().is_none());
    assert_eq!(grad_of(&x), vec![2.0 * 9.0 * 1.0, 2.0 * 16.0 * 2.0]);
}

#[test]
fn grads_keep_float_dtypes() {
    let x = Tensor::from_vec(vec![0.5f32, -1.0, 2.0], [3], &dev())
        .unwrap()
        .requires_grad_()
        .unwrap();
    x.exp()
        .unwrap()
        .mul(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g = x.grad().unwrap();
    assert_eq!(g.dtype(), DType::F32);
    let got: Vec<f64> = g
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    let want: Vec<f64> = [0.5f64, -1.0, 2.0]
        .iter()
        .map(|v| v.exp() * (1.0 + v))
        .collect();
    close(&got, &want, 1e-5);
}

// ---- gradcheck itself ----

#[test]
fn gradcheck_detects_a_wrong_gradient() {
    // x · stop(x) has analytic gradient x but numeric gradient 2x.
    let x = vals(&[1.0, 2.0], &[2]);
    let e = gradcheck(
        &|t| t[0].mul(&t[0].detach()),
        &[x],
        GradcheckOptions::default(),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, Error::Autograd(_)) && msg.contains("input 0") && msg.contains("element 0"),
        "{msg}"
    );
}

#[test]
fn gradcheck_leaves_caller_inputs_untouched() {
    let x = leaf(&[2, 2], -1.0, 1.0, 1001);
    let y = leaf(&[2], -1.0, 1.0, 1002);
    gradcheck(
        &|t| t[0].mul(&t[1]),
        &[x.clone(), y.clone()],
        GradcheckOptions::default(),
    )
    .unwrap();
    assert!(x.grad().is_none() && y.grad().is_none());
    assert!(x.requires_grad() && y.requires_grad());
}

#[test]
fn gradcheck_rejects_bad_inputs() {
    let f32x = Tensor::ones([2], DType::F32, &dev())
        .unwrap()
        .requires_grad_()
        .unwrap();
    let e = gradcheck(&|t| t[0].exp(), &[f32x], GradcheckOptions::default()).unwrap_err();
    assert!(matches!(e, Error::DTypeMismatch { .. }), "{e}");
    let plain = Tensor::ones([2], DType::F64, &dev()).unwrap();
    let e = gradcheck(&|t| t[0].exp(), &[plain], GradcheckOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Autograd(_)), "{e}");
    let x = vals(&[1.0], &[1]);
    let bad = GradcheckOptions {
        eps: 0.0,
        ..Default::default()
    };
    assert!(gradcheck(&|t| t[0].exp(), &[x], bad).is_err());
}

#[test]
fn gradcheck_handles_constant_outputs_and_scalars() {
    // An output that ignores the input: both gradients are zero.
    let x = vals(&[1.0, 2.0], &[2]);
    let c = Tensor::ones([3], DType::F64, &dev()).unwrap();
    gradcheck(&|_| Ok(c.clone()), &[x], GradcheckOptions::default()).unwrap();
    check(|t| t[0].mul(&t[0]), [vals(&[1.5], &[])]);
}
