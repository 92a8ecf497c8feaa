//! The op-support table as st-core alone generates it: a row for every op and a column for
//! every linked backend (here only the CPU). The staleness check of `docs/op-support.md` lives
//! in `examples/tests/op_support.rs`, which links every backend.

use st_core::dispatch::registry;
use st_core::storage::backend_names;
use st_core::OpId;

#[test]
fn op_support_lists_every_op() {
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
fn op_support_has_one_column_per_linked_backend() {
    let md = registry()
        .expect("the kernel registry builds")
        .op_support_markdown();
    assert_eq!(
        backend_names(),
        ["cpu"],
        "st-core's tests link only the CPU backend"
    );
    assert!(
        md.contains("| op | family | cpu |\n"),
        "header should have exactly the cpu column:\n{md}"
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
