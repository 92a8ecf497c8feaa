//! Declared gaps of non-CPU backends: (op, backend, dtypes) with no kernel yet, each with its
//! reason. A declared gap must still fail with `KernelNotFound`, so it is removed when the
//! kernel lands.

use super::super::KnownGap;
use crate::dtype::DType::*;
use crate::op::OpId;

/// Gaps per op (a generated table, kept one line per gap).
#[rustfmt::skip]
pub(super) const KNOWN_GAPS: &[(OpId, &[KnownGap])] = &[
];
