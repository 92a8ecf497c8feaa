//! [`OpId`]: every operation SpiralTorch knows, with its static definition.

use crate::dtype::DType;

/// How an op is executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Runs a kernel looked up in the registry by (op, backend, dtype).
    Kernel,
    /// Metadata-only view of the input's storage; no kernel, works on every backend.
    View,
    /// Written once in terms of other ops (in the tensor layer); works on every backend that has
    /// the primitives it uses, and gets gradients through them.
    Composite,
}

/// Static facts about an op.
#[derive(Clone, Copy, Debug)]
pub struct OpDef {
    /// The op.
    pub id: OpId,
    /// Lowercase name used in errors, events, kernel symbols (`exp_f32`) and docs.
    pub name: &'static str,
    /// Kernel, view or composite.
    pub kind: OpKind,
    /// Number of tensor inputs (0 = variadic).
    pub arity: u8,
    /// Whether autograd has a backward rule for it.
    pub differentiable: bool,
    /// Kernel family (file name of the kernel in every backend: `unary.rs`, `unary.wgsl`, ...).
    pub family: &'static str,
    /// Whether inputs are broadcast to the output shape before the kernel runs.
    pub broadcast: bool,
    /// The dtypes the op is defined on (every one has a CPU kernel; other backends declare
    /// their gaps).
    pub dtypes: &'static [DType],
    /// Whether the op's conformance spec has error inputs (the `<op>_errors_<backend>` test).
    pub has_error_cases: bool,
}

