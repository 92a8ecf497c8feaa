//! matmul kernel (PyTorch semantics, batched) on the gemm crate.
