//! Dynamic plugins: builds the example `op-counter` cdylib with cargo (same target directory and
//! profile as this test), loads it from a temporary `plugins/` directory, runs ops and checks the
//! counts; plus the declaration checks that refuse mismatched libraries.

use st_core::events::{global_event_bus, PluginEvent};
use st_core::plugin::{
    check_declaration, layout_fingerprint, std_fingerprint, DynamicPluginLoader, FfiStr,
    PluginDeclaration, PluginRegistry, PluginState, CORE_VERSION, MAX_DECLARATION_STR,
    PLUGIN_ABI_VERSION, PLUGIN_DECLARATION_MAGIC, RUSTC_VERSION,
};
use st_core::{Device, Tensor};
use std::collections::BTreeMap;
use std::ffi::c_void;
use std::path::{Path, PathBuf};

mod plugins_support;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

type OpCounts = Arc<Mutex<BTreeMap<String, u64>>>;

/// Builds op-counter (with the other plugin fixtures) and returns its shared library.
fn build_op_counter() -> PathBuf {
    plugins_support::library("op-counter")
}

fn counts_of(counts: &OpCounts, op: &str) -> u64 {
    counts.lock().unwrap().get(op).copied().unwrap_or(0)
}

#[test]
fn op_counter_library_counts_ops_and_contains_its_panics() {
    let lib = build_op_counter();
    let dir = std::env::temp_dir().join(format!("st-plugins-{}", std::process::id()));
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(&lib, plugins.join(lib.file_name().unwrap())).unwrap();
    let bogus = plugins.join(format!("bogus{}", std::env::consts::DLL_SUFFIX));
    std::fs::write(&bogus, b"not a shared library").unwrap();

    let registry = PluginRegistry::with_event_bus(global_event_bus().clone());
    let err = DynamicPluginLoader::new()
        .load_into(&plugins, &registry)
        .unwrap_err()
        .to_string();
    // Refused by the ELF check where the host uses ELF, by the platform loader elsewhere.
    assert!(
        err.contains("bogus")
            && (err.contains("not an ELF") || err.contains("cannot open library")),
        "{err}"
    );
    let info = registry
        .get("op_counter")
        .expect("op_counter registered despite bogus file");
    assert!(info.library.is_some());
    assert!(!global_event_bus().has_tensor_op_listeners());
    registry.initialize_all().unwrap();
    assert!(registry.is_loaded("op_counter"));
    assert!(global_event_bus().has_tensor_op_listeners());

    let counts: OpCounts = registry
        .context()
        .get_service("op_counts")
        .expect("op_counts service");
    let d = Device::cpu();
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3], &d).unwrap();
    let b = Tensor::from_vec(vec![4.0f32, 5.0, 6.0], [3], &d).unwrap();
    let mut c = a.add(&b).unwrap();
    for _ in 0..4 {
        c = c.add(&a).unwrap();
    }
    let m = c.mul(&b).unwrap().mul(&b).unwrap();
    assert_eq!(m.to_vec::<f32>().unwrap()[0], (1.0 + 4.0 + 4.0) * 16.0);
    assert_eq!(counts_of(&counts, "add"), 5);
    assert_eq!(counts_of(&counts, "mul"), 2);

    // A panic inside the library's on_event stays in the library and fails only the plugin.
    global_event_bus().publish(&PluginEvent::custom("op_counter.panic", ()));
    match registry.state("op_counter") {
        Some(PluginState::Failed(m)) => assert!(m.contains("asked to panic"), "{m}"),
        other => panic!("expected failure, got {other:?}"),
    }
    assert!(!global_event_bus().has_tensor_op_listeners());
    a.add(&b).unwrap();
    assert_eq!(counts_of(&counts, "add"), 5);

    drop(counts);
    registry.unload("op_counter").unwrap();
    assert!(!registry.context().has_service("op_counts"));
    assert!(registry.list().is_empty());
    // The host still computes after the library is gone.
    assert_eq!(
        a.add(&b).unwrap().to_vec::<f32>().unwrap(),
        vec![5.0, 7.0, 9.0]
    );
    std::fs::remove_dir_all(&dir).ok();
}

