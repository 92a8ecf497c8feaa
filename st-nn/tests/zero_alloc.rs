//! Optimizer steps allocate nothing once warm (issue 11): a global allocator counts every
//! allocation during 1,000 steps of each optimizer over ten parameters.

use st_core::{DType, Device, Tensor};
use st_nn::optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, Optimizer, RmsProp, RmsPropConfig, Sgd,
    SgdConfig,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator unchanged; the counter is a side
// effect that does not touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's layout, as the caller's contract requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (every allocation does).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged; `ptr` and `layout` are the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Ten f32 parameters of `n` elements with gradients from one backward pass
/// (`loss = Σ_i Σ p_i · c_i`, so `grad p_i = c_i`), kept for every step.
fn params(n: usize) -> Vec<Tensor> {
    let cpu = Device::cpu();
    let ps: Vec<Tensor> = (0..10)
        .map(|i| {
            Tensor::full([n], 0.5 + 0.1 * i as f64, DType::F32, &cpu)
                .unwrap()
                .requires_grad_()
                .unwrap()
        })
        .collect();
    let mut loss = Tensor::scalar(0.0, DType::F32, &cpu).unwrap();
    for (i, p) in ps.iter().enumerate() {
        let c = Tensor::full([n], 0.01 * (i as f64 + 1.0), DType::F32, &cpu).unwrap();
        loss = loss.add(&p.mul(&c).unwrap().sum_all().unwrap()).unwrap();
    }
    loss.backward().unwrap();
    ps
}

/// Allocations made by `steps` steps after ten warm-up steps, run inside `run`.
fn count(opt: &mut dyn Optimizer, steps: usize) -> usize {
    for _ in 0..10 {
        opt.step().unwrap();
    }
    ALLOCS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    for _ in 0..steps {
        opt.step().unwrap();
    }
    COUNTING.store(false, Ordering::Relaxed);
    ALLOCS.load(Ordering::Relaxed)
}

fn check(name: &str, opt: &mut dyn Optimizer, ps: &[Tensor]) {
    let before: Vec<f32> = ps[3].to_vec::<f32>().unwrap();
    let allocs = count(opt, 1000);
    assert_eq!(allocs, 0, "{name}: {allocs} heap allocations in 1000 steps");
    let after: Vec<f32> = ps[3].to_vec::<f32>().unwrap();
    assert!(
        after.iter().zip(&before).all(|(a, b)| a < b),
        "{name}: the steps did not move the parameters against the gradient"
    );
}

fn sgd_with_momentum_nesterov_and_weight_decay_allocates_nothing_per_step() {
    let ps = params(4096);
    let cfg = SgdConfig {
        lr: 1e-3,
        momentum: 0.9,
        weight_decay: 1e-4,
        nesterov: true,
        ..Default::default()
    };
    check("SGD", &mut Sgd::new(ps.clone(), cfg).unwrap(), &ps);
    let damp = SgdConfig {
        lr: 1e-3,
        momentum: 0.9,
        dampening: 0.1,
        ..Default::default()
    };
    let ps = params(4096);
    check(
        "SGD dampening",
        &mut Sgd::new(ps.clone(), damp).unwrap(),
        &ps,
    );
}

fn adam_amsgrad_and_adamw_allocate_nothing_per_step() {
    let ps = params(4096);
    let cfg = AdamConfig {
        weight_decay: 1e-2,
        amsgrad: true,
        ..Default::default()
    };
    check("Adam", &mut Adam::new(ps.clone(), cfg).unwrap(), &ps);
    let ps = params(4096);
    let cfg = AdamConfig {
        weight_decay: 1e-2,
        ..Default::default()
    };
    check("AdamW", &mut AdamW::new(ps.clone(), cfg).unwrap(), &ps);
}

fn rmsprop_and_adagrad_allocate_nothing_per_step() {
    let ps = params(4096);
    let cfg = RmsPropConfig {
        lr: 1e-4,
        centered: true,
        momentum: 0.5,
        weight_decay: 1e-4,
        ..Default::default()
    };
    check("RMSprop", &mut RmsProp::new(ps.clone(), cfg).unwrap(), &ps);
    let ps = params(4096);
    let cfg = AdagradConfig {
        lr_decay: 1e-3,
        weight_decay: 1e-4,
        ..Default::default()
    };
    check("Adagrad", &mut Adagrad::new(ps.clone(), cfg).unwrap(), &ps);
}

/// 10 × 100k parameters, above the CPU backend's parallel threshold, stepped from a rayon
/// worker (see st-core's `zero_alloc.rs` for why injection from outside the pool allocates).
fn large_parameters_stepped_in_the_pool_allocate_nothing() {
    let ps = params(100_000);
    let mut opt = Adam::new(ps.clone(), AdamConfig::default()).unwrap();
    let mut allocs = usize::MAX;
    rayon::scope(|_| allocs = count(&mut opt, 200));
    assert_eq!(allocs, 0, "{allocs} heap allocations in 200 steps");
}

/// One test runs every case in turn: the counter is process-wide, and the test harness's own
/// thread allocates whenever a parallel test finishes.
#[test]
fn optimizer_steps_allocate_nothing_once_warm() {
    sgd_with_momentum_nesterov_and_weight_decay_allocates_nothing_per_step();
    adam_amsgrad_and_adamw_allocate_nothing_per_step();
    rmsprop_and_adagrad_allocate_nothing_per_step();
    large_parameters_stepped_in_the_pool_allocate_nothing();
}
