//! 10,000 CPU training steps (forward, cross entropy, backward, SGD with momentum) do not
//! grow the process's resident memory.

use st_core::{manual_seed, DType, Device, Tensor};
use st_nn::layers::{Linear, Relu};
use st_nn::loss::CrossEntropyLoss;
use st_nn::optim::{Optimizer, Sgd, SgdConfig};
use st_nn::{Module, Sequential};

/// Resident set size in bytes, from `/proc/self/statm`.
#[cfg(target_os = "linux")]
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("statm's second field");
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * usize::try_from(page).unwrap_or(4096)
}

#[cfg(target_os = "linux")]
#[test]
fn ten_thousand_training_steps_keep_rss_flat() {
    let cpu = Device::cpu();
    manual_seed(5);
    let model = Sequential::new()
        .push(Linear::new(16, 32).unwrap())
        .push(Relu)
        .push(Linear::new(32, 4).unwrap());
    let x = Tensor::randn([64, 16], DType::F32, &cpu).unwrap();
    let y = Tensor::randint(0, 4, [64], DType::I64, &cpu).unwrap();
    let cfg = SgdConfig {
        lr: 0.01,
        momentum: 0.9,
        ..Default::default()
    };
    let mut opt = Sgd::new(model.parameters(), cfg).unwrap();
    let ce = CrossEntropyLoss::default();
    let mut step = || {
        opt.zero_grad();
        let loss = ce.forward(&model.forward(&x).unwrap(), &y).unwrap();
        loss.backward().unwrap();
        opt.step().unwrap();
        loss.to_f64_vec().unwrap()[0]
    };
    let first = step();
    for _ in 0..999 {
        step();
    }
    let warm = rss_bytes();
    let mut last = 0.0;
    for _ in 0..10_000 {
        last = step();
    }
    let after = rss_bytes();
    // A leak of one 64×32 f32 activation per step would be 80 MB here.
    let grown = after.saturating_sub(warm);
    assert!(
        grown < 4 << 20,
        "RSS grew by {grown} bytes over 10,000 steps ({warm} -> {after})"
    );
    assert!(last < first, "loss {first} -> {last}");
}
