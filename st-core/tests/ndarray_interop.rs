//! ndarray interop (feature `ndarray`): zero-copy `Tensor::from(array)` for owned arrays in
//! any non-negative strided layout, a copy for negative strides, `to_ndarray` and zero-copy
//! `as_array_view` for strided tensor views, in both directions.
#![cfg(feature = "ndarray")]

use ndarray::{array, s, Array, Array2, Array3, ArrayD, Axis, IxDyn};
use st_core::{DType, Device, Error, Shape, Tensor};

fn cpu() -> Device {
    Device::cpu()
}

/// Address of the element a tensor view starts at, from the zero-copy ndarray view.
fn first_ptr(t: &Tensor) -> usize {
    t.as_array_view::<f32>().unwrap().view().as_ptr() as usize
}

fn grid(r: usize, c: usize) -> Array2<f32> {
    Array::from_shape_fn((r, c), |(i, j)| (i * 10 + j) as f32)
}

#[test]
fn standard_arrays_convert_without_a_copy() {
    let a = grid(3, 4);
    let ptr = a.as_ptr() as usize;
    let expect: Vec<f32> = a.iter().copied().collect();
    let t = Tensor::from(a);
    assert_eq!((t.dims(), t.strides()), (&[3, 4][..], &[4, 1][..]));
    assert!(t.is_contiguous());
    assert_eq!(t.as_bytes().unwrap().as_ptr() as usize, ptr, "copied");
    assert_eq!(t.to_vec::<f32>().unwrap(), expect);
    // Dynamic rank, 0-d and empty arrays.
    let d: ArrayD<i64> = ArrayD::from_shape_vec(IxDyn(&[2, 1, 3]), (0..6).collect()).unwrap();
    assert_eq!(
        Tensor::from(d).to_vec::<i64>().unwrap(),
        (0..6).collect::<Vec<_>>()
    );
    let z = Tensor::from(ndarray::arr0(2.5f64));
    assert_eq!((z.rank(), z.to_scalar::<f64>().unwrap()), (0, 2.5));
    let e = Tensor::from(Array2::<f32>::zeros((0, 3)));
    assert_eq!((e.dims(), e.numel()), (&[0, 3][..], 0));
}

#[test]
fn strided_arrays_convert_without_a_copy() {
    // Transposed.
    let a = grid(3, 4);
    let ptr = a.as_ptr() as usize;
    let at = a.reversed_axes();
    let expect: Vec<f32> = at.iter().copied().collect();
    let t = Tensor::from(at);
    assert_eq!((t.dims(), t.strides()), (&[4, 3][..], &[1, 4][..]));
    assert!(!t.is_contiguous());
    assert_eq!(first_ptr(&t), ptr, "copied");
    assert_eq!(t.to_vec::<f32>().unwrap(), expect);

    // Sliced with an offset and steps.
    let a = grid(5, 6);
    let ptr = a.as_ptr() as usize;
    let sl = a.slice_move(s![1..5;2, 1..;2]);
    let expect: Vec<f32> = sl.iter().copied().collect();
    assert_eq!(expect, [11.0, 13.0, 15.0, 31.0, 33.0, 35.0]);
    let t = Tensor::from(sl);
    assert_eq!((t.dims(), t.strides()), (&[2, 3][..], &[12, 2][..]));
    assert_eq!(t.layout().offset(), 7);
    assert_eq!(first_ptr(&t), ptr + 7 * 4, "copied");
    assert_eq!(t.to_vec::<f32>().unwrap(), expect);

    // Permuted 3-d with a length-1 axis.
    let a: Array3<f32> = Array::from_shape_fn((2, 1, 3), |(i, j, k)| (i * 100 + j * 10 + k) as f32);
    let ptr = a.as_ptr() as usize;
    let p = a.permuted_axes([2, 0, 1]);
    let expect: Vec<f32> = p.iter().copied().collect();
    let t = Tensor::from(p);
    assert_eq!(t.dims(), &[3, 2, 1]);
    assert_eq!(first_ptr(&t), ptr, "copied");
    assert_eq!(t.to_vec::<f32>().unwrap(), expect);

    // Kernels read the strided views correctly.
    let a = grid(4, 3);
    let b = grid(4, 3);
    let sum = &a.t() + &b.t();
    let t = Tensor::from(a.reversed_axes())
        .add(&Tensor::from(b.reversed_axes()))
        .unwrap();
    assert_eq!(t.to_ndarray::<f32>().unwrap(), sum.into_dyn());
}

#[test]
fn negative_strides_are_copied_in_logical_order() {
    let mut a = grid(3, 4);
    a.invert_axis(Axis(1));
    let expect: Vec<f32> = a.iter().copied().collect();
    let t = Tensor::from(a);
    assert!(t.is_contiguous());
    assert_eq!(t.to_vec::<f32>().unwrap(), expect);
    assert_eq!(&expect[..4], [3.0, 2.0, 1.0, 0.0]);
    let r = grid(4, 2).slice_move(s![..;-2, ..]);
    let expect: Vec<f32> = r.iter().copied().collect();
    assert_eq!(expect, [30.0, 31.0, 10.0, 11.0]);
    assert_eq!(Tensor::from(r).to_vec::<f32>().unwrap(), expect);
    // A negative stride on a length-1 axis moves nothing: still zero-copy.
    let mut one = grid(1, 3);
    one.invert_axis(Axis(0));
    let ptr = one.as_ptr() as usize;
    let t = Tensor::from(one);
    assert_eq!(first_ptr(&t), ptr);
    assert_eq!(t.to_vec::<f32>().unwrap(), [0.0, 1.0, 2.0]);
}

