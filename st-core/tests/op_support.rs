//! `docs/op-support.md` must match the registry: regenerate it with
//! `ST_BLESS=1 cargo test -p st-core --test op_support`.

use st_core::dispatch::registry;
use st_core::OpId;
use std::path::PathBuf;

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/op-support.md")
}

#[test]
fn op_support_doc_is_current() {
    let reg = registry().expect("the kernel registry builds");
    let fresh = reg.op_support_markdown();
    let path = doc_path();
    if std::env::var("ST_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().expect("docs/ has a parent")).expect("create docs/");
        std::fs::write(&path, &fresh).expect("write docs/op-support.md");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == fresh,
        "{} is stale (or missing): run `ST_BLESS=1 cargo test -p st-core --test op_support` and \
         commit the result",
        path.display()
    );
}

#[test]
fn op_support_doc_lists_every_op() {
    let md = registry()
        .expect("the kernel registry builds")
        .op_support_markdown();
    for op in OpId::ALL {
        let row = format!("| `{}` |", op.name());
        assert!(
            md.contains(&row),
            "op {op} has no row in the op-support table"
        );
    }
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
