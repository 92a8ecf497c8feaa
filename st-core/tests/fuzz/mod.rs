//! The fuzz harness behind `tests/fuzz_api.rs` (see its docs).

pub mod case;
pub mod child;
pub mod config;
pub mod gen;
pub mod ops_create;
pub mod ops_handle;
pub mod ops_inplace;
pub mod ops_math;
pub mod ops_nn;
pub mod ops_raw;
pub mod ops_shape;
pub mod parent;
pub mod summary;
pub mod tensors;
pub mod text;