/// Calls `$cb! { $pre... rows... }` with every row of the op list: the one closed list of
/// operations, from which [`OpId`], every [`OpDef`] and the conformance suite's tests
/// ([`conformance_suite!`](crate::conformance_suite)) are generated.
///
/// Row format: `Variant "name" test_prefix Kind arity "family" broadcast [dtypes] flags;` —
/// `test_prefix` names the op's conformance tests (`exp_f32_cpu`), `dtypes` are the dtypes the
/// op is defined on, flag `errors` says the op's spec has error inputs and `grad` that it is
/// differentiable.
#[doc(hidden)]
#[macro_export]
macro_rules! __st_ops {
    ([$($cb:tt)*] [$($pre:tt)*]) => { $($cb)*! { $($pre)*
        Neg "neg" neg Kernel 1 "unary" false [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Abs "abs" abs Kernel 1 "unary" false [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Exp "exp" exp Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        Log "log" log Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        Sqrt "sqrt" sqrt Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        Rsqrt "rsqrt" rsqrt Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        Sin "sin" sin Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        Cos "cos" cos Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        Tanh "tanh" tanh Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        Sigmoid "sigmoid" sigmoid Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        Relu "relu" relu Kernel 1 "unary" false [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Gelu "gelu" gelu Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        GeluTanh "gelu_tanh" gelu_tanh Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        Silu "silu" silu Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        Erf "erf" erf Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        Floor "floor" floor Kernel 1 "unary" false [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Ceil "ceil" ceil Kernel 1 "unary" false [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Round "round" round Kernel 1 "unary" false [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Sign "sign" sign Kernel 1 "unary" false [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Reciprocal "reciprocal" reciprocal Kernel 1 "unary" false [f32 f64 f16 bf16] errors grad;
        Clamp "clamp" clamp Kernel 1 "unary" false [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        LogicalNot "logical_not" logical_not Kernel 1 "unary" false [f32 f64 f16 bf16 i32 i64 u8 bool];
        Add "add" add Kernel 2 "binary" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Sub "sub" sub Kernel 2 "binary" true [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Mul "mul" mul Kernel 2 "binary" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Div "div" div Kernel 2 "binary" true [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Pow "pow" pow Kernel 2 "binary" true [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Maximum "maximum" maximum Kernel 2 "binary" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Minimum "minimum" minimum Kernel 2 "binary" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Eq "eq" eq Kernel 2 "compare" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        Ne "ne" ne Kernel 2 "compare" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        Lt "lt" lt Kernel 2 "compare" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        Le "le" le Kernel 2 "compare" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        Gt "gt" gt Kernel 2 "compare" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        Ge "ge" ge Kernel 2 "compare" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        LogicalAnd "logical_and" logical_and Kernel 2 "compare" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        LogicalOr "logical_or" logical_or Kernel 2 "compare" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors;
        Where "where" where_cond Kernel 3 "ternary" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        MaskedFill "masked_fill" masked_fill Kernel 2 "ternary" true [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Sum "sum" sum Kernel 1 "reduce" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Prod "prod" prod Kernel 1 "reduce" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Max "max" max Kernel 1 "reduce" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Min "min" min Kernel 1 "reduce" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        ArgMax "argmax" argmax Kernel 1 "reduce" false [f32 f64 f16 bf16 i32 i64 u8] errors;
        ArgMin "argmin" argmin Kernel 1 "reduce" false [f32 f64 f16 bf16 i32 i64 u8] errors;
        Mean "mean" mean Composite 1 "reduce" false [f32 f64 f16 bf16] errors grad;
        Var "var" var Composite 1 "reduce" false [f32 f64 f16 bf16] errors grad;
        Std "std" std Composite 1 "reduce" false [f32 f64 f16 bf16] errors grad;
        LogSumExp "logsumexp" logsumexp Composite 1 "reduce" false [f32 f64 f16 bf16] errors grad;
        Matmul "matmul" matmul Kernel 2 "matmul" false [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Softmax "softmax" softmax Kernel 1 "softmax" false [f32 f64 f16 bf16] errors grad;
        LogSoftmax "log_softmax" log_softmax Kernel 1 "softmax" false [f32 f64 f16 bf16] errors grad;
        CrossEntropy "cross_entropy" cross_entropy Composite 2 "softmax" false [f32 f64 f16 bf16] errors grad;
        Cat "cat" cat Kernel 0 "index" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Stack "stack" stack Composite 0 "index" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Split "split" split Composite 1 "index" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Chunk "chunk" chunk Composite 1 "index" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        IndexSelect "index_select" index_select Kernel 2 "index" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Gather "gather" gather Kernel 2 "index" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        ScatterAdd "scatter_add" scatter_add Kernel 3 "index" false [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Embedding "embedding" embedding Composite 2 "index" false [f32 f64 f16 bf16 i32 i64 u8] errors grad;
        Conv2d "conv2d" conv2d Kernel 2 "conv" false [f32 f64 f16 bf16] errors grad;
        Im2Col "im2col" im2col Kernel 1 "conv" false [f32 f64 f16 bf16] errors grad;
        Col2Im "col2im" col2im Kernel 1 "conv" false [f32 f64 f16 bf16] errors grad;
        MaxPool2d "max_pool2d" max_pool2d Composite 1 "conv" false [f32 f64 f16 bf16] errors grad;
        AvgPool2d "avg_pool2d" avg_pool2d Composite 1 "conv" false [f32 f64 f16 bf16] errors grad;
        Cast "cast" cast Kernel 1 "copy" false [f32 f64 f16 bf16 i32 i64 u8 bool] grad;
        Copy "copy" copy Kernel 1 "copy" false [f32 f64 f16 bf16 i32 i64 u8 bool] grad;
        Fill "fill" fill Kernel 0 "copy" false [f32 f64 f16 bf16 i32 i64 u8 bool];
        Reshape "reshape" reshape View 1 "view" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Permute "permute" permute View 1 "view" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Slice "slice" slice View 1 "view" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
        Expand "expand" expand View 1 "view" false [f32 f64 f16 bf16 i32 i64 u8 bool] errors grad;
    } };
}

/// `true` when `$want` is among the flags.
macro_rules! has_flag {
    ($want:ident;) => { false };
    (grad; grad $($r:ident)*) => { true };
    (errors; errors $($r:ident)*) => { true };
    ($want:ident; $f:ident $($r:ident)*) => { has_flag!($want; $($r)*) };
}

/// A dtype token of the op list (`f32`) as a [`DType`].
macro_rules! dt {
    (f32) => {
        DType::F32
    };
    (f64) => {
        DType::F64
    };
    (f16) => {
        DType::F16
    };
    (bf16) => {
        DType::BF16
    };
    (i32) => {
        DType::I32
    };
    (i64) => {
        DType::I64
    };
    (u8) => {
        DType::U8
    };
    (bool) => {
        DType::Bool
    };
}

macro_rules! ops {
    ($($v:ident $name:literal $m:ident $kind:ident $arity:literal $fam:literal $bc:literal
       [$($dt:ident)*] $($flag:ident)*;)*) => {
        /// Every operation. Adding a variant forces every layer that matches on it (autograd
        /// rules, conformance specs, Python bindings) to handle it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum OpId { $($v),* }

        impl OpId {
            /// All ops, in declaration order (the dense registry index order).
            pub const ALL: &'static [OpId] = &[$(OpId::$v),*];
            /// Number of ops.
            pub const COUNT: usize = [$(OpId::$v),*].len();
            const DEFS: &'static [OpDef] = &[$(OpDef {
                id: OpId::$v, name: $name, kind: OpKind::$kind, arity: $arity,
                differentiable: has_flag!(grad; $($flag)*), family: $fam, broadcast: $bc,
                dtypes: &[$(dt!($dt)),*], has_error_cases: has_flag!(errors; $($flag)*),
            }),*];
        }
    };
}

crate::__st_ops!([ops] []);

impl OpId {
    /// The op's definition.
    #[inline]
    pub fn def(self) -> &'static OpDef {
        &Self::DEFS[self as usize]
    }

    /// Lowercase name.
    #[inline]
    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// Dense index.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// Looks an op up by name.
    pub fn from_name(name: &str) -> Option<OpId> {
        Self::DEFS.iter().find(|d| d.name == name).map(|d| d.id)
    }
}

impl std::fmt::Display for OpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, op) in OpId::ALL.iter().enumerate() {
            assert_eq!(op.index(), i);
            assert_eq!(op.def().id, *op);
            assert_eq!(OpId::from_name(op.name()), Some(*op));
        }
    }
}
