//! The op × dtype table and [`conformance_suite!`](crate::conformance_suite), which expands it
//! into one `#[test]` per (op, dtype) plus error, gradient and coverage tests for a backend.
//!
//! Row format: `OpId name [dtypes] flags;` — `name` is the test-name prefix (`exp`),
//! `dtypes` the dtypes the op is defined on, `errors` that the op has error inputs, `grad`
//! that it is differentiable. `table_rows_match_specs` (below) checks each row against
//! [`spec`](super::spec) and [`OpDef`](crate::op::OpDef).

/// Calls `$cb! { $pre... rows... }` with every row of the op table.
#[doc(hidden)]
#[macro_export]
macro_rules! __st_op_table {
    ([$($cb:tt)*] [$($pre:tt)*]) => { $($cb)*! { $($pre)*
        Neg neg [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Abs abs [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Exp exp [f32 f64 f16 bf16] errors grad;
        Log log [f32 f64 f16 bf16] errors grad;
        Sqrt sqrt [f32 f64 f16 bf16] errors grad;
        Rsqrt rsqrt [f32 f64 f16 bf16] errors grad;
        Sin sin [f32 f64 f16 bf16] errors grad;
        Cos cos [f32 f64 f16 bf16] errors grad;
        Tanh tanh [f32 f64 f16 bf16] errors grad;
        Sigmoid sigmoid [f32 f64 f16 bf16] errors grad;
        Relu relu [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Gelu gelu [f32 f64 f16 bf16] errors grad;
        GeluTanh gelu_tanh [f32 f64 f16 bf16] errors grad;
        Silu silu [f32 f64 f16 bf16] errors grad;
        Erf erf [f32 f64 f16 bf16] errors grad;
        Floor floor [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Ceil ceil [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Round round [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Sign sign [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Reciprocal reciprocal [f32 f64 f16 bf16] errors grad;
        Clamp clamp [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        LogicalNot logical_not [f32 f64 f16 bf16 i32 i64 u8 bool];
        Add add [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Sub sub [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Mul mul [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Div div [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Pow pow [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Maximum maximum [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Minimum minimum [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Eq eq [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        Ne ne [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        Lt lt [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        Le le [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        Gt gt [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        Ge ge [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        LogicalAnd logical_and [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        LogicalOr logical_or [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        Where where_cond [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        MaskedFill masked_fill [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Sum sum [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Prod prod [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Max max [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Min min [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        ArgMax argmax [f32 f64 f16 bf16 i32 i64 u8] errors;
        ArgMin argmin [f32 f64 f16 bf16 i32 i64 u8] errors;
        Mean mean [f32 f64 f16 bf16] errors grad;
        Var var [f32 f64 f16 bf16] errors grad;
        Std std [f32 f64 f16 bf16] errors grad;
        LogSumExp logsumexp [f32 f64 f16 bf16] errors grad;
        Matmul matmul [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Softmax softmax [f32 f64 f16 bf16] errors grad;
        LogSoftmax log_softmax [f32 f64 f16 bf16] errors grad;
        CrossEntropy cross_entropy [f32 f64 f16 bf16] errors grad;
        Cat cat [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Stack stack [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Split split [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Chunk chunk [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        IndexSelect index_select [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Gather gather [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        ScatterAdd scatter_add [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Embedding embedding [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Conv2d conv2d [f32 f64 f16 bf16] errors grad;
        Im2Col im2col [f32 f64 f16 bf16] errors grad;
        Col2Im col2im [f32 f64 f16 bf16] errors grad;
        MaxPool2d max_pool2d [f32 f64 f16 bf16] errors grad;
        AvgPool2d avg_pool2d [f32 f64 f16 bf16] errors grad;
        Cast cast [f32 f64 f16 bf16 i32 i64 u8 bool] grad;
        Copy copy [f32 f64 f16 bf16 i32 i64 u8 bool] grad;
        Fill fill [f32 f64 f16 bf16 i32 i64 u8 bool];
        Reshape reshape [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Permute permute [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Slice slice [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Expand expand [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
    } };
}

/// Expands table rows into flat test functions `<op>_<dtype>_<backend>` (`exp_f32_cpu`),
/// `<op>_errors_<backend>` and `<op>_grad_<backend>`.
#[doc(hidden)]
#[macro_export]
macro_rules! __st_conformance_cases {
    ($be:ident $name:literal $gaps:expr; $($op:ident $m:ident [$($dt:ident)*] $($flag:ident)*;)*) => {
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
        $crate::__st_op_table!([$crate::__st_conformance_cases] [$backend $name $gaps;]);
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

macro_rules! table_fns {
    ($($op:ident $m:ident [$($dt:ident)*] $($flag:ident)*;)*) => {
        /// Dtypes of `op` in the suite table (exhaustive: a new op must get a row).
        pub(crate) fn table_dtypes(op: crate::OpId) -> &'static [crate::DType] {
            match op { $(crate::OpId::$op => &[$(dt!($dt)),*],)* }
        }

        /// Flags (`errors`, `grad`) of `op` in the suite table.
        #[cfg(test)]
        pub(crate) fn table_flags(op: crate::OpId) -> &'static [&'static str] {
            match op { $(crate::OpId::$op => &[$(stringify!($flag)),*],)* }
        }
    };
}

macro_rules! dt {
    (f32) => {
        crate::DType::F32
    };
    (f64) => {
        crate::DType::F64
    };
    (f16) => {
        crate::DType::F16
    };
    (bf16) => {
        crate::DType::BF16
    };
    (i32) => {
        crate::DType::I32
    };
    (i64) => {
        crate::DType::I64
    };
    (u8) => {
        crate::DType::U8
    };
    (bool) => {
        crate::DType::Bool
    };
}

crate::__st_op_table!([table_fns] []);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OpId;

    #[test]
    fn table_rows_match_specs() {
        for &op in OpId::ALL {
            let spec = super::super::spec(op);
            assert_eq!(spec.op, op);
            assert_eq!(
                spec.dtypes,
                table_dtypes(op),
                "{op}: dtypes differ from the table"
            );
            let flags = table_flags(op);
            assert_eq!(
                flags.contains(&"grad"),
                op.def().differentiable,
                "{op}: grad flag"
            );
            assert_eq!(spec.grad, op.def().differentiable, "{op}: spec grad");
            let errs = (spec.errors)(op).unwrap();
            assert_eq!(
                flags.contains(&"errors"),
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
