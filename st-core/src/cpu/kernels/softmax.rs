//! softmax and log_softmax kernels (numerically stable).
