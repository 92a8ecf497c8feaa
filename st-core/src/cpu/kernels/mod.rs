//! CPU kernels, one file per op family (the same file names in every backend).

pub mod binary;
pub mod compare;
pub mod conv;
pub mod copy;
pub mod index;
pub mod matmul;
pub mod reduce;
pub mod softmax;
#[cfg(target_arch = "x86_64")]
mod softmax_avx512;
pub mod ternary;
pub mod unary;
pub mod util;
