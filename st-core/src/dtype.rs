//! Element types, PyTorch-style type promotion, and the [`Element`] trait that maps Rust types to
//! [`DType`]s.

use half::{bf16, f16};

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
    /// 16-bit IEEE float (`half::f16`).
    F16,
    /// bfloat16 (`half::bf16`).
    BF16,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer (the index dtype).
    I64,
    /// 8-bit unsigned integer.
    U8,
    /// Boolean, stored as one byte holding 0 or 1.
    Bool,
}

/// Broad kind of a dtype, ordered as PyTorch's promotion categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DTypeKind {
    /// `Bool`.
    Bool,
    /// Integer types.
    Int,
    /// Floating-point types.
    Float,
}

impl DType {
    /// Every dtype, in a fixed order (the dense registry index order).
    pub const ALL: [DType; 8] = [
        DType::F32,
        DType::F64,
        DType::F16,
        DType::BF16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::Bool,
    ];
    /// The floating-point dtypes.
    pub const FLOATS: [DType; 4] = [DType::F32, DType::F64, DType::F16, DType::BF16];
    /// The integer dtypes.
    pub const INTS: [DType; 3] = [DType::I32, DType::I64, DType::U8];
    /// Number of dtypes.
    pub const COUNT: usize = 8;

    /// Dense index in [`DType::ALL`].
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Size of one element in bytes.
    pub const fn size_in_bytes(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::U8 | DType::Bool => 1,
        }
    }

    /// Short lowercase name (`f32`, `bool`, ...), as used in kernel symbols.
    pub const fn as_str(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U8 => "u8",
            DType::Bool => "bool",
        }
    }

    /// Parses a short name (`"f32"`, `"float32"`, `"bool"`, ...).
    pub fn parse(s: &str) -> Option<DType> {
        Some(match s {
            "f32" | "float32" | "float" => DType::F32,
            "f64" | "float64" | "double" => DType::F64,
            "f16" | "float16" | "half" => DType::F16,
            "bf16" | "bfloat16" => DType::BF16,
            "i32" | "int32" | "int" => DType::I32,
            "i64" | "int64" | "long" => DType::I64,
            "u8" | "uint8" => DType::U8,
            "bool" => DType::Bool,
            _ => return None,
        })
    }

    /// Promotion category.
    pub const fn kind(self) -> DTypeKind {
        match self {
            DType::F32 | DType::F64 | DType::F16 | DType::BF16 => DTypeKind::Float,
            DType::I32 | DType::I64 | DType::U8 => DTypeKind::Int,
            DType::Bool => DTypeKind::Bool,
        }
    }

    /// True for floating-point dtypes.
    pub const fn is_float(self) -> bool {
        matches!(self.kind(), DTypeKind::Float)
    }

    /// True for integer dtypes (not `Bool`).
    pub const fn is_int(self) -> bool {
        matches!(self.kind(), DTypeKind::Int)
    }

    /// Whether a result of dtype `from` may be written into a tensor of dtype `to` (PyTorch's
    /// `can_cast`, used by `out=` and in-place ops): never a float into an integer or bool,
    /// never an integer into bool; any cast within a kind, or up a kind, is allowed.
    pub const fn can_cast(from: DType, to: DType) -> bool {
        !matches!(
            (from.kind(), to.kind()),
            (DTypeKind::Float, DTypeKind::Int | DTypeKind::Bool)
                | (DTypeKind::Int, DTypeKind::Bool)
        )
    }

    /// The dtype of `a op b` for two tensors of equal priority (PyTorch's `promote_types`).
    pub fn promote(a: DType, b: DType) -> DType {
        use DType::*;
        if a == b {
            return a;
        }
        match (a.kind(), b.kind()) {
            (DTypeKind::Bool, _) => b,
            (_, DTypeKind::Bool) => a,
            (DTypeKind::Int, DTypeKind::Float) => b,
            (DTypeKind::Float, DTypeKind::Int) => a,
            (DTypeKind::Int, DTypeKind::Int) => {
                // u8 < i32 < i64 (no unsigned type wider than u8 exists here).
                let rank = |d| match d {
                    U8 => 0,
                    I32 => 1,
                    _ => 2,
                };
                if rank(a) >= rank(b) {
                    a
                } else {
                    b
                }
            }
            (DTypeKind::Float, DTypeKind::Float) => match (a, b) {
                (F64, _) | (_, F64) => F64,
                (F32, _) | (_, F32) => F32,
                // f16 with bf16 promotes to f32, as in PyTorch.
                _ => F32,
            },
        }
    }

    /// PyTorch's dimension-aware `result_type` for a binary op: a 0-d tensor only changes the
    /// result dtype when it is of a higher category than the n-d operand.
    pub fn result_type(a: DType, a_scalar: bool, b: DType, b_scalar: bool) -> DType {
        match (a_scalar, b_scalar) {
            (false, true) if b.kind() <= a.kind() => a,
            (true, false) if a.kind() <= b.kind() => b,
            // The 0-d operand is of a higher category: it decides the result.
            (false, true) => b,
            (true, false) => a,
            _ => DType::promote(a, b),
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Rust element type that a tensor can hold.
pub trait Element:
    Copy + Send + Sync + bytemuck::Pod + std::fmt::Debug + PartialOrd + 'static
{
    /// The matching dtype.
    const DTYPE: DType;
    /// Lossy conversion to f64.
    fn to_f64(self) -> f64;
    /// Conversion from f64 (round-to-nearest for floats, truncation toward zero for ints,
    /// `!= 0` for bool).
    fn from_f64(v: f64) -> Self;
    /// Zero.
    fn zero() -> Self;
    /// One.
    fn one() -> Self;
}

macro_rules! element {
    ($t:ty, $dt:ident, $to:expr, $from:expr, $zero:expr, $one:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dt;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                ($to)(self)
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                ($from)(v)
            }
            #[inline(always)]
            fn zero() -> Self {
                $zero
            }
            #[inline(always)]
            fn one() -> Self {
                $one
            }
        }
    };
}

