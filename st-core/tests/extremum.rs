//! PyTorch's selection rules for maxima and minima: `max_dim` / `min_dim` (`torch.max(x,
//! dim)`) pick the first extremum and treat NaN as the extremum, and their gradient goes to
//! the selected element only, while `amax` / `amin` split the gradient among ties; and
//! max_pool2d's gradient goes to the cell PyTorch's kernel selects. Expected values are worked
//! out by hand, or by the f64 loop that mirrors PyTorch's kernel, in each test.

use st_core::dtype::Bool8;
use st_core::{DType, Device, Error, Tensor};

fn dev() -> Device {
    Device::cpu()
}

fn f32s(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape, &dev()).unwrap()
}

/// An f64 leaf requiring grad.
fn leaf(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_f64_slice(v, shape, DType::F64, &dev())
        .unwrap()
        .requires_grad_()
        .unwrap()
}

fn grad_of(t: &Tensor) -> Vec<f64> {
    t.grad().expect("a gradient").to_f64_vec().unwrap()
}

#[test]
fn max_dim_picks_the_first_of_ties() {
    let x = f32s(&[1.0, 5.0, 5.0, 4.0, 2.0, 4.0], &[2, 3]);
    let (v, i) = x.max_dim(1, false).unwrap();
    assert_eq!(v.dims(), &[2]);
    assert_eq!(v.to_vec::<f32>().unwrap(), vec![5.0, 4.0]);
    assert_eq!(i.dtype(), DType::I64);
    assert_eq!(i.to_vec::<i64>().unwrap(), vec![1, 0]);
    let (v, i) = x.min_dim(-1, true).unwrap();
    assert_eq!(v.dims(), &[2, 1]);
    assert_eq!(i.dims(), &[2, 1]);
    assert_eq!(v.to_vec::<f32>().unwrap(), vec![1.0, 2.0]);
    assert_eq!(i.to_vec::<i64>().unwrap(), vec![0, 1]);
    let (v, i) = x.max_dim(0, false).unwrap();
    assert_eq!(v.to_vec::<f32>().unwrap(), vec![4.0, 5.0, 5.0]);
    assert_eq!(i.to_vec::<i64>().unwrap(), vec![1, 0, 0]);
}

#[test]
fn max_dim_treats_nan_as_the_extremum() {
    let x = f32s(&[1.0, f32::NAN, 3.0, f32::NAN, 0.5, 2.0], &[2, 3]);
    for (v, i) in [x.max_dim(1, false).unwrap(), x.min_dim(1, false).unwrap()] {
        let v = v.to_vec::<f32>().unwrap();
        assert!(v[0].is_nan() && v[1].is_nan(), "{v:?}");
        assert_eq!(i.to_vec::<i64>().unwrap(), vec![1, 0]);
    }
    // Along dim 0 the columns are [1, NaN], [NaN, 0.5], [3, 2].
    let (v, i) = x.max_dim(0, false).unwrap();
    let v = v.to_vec::<f32>().unwrap();
    assert!(v[0].is_nan() && v[1].is_nan() && v[2] == 3.0, "{v:?}");
    assert_eq!(i.to_vec::<i64>().unwrap(), vec![1, 0, 0]);
}

#[test]
fn max_dim_gradient_goes_to_the_selected_element_only() {
    let x = leaf(&[1.0, 3.0, 3.0, 2.0, 0.0, 2.0], &[2, 3]);
    let (v, _) = x.max_dim(1, false).unwrap();
    let seed = Tensor::from_f64_slice(&[10.0, 20.0], [2], DType::F64, &dev()).unwrap();
    v.backward_with(&seed).unwrap();
    assert_eq!(grad_of(&x), vec![0.0, 10.0, 0.0, 20.0, 0.0, 0.0]);

    let x = leaf(&[1.0, 3.0, 3.0, 2.0, 0.0, 2.0], &[2, 3]);
    let (v, _) = x.min_dim(0, true).unwrap();
    v.sum_all().unwrap().backward().unwrap();
    // Columns [1, 2], [3, 0], [3, 2]: minima at rows 0, 1, 1.
    assert_eq!(grad_of(&x), vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
}

#[test]
fn amax_splits_the_gradient_among_ties() {
    let x = leaf(&[1.0, 3.0, 3.0, 2.0, 0.0, 2.0], &[2, 3]);
    x.amax(&[1], false)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad_of(&x), vec![0.0, 0.5, 0.5, 0.5, 0.0, 0.5]);
    let x = leaf(&[4.0, 1.0, 1.0, 1.0], &[4]);
    x.amin(&[], false).unwrap().backward().unwrap();
    let third = 1.0 / 3.0;
    assert_eq!(grad_of(&x), vec![0.0, third, third, third]);
}