static CREATED: AtomicBool = AtomicBool::new(false);

extern "C" fn create_never() -> *mut c_void {
    CREATED.store(true, Ordering::SeqCst);
    std::ptr::null_mut()
}

extern "C" fn other_fingerprint() -> u64 {
    std_fingerprint() ^ 1
}

extern "C" fn other_layout() -> u64 {
    layout_fingerprint().wrapping_add(1)
}

#[test]
fn mismatched_declarations_are_refused_before_the_plugin_is_built() {
    let path = Path::new("libmismatch.so");
    let good = PluginDeclaration::new("mismatch", create_never);
    assert_eq!(check_declaration(&good, path).unwrap(), "mismatch");
    assert_eq!(good.abi_version, PLUGIN_ABI_VERSION);

    let bad_abi = PluginDeclaration {
        abi_version: PLUGIN_ABI_VERSION + 1,
        ..good
    };
    let e = check_declaration(&bad_abi, path).unwrap_err().to_string();
    assert!(
        e.contains("libmismatch.so") && e.contains("ABI version"),
        "{e}"
    );

    let bad_core = PluginDeclaration {
        core_version: FfiStr::new("0.0.1-other"),
        ..good
    };
    let e = check_declaration(&bad_core, path).unwrap_err().to_string();
    assert!(e.contains("0.0.1-other") && e.contains(CORE_VERSION), "{e}");

    let bad_std = PluginDeclaration {
        std_fingerprint: Some(other_fingerprint),
        ..good
    };
    let e = check_declaration(&bad_std, path).unwrap_err().to_string();
    assert!(
        e.contains("different Rust compiler") && e.contains(RUSTC_VERSION),
        "{e}"
    );

    let bad_layout = PluginDeclaration {
        layout_fingerprint: Some(other_layout),
        ..good
    };
    let e = check_declaration(&bad_layout, path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("layouts differ"), "{e}");

    let no_id = PluginDeclaration {
        plugin_id: FfiStr::new(""),
        ..good
    };
    assert!(check_declaration(&no_id, path).is_err());

    // ABI version 2: magic, declared size, null functions and over-long strings are refused.
    let bad_magic = PluginDeclaration {
        magic: PLUGIN_DECLARATION_MAGIC ^ 1,
        ..good
    };
    let e = check_declaration(&bad_magic, path).unwrap_err().to_string();
    assert!(e.contains("magic"), "{e}");
    let bad_size = PluginDeclaration {
        size: good.size - 8,
        ..good
    };
    let e = check_declaration(&bad_size, path).unwrap_err().to_string();
    assert!(e.contains("bytes"), "{e}");
    for null in [
        PluginDeclaration {
            std_fingerprint: None,
            ..good
        },
        PluginDeclaration {
            layout_fingerprint: None,
            ..good
        },
        PluginDeclaration {
            create: None,
            ..good
        },
    ] {
        let e = check_declaration(&null, path).unwrap_err().to_string();
        assert!(e.contains("null function"), "{e}");
    }
    static LONG: &str = concat!(
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "!"
    );
    assert!(LONG.len() > MAX_DECLARATION_STR);
    let long_id = PluginDeclaration {
        plugin_id: FfiStr::new(LONG),
        ..good
    };
    let e = check_declaration(&long_id, path).unwrap_err().to_string();
    assert!(e.contains("no readable id"), "{e}");
    assert!(FfiStr::new(LONG).as_str().is_none());
    assert!(!CREATED.load(Ordering::SeqCst));
}

#[test]
fn missing_plugin_directory_is_an_io_error() {
    let r = PluginRegistry::new();
    let e = DynamicPluginLoader::new().load_into(Path::new("/nonexistent/st/plugins"), &r);
    assert!(e.unwrap_err().to_string().contains("plugin directory"));
}
