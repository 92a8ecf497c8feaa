//! CPU kernels, one file per op family (the same file names in every backend).

#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod binary;
pub mod compare;
pub mod conv;
pub mod copy;
pub mod index;
pub mod into;
pub mod matmul;
pub mod reduce;
pub mod softmax;
pub mod ternary;
pub mod unary;
pub mod util;
