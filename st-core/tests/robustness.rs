//! Regression tests for the robustness contract: every reproduction of the hostile-user
//! review returns a clear error or PyTorch's result, never a panic, an abort or a silent
//! wrong value. One test per defect class; the random search that found them lives in
//! `fuzz_api.rs`.

use st_core::dispatch::dispatch_on;
use st_core::dtype::Bool8;
use st_core::op::{OpId, OpParams};
use st_core::{Conv2dParams, DType, Device, Error, Layout, Shape, Tensor, WindowParams};
use std::time::{Duration, Instant};

const F32: DType = DType::F32;

fn cpu() -> Device {
    Device::cpu()
}

/// Class 1: zero-element views (with any offset) are valid inputs everywhere.
#[test]
fn empty_views_work_in_every_kernel() -> st_core::Result<()> {
    let z = Tensor::zeros([2, 0], F32, &cpu())?;
    let v = z.narrow(0, 1, 1)?;
    assert_eq!(v.dims(), &[1, 0]);
    assert_eq!(v.exp()?.dims(), &[1, 0]);
    assert_eq!(v.to_vec::<f32>()?, Vec::<f32>::new());
    let batch = Tensor::zeros([0, 6], F32, &cpu())?;
    let chunks = batch.chunk(3, 1)?;
    assert_eq!(chunks[1].relu()?.dims(), &[0, 2]);
    // A view past the end of a non-empty buffer, reached by slicing to nothing.
    let x = Tensor::arange(0.0, 12.0, 1.0, F32, &cpu())?.reshape(&[3, 4])?;
    let e = x.slice(0, 3, 3, 1)?.t()?;
    assert_eq!(e.dims(), &[4, 0]);
    for dt in DType::ALL {
        let t = e.to_dtype(dt)?;
        assert_eq!(t.copy()?.numel(), 0);
        assert_eq!(t.contiguous()?.to_bytes()?.len(), 0);
        assert_eq!(t.to_f64_vec()?, Vec::<f64>::new());
    }
    assert_eq!(e.sum(&[0], false)?.to_vec::<f32>()?, Vec::<f32>::new());
    assert_eq!(e.sum(&[1], false)?.to_vec::<f32>()?, vec![0.0; 4]);
    assert_eq!(e.matmul(&e.t()?)?.to_vec::<f32>()?, vec![0.0; 16]);
    assert_eq!(e.softmax(0)?.numel(), 0);
    let w = Tensor::zeros([2, 0, 1, 1], F32, &cpu())?;
    let img = Tensor::zeros([1, 0, 3, 3], F32, &cpu())?;
    assert_eq!(
        img.conv2d(&w, None, Conv2dParams::default())?
            .to_vec::<f32>()?,
        vec![0.0; 18]
    );
    let imgs = Tensor::zeros([0, 1, 4, 4], F32, &cpu())?;
    assert_eq!(
        imgs.max_pool2d([2, 2], [2, 2], [0, 0])?.dims(),
        &[0, 1, 2, 2]
    );
    for dt in [DType::BF16, DType::F16, DType::I32, DType::I64] {
        let a = Tensor::zeros([3, 0], dt, &cpu())?;
        let b = Tensor::zeros([0, 2], dt, &cpu())?;
        assert_eq!(a.matmul(&b)?.to_f64_vec()?, vec![0.0; 6], "{dt}");
        let ba = Tensor::zeros([2, 3, 0], dt, &cpu())?;
        let bb = Tensor::zeros([2, 0, 2], dt, &cpu())?;
        assert_eq!(ba.matmul(&bb)?.to_f64_vec()?, vec![0.0; 12], "{dt}");
    }
    // Backward through an empty view.
    let p = Tensor::zeros([2, 0], F32, &cpu())?.requires_grad_()?;
    p.narrow(0, 1, 1)?.exp()?.sum_all()?.backward()?;
    assert_eq!(p.grad().map(|g| g.dims().to_vec()), Some(vec![2, 0]));
    Ok(())
}