#[test]
fn to_ndarray_copies_any_view() {
    let t = Tensor::from_vec((0..12).map(|i| i as f32).collect(), [3, 4], &cpu()).unwrap();
    let base = Array::from_shape_vec((3, 4), (0..12).map(|i| i as f32).collect()).unwrap();
    assert_eq!(t.to_ndarray::<f32>().unwrap(), base.clone().into_dyn());
    let tt = t.t().unwrap().to_ndarray::<f32>().unwrap();
    assert_eq!(tt, base.t().to_owned().into_dyn());
    assert!(tt.is_standard_layout());
    let stepped = t.slice(1, 1, 4, 2).unwrap().to_ndarray::<f32>().unwrap();
    assert_eq!(stepped, base.slice(s![.., 1..4;2]).to_owned().into_dyn());
    let e = t.to_ndarray::<f64>().unwrap_err();
    assert!(matches!(e, Error::ReadBackDType { .. }), "{e}");
}

#[test]
fn as_array_view_borrows_strided_views_without_a_copy() {
    let t = Tensor::from_vec((0..12).map(|i| i as f32).collect(), [3, 4], &cpu()).unwrap();
    let base = Array::from_shape_vec((3, 4), (0..12).map(|i| i as f32).collect()).unwrap();
    let start = t.as_bytes().unwrap().as_ptr() as usize;
    let views: [(Tensor, ndarray::ArrayViewD<f32>, usize); 4] = [
        (t.t().unwrap(), base.t().into_dyn(), 0),
        (
            t.slice(1, 1, 4, 2).unwrap(),
            base.slice(s![.., 1..4;2]).into_dyn(),
            1,
        ),
        (t.select(0, 2).unwrap(), base.row(2).into_dyn(), 8),
        (
            t.narrow(0, 1, 2).unwrap().t().unwrap(),
            base.slice(s![1..3, ..]).reversed_axes().into_dyn(),
            4,
        ),
    ];
    for (view, expect, first) in &views {
        let g = view.as_array_view::<f32>().unwrap();
        assert_eq!(g.view(), expect);
        assert_eq!(g.view().strides(), expect.strides());
        assert_eq!(g.view().as_ptr() as usize, start + first * 4, "copied");
    }
    // An expanded view (stride 0) is viewed as such.
    let row = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [1, 3], &cpu()).unwrap();
    let ex = row.expand(&Shape::from(vec![2, 3])).unwrap();
    let g = ex.as_array_view::<f32>().unwrap();
    assert_eq!(
        g.view(),
        array![[1.0f32, 2.0, 3.0], [1.0, 2.0, 3.0]].into_dyn()
    );
    assert_eq!(g.view().strides(), &[0, 1]);
    // Wrong dtype.
    let e = t.as_array_view::<i32>().unwrap_err();
    assert!(
        matches!(
            e,
            Error::ReadBackDType {
                op: "as_array_view",
                ..
            }
        ),
        "{e}"
    );
    // Other dtypes.
    let b = Tensor::from_vec(vec![7u8, 9], [2], &cpu()).unwrap();
    assert_eq!(
        b.as_array_view::<u8>().unwrap().view(),
        array![7u8, 9].into_dyn()
    );
}

#[test]
fn round_trips_keep_values_both_ways() {
    // ndarray → tensor → ndarray, through strided layouts.
    let a: Array3<f64> = Array::from_shape_fn((3, 4, 5), |(i, j, k)| (i * 20 + j * 5 + k) as f64);
    let p = a
        .clone()
        .permuted_axes([1, 2, 0])
        .slice_move(s![..;2, 1.., ..]);
    let expect = p.to_owned().into_dyn();
    let t = Tensor::from(p);
    assert_eq!(t.to_ndarray::<f64>().unwrap(), expect);
    assert_eq!(t.as_array_view::<f64>().unwrap().view(), expect);
    // tensor → ndarray view → tensor: a view is borrowed, so converting it copies.
    let t = Tensor::randn([4, 6], DType::F32, &cpu()).unwrap();
    let tv = t.t().unwrap();
    let owned = tv.as_array_view::<f32>().unwrap().view().to_owned();
    let back = Tensor::from(owned);
    assert_eq!(back.to_vec::<f32>().unwrap(), tv.to_vec::<f32>().unwrap());
    // Computation on converted tensors agrees with ndarray.
    let x = grid(3, 4);
    let y = grid(4, 2);
    let prod = x.dot(&y);
    let tp = Tensor::from(x).matmul(&Tensor::from(y)).unwrap();
    assert_eq!(tp.to_ndarray::<f32>().unwrap(), prod.into_dyn());
}

#[test]
fn converted_arrays_are_writable_and_their_writes_bump_the_version() {
    let a = grid(2, 3).reversed_axes();
    let t = Tensor::from(a);
    t.add_scalar_(1.0).unwrap();
    assert_eq!(t.version(), 1);
    let expect = (grid(2, 3) + 1.0).reversed_axes().into_dyn();
    assert_eq!(t.as_array_view::<f32>().unwrap().view(), expect);
}
