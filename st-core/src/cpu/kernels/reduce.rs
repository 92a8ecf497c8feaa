//! Reduction kernels: sum, prod, max, min, argmax, argmin over any dims.
