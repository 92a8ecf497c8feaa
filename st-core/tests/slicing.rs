//! Basic indexing (`Tensor::index`) and slice assignment (`Tensor::slice_assign`), against
//! values worked out by hand with Python's rules, and the slice-assignment gradient against
//! the gradient computed element by element.

use st_core::{DType, Device, Error, SliceIndex as S, Tensor};

fn arange(n: usize, dims: &[isize]) -> Tensor {
    Tensor::arange(0.0, n as f64, 1.0, DType::F32, &Device::cpu())
        .unwrap()
        .reshape(dims)
        .unwrap()
}

#[test]
fn index_follows_python_basic_indexing() {
    let t = arange(24, &[2, 3, 4]);
    // t[1, 1:, ::3]
    let v = t.index(&[1.into(), (1..).into(), S::step(3)]).unwrap();
    assert_eq!(v.dims(), &[2, 2]);
    assert_eq!(v.to_vec::<f32>().unwrap(), vec![16.0, 19.0, 20.0, 23.0]);
    // t[..., -1]
    let v = t.index(&[S::Ellipsis, (-1).into()]).unwrap();
    assert_eq!(v.dims(), &[2, 3]);
    assert_eq!(v.to_vec::<f32>().unwrap(), vec![3., 7., 11., 15., 19., 23.]);
    // t[None, 0, ..., None, :2]
    let v = t
        .index(&[S::NewAxis, 0.into(), S::Ellipsis, S::NewAxis, (..2).into()])
        .unwrap();
    assert_eq!(v.dims(), &[1, 3, 1, 2]);
    assert_eq!(v.to_vec::<f32>().unwrap(), vec![0., 1., 4., 5., 8., 9.]);
    // Clamped ends and an empty slice, as in Python.
    assert_eq!(t.index(&[(-10..10).into()]).unwrap().dims(), &[2, 3, 4]);
    assert_eq!(
        t.index(&[S::full(), S::range(2, 1, 1)]).unwrap().dims(),
        &[2, 0, 4]
    );
    // A view: no copy.
    assert!(v.same_storage(&t));
}

#[test]
fn index_errors_name_the_problem() {
    let t = arange(6, &[2, 3]);
    let e = t.index(&[0.into(), 0.into(), 0.into()]).unwrap_err();
    assert!(e.to_string().contains("too many indices"), "{e}");
    let e = t.index(&[S::Ellipsis, S::Ellipsis]).unwrap_err();
    assert!(e.to_string().contains("single ellipsis"), "{e}");
    let e = t.index(&[S::step(0)]).unwrap_err();
    assert!(e.to_string().contains("step"), "{e}");
    let e = t.index(&[2.into()]).unwrap_err();
    assert!(matches!(e, Error::IndexOutOfRange { .. }), "{e}");
    let e = t.index(&[S::full(), (-4).into()]).unwrap_err();
    assert!(matches!(e, Error::IndexOutOfRange { .. }), "{e}");
}

#[test]
fn slice_assign_writes_the_region_with_broadcast_and_cast() {
    let cpu = Device::cpu();
    let t = Tensor::zeros([3, 4], DType::F32, &cpu).unwrap();
    let alias = t.t().unwrap();
    let v0 = t.version();
    // t[1:, ::2] = [5, 6] (an i32 row, broadcast over the rows and cast to f32).
    let src = Tensor::from_vec(vec![5i32, 6], [2], &cpu).unwrap();
    t.slice_assign(&[(1..).into(), S::step(2)], &src).unwrap();
    assert_eq!(
        t.to_vec::<f32>().unwrap(),
        vec![0., 0., 0., 0., 5., 0., 6., 0., 5., 0., 6., 0.]
    );
    assert!(t.version() > v0);
    // The transposed alias shares the storage.
    assert_eq!(
        alias.to_vec::<f32>().unwrap(),
        vec![0., 5., 5., 0., 0., 0., 0., 6., 6., 0., 0., 0.]
    );
    // A scalar source, and assigning through an integer index.
    t.slice_assign(&[0.into()], &Tensor::scalar(9.0, DType::F64, &cpu).unwrap())
        .unwrap();
    assert_eq!(&t.to_vec::<f32>().unwrap()[..5], &[9., 9., 9., 9., 5.]);
    // Writing through a non-contiguous base.
    alias
        .slice_assign(
            &[(3..).into()],
            &Tensor::full([3], 1.0, DType::F32, &cpu).unwrap(),
        )
        .unwrap();
    let got = t.to_vec::<f32>().unwrap();
    assert_eq!((got[3], got[7], got[11]), (1.0, 1.0, 1.0));
}

