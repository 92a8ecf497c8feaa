//! In-place ops, `out=`, version counters and in-place autograd (issue 10, section 1).
//! References are computed here with plain f64 loops, never from the ops under test.

use st_core::{no_grad, DType, Device, Error, Tensor};

fn cpu() -> Device {
    Device::cpu()
}

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape, &cpu()).unwrap()
}

#[test]
fn binary_inplace_ops_match_a_loop_with_broadcasting() {
    let a0: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
    let b0 = [2.0f32, -3.0, 0.25];
    for (name, f) in [
        ("add_", (|x: f64, y: f64| x + y) as fn(f64, f64) -> f64),
        ("sub_", |x, y| x - y),
        ("mul_", |x, y| x * y),
        ("div_", |x, y| x / y),
    ] {
        let a = t(&a0, &[2, 3]);
        let b = t(&b0, &[3]);
        let before = a.version();
        match name {
            "add_" => a.add_(&b),
            "sub_" => a.sub_(&b),
            "mul_" => a.mul_(&b),
            _ => a.div_(&b),
        }
        .unwrap();
        assert_eq!(a.version(), before + 1, "{name} bumps the version");
        let want: Vec<f32> = (0..6)
            .map(|i| f(a0[i] as f64, b0[i % 3] as f64) as f32)
            .collect();
        assert_eq!(a.to_vec::<f32>().unwrap(), want, "{name}");
    }
}