#[test]
fn max_dim_on_bool_int_and_scalar_inputs() {
    let b: Vec<Bool8> = [false, true, true, false]
        .iter()
        .map(|&x| Bool8::from(x))
        .collect();
    let b = Tensor::from_vec(b, [2, 2], &dev()).unwrap();
    let (v, i) = b.max_dim(1, false).unwrap();
    assert_eq!(v.dtype(), DType::Bool);
    assert_eq!(v.to_f64_vec().unwrap(), vec![1.0, 1.0]);
    assert_eq!(i.to_vec::<i64>().unwrap(), vec![1, 0]);

    let n = Tensor::from_vec(vec![3i32, -7, -7, 2], [4], &dev()).unwrap();
    let (v, i) = n.min_dim(0, false).unwrap();
    assert_eq!(v.to_scalar::<i32>().unwrap(), -7);
    assert_eq!(i.to_scalar::<i64>().unwrap(), 1);

    // A 0-d tensor has one element at index 0 along dim 0 (or -1), as in PyTorch.
    let s = Tensor::scalar(7.0, DType::F32, &dev()).unwrap();
    for d in [0, -1] {
        let (v, i) = s.max_dim(d, true).unwrap();
        assert_eq!(v.dims(), &[] as &[usize]);
        assert_eq!(v.to_scalar::<f32>().unwrap(), 7.0);
        assert_eq!(i.to_scalar::<i64>().unwrap(), 0);
    }
}

#[test]
fn max_dim_rejects_bad_dims_with_errors() {
    let x = f32s(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    assert!(matches!(
        x.max_dim(2, false),
        Err(Error::DimOutOfRange { dim: 2, .. })
    ));
    assert!(matches!(
        x.min_dim(-3, true),
        Err(Error::DimOutOfRange { .. })
    ));
    let empty = Tensor::zeros([0, 3], DType::F32, &dev()).unwrap();
    assert!(matches!(
        empty.max_dim(0, false),
        Err(Error::InvalidShape { .. })
    ));
    // Reducing a non-empty dim of an empty tensor gives empty results.
    let (v, i) = empty.max_dim(1, false).unwrap();
    assert_eq!(v.dims(), &[0]);
    assert_eq!(i.dims(), &[0]);
}

/// max_pool2d's input gradient as PyTorch's kernel computes it: each window scans its
/// in-image cells row-major with `if v > best || v.is_nan()` from `best = -inf` at the first
/// in-image cell, and the window's gradient goes to the cell the scan ends on.
fn torch_max_pool2d_grad(
    x: &[f64],
    [n, c, h, w]: [usize; 4],
    k: usize,
    s: usize,
    p: usize,
    g: &[f64],
) -> Vec<f64> {
    let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
    let mut dx = vec![0.0; x.len()];
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let (y0, x0) = (
                    (oy * s) as isize - p as isize,
                    (ox * s) as isize - p as isize,
                );
                let (mut best, mut at) = (f64::NEG_INFINITY, None);
                for y in y0..y0 + k as isize {
                    for xx in x0..x0 + k as isize {
                        if y < 0 || xx < 0 || y >= h as isize || xx >= w as isize {
                            continue;
                        }
                        let i = plane * h * w + y as usize * w + xx as usize;
                        at.get_or_insert(i);
                        if x[i] > best || x[i].is_nan() {
                            best = x[i];
                            at = Some(i);
                        }
                    }
                }
                dx[at.expect("a window inside the image")] += g[(plane * oh + oy) * ow + ox];
            }
        }
    }
    dx
}

