//! Runnable SpiralTorch examples; see `examples/`.
