//! The crate's kernels, backend and plugin are visible through st-core's link-time registries
//! (the inventory linker pitfall: a crate nobody references is dropped by the linker).

use st_backend_wgpu as _;
use st_core::dispatch::registry;
use st_core::op::OpKind;
use st_core::{BackendId, DType, OpId};

#[test]
fn wgpu_kernels_are_registered() {
    let reg = registry().expect("registry builds");
    let be = BackendId::from_name("wgpu").expect("wgpu backend registered");
    let mut missing = Vec::new();
    for &op in OpId::ALL {
        if op.def().kind == OpKind::Kernel && reg.get(op, be, DType::F32).is_none() {
            missing.push(op.name());
        }
    }
    assert!(
        reg.get(OpId::Matmul, be, DType::F32).is_some()
            && reg.get(OpId::Copy, be, DType::F32).is_some(),
        "core wgpu kernels are not linked"
    );
    assert!(
        missing.is_empty(),
        "kernel ops without an f32 wgpu kernel: {missing:?}"
    );
}

#[test]
fn wgpu_plugin_is_linked() {
    let ids: Vec<String> = st_core::plugin::linked_plugins()
        .map(|f| f.create().metadata().id.to_string())
        .collect();
    assert!(
        ids.iter().any(|i| i == "wgpu_backend"),
        "linked plugins: {ids:?}"
    );
}
