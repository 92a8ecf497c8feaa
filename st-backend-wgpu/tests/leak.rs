//! 1000 training-like steps on WGPU (matmul, relu, sum, backward, update) keep the buffer
//! pool's live bytes flat, and the trained weights match the same loop on the CPU.
//!
//! Without an adapter the test prints a skip notice, unless `ST_REQUIRE_WGPU=1`, which makes a
//! missing adapter a failure (CI runs it that way on Mesa lavapipe).

mod common;

use common::wgpu_device;
use st_backend_wgpu as _;
use st_core::{DType, Device, Result, Tensor};

/// One step: loss = sum(relu(x @ w) * c); w -= lr * dloss/dw. Returns the new weights.
fn step(x: &Tensor, c: &Tensor, w: &Tensor, lr: f64) -> Result<Tensor> {
    let w = w.detach().requires_grad_()?;
    let loss = x.matmul(&w)?.relu()?.mul(c)?.sum_all()?;
    loss.backward()?;
    let g = w
        .grad()
        .ok_or_else(|| st_core::Error::Autograd("no gradient".into()))?;
    Ok(w.detach().sub(&g.mul_scalar(lr)?)?.detach())
}

#[test]
fn training_loop_keeps_pool_flat_and_matches_cpu() -> Result<()> {
    let Some(dev) = wgpu_device() else {
        return Ok(());
    };
    let cpu = Device::cpu();
    let (n, k, m) = (8usize, 16usize, 12usize);
    let xs: Vec<f64> = (0..n * k)
        .map(|i| ((i * 37 % 23) as f64 - 11.0) / 10.0)
        .collect();
    let cs: Vec<f64> = (0..n * m)
        .map(|i| ((i * 13 % 7) as f64 - 2.5) / 5.0)
        .collect();
    let ws: Vec<f64> = (0..k * m)
        .map(|i| ((i * 29 % 17) as f64 - 8.0) / 20.0)
        .collect();
    let x_c = Tensor::from_f64_slice(&xs, [n, k], DType::F32, &cpu)?;
    let c_c = Tensor::from_f64_slice(&cs, [n, m], DType::F32, &cpu)?;
    let mut w_c = Tensor::from_f64_slice(&ws, [k, m], DType::F32, &cpu)?;
    let (x_g, c_g) = (x_c.to(&dev)?, c_c.to(&dev)?);
    let mut w_g = w_c.to(&dev)?;
    let lr = 1e-3;
    let mut live_after_warmup = 0;
    for i in 0..1000 {
        w_g = step(&x_g, &c_g, &w_g, lr)?;
        w_c = step(&x_c, &c_c, &w_c, lr)?;
        if i == 9 {
            dev.sync()?;
            live_after_warmup = st_backend_wgpu::pool_stats()?.live_bytes;
        }
    }
    dev.sync()?;
    let stats = st_backend_wgpu::pool_stats()?;
    assert_eq!(
        stats.live_bytes, live_after_warmup,
        "live bytes grew from {live_after_warmup} to {} ({stats:?})",
        stats.live_bytes
    );
    assert!(
        stats.hits > 1000,
        "the pool should serve the loop from its free lists: {stats:?}"
    );
    let (got, want) = (w_g.to_f64_vec()?, w_c.to_f64_vec()?);
    let init = ws;
    let mut moved = 0.0f64;
    for ((g, w), w0) in got.iter().zip(&want).zip(&init) {
        assert!(
            (g - w).abs() <= 1e-4 + 1e-3 * w.abs(),
            "weights differ: wgpu {g} vs cpu {w}"
        );
        moved = moved.max((w - w0).abs());
    }
    assert!(
        moved > 1e-3,
        "training did not change the weights (max change {moved})"
    );
    Ok(())
}
