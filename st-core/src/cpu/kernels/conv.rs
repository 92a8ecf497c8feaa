//! conv2d, im2col and col2im kernels.
