//! An optimizer-style update loop written with in-place ops allocates nothing once warm
//! (issue 10): counted by a global allocator that wraps the system one.

use st_core::{no_grad, DType, Device, Tensor};
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

/// Ten parameters of `n` elements, their gradients and scratch buffers; `step` runs
/// `u = g; u *= lr; p -= u` on each, under no_grad, and returns how many heap allocations
/// `steps` steps made once warm.
fn count_sgd_allocations(n: usize, steps: usize, run: &dyn Fn(&(dyn Fn() + Sync))) -> usize {
    let cpu = Device::cpu();
    let params: Vec<Tensor> = (0..10)
        .map(|i| {
            Tensor::full([n], 1.0 + i as f64, DType::F32, &cpu)
                .unwrap()
                .requires_grad_()
                .unwrap()
        })
        .collect();
    let grads: Vec<Tensor> = (0..10)
        .map(|i| Tensor::full([n], 0.5 * i as f64, DType::F32, &cpu).unwrap())
        .collect();
    let scratch: Vec<Tensor> = (0..10)
        .map(|_| Tensor::zeros([n], DType::F32, &cpu).unwrap())
        .collect();
    let lr = Tensor::scalar(0.01, DType::F32, &cpu).unwrap();
    let step = || {
        let _g = no_grad();
        for ((p, g), u) in params.iter().zip(&grads).zip(&scratch) {
            u.copy_(g).unwrap();
            u.mul_(&lr).unwrap();
            p.sub_(u).unwrap();
        }
    };
    let mut allocs = 0;
    run(&|| {
        for _ in 0..10 {
            step(); // warm: rayon's pool, thread-locals, the registry
        }
        ALLOCS.store(0, Ordering::Relaxed);
        COUNTING.store(true, Ordering::Relaxed);
        for _ in 0..steps {
            step();
        }
        COUNTING.store(false, Ordering::Relaxed);
    });
    allocs += ALLOCS.load(Ordering::Relaxed);
    // The updates really happened: p_i = (1 + i) - (10 + steps) * 0.01 * 0.5 i.
    for (i, p) in params.iter().enumerate() {
        let v = p.to_vec::<f32>().unwrap();
        let want = (1.0 + i as f64) - (10 + steps) as f64 * 0.01 * 0.5 * i as f64;
        assert!(
            (v[0] as f64 - want).abs() < 1e-3 * want.abs().max(1.0),
            "{i}: {} vs {want}",
            v[0]
        );
        assert!(v.iter().all(|&x| x == v[0]));
        assert_eq!(p.version(), 10 + steps as u64);
    }
    allocs
}

/// Parameters below the parallel threshold, updated from the test's own thread.
#[test]
fn inplace_sgd_loop_allocates_nothing_per_step() {
    let allocs = count_sgd_allocations(4096, 1000, &|f| f());
    assert_eq!(allocs, 0, "{allocs} heap allocations in 1000 steps");
}

/// 10 × 100k parameters: every kernel splits across rayon's threads. Run from a rayon worker,
/// the split allocates nothing. (Injected from a thread outside the pool, rayon's global
/// queue allocates one block per 63 injected jobs — about one allocation per 63 large ops,
/// in rayon, not in SpiralTorch.)
#[test]
fn parallel_inplace_sgd_loop_allocates_nothing_in_the_pool() {
    let allocs = count_sgd_allocations(100_000, 1000, &|f| rayon::scope(|_| f()));
    assert_eq!(allocs, 0, "{allocs} heap allocations in 1000 steps");
}
