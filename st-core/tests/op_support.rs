//! The op-support table as st-core alone generates it: one column per linked backend (here only
//! the CPU). The staleness check of `docs/op-support.md`, the row-per-op check and the dangling
//! check live in `examples/tests/op_support.rs`, which links every backend.

use st_core::backend::backend_names;
use st_core::dispatch::registry;

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
