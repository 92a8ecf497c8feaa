//! [`OpId`]: every operation SpiralTorch knows, with its static definition.

/// How an op is executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Runs a kernel looked up in the registry by (op, backend, dtype).
    Kernel,
    /// Metadata-only view of the input's storage; no kernel, works on every backend.
    View,
    /// Written once in terms of other ops (`op/composite.rs`); works on every backend that has
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
}

macro_rules! ops {
    ($($v:ident $name:literal $kind:ident $arity:literal $diff:literal $fam:literal $bc:literal;)*) => {
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
                differentiable: $diff, family: $fam, broadcast: $bc,
            }),*];
        }
    };
}

ops! {
    Neg "neg" Kernel 1 true "unary" false;
    Abs "abs" Kernel 1 true "unary" false;
    Exp "exp" Kernel 1 true "unary" false;
    Log "log" Kernel 1 true "unary" false;
    Sqrt "sqrt" Kernel 1 true "unary" false;
    Rsqrt "rsqrt" Kernel 1 true "unary" false;
    Sin "sin" Kernel 1 true "unary" false;
    Cos "cos" Kernel 1 true "unary" false;
    Tanh "tanh" Kernel 1 true "unary" false;
    Sigmoid "sigmoid" Kernel 1 true "unary" false;
    Relu "relu" Kernel 1 true "unary" false;
    Gelu "gelu" Kernel 1 true "unary" false;
    GeluTanh "gelu_tanh" Kernel 1 true "unary" false;
    Silu "silu" Kernel 1 true "unary" false;
    Erf "erf" Kernel 1 true "unary" false;
    Floor "floor" Kernel 1 true "unary" false;
    Ceil "ceil" Kernel 1 true "unary" false;
    Round "round" Kernel 1 true "unary" false;
    Sign "sign" Kernel 1 true "unary" false;
    Reciprocal "reciprocal" Kernel 1 true "unary" false;
    Clamp "clamp" Kernel 1 true "unary" false;
    LogicalNot "logical_not" Kernel 1 false "unary" false;
    Add "add" Kernel 2 true "binary" true;
    Sub "sub" Kernel 2 true "binary" true;
    Mul "mul" Kernel 2 true "binary" true;
    Div "div" Kernel 2 true "binary" true;
    Pow "pow" Kernel 2 true "binary" true;
    Maximum "maximum" Kernel 2 true "binary" true;
    Minimum "minimum" Kernel 2 true "binary" true;
    Eq "eq" Kernel 2 false "compare" true;
    Ne "ne" Kernel 2 false "compare" true;
    Lt "lt" Kernel 2 false "compare" true;
    Le "le" Kernel 2 false "compare" true;
    Gt "gt" Kernel 2 false "compare" true;
    Ge "ge" Kernel 2 false "compare" true;
    LogicalAnd "logical_and" Kernel 2 false "compare" true;
    LogicalOr "logical_or" Kernel 2 false "compare" true;
    Where "where" Kernel 3 true "ternary" true;
    MaskedFill "masked_fill" Kernel 2 true "ternary" true;
    Sum "sum" Kernel 1 true "reduce" false;
    Prod "prod" Kernel 1 true "reduce" false;
    Max "max" Kernel 1 true "reduce" false;
    Min "min" Kernel 1 true "reduce" false;
    ArgMax "argmax" Kernel 1 false "reduce" false;
    ArgMin "argmin" Kernel 1 false "reduce" false;
    Mean "mean" Composite 1 true "reduce" false;
    Var "var" Composite 1 true "reduce" false;
    Std "std" Composite 1 true "reduce" false;
    LogSumExp "logsumexp" Composite 1 true "reduce" false;
    Matmul "matmul" Kernel 2 true "matmul" false;
    Softmax "softmax" Kernel 1 true "softmax" false;
    LogSoftmax "log_softmax" Kernel 1 true "softmax" false;
    CrossEntropy "cross_entropy" Composite 2 true "softmax" false;
    Cat "cat" Kernel 0 true "index" false;
    Stack "stack" Composite 0 true "index" false;
    Split "split" Composite 1 true "index" false;
    Chunk "chunk" Composite 1 true "index" false;
    IndexSelect "index_select" Kernel 2 true "index" false;
    Gather "gather" Kernel 2 true "index" false;
    ScatterAdd "scatter_add" Kernel 3 true "index" false;
    Embedding "embedding" Composite 2 true "index" false;
    Conv2d "conv2d" Kernel 2 true "conv" false;
    Im2Col "im2col" Kernel 1 true "conv" false;
    Col2Im "col2im" Kernel 1 true "conv" false;
    MaxPool2d "max_pool2d" Composite 1 true "conv" false;
    AvgPool2d "avg_pool2d" Composite 1 true "conv" false;
    Cast "cast" Kernel 1 true "copy" false;
    Copy "copy" Kernel 1 true "copy" false;
    Fill "fill" Kernel 0 false "copy" false;
    Reshape "reshape" View 1 true "view" false;
    Permute "permute" View 1 true "view" false;
    Slice "slice" View 1 true "view" false;
    Expand "expand" View 1 true "view" false;
}

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
