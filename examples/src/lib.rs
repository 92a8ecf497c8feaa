//! Runnable SpiralTorch examples (see `examples/`) and the code they share with tests.

#![warn(missing_docs)]

pub mod digits;
pub mod train;