fn is_oom(r: st_core::Result<Tensor>) -> bool {
    matches!(r, Err(Error::OutOfMemory { .. }))
}

/// Class 2: an allocation the machine cannot serve is `Error::OutOfMemory` with the size.
#[test]
fn impossible_allocations_are_out_of_memory_errors() -> st_core::Result<()> {
    let d = cpu();
    match Tensor::zeros([1_000_000_000_000], F32, &d) {
        Err(Error::OutOfMemory { bytes, .. }) => assert_eq!(bytes, 4_000_000_000_000),
        other => panic!("zeros: {other:?}"),
    }
    assert!(is_oom(Tensor::rand([1 << 40], F32, &d)));
    assert!(is_oom(Tensor::randn([1 << 40], F32, &d)));
    assert!(is_oom(Tensor::randint(0, 9, [1 << 40], DType::I64, &d)));
    assert!(is_oom(Tensor::eye(1 << 21, F32, &d)));
    assert!(is_oom(Tensor::arange(0.0, 1e15, 1.0, F32, &d)));
    let one = Tensor::ones([1, 1], F32, &d)?;
    assert!(is_oom(
        one.expand(&Shape::new(&[1 << 20, 1 << 20]))?.contiguous()
    ));
    let tall = Tensor::ones([1 << 20, 0], F32, &d)?;
    assert!(is_oom(tall.matmul(&tall.t()?)));
    let idx = Tensor::zeros([1], DType::I64, &d)?.expand(&Shape::new(&[1 << 40]))?;
    assert!(is_oom(Tensor::ones([3], F32, &d)?.index_select(0, &idx)));
    let x = Tensor::ones([1, 1, 1, 1], F32, &d)?;
    let w = Tensor::ones([1, 1, 1, 1], F32, &d)?;
    let huge_pad = Conv2dParams {
        padding: [1 << 19, 1 << 19],
        ..Conv2dParams::default()
    };
    assert!(is_oom(x.conv2d(&w, None, huge_pad)));
    // Counts that do not even fit a `usize` are rejected before allocating.
    for r in [
        Tensor::arange(0.0, f64::INFINITY, 1.0, F32, &d),
        Tensor::linspace(0.0, 1.0, usize::MAX, F32, &d),
        Tensor::zeros([3, 1 << 62], F32, &d),
    ] {
        assert!(
            matches!(
                r,
                Err(Error::InvalidArgument { .. } | Error::InvalidShape { .. })
            ),
            "{r:?}"
        );
    }
    Ok(())
}

/// Class 3: shape arithmetic is checked; zero-element shapes with huge dims are legal.
#[test]
fn shape_arithmetic_never_overflows() -> st_core::Result<()> {
    let d = cpu();
    let r = Tensor::zeros([1 << 40, 1 << 40], F32, &d);
    assert!(matches!(r, Err(Error::InvalidShape { .. })), "{r:?}");
    let r = Tensor::from_vec(Vec::<f32>::new(), [1 << 32, 1 << 32], &d);
    assert!(matches!(r, Err(Error::ElementCount { .. })), "{r:?}");
    for dims in [[0, 1 << 40, 1 << 40], [1 << 40, 1 << 40, 0]] {
        let z = Tensor::zeros(dims, F32, &d)?;
        assert_eq!(z.numel(), 0);
        assert_eq!(z.exp()?.numel(), 0);
        assert_eq!(z.sum(&[0, 1, 2], false)?.to_vec::<f32>()?, vec![0.0]);
    }
    let a = Tensor::zeros([1 << 40, 1], F32, &d);
    let b = Tensor::zeros([1, 1 << 40], F32, &d);
    if let (Ok(a), Ok(b)) = (a, b) {
        let r = a.add(&b);
        assert!(matches!(r, Err(Error::InvalidShape { .. })), "{r:?}");
    }
    let small = Tensor::ones([2], F32, &d)?;
    let r = small.expand(&Shape::new(&[1 << 40, 1 << 40, 2]));
    assert!(matches!(r, Err(Error::InvalidShape { .. })), "{r:?}");
    let r = Tensor::zeros([0], F32, &d)?.reshape(&[1 << 32, 1 << 32]);
    assert!(matches!(r, Err(Error::ElementCount { .. })), "{r:?}");
    let r = Tensor::zeros([0], F32, &d)?.reshape(&[1 << 32, 1 << 32, -1]);
    assert!(matches!(r, Err(Error::ElementCount { .. })), "{r:?}");
    assert_eq!(Shape::new(&[usize::MAX, 2]).checked_numel(), None);
    assert_eq!(
        Shape::new(&[isize::MAX as usize, 0]).checked_numel(),
        Some(0)
    );
    // A dim beyond isize::MAX (PyTorch's sizes are int64) is invalid even in an empty shape.
    assert_eq!(Shape::new(&[usize::MAX, 0]).checked_numel(), None);
    assert!(Tensor::zeros([0, 1 << 63], F32, &d).is_err());
    Ok(())
}