/// Runs max_pool2d forward and backward with seed `g`, returning the input gradient.
fn pool_grad(x: &[f64], dims: [usize; 4], k: usize, s: usize, p: usize, g: &[f64]) -> Vec<f64> {
    let t = leaf(x, &dims);
    let y = t.max_pool2d([k, k], [s, s], [p, p]).unwrap();
    let seed = Tensor::from_f64_slice(g, y.dims(), DType::F64, &dev()).unwrap();
    y.backward_with(&seed).unwrap();
    grad_of(&t)
}

#[test]
fn max_pool2d_routes_a_tie_to_the_first_maximum() {
    #[rustfmt::skip]
    let x = [
        1.0, 2.0, 2.0,
        2.0, 2.0, 1.0,
        0.0, 2.0, 2.0,
    ];
    let g = [1.0, 10.0, 100.0, 1000.0];
    // Windows (row-major): {1,2,2,2} -> (0,1); {2,2,2,1} -> (0,1); {2,2,0,2} -> (1,0);
    // {2,1,2,2} -> (1,1).
    let want = vec![0.0, 11.0, 0.0, 100.0, 1000.0, 0.0, 0.0, 0.0, 0.0];
    assert_eq!(pool_grad(&x, [1, 1, 3, 3], 2, 1, 0, &g), want);
    assert_eq!(torch_max_pool2d_grad(&x, [1, 1, 3, 3], 2, 1, 0, &g), want);
}

#[test]
fn max_pool2d_routes_a_nan_window_to_its_nan() {
    let nan = f64::NAN;
    #[rustfmt::skip]
    let x = [
        nan, 5.0, 1.0, 9.0,
        2.0, nan, 3.0, 0.0,
    ];
    let g = [1.0, 10.0];
    // Window 0 holds two NaNs: PyTorch's scan ends on the last one, (1,1). Window 1 has none.
    let want = vec![0.0, 0.0, 0.0, 10.0, 0.0, 1.0, 0.0, 0.0];
    assert_eq!(pool_grad(&x, [1, 1, 2, 4], 2, 2, 0, &g), want);
    assert_eq!(torch_max_pool2d_grad(&x, [1, 1, 2, 4], 2, 2, 0, &g), want);
    let y = leaf(&x, &[1, 1, 2, 4])
        .max_pool2d([2, 2], [2, 2], [0, 0])
        .unwrap()
        .to_f64_vec()
        .unwrap();
    assert!(y[0].is_nan() && y[1] == 9.0, "{y:?}");
}

#[test]
fn max_pool2d_never_routes_to_padding() {
    // Every cell is -inf, like the padding: each window's gradient goes to its first
    // in-image cell.
    let x = [f64::NEG_INFINITY; 4];
    let g: Vec<f64> = (1..=9).map(f64::from).collect();
    let want = torch_max_pool2d_grad(&x, [1, 1, 2, 2], 2, 1, 1, &g);
    // Windows at (oy, ox) start at image cell (max(oy-1,0), max(ox-1,0)).
    assert_eq!(want, vec![1.0 + 2.0 + 4.0 + 5.0, 3.0 + 6.0, 7.0 + 8.0, 9.0]);
    assert_eq!(pool_grad(&x, [1, 1, 2, 2], 2, 1, 1, &g), want);
}

#[test]
fn max_pool2d_gradient_matches_the_scan_on_many_ties() {
    // Values from {0, 1, 2} (and a few NaNs) make ties in almost every window.
    let dims = [2, 2, 5, 6];
    let n: usize = dims.iter().product();
    let x: Vec<f64> = (0..n)
        .map(|i| match (i * 7 + i / 5) % 11 {
            10 => f64::NAN,
            v => (v % 3) as f64,
        })
        .collect();
    for (k, s, p) in [(3, 2, 1), (2, 1, 0), (3, 1, 1), (2, 2, 1)] {
        let (oh, ow) = ((5 + 2 * p - k) / s + 1, (6 + 2 * p - k) / s + 1);
        let g: Vec<f64> = (0..4 * oh * ow).map(|i| 1.0 + i as f64).collect();
        assert_eq!(
            pool_grad(&x, dims, k, s, p, &g),
            torch_max_pool2d_grad(&x, dims, k, s, p, &g),
            "kernel {k} stride {s} padding {p}"
        );
    }
}