element!(f32, F32, |x: f32| x as f64, |v: f64| v as f32, 0.0, 1.0);
element!(f64, F64, |x: f64| x, |v: f64| v, 0.0, 1.0);
element!(
    f16,
    F16,
    |x: f16| x.to_f64(),
    f16::from_f64,
    f16::ZERO,
    f16::ONE
);
element!(
    bf16,
    BF16,
    |x: bf16| x.to_f64(),
    bf16::from_f64,
    bf16::ZERO,
    bf16::ONE
);
element!(i32, I32, |x: i32| x as f64, |v: f64| v as i32, 0, 1);
element!(i64, I64, |x: i64| x as f64, |v: f64| v as i64, 0, 1);
element!(u8, U8, |x: u8| x as f64, |v: f64| v as u8, 0, 1);

/// Boolean element as stored in memory: one byte, 0 or 1.
#[repr(transparent)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, bytemuck::Pod, bytemuck::Zeroable,
)]
pub struct Bool8(pub u8);

element!(
    Bool8,
    Bool,
    |x: Bool8| x.0 as f64,
    |v: f64| Bool8((v != 0.0) as u8),
    Bool8(0),
    Bool8(1)
);

impl From<bool> for Bool8 {
    fn from(b: bool) -> Self {
        Bool8(b as u8)
    }
}

impl From<Bool8> for bool {
    fn from(b: Bool8) -> Self {
        b.0 != 0
    }
}

/// Calls `$body` with `$T` bound to the Rust element type of `$dtype`.
///
/// ```ignore
/// with_dtype!(dtype, T, { fill::<T>(buf) })
/// ```
#[macro_export]
macro_rules! with_dtype {
    ($dtype:expr, $T:ident, $body:block) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::F16 => {
                type $T = half::f16;
                $body
            }
            $crate::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            $crate::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::DType::Bool => {
                type $T = $crate::dtype::Bool8;
                $body
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_matches_pytorch() {
        use DType::*;
        assert_eq!(DType::promote(I32, F16), F16);
        assert_eq!(DType::promote(F16, BF16), F32);
        assert_eq!(DType::promote(U8, I32), I32);
        assert_eq!(DType::promote(Bool, U8), U8);
        assert_eq!(DType::promote(I64, F32), F32);
        assert_eq!(DType::promote(F32, F64), F64);
        // 0-d tensors of the same category do not widen.
        assert_eq!(DType::result_type(F16, false, F64, true), F16);
        assert_eq!(DType::result_type(I32, false, F64, true), F64);
        assert_eq!(DType::result_type(U8, false, I64, true), U8);
    }

    #[test]
    fn parse_round_trips() {
        for d in DType::ALL {
            assert_eq!(DType::parse(d.as_str()), Some(d));
            assert_eq!(DType::ALL[d.index()], d);
        }
    }
}
