//! Backward-pass options and the functional API: retain_graph, create_graph on `.grad`, the
//! second-pass error, `autograd::grad` (non-leaf inputs, unused inputs, grad_outputs, several
//! outputs), gradient hooks on leaves and intermediates, and `detach`.

use st_core::autograd::{grad, BackwardOptions, GradOptions};
use st_core::{DType, Device, Error, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn dev() -> Device {
    Device::cpu()
}

fn vals(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_f64_slice(v, shape, DType::F64, &dev())
        .unwrap()
        .requires_grad_()
        .unwrap()
}

fn plain(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_f64_slice(v, shape, DType::F64, &dev()).unwrap()
}

fn v64(t: &Tensor) -> Vec<f64> {
    t.to_vec::<f64>().unwrap()
}

fn grad_of(t: &Tensor) -> Vec<f64> {
    v64(&t.grad().expect("no gradient"))
}

fn autograd_msg(e: Error) -> String {
    match e {
        Error::Autograd(m) => m,
        other => panic!("expected Error::Autograd, got {other}"),
    }
}

fn retain() -> BackwardOptions {
    BackwardOptions::default().retain_graph(true)
}

#[test]
fn retain_graph_allows_a_second_backward() {
    let x = vals(&[1.0, -2.0], &[2]);
    let y = x.exp().unwrap().mul(&x).unwrap().sum_all().unwrap(); // x e^x
    y.backward_opts(None, retain()).unwrap();
    let once = grad_of(&x);
    let want: Vec<f64> = [1.0f64, -2.0].iter().map(|x| (1.0 + x) * x.exp()).collect();
    for (a, b) in once.iter().zip(&want) {
        assert!((a - b).abs() < 1e-12);
    }
    // Second pass through the same graph: gradients accumulate.
    y.backward_opts(None, retain()).unwrap();
    y.backward().unwrap();
    for (a, b) in grad_of(&x).iter().zip(&want) {
        assert!((a - 3.0 * b).abs() < 1e-12);
    }
}

#[test]
fn backward_twice_without_retain_graph_is_an_error() {
    let x = vals(&[1.0, 2.0], &[2]);
    let y = x.mul(&x).unwrap().sum_all().unwrap();
    y.backward().unwrap();
    let msg = autograd_msg(y.backward().unwrap_err());
    assert!(
        msg.contains("second time") && msg.contains("retain_graph"),
        "{msg}"
    );
    // The failed pass changed nothing.
    assert_eq!(grad_of(&x), vec![2.0, 4.0]);
    // grad() through a freed graph fails the same way.
    let msg = autograd_msg(grad(&[&y], &[&x], None, GradOptions::default()).unwrap_err());
    assert!(msg.contains("retain_graph"), "{msg}");
}

#[test]
fn a_shared_subgraph_freed_by_one_loss_fails_the_other() {
    let x = vals(&[0.5, 1.5], &[2]);
    let h = x.tanh().unwrap();
    let l1 = h.sum_all().unwrap();
    let l2 = h.mul(&h).unwrap().sum_all().unwrap();
    l1.backward().unwrap();
    assert!(matches!(l2.backward(), Err(Error::Autograd(_))));
}

#[test]
fn create_graph_gives_the_leaf_gradient_a_graph() {
    let x = vals(&[2.0, -1.0], &[2]);
    let y = x.pow_scalar(3.0).unwrap().sum_all().unwrap();
    y.backward_opts(None, BackwardOptions::default().create_graph(true))
        .unwrap();
    let g = x.grad().unwrap();
    assert_eq!(v64(&g), vec![12.0, 3.0]); // 3x²
    assert!(g.requires_grad() && g.grad_fn().is_some());
    // create_graph implies retain_graph.
    y.backward().unwrap();
    assert_eq!(grad_of(&x), vec![24.0, 6.0]);
    // Differentiate the first gradient: d/dx Σ 3x² = 6x.
    x.zero_grad();
    g.sum_all().unwrap().backward().unwrap();
    assert_eq!(grad_of(&x), vec![12.0, -6.0]);
}

#[test]
fn without_create_graph_gradients_have_no_graph() {
    let x = vals(&[2.0], &[1]);
    let y = x.mul(&x).unwrap().sum_all().unwrap();
    y.backward().unwrap();
    let g = x.grad().unwrap();
    assert!(!g.requires_grad() && g.grad_fn().is_none());
    let gs = grad(
        &[&x.mul(&x).unwrap().sum_all().unwrap()],
        &[&x],
        None,
        GradOptions::default(),
    )
    .unwrap();
    assert!(gs[0].as_ref().unwrap().grad_fn().is_none());
}

#[test]
fn grad_of_non_leaf_inputs_leaves_dot_grad_alone() {
    let x = vals(&[1.0, 2.0, 3.0], &[3]);
    let y = x.mul_scalar(2.0).unwrap();
    let z = y.mul(&y).unwrap().sum_all().unwrap();
    let gs = grad(&[&z], &[&y, &x], None, GradOptions::default()).unwrap();
    assert_eq!(v64(gs[0].as_ref().unwrap()), vec![4.0, 8.0, 12.0]); // 2y
    assert_eq!(v64(gs[1].as_ref().unwrap()), vec![8.0, 16.0, 24.0]); // 8x
    assert!(x.grad().is_none() && y.grad().is_none());
    // The graph was freed by that call.
    assert!(z.backward().is_err());
}

#[test]
fn grad_with_the_output_as_input_returns_the_seed() {
    let x = vals(&[1.0, 2.0], &[2]);
    let y = x.sin().unwrap();
    let v = plain(&[0.5, -1.0], &[2]);
    let gs = grad(&[&y], &[&y, &x], Some(&[&v]), GradOptions::default()).unwrap();
    assert_eq!(v64(gs[0].as_ref().unwrap()), vec![0.5, -1.0]);
    let gx = v64(gs[1].as_ref().unwrap());
    assert!((gx[0] - 0.5 * 1f64.cos()).abs() < 1e-12);
    assert!((gx[1] + 2f64.cos()).abs() < 1e-12);
}

#[test]
fn grad_unused_input_is_an_error_unless_allowed() {
    let x = vals(&[1.0, 2.0], &[2]);
    let unused = vals(&[3.0], &[1]);
    let y = x.mul(&x).unwrap().sum_all().unwrap();
    let opts = GradOptions::default().retain_graph(true);
    let msg = autograd_msg(grad(&[&y], &[&x, &unused], None, opts).unwrap_err());
    assert!(
        msg.contains("input 1") && msg.contains("allow_unused"),
        "{msg}"
    );
    let gs = grad(&[&y], &[&x, &unused], None, opts.allow_unused(true)).unwrap();
    assert_eq!(v64(gs[0].as_ref().unwrap()), vec![2.0, 4.0]);
    assert!(gs[1].is_none());
    // An input that does not require grad is rejected up front.
    let c = plain(&[1.0], &[1]);
    let msg = autograd_msg(grad(&[&y], &[&c], None, opts).unwrap_err());
    assert!(msg.contains("input 0"), "{msg}");
}

#[test]
fn grad_outputs_weight_several_outputs() {
    let x = vals(&[1.0, 2.0], &[2]);
    let a = x.mul_scalar(3.0).unwrap(); // da/dx = 3
    let b = x.mul(&x).unwrap(); // db/dx = 2x
    let va = plain(&[1.0, -1.0], &[2]);
    let vb = plain(&[0.5, 2.0], &[2]);
    let gs = grad(&[&a, &b], &[&x], Some(&[&va, &vb]), GradOptions::default()).unwrap();
    assert_eq!(v64(gs[0].as_ref().unwrap()), vec![3.0 + 1.0, -3.0 + 8.0]);
    // A non-scalar output needs grad_outputs; mis-shaped and mis-counted ones are errors.
    let c = x.exp().unwrap();
    let opts = GradOptions::default().retain_graph(true);
    assert!(matches!(
        grad(&[&c], &[&x], None, opts),
        Err(Error::Autograd(_))
    ));
    let bad = plain(&[1.0], &[1]);
    assert!(matches!(
        grad(&[&c], &[&x], Some(&[&bad]), opts),
        Err(Error::Autograd(_))
    ));
    assert!(matches!(
        grad(&[&c], &[&x], Some(&[&va, &vb]), opts),
        Err(Error::Autograd(_))
    ));
    assert!(matches!(
        grad(&[], &[&x], None, opts),
        Err(Error::Autograd(_))
    ));
}

#[test]
fn grad_only_runs_the_part_of_the_graph_leading_to_the_inputs() {
    let x = vals(&[1.0, 2.0], &[2]);
    let w = vals(&[0.5, 0.5], &[2]);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let side = w.exp().unwrap();
    side.register_hook(move |_| {
        c.fetch_add(1, Ordering::Relaxed);
        Ok(None)
    })
    .unwrap();
    let y = x.mul(&x).unwrap().add(&side).unwrap().sum_all().unwrap();
    let gs = grad(&[&y], &[&x], None, GradOptions::default()).unwrap();
    assert_eq!(v64(gs[0].as_ref().unwrap()), vec![2.0, 4.0]);
    assert_eq!(calls.load(Ordering::Relaxed), 0, "the w branch did not run");
    assert!(w.grad().is_none());
}

#[test]
fn hooks_replace_leaf_and_intermediate_gradients() {
    let x = vals(&[1.0, 2.0], &[2]);
    x.register_hook(|g| Ok(Some(g.mul_scalar(2.0)?))).unwrap();
    let y = x.mul_scalar(3.0).unwrap();
    y.register_hook(|g| Ok(Some(g.add_scalar(1.0)?))).unwrap();
    let z = y.mul(&y).unwrap().sum_all().unwrap();
    z.backward().unwrap();
    // dz/dy = 2y = [6, 12] → hook → [7, 13]; dz/dx = 3·that = [21, 39] → hook → [42, 78].
    assert_eq!(grad_of(&x), vec![42.0, 78.0]);
    // The hook on an intermediate also changes what grad() returns for it.
    let y2 = x.mul_scalar(3.0).unwrap();
    y2.register_hook(|g| Ok(Some(g.neg()?))).unwrap();
    let z2 = y2.sum_all().unwrap();
    let gs = grad(&[&z2], &[&y2], None, GradOptions::default()).unwrap();
    assert_eq!(v64(gs[0].as_ref().unwrap()), vec![-1.0, -1.0]);
}

#[test]
fn a_hook_sees_the_gradient_summed_over_paths_once_per_pass() {
    let x = vals(&[1.0, 2.0], &[2]);
    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let s = seen.clone();
    x.register_hook(move |g| {
        s.lock().push(g.to_vec::<f64>()?);
        Ok(None)
    })
    .unwrap();
    // x used on three paths: d/dx (x² + 3x) = 2x + 3.
    let y = x.mul(&x).unwrap().add(&x.mul_scalar(3.0).unwrap()).unwrap();
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(*seen.lock(), vec![vec![5.0, 7.0]]);
    assert_eq!(grad_of(&x), vec![5.0, 7.0]);
}

#[test]
fn removed_hooks_no_longer_run() {
    let x = vals(&[1.0], &[1]);
    let h = x.register_hook(|g| Ok(Some(g.mul_scalar(100.0)?))).unwrap();
    let y = x.mul_scalar(2.0).unwrap();
    let hy = y.register_hook(|g| Ok(Some(g.mul_scalar(10.0)?))).unwrap();
    assert!(h.remove() && hy.remove());
    assert!(!h.remove(), "a second remove reports the hook was gone");
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(grad_of(&x), vec![2.0]);
}

#[test]
fn hook_errors_and_bad_hooks_are_reported() {
    let c = plain(&[1.0], &[1]);
    assert!(matches!(
        c.register_hook(|_| Ok(None)),
        Err(Error::Autograd(_))
    ));
    let x = vals(&[1.0, 2.0], &[2]);
    x.register_hook(|_| Ok(Some(plain(&[1.0], &[1])))).unwrap();
    let msg = autograd_msg(x.sum_all().unwrap().backward().unwrap_err());
    assert!(msg.contains("hook"), "{msg}");
    let x = vals(&[1.0], &[1]);
    x.register_hook(|_| Err(Error::Autograd("from the hook".into())))
        .unwrap();
    let msg = autograd_msg(
        x.mul_scalar(2.0)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap_err(),
    );
    assert_eq!(msg, "from the hook");
}

#[test]
fn hooks_under_create_graph_are_differentiated_through() {
    let x = vals(&[1.5], &[1]);
    let y = x.mul(&x).unwrap(); // dy/dx = 2x
    y.register_hook(|g| Ok(Some(g.mul(&g.exp()?)?))).unwrap(); // g → g e^g
    let z = y.sum_all().unwrap();
    let opts = GradOptions::default().create_graph(true);
    let gx = grad(&[&z], &[&x], None, opts).unwrap()[0].clone().unwrap();
    // With a seed of ones the hook gives e, so dz/dx = 2x·e; the seed is a constant, so the
    // second derivative is 2e.
    let e = std::f64::consts::E;
    assert!((v64(&gx)[0] - 3.0 * e).abs() < 1e-12);
    let g2 = grad(
        &[&gx.sum_all().unwrap()],
        &[&x],
        None,
        GradOptions::default(),
    )
    .unwrap();
    assert!((v64(g2[0].as_ref().unwrap())[0] - 2.0 * e).abs() < 1e-12);
}

#[test]
fn detach_shares_storage_without_grad() {
    let x = vals(&[1.0, 2.0], &[2]);
    let y = x.mul_scalar(2.0).unwrap();
    let d = y.detach();
    assert!(d.same_storage(&y));
    assert!(!d.requires_grad() && d.is_leaf() && d.grad_fn().is_none());
    assert_eq!(v64(&d), vec![2.0, 4.0]);
    // A detached tensor can become a leaf of its own graph.
    let d = d.requires_grad_().unwrap();
    d.mul(&d).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(grad_of(&d), vec![4.0, 8.0]);
    assert!(x.grad().is_none());
}

#[test]
fn concurrent_passes_accumulate_into_a_shared_leaf_without_losing_updates() {
    let x = vals(&[1.0, 2.0], &[2]);
    std::thread::scope(|s| {
        for k in 0..4 {
            let x = &x;
            s.spawn(move || {
                for _ in 0..25 {
                    let y = x.mul(x).unwrap().sum_all().unwrap();
                    let opts = BackwardOptions::default().create_graph(k % 2 == 0);
                    y.backward_opts(None, opts).unwrap();
                }
            });
        }
    });
    // 100 passes of d/dx Σ x² = 2x.
    assert_eq!(grad_of(&x), vec![200.0, 400.0]);
}