#[test]
fn writes_through_views_reach_the_shared_storage() {
    let a = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    a.t().unwrap().add_scalar_(10.0).unwrap();
    assert_eq!(
        a.to_vec::<f32>().unwrap(),
        [11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    );
    // A strided slice: every other column of row 1.
    let row = a.narrow(0, 1, 1).unwrap();
    let cols = row.slice(1, 0, 3, 2).unwrap();
    cols.mul_scalar_(-1.0).unwrap();
    assert_eq!(
        a.to_vec::<f32>().unwrap(),
        [11.0, 12.0, 13.0, -14.0, 15.0, -16.0]
    );
    // Every view sees the same version.
    assert_eq!(a.version(), cols.version());
}

#[test]
fn aliasing_inputs_read_the_old_values() {
    // a += a^T reads a's old values even though it writes a (PyTorch errors; we copy).
    let a = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    a.add_(&a.t().unwrap()).unwrap();
    assert_eq!(a.to_vec::<f32>().unwrap(), [2.0, 5.0, 5.0, 8.0]);
    let b = t(&[1.0, 2.0, 3.0], &[3]);
    b.mul_(&b).unwrap();
    assert_eq!(b.to_vec::<f32>().unwrap(), [1.0, 4.0, 9.0]);
}

#[test]
fn bad_writes_are_errors_and_write_nothing() {
    let i = Tensor::from_vec(vec![1i32, 2, 3], [3], &cpu()).unwrap();
    let f = t(&[0.5, 0.5, 0.5], &[3]);
    let e = i.add_(&f).unwrap_err();
    assert!(matches!(e, Error::DTypeMismatch { .. }), "{e}");
    assert!(e.to_string().contains("can't be cast"), "{e}");
    assert!(i.div_scalar_(2.0).is_err(), "int /= is float division");
    assert_eq!(i.to_vec::<i32>().unwrap(), [1, 2, 3]);
    assert_eq!(i.version(), 0);

    let a = t(&[1.0, 2.0, 3.0], &[3]);
    let e = a.add_(&t(&[1.0, 2.0], &[2])).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    // The result must have self's shape: broadcasting self up is not allowed.
    let e = a.add_(&t(&[1.0; 6], &[2, 3])).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    // An expanded view has several elements at one address.
    let one = t(&[1.0], &[1]);
    let ex = one.expand(&st_core::Shape::new(&[4])).unwrap();
    let e = ex.add_scalar_(1.0).unwrap_err();
    assert!(e.to_string().contains("single memory location"), "{e}");
    assert_eq!(one.to_vec::<f32>().unwrap(), [1.0]);
    assert_eq!(a.to_vec::<f32>().unwrap(), [1.0, 2.0, 3.0]);
    // Integer results cast into a wider integer, floats into a narrower float.
    let w = Tensor::from_vec(vec![1i64, 2], [2], &cpu()).unwrap();
    w.add_(&Tensor::from_vec(vec![5i32, 6], [2], &cpu()).unwrap())
        .unwrap();
    assert_eq!(w.to_vec::<i64>().unwrap(), [6, 8]);
    let h = Tensor::from_vec(vec![1.0f32, 2.0], [2], &cpu()).unwrap();
    h.add_(&Tensor::from_vec(vec![0.5f64, 0.25], [2], &cpu()).unwrap())
        .unwrap();
    assert_eq!(h.to_vec::<f32>().unwrap(), [1.5, 2.25]);
}

#[test]
fn copy_fill_zero_clamp_masked_fill() {
    let a = t(&[0.0; 6], &[2, 3]);
    a.copy_(&Tensor::from_vec(vec![1i64, 2, 3], [3], &cpu()).unwrap())
        .unwrap();
    assert_eq!(a.to_vec::<f32>().unwrap(), [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    a.t().unwrap().narrow(0, 1, 1).unwrap().fill_(7.0).unwrap();
    assert_eq!(a.to_vec::<f32>().unwrap(), [1.0, 7.0, 3.0, 1.0, 7.0, 3.0]);
    a.clamp_(Some(1.5), Some(5.0)).unwrap();
    assert_eq!(a.to_vec::<f32>().unwrap(), [1.5, 5.0, 3.0, 1.5, 5.0, 3.0]);
    let mask = Tensor::from_vec(vec![1.0f32, 0.0, 1.0], [3], &cpu())
        .unwrap()
        .to_dtype(DType::Bool)
        .unwrap();
    a.masked_fill_(&mask, -1.0).unwrap();
    assert_eq!(
        a.to_vec::<f32>().unwrap(),
        [-1.0, 5.0, -1.0, -1.0, 5.0, -1.0]
    );
    a.zero_().unwrap();
    assert_eq!(a.to_vec::<f32>().unwrap(), [0.0; 6]);
    let u = Tensor::zeros([2], DType::U8, &cpu()).unwrap();
    assert!(u.fill_(300.0).is_err());
    assert!(u.fill_(-1.0).is_err());
}

#[test]
fn leaf_requiring_grad_cannot_be_written_under_grad_mode() {
    let w = t(&[1.0, 2.0], &[2]).requires_grad_().unwrap();
    let e = w.add_scalar_(1.0).unwrap_err();
    assert!(matches!(e, Error::Autograd(_)), "{e}");
    assert!(e.to_string().contains("leaf"), "{e}");
    assert_eq!(w.to_vec::<f32>().unwrap(), [1.0, 2.0]);
    {
        let _g = no_grad();
        w.sub_scalar_(0.5).unwrap();
    }
    assert_eq!(w.to_vec::<f32>().unwrap(), [0.5, 1.5]);
    assert!(w.requires_grad() && w.is_leaf());
}

#[test]
fn modified_saved_tensor_makes_backward_an_error() {
    let x = t(&[1.0, 2.0], &[2]).requires_grad_().unwrap();
    let y = x.exp().unwrap(); // exp saves its output
    let z = y.sum_all().unwrap();
    {
        let _g = no_grad();
        y.mul_scalar_(2.0).unwrap();
    }
    let e = z.backward().unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("modified by an inplace operation") && msg.contains("exp"),
        "{msg}"
    );
    // Ops whose rule needs no values are unaffected: d(x + c)/dx is 1 whatever c became.
    let x = t(&[1.0, 2.0], &[2]).requires_grad_().unwrap();
    let c = t(&[3.0, 4.0], &[2]);
    let s = x.add(&c).unwrap().sum_all().unwrap();
    c.add_scalar_(1.0).unwrap();
    s.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f32>().unwrap(), [1.0, 1.0]);
}

#[test]
fn inplace_on_non_leaf_records_history() {
    // y = x * 2; y.mul_(x); loss = sum(y) = sum(2 x^2): dloss/dx = 4x.
    let x = t(&[1.0, -2.0, 3.0], &[3]).requires_grad_().unwrap();
    let y = x.mul_scalar(2.0).unwrap();
    y.mul_(&x).unwrap();
    assert!(!y.is_leaf());
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec::<f32>().unwrap(),
        [4.0, -8.0, 12.0]
    );

    // y = x + 0; y.add_(w): dloss/dw = 1, dloss/dx = 1.
    let x = t(&[1.0, 2.0], &[2]).requires_grad_().unwrap();
    let w = t(&[5.0, 6.0], &[2]).requires_grad_().unwrap();
    let y = x.add_scalar(0.0).unwrap();
    y.add_(&w).unwrap();
    y.exp_sum().backward().unwrap();
    let e: Vec<f32> = [6.0f64, 8.0].iter().map(|v| v.exp() as f32).collect();
    assert_eq!(x.grad().unwrap().to_vec::<f32>().unwrap(), e);
    assert_eq!(w.grad().unwrap().to_vec::<f32>().unwrap(), e);

    // copy_ routes the gradient to the source only.
    let src = t(&[1.0, 2.0], &[2]).requires_grad_().unwrap();
    let dst = t(&[0.0, 0.0], &[2]).mul_scalar(1.0).unwrap();
    dst.copy_(&src).unwrap();
    dst.mul_scalar(3.0)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(src.grad().unwrap().to_vec::<f32>().unwrap(), [3.0, 3.0]);
}

