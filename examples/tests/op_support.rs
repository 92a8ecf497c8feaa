//! `docs/op-support.md` must match the registry of a binary that links every backend. Regenerate
//! it with `ST_BLESS=1 cargo test -p st-examples --test op_support`.
//!
//! Kernels and backends are link-time registrations, so generating the table opens no device:
//! these tests pass on a machine without a GPU or Vulkan driver.

use st_backend_wgpu as _;
use st_core::dispatch::registry;
use st_core::{BackendId, OpId};
use std::path::PathBuf;

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/op-support.md")
}

fn markdown() -> String {
    registry()
        .expect("the kernel registry builds")
        .op_support_markdown()
}

#[test]
fn op_support_doc_is_current() {
    let fresh = markdown();
    let path = doc_path();
    if std::env::var("ST_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, &fresh).expect("write docs/op-support.md");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == fresh,
        "{} is stale (or missing): run `ST_BLESS=1 cargo test -p st-examples --test op_support` \
         and commit the result",
        path.display()
    );
}

#[test]
fn op_support_doc_lists_every_op() {
    let md = markdown();
    for op in OpId::ALL {
        let row = format!("| `{}` |", op.name());
        assert!(
            md.contains(&row),
            "op {op} has no row in the op-support table"
        );
    }
}

#[test]
fn op_support_doc_has_a_column_per_backend_in_id_order() {
    let names: Vec<&str> = BackendId::all().iter().map(|b| b.name()).collect();
    assert!(
        names.starts_with(&["cpu"]) && names.contains(&"wgpu"),
        "every backend crate should be linked here: {names:?}"
    );
    let header = format!("| op | family | {} |\n", names.join(" | "));
    assert!(
        markdown().contains(&header),
        "the table header should be {header:?}"
    );
}

#[test]
fn registry_has_no_dangling_registrations() {
    let reg = registry().expect("the kernel registry builds");
    assert!(
        reg.dangling().is_empty(),
        "dangling registrations: {:?}",
        reg.dangling()
    );
}
