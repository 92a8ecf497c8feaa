//! Declared gaps of non-CPU backends: (op, backend, dtypes) with no kernel yet, each with its
//! reason. A declared gap must still fail with `KernelNotFound`, so it is removed when the
//! kernel lands.

use super::super::KnownGap;
use crate::dtype::DType::*;
use crate::op::OpId;

/// Gaps per op (a generated table, kept one line per gap).
#[rustfmt::skip]
pub(super) const KNOWN_GAPS: &[(OpId, &[KnownGap])] = &[
    (OpId::Abs, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Add, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::ArgMax, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::ArgMin, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::AvgPool2d, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Cast, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Cat, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[Bool], reason: "byte-packed bool kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Ceil, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Chunk, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Clamp, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Col2Im, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Conv2d, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Copy, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Cos, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::CrossEntropy, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Div, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Embedding, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Eq, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Erf, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Exp, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Expand, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Fill, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Floor, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Gather, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[Bool], reason: "byte-packed bool kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Ge, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Gelu, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::GeluTanh, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Gt, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Im2Col, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::IndexSelect, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[Bool], reason: "byte-packed bool kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Le, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Log, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::LogSoftmax, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::LogicalAnd, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::LogicalNot, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::LogicalOr, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::LogSumExp, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Lt, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::MaskedFill, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Matmul, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I32], reason: "needs a 64-bit accumulator to match the CPU result dtype (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Max, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[Bool], reason: "byte-packed bool kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::MaxPool2d, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Maximum, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Mean, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Min, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[Bool], reason: "byte-packed bool kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Minimum, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Mul, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Ne, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Neg, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Permute, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Pow, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Prod, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I32], reason: "needs a 64-bit accumulator to match the CPU result dtype (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[Bool], reason: "byte-packed bool kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Reciprocal, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Relu, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Reshape, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Round, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Rsqrt, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::ScatterAdd, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I32], reason: "needs a 64-bit accumulator to match the CPU result dtype (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Sigmoid, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Sign, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Silu, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Sin, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Slice, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Softmax, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Split, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Sqrt, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Stack, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[Bool], reason: "byte-packed bool kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Std, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Sub, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Sum, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[I32], reason: "needs a 64-bit accumulator to match the CPU result dtype (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[I64], reason: "WGSL has no 64-bit integers; i64 kernels need emulation (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
        KnownGap { backend: "wgpu", dtypes: &[U8], reason: "byte-packed u8 kernel not written for this op yet (issue 4)" },
        KnownGap { backend: "wgpu", dtypes: &[Bool], reason: "byte-packed bool kernel not written for this op yet (issue 4)" },
    ]),
    (OpId::Tanh, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Var, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
    (OpId::Where, &[
        KnownGap { backend: "wgpu", dtypes: &[BF16], reason: "WGSL has no bf16 type" },
        KnownGap { backend: "wgpu", dtypes: &[F64], reason: "WGSL has no 64-bit float type" },
    ]),
];