trait ExpSum {
    fn exp_sum(&self) -> Tensor;
}

impl ExpSum for Tensor {
    fn exp_sum(&self) -> Tensor {
        self.exp().unwrap().sum_all().unwrap()
    }
}

#[test]
fn inplace_on_a_view_in_the_graph_is_an_error() {
    let x = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]).requires_grad_().unwrap();
    let v = x.t().unwrap();
    let e = v.add_scalar_(1.0).unwrap_err();
    assert!(e.to_string().contains("view"), "{e}");
}

#[test]
fn set_data_and_detach_() {
    let p = t(&[1.0, 2.0], &[2]).requires_grad_().unwrap();
    p.set_data(&Tensor::from_vec(vec![7.0f64, 8.0], [2], &cpu()).unwrap())
        .unwrap();
    assert_eq!(p.to_vec::<f32>().unwrap(), [7.0, 8.0]);
    assert!(p.requires_grad() && p.is_leaf());
    assert!(p.set_data(&t(&[1.0], &[1])).is_err());
    let y = p.mul_scalar(2.0).unwrap();
    y.detach_().unwrap();
    assert!(y.is_leaf() && !y.requires_grad());
}

#[test]
fn out_variants_write_into_the_given_tensor() {
    let a = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let b = t(&[1.0, 0.0, 0.0, 1.0], &[2, 2]);
    let out = Tensor::zeros([2, 2], DType::F32, &cpu()).unwrap();
    a.add_out(&b, &out).unwrap();
    assert_eq!(out.to_vec::<f32>().unwrap(), [2.0, 2.0, 3.0, 5.0]);
    a.exp_out(&out).unwrap();
    let want: Vec<f32> = [1.0f64, 2.0, 3.0, 4.0]
        .iter()
        .map(|v| v.exp() as f32)
        .collect();
    assert_eq!(out.to_vec::<f32>().unwrap(), want);
    a.matmul_out(&b, &out).unwrap();
    assert_eq!(out.to_vec::<f32>().unwrap(), [1.0, 2.0, 3.0, 4.0]);
    // Into a transposed (strided) destination.
    let o2 = Tensor::zeros([2, 2], DType::F32, &cpu()).unwrap();
    a.matmul_out(&b, &o2.t().unwrap()).unwrap();
    assert_eq!(o2.to_vec::<f32>().unwrap(), [1.0, 3.0, 2.0, 4.0]);
    // A wrong shape is an error.
    let bad = Tensor::zeros([4], DType::F32, &cpu()).unwrap();
    assert!(matches!(
        a.add_out(&b, &bad).unwrap_err(),
        Error::ShapeMismatch { .. }
    ));
}

#[test]
fn concurrent_writers_of_each_others_inputs_do_not_deadlock() {
    let a = t(&vec![1.0; 1 << 17], &[1 << 17]);
    let b = t(&vec![2.0; 1 << 17], &[1 << 17]);
    let (a2, b2) = (a.clone(), b.clone());
    let h = std::thread::spawn(move || {
        for _ in 0..200 {
            a2.copy_(&b2).unwrap();
        }
    });
    for _ in 0..200 {
        b.copy_(&a).unwrap();
    }
    h.join().unwrap();
    let (va, vb) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
    assert!(va.iter().all(|&v| v == va[0]) && vb.iter().all(|&v| v == vb[0]));
}