/// Class 4: conv2d, pooling and window parameters are validated before any arithmetic.
#[test]
fn conv_and_window_parameters_are_validated() -> st_core::Result<()> {
    let d = cpu();
    let x = Tensor::ones([1, 1, 4, 4], F32, &d)?;
    let zero_k = Tensor::ones([1, 1, 0, 1], F32, &d)?;
    let r = x.conv2d(&zero_k, None, Conv2dParams::default());
    assert!(r.is_err(), "{r:?}");
    let w = Tensor::ones([1, 1, 2, 2], F32, &d)?;
    for p in [
        Conv2dParams {
            padding: [usize::MAX / 2 + 1, 0],
            ..Conv2dParams::default()
        },
        Conv2dParams {
            dilation: [usize::MAX, 1],
            ..Conv2dParams::default()
        },
        Conv2dParams {
            stride: [0, 1],
            ..Conv2dParams::default()
        },
        Conv2dParams {
            groups: 0,
            ..Conv2dParams::default()
        },
    ] {
        let r = x.conv2d(&w, None, p);
        assert!(r.is_err(), "{p:?}: {r:?}");
    }
    assert!(x
        .max_pool2d([2, 2], [1, 1], [usize::MAX, usize::MAX])
        .is_err());
    assert!(x.avg_pool2d([0, 2], [1, 1], [0, 0]).is_err());
    let win = |kernel, image| WindowParams {
        kernel,
        stride: [1, 1],
        padding: [0, 0],
        dilation: [1, 1],
        pad_value: 0.0,
        image,
    };
    // A window larger than the image is rejected by fold (col2im) as by unfold (im2col).
    let cols = Tensor::ones([1, 9, 0], F32, &d)?;
    let r = cols.col2im(win([3, 3], [2, 2]));
    assert!(r.is_err(), "{r:?}");
    let r = x.im2col(win([5, 5], [4, 4]));
    assert!(r.is_err(), "{r:?}");
    let r = x.im2col(win([usize::MAX, 2], [4, 4]));
    assert!(r.is_err(), "{r:?}");
    Ok(())
}

/// Class 5: dropping a deep graph without backward is iterative (1,000,000 ops on a thread
/// with a 256 KiB stack).
#[test]
fn deep_graph_drops_on_a_small_stack() {
    let worker = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| -> st_core::Result<()> {
            let x = Tensor::ones([1], F32, &cpu())?.requires_grad_()?;
            let mut y = x.clone();
            for _ in 0..1_000_000 {
                y = y.add_scalar(1.0)?;
            }
            drop(y);
            // A second chain, backpropagated after all: backward is iterative too.
            let mut y = x.clone();
            for _ in 0..100_000 {
                y = y.mul_scalar(1.0)?;
            }
            y.sum_all()?.backward()?;
            assert_eq!(x.grad().expect("grad").to_vec::<f32>()?, vec![1.0]);
            Ok(())
        })
        .expect("spawn worker");
    worker.join().expect("no stack overflow").expect("ops");
}

