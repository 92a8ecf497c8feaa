//! Shared helpers for the SpiralTorch benchmarks.
