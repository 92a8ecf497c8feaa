//! where and masked_fill kernels.