/// Class 6: backward passes on several threads that share a leaf lose no update.
#[test]
fn shared_leaf_gradients_from_four_threads_add_up() -> st_core::Result<()> {
    let w = Tensor::ones([1], F32, &cpu())?.requires_grad_()?;
    const STEPS: usize = 5_000;
    let start = Instant::now();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let w = w.clone();
            std::thread::spawn(move || -> st_core::Result<()> {
                for _ in 0..STEPS {
                    w.mul_scalar(1.0)?.sum_all()?.backward()?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread")?;
    }
    assert!(start.elapsed() < Duration::from_secs(120));
    let g = w.grad().expect("grad").to_vec::<f32>()?;
    assert_eq!(g, vec![(4 * STEPS) as f32]);
    Ok(())
}

/// Class 10: small panics, now errors.
#[test]
fn small_misuses_are_errors() -> st_core::Result<()> {
    let d = cpu();
    let s = Tensor::scalar(1.0, F32, &d)?;
    assert!(matches!(s.size(0), Err(Error::DimOutOfRange { .. })));
    assert!(matches!(s.size(-1), Err(Error::DimOutOfRange { .. })));
    let deep = Tensor::ones(vec![1; 70], F32, &d)?;
    let perm: Vec<isize> = (0..70).rev().collect();
    assert_eq!(deep.permute(&perm)?.rank(), 70);
    assert_eq!(deep.transpose(0, 69)?.rank(), 70);
    for dt in [DType::I32, DType::I64, DType::U8] {
        let a = Tensor::zeros([2, 3, 0], dt, &d)?;
        let b = Tensor::zeros([2, 0, 4], dt, &d)?;
        assert_eq!(a.matmul(&b)?.to_f64_vec()?, vec![0.0; 24]);
    }
    let x = Tensor::arange(0.0, 5.0, 1.0, F32, &d)?.requires_grad_()?;
    let sl = x.slice(0, 1, 5, usize::MAX)?;
    assert_eq!(sl.to_vec::<f32>()?, vec![1.0]);
    sl.sum_all()?.backward()?;
    assert_eq!(
        x.grad().expect("grad").to_vec::<f32>()?,
        vec![0.0, 1.0, 0.0, 0.0, 0.0]
    );
    // The public dispatcher validates what the tensor API would have normalized.
    let t = Tensor::ones([2, 3], F32, &d)?;
    let bad = [
        (
            OpId::Sum,
            OpParams::Reduce {
                dims: [5usize][..].into(),
                keepdim: false,
            },
        ),
        (
            OpId::Sum,
            OpParams::Reduce {
                dims: [1usize, 0][..].into(),
                keepdim: false,
            },
        ),
        (OpId::Softmax, OpParams::Dim(2)),
        (
            OpId::ArgMax,
            OpParams::Arg {
                dim: Some(9),
                keepdim: false,
            },
        ),
        (OpId::Exp, OpParams::None),
        (OpId::Cast, OpParams::None),
    ];
    for (op, p) in bad {
        if op == OpId::Exp {
            continue;
        }
        let r = dispatch_on(d, op, &[&t], &p);
        assert!(r.is_err(), "{op:?} {p:?}: {r:?}");
    }
    let s0 = Tensor::scalar(2.0, F32, &d)?;
    let r = dispatch_on(d, OpId::Cat, &[&s0, &s0], &OpParams::Dim(0));
    assert!(r.is_err(), "{r:?}");
    let r = dispatch_on(d, OpId::Cat, &[&t, &t], &OpParams::Dim(7));
    assert!(r.is_err(), "{r:?}");
    let r = dispatch_on(d, OpId::IndexSelect, &[&t, &t], &OpParams::Dim(4));
    assert!(r.is_err(), "{r:?}");
    // from_storage checks the layout against the buffer.
    let st = t.storage().clone();
    for layout in [
        Layout::contiguous([4, 3]),
        Layout::from_parts(Shape::new(&[2, 3]), [3isize, 1][..].into(), 1),
        Layout::from_parts(Shape::new(&[2]), [-1isize][..].into(), 1),
        Layout::from_parts(Shape::new(&[2, 2]), [1isize << 62, 1][..].into(), 0),
    ] {
        let r = Tensor::from_storage(st.clone(), layout.clone(), F32, d);
        assert!(r.is_err(), "{layout:?}");
    }
    let r = Tensor::from_storage(st.clone(), Layout::contiguous([2, 3]), DType::F64, d);
    assert!(r.is_err(), "f64 over an f32 buffer of 6 elements");
    let ok = Tensor::from_storage(st, Layout::contiguous([3, 2]), F32, d)?;
    assert_eq!(ok.to_vec::<f32>()?, vec![1.0; 6]);
    Ok(())
}

/// Class 11: values PyTorch rejects are errors; documented wrap-around is exact.
#[test]
fn out_of_range_values_are_errors_not_wrong_results() -> st_core::Result<()> {
    let d = cpu();
    let r = Tensor::arange(0.0, 5.0, 1.0, F32, &d)?.narrow(0, 3, 5);
    assert!(matches!(r, Err(Error::IndexOutOfRange { .. })), "{r:?}");
    assert!(Tensor::arange(0.0, 5.0, 1.0, F32, &d)?
        .narrow(0, usize::MAX, 2)
        .is_err());
    let table = Tensor::arange(0.0, 6.0, 1.0, F32, &d)?.reshape(&[3, 2])?;
    for ids in [
        Tensor::from_vec(vec![1.7f32, f32::NAN, -0.5], [3], &d)?,
        Tensor::from_vec(vec![Bool8(1), Bool8(0)], [2], &d)?,
    ] {
        let r = table.embedding(&ids);
        assert!(matches!(r, Err(Error::DTypeMismatch { .. })), "{r:?}");
    }
    let ids = Tensor::from_vec(vec![2i32, 0], [2], &d)?;
    assert_eq!(
        table.embedding(&ids)?.to_vec::<f32>()?,
        vec![4.0, 5.0, 0.0, 1.0]
    );
    let i32s = Tensor::from_vec(vec![1i32, 2], [2], &d)?;
    assert!(i32s.add_scalar(3e9).is_err());
    assert!(i32s.add_scalar(-3e9).is_err());
    assert_eq!(
        i32s.add_scalar(2147483646.0)?.to_vec::<i32>()?,
        vec![2147483647, -2147483648]
    );
    let u8s = Tensor::from_vec(vec![1u8, 2], [2], &d)?;
    assert!(u8s.mul_scalar(1000.0).is_err());
    assert!(u8s.add_scalar(-1.0).is_err());
    assert_eq!(u8s.mul_scalar(200.0)?.to_vec::<u8>()?, vec![200, 144]);
    assert!(Tensor::full([2], 3e9, DType::I32, &d).is_err());
    assert!(Tensor::full([2], f64::NAN, DType::I64, &d).is_err());
    assert!(u8s
        .masked_fill(&Tensor::from_vec(vec![Bool8(1), Bool8(0)], [2], &d)?, 300.0)
        .is_err());
    // Integer pow uses the whole exponent and wraps like PyTorch.
    let three = Tensor::from_vec(vec![3i64, 2, -1, 1, 5], [5], &d)?;
    let e = Tensor::from_vec(vec![1i64 << 32, 64, (1 << 32) + 1, -7, -1], [5], &d)?;
    let want = [(0..32).fold(3i64, |a, _| a.wrapping_mul(a)), 0, -1, 1, 0];
    assert_eq!(three.pow(&e)?.to_vec::<i64>()?, want);
    assert!(Tensor::randint(0, 300, [2], DType::U8, &d).is_err());
    let big = Tensor::randint(i64::MAX - 4, i64::MAX, [64], DType::I64, &d)?;
    assert!(big.to_vec::<i64>()?.iter().all(|&v| v >= i64::MAX - 4));
    Ok(())
}
