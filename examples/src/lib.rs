//! Runnable SpiralTorch examples (see `examples/`) and the data they share.

#![warn(missing_docs)]

pub mod digits;
