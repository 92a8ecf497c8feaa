//! A dynamic plugin (`examples/plugins/fused-ops`, built as a cdylib) registers custom ops
//! through its declaration at load time; they run through the host's dispatcher with
//! autograd, go when the plugin unloads, and what they made outlives the library.

#![cfg(feature = "testing")]

use st_core::dispatch::{call_op, custom_ops};
use st_core::events::global_event_bus;
use st_core::plugin::{DynamicPluginLoader, PluginRegistry};
use st_core::testing::check_custom_op;
use st_core::{Attrs, DType, Device, Tensor};

mod plugins_support;

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_f64_vec().unwrap(), b.to_f64_vec().unwrap());
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn a_dynamic_plugin_adds_ops_that_go_when_it_unloads() {
    let lib = plugins_support::library("fused-ops");
    let dir = plugins_support::temp_dir("fused-ops");
    std::fs::copy(&lib, dir.join(lib.file_name().unwrap())).unwrap();
    let registry = PluginRegistry::with_event_bus(global_event_bus().clone());
    DynamicPluginLoader::new()
        .load_into(&dir, &registry)
        .unwrap();
    assert!(!custom_ops()
        .names()
        .iter()
        .any(|n| n.starts_with("fused::")));
    registry.initialize_all().unwrap();
    let names = custom_ops().names();
    assert!(names.contains(&"fused::bias_gelu".to_string()), "{names:?}");
    assert!(
        names.contains(&"fused::bias_gelu_grad".to_string()),
        "{names:?}"
    );
    assert_eq!(
        custom_ops().owner("fused::bias_gelu"),
        Some((Some("fused_ops".to_string()), true))
    );

    let dev = Device::cpu();
    let x = Tensor::randn([8, 5], DType::F64, &dev)
        .unwrap()
        .requires_grad_()
        .unwrap();
    let b = Tensor::randn([5], DType::F64, &dev)
        .unwrap()
        .requires_grad_()
        .unwrap();
    let y = call_op("fused::bias_gelu", &[&x, &b], &Attrs::new()).unwrap();
    let want = x.add(&b).unwrap().gelu().unwrap();
    assert!(max_diff(&y, &want) < 1e-12);
    // The gradient through the plugin's backward op equals the composite's.
    y.sum_all().unwrap().backward().unwrap();
    let (gx, gb) = (x.grad().unwrap(), b.grad().unwrap());
    x.zero_grad();
    b.zero_grad();
    want.sum_all().unwrap().backward().unwrap();
    assert!(max_diff(&gx, &x.grad().unwrap()) < 1e-10);
    assert!(max_diff(&gb, &b.grad().unwrap()) < 1e-10);
    assert_eq!(gb.dims(), &[5]);

    // Its samples and reference are the plugin's code: the runner refuses them.
    let e = check_custom_op("fused::bias_gelu", "cpu").unwrap_err();
    assert!(format!("{e:?}").contains("dynamic plugin"), "{e:?}");

    // A graph recorded before the unload keeps the library mapped until it is used.
    x.zero_grad();
    let pending = call_op("fused::bias_gelu", &[&x, &b], &Attrs::new()).unwrap();
    registry.unload("fused_ops").unwrap();
    assert!(!custom_ops()
        .names()
        .iter()
        .any(|n| n.starts_with("fused::")));
    assert!(call_op("fused::bias_gelu", &[&x, &b], &Attrs::new()).is_err());
    // Outputs live in host memory: still readable.
    assert!(max_diff(&y, &want) < 1e-12);
    // The backward op is looked up by name at backward time, and it is gone now.
    let e = pending.sum_all().unwrap().backward().unwrap_err();
    assert!(e.to_string().contains("fused::bias_gelu_grad"), "{e}");
}
