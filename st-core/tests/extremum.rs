//! PyTorch's selection rules for maxima and minima: `max_dim` / `min_dim` (`torch.max(x,
//! dim)`) pick the first extremum and treat NaN as the extremum, and their gradient goes to
//! the selected element only, while `amax` / `amin` split the gradient among ties. Expected
//! values are worked out by hand in each test.

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