#[test]
fn slice_assign_bad_input_is_an_error_and_writes_nothing() {
    let cpu = Device::cpu();
    let t = arange(6, &[2, 3]);
    let before = t.to_vec::<f32>().unwrap();
    let bad = Tensor::zeros([4], DType::F32, &cpu).unwrap();
    let e = t
        .slice_assign(&[S::full(), (..2).into()], &bad)
        .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    // An expanded (overlapping) destination.
    let row = Tensor::zeros([1, 3], DType::F32, &cpu).unwrap();
    let wide = row.expand(&[4, 3].into()).unwrap();
    let e = wide
        .slice_assign(
            &[S::full()],
            &Tensor::ones([4, 3], DType::F32, &cpu).unwrap(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("single memory location"), "{e}");
    // A leaf that requires grad, outside no_grad.
    let leaf = arange(6, &[2, 3]).requires_grad_().unwrap();
    let e = leaf
        .slice_assign(&[0.into()], &bad.narrow(0, 0, 3).unwrap())
        .unwrap_err();
    assert!(matches!(e, Error::Autograd(_)), "{e}");
    assert_eq!(t.to_vec::<f32>().unwrap(), before);
    // ...but fine under no_grad, as for an optimizer.
    {
        let _g = st_core::no_grad();
        leaf.slice_assign(&[0.into()], &Tensor::scalar(1.0, DType::F32, &cpu).unwrap())
            .unwrap();
    }
    assert_eq!(leaf.to_vec::<f32>().unwrap()[..3], [1.0, 1.0, 1.0]);
}

#[test]
fn slice_assign_gradient_splits_between_old_values_and_source() {
    let cpu = Device::cpu();
    let x = arange(12, &[3, 4]).requires_grad_().unwrap();
    let w = Tensor::from_vec(vec![10.0f32, 20.0], [2], &cpu)
        .unwrap()
        .requires_grad_()
        .unwrap();
    let c = Tensor::arange(1.0, 13.0, 1.0, DType::F32, &cpu)
        .unwrap()
        .reshape(&[3, 4])
        .unwrap();
    // y = 2x; y[:, 1:3] = w (broadcast over rows); loss = sum(y * c).
    let y = x.mul_scalar(2.0).unwrap();
    y.slice_assign(&[S::full(), (1..3).into()], &w).unwrap();
    let yv = y.to_vec::<f32>().unwrap();
    assert_eq!(&yv[..4], &[0.0, 10.0, 20.0, 6.0]);
    y.mul(&c)
        .unwrap()
        .sum(&[], false)
        .unwrap()
        .backward()
        .unwrap();
    let cv = c.to_vec::<f32>().unwrap();
    let gx = x.grad().unwrap().to_vec::<f32>().unwrap();
    let gw = w.grad().unwrap().to_vec::<f32>().unwrap();
    for i in 0..3 {
        for j in 0..4 {
            let inside = (1..3).contains(&j);
            let want = if inside { 0.0 } else { 2.0 * cv[i * 4 + j] };
            assert_eq!(gx[i * 4 + j], want, "dx[{i},{j}]");
        }
    }
    let want_w: Vec<f32> = (1..3)
        .map(|j| (0..3).map(|i| cv[i * 4 + j]).sum())
        .collect();
    assert_eq!(gw, want_w);
}

#[test]
fn slice_assign_into_a_buffer_without_grad_takes_the_source_history() {
    // The PyTorch pattern `out = zeros(); out[1:3] = w`: `out` never required grad.
    let cpu = Device::cpu();
    let w = Tensor::from_vec(vec![1.0f64, 2.0], [2], &cpu)
        .unwrap()
        .requires_grad_()
        .unwrap();
    let out = Tensor::zeros([4], DType::F64, &cpu).unwrap();
    out.slice_assign(&[(1..3).into()], &w.mul_scalar(3.0).unwrap())
        .unwrap();
    assert!(out.requires_grad());
    out.sum(&[], false).unwrap().backward().unwrap();
    assert_eq!(w.grad().unwrap().to_vec::<f64>().unwrap(), vec![3.0, 3.0]);
}

fn i64s(v: &[i64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), [v.len()], &Device::cpu()).unwrap()
}

