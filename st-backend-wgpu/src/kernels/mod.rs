//! WGSL kernel families and the shader generator they share.
//!
//! Each family `<f>.rs` pairs with `shaders/<f>.wgsl`, a library of WGSL functions; the Rust
//! side ([`shader`]) generates the bindings, typed loads and stores and the entry point around
//! it, keyed by a variant string for the pipeline cache. `shaders/common.wgsl` is the prelude
//! every variant starts with.

pub mod binary;
pub mod compare;
pub mod conv;
pub mod copy;
pub mod index;
pub mod into;
pub mod matmul;
pub mod reduce;
pub mod shader;
pub mod softmax;
pub mod ternary;
pub mod unary;
#[cfg(test)]
mod validate;

pub(crate) use shader::elementwise_kernels;
#[cfg(test)]
pub use shader::elementwise_wgsl;
pub use shader::{
    bytes_of, dev, enable, float_prelude, loader, no_wgsl, raw, require_f16, storage_type,
    wgsl_type, Elementwise, Meta, COMMON,
};
