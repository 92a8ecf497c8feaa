//! [`conformance_suite!`](crate::conformance_suite), which expands the op list
//! ([`__st_ops!`](crate::__st_ops), the same list [`OpId`](crate::OpId) is generated from)
//! into one `#[test]` per (op, dtype) plus error, gradient and coverage tests for a backend.
//! `specs_match_op_list` (below) checks every [`spec`](super::spec) against the list's
//! [`OpDef`](crate::op::OpDef).

/// Expands table rows into flat test functions `<op>_<dtype>_<backend>` (`exp_f32_cpu`),
/// `<op>_errors_<backend>` and `<op>_grad_<backend>`.
#[doc(hidden)]
#[macro_export]
macro_rules! __st_conformance_cases {
    ($be:ident $name:literal $gaps:expr; $($op:ident $opname:literal $m:ident $kind:ident $arity:literal
     $fam:literal $bc:literal [$($dt:ident)*] $($flag:ident)*;)*) => {
        $crate::paste::paste! {$($(
            #[test]
            fn [<$m _ $dt _ $be>]() -> ::std::result::Result<(), $crate::testing::Failure> {
                $crate::testing::run_forward($crate::OpId::$op, stringify!($dt), $name, $gaps)
            }
        )* $(
            #[test]
            fn [<$m _ $flag _ $be>]() -> ::std::result::Result<(), $crate::testing::Failure> {
                $crate::testing::run_flag($crate::OpId::$op, stringify!($flag), $name)
            }
        )*)*}
    };
}

/// Instantiates the conformance suite for a backend: `conformance_suite!(cpu, "cpu")` in the
/// backend's `tests/conformance.rs` gives one test per (op, dtype) named
/// `<op>_<dtype>_<backend>` (`exp_f32_cpu`), plus `<op>_errors_<backend>` (error inputs
/// return their variant), `<op>_grad_<backend>` (gradient checks) and `op_coverage_<backend>`
/// (every registered kernel of the backend has a spec, and the gap table is well-formed).
/// A backend without every kernel passes its own table of
/// [`KnownGap`](crate::testing::KnownGap)s, kept in its own crate:
/// `conformance_suite!(wgpu, "wgpu", GAPS)`. Run one test with
/// `cargo test -p st-core --features testing --test conformance -- --exact exp_f32_cpu`.
/// Needs st-core's `testing` feature.
#[macro_export]
macro_rules! conformance_suite {
    ($backend:ident, $name:literal) => {
        $crate::conformance_suite!($backend, $name, &[]);
    };
    ($backend:ident, $name:literal, $gaps:expr) => {
        $crate::__st_ops!([$crate::__st_conformance_cases] [$backend $name $gaps;]);
        $crate::paste::paste! {
            /// Every kernel the backend registers is covered by a spec dtype.
            #[test]
            fn [<op_coverage_ $backend>]() -> ::std::result::Result<(), $crate::testing::Failure> {
                $crate::testing::run_coverage($name, $gaps)
            }

            /// Output-buffer forms (and the copy fallback) agree with the out-of-place ops.
            #[test]
            fn [<into_forms_ $backend>]() -> ::std::result::Result<(), $crate::testing::Failure> {
                $crate::testing::run_into_forms($name)
            }

            /// Fused overrides registered for composites agree with the composites.
            #[test]
            fn [<fused_overrides_ $backend>]() -> ::std::result::Result<(), $crate::testing::Failure> {
                $crate::testing::run_fused_agreement($name).map(|_| ())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::OpId;

    #[test]
    fn specs_match_op_list() {
        for &op in OpId::ALL {
            let spec = super::super::spec(op);
            assert_eq!(spec.op, op);
            assert_eq!(spec.grad, op.def().differentiable, "{op}: spec grad");
            let errs = (spec.errors)(op).unwrap();
            assert_eq!(
                op.def().has_error_cases,
                !errs.is_empty(),
                "{op}: errors flag"
            );
            if spec.grad {
                assert!(
                    !(spec.grads)(op).unwrap().is_empty(),
                    "{op}: no gradient cases"
                );
            }
            for &dt in spec.dtypes {
                assert!(
                    !(spec.samples)(op, dt).unwrap().is_empty(),
                    "{op} {dt}: no samples"
                );
            }
        }
    }
}