#[test]
fn index_put_with_integer_indices_broadcast_and_negatives() {
    let cpu = Device::cpu();
    // t[[0, -1], [1, 2]] = [10, 20] on a 3x4 (two points).
    let t = Tensor::zeros([3, 4], DType::F32, &cpu).unwrap();
    let v = Tensor::from_vec(vec![10.0f32, 20.0], [2], &cpu).unwrap();
    t.index_put_(&[&i64s(&[0, -1]), &i64s(&[1, 2])], &v, false)
        .unwrap();
    let mut want = vec![0.0f32; 12];
    want[1] = 10.0;
    want[2 * 4 + 2] = 20.0;
    assert_eq!(t.to_vec::<f32>().unwrap(), want);
    // Broadcast indices: rows [[0],[2]] x cols [0, 3] -> a 2x2 batch, a scalar value.
    let rows = Tensor::from_vec(vec![0i32, 2], [2, 1], &cpu).unwrap();
    t.index_put_(
        &[&rows, &i64s(&[0, 3])],
        &Tensor::scalar(7.0, DType::F32, &cpu).unwrap(),
        false,
    )
    .unwrap();
    for p in [0, 3, 8, 11] {
        want[p] = 7.0;
    }
    assert_eq!(t.to_vec::<f32>().unwrap(), want);
}

#[test]
fn index_put_accumulate_adds_repeats_and_plain_put_keeps_the_last() {
    let cpu = Device::cpu();
    let t = Tensor::ones([4, 2], DType::F64, &cpu).unwrap();
    let v = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], [3, 2], &cpu).unwrap();
    t.index_put_(&[&i64s(&[1, 3, 1])], &v, true).unwrap();
    assert_eq!(
        t.to_vec::<f64>().unwrap(),
        vec![1., 1., 7., 9., 1., 1., 4., 5.]
    );
    let t = Tensor::zeros([4, 2], DType::F64, &cpu).unwrap();
    t.index_put_(&[&i64s(&[1, 3, 1])], &v, false).unwrap();
    assert_eq!(
        t.to_vec::<f64>().unwrap(),
        vec![0., 0., 5., 6., 0., 0., 3., 4.]
    );
}

#[test]
fn index_put_with_a_bool_mask_and_a_non_contiguous_target() {
    let cpu = Device::cpu();
    let base = arange(6, &[2, 3]);
    let t = base.t().unwrap(); // 3x2 view
    let mask = t.gt_scalar(2.5).unwrap(); // t = [[0,3],[1,4],[2,5]]
    t.index_put_(
        &[&mask],
        &Tensor::scalar(-1.0, DType::F32, &cpu).unwrap(),
        false,
    )
    .unwrap();
    assert_eq!(
        base.to_vec::<f32>().unwrap(),
        vec![0., 1., 2., -1., -1., -1.]
    );
    // A mask over the first dim selects whole rows; values are one per selected row.
    let t = Tensor::zeros([3, 2], DType::F32, &cpu).unwrap();
    let rows = Tensor::from_vec(vec![1u8, 0, 1], [3], &cpu)
        .unwrap()
        .to_dtype(DType::Bool)
        .unwrap();
    let v = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2], &cpu).unwrap();
    t.index_put_(&[&rows], &v, false).unwrap();
    assert_eq!(t.to_vec::<f32>().unwrap(), vec![1., 2., 0., 0., 3., 4.]);
}

