//! Shared by the WGPU integration tests: the adapter, or a skip notice when there is none —
//! unless `ST_REQUIRE_WGPU=1` (set in CI), which makes a missing adapter a failure.

use st_core::{DType, Device, Tensor};

/// WGPU device 0, opened and able to hold a tensor; `None` (after a notice) when unavailable.
pub fn wgpu_device() -> Option<Device> {
    match st_backend_wgpu::device(0).and_then(|d| Tensor::zeros([1], DType::F32, &d).map(|_| d)) {
        Ok(d) => Some(d),
        Err(e) => {
            let required = std::env::var("ST_REQUIRE_WGPU").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "ST_REQUIRE_WGPU=1 but the wgpu backend is unavailable: {e}"
            );
            eprintln!("skipping wgpu test: {e}");
            None
        }
    }
}