#[test]
fn index_put_bad_input_is_an_error_and_writes_nothing() {
    let cpu = Device::cpu();
    let t = arange(6, &[2, 3]);
    let before = t.to_vec::<f32>().unwrap();
    let v = Tensor::scalar(1.0, DType::F32, &cpu).unwrap();
    let e = t.index_put_(&[&i64s(&[0, 2])], &v, false).unwrap_err();
    assert!(
        matches!(
            e,
            Error::IndexOutOfRange {
                index: 2,
                size: 2,
                ..
            }
        ),
        "{e}"
    );
    let e = t
        .index_put_(&[&i64s(&[0]), &i64s(&[1]), &i64s(&[0])], &v, false)
        .unwrap_err();
    assert!(e.to_string().contains("too many indices"), "{e}");
    let f = Tensor::from_vec(vec![0.0f32], [1], &cpu).unwrap();
    let e = t.index_put_(&[&f], &v, false).unwrap_err();
    assert!(matches!(e, Error::DTypeMismatch { .. }), "{e}");
    let e = t
        .index_put_(&[&i64s(&[0, 1]), &i64s(&[0, 1, 2])], &v, false)
        .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    let wrong = Tensor::zeros([2, 2], DType::F32, &cpu).unwrap();
    let e = t.index_put_(&[&i64s(&[0, 1])], &wrong, false).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    let mask = Tensor::from_vec(vec![1u8, 0], [2], &cpu)
        .unwrap()
        .to_dtype(DType::Bool)
        .unwrap();
    let e = t.index_put_(&[&S_mask(&mask)], &v, false).unwrap_err();
    assert!(matches!(e, Error::InvalidShape { .. }), "{e}");
    assert_eq!(t.to_vec::<f32>().unwrap(), before);
}

/// A bool index of the wrong shape for dims 0..2 of a 2x3 tensor.
#[allow(non_snake_case)]
fn S_mask(m: &Tensor) -> Tensor {
    m.unsqueeze(0).unwrap()
}

#[test]
fn index_put_gradient_reaches_old_values_and_values() {
    let cpu = Device::cpu();
    let x = arange(6, &[3, 2]).requires_grad_().unwrap();
    let v = Tensor::from_vec(vec![1.0f32, 2.0], [2], &cpu)
        .unwrap()
        .requires_grad_()
        .unwrap();
    let y = x.mul_scalar(3.0).unwrap();
    // y[[2, 0, 2]] += v (row 2 twice).
    y.index_put_(&[&i64s(&[2, 0, 2])], &v, true).unwrap();
    y.sum(&[], false).unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f32>().unwrap(), vec![3.0; 6]);
    assert_eq!(v.grad().unwrap().to_vec::<f32>().unwrap(), vec![3.0, 3.0]);
    // Plain put: the overwritten rows pass no gradient to x.
    v.zero_grad();
    let x = arange(6, &[3, 2]).requires_grad_().unwrap();
    let y = x.mul_scalar(3.0).unwrap();
    y.index_put_(&[&i64s(&[1])], &v, false).unwrap();
    y.sum(&[], false).unwrap().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec::<f32>().unwrap(),
        vec![3., 3., 0., 0., 3., 3.]
    );
    assert_eq!(v.grad().unwrap().to_vec::<f32>().unwrap(), vec![1.0, 1.0]);
}
