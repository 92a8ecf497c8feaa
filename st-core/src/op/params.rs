//! Non-tensor arguments of ops ([`OpParams`]).

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{Shape, INLINE_RANK};
use smallvec::SmallVec;

/// A short list of normalized dims.
pub type DimVec = SmallVec<[usize; INLINE_RANK]>;

/// Parameters of a 2-D convolution (PyTorch `conv2d` semantics, NCHW / OIHW).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    /// Stride (h, w).
    pub stride: [usize; 2],
    /// Zero padding (h, w).
    pub padding: [usize; 2],
    /// Dilation (h, w).
    pub dilation: [usize; 2],
    /// Number of groups.
    pub groups: usize,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

/// Sliding-window parameters for `im2col` (PyTorch `unfold`) and `col2im` (`fold`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowParams {
    /// Kernel size (h, w).
    pub kernel: [usize; 2],
    /// Stride (h, w).
    pub stride: [usize; 2],
    /// Padding (h, w).
    pub padding: [usize; 2],
    /// Dilation (h, w).
    pub dilation: [usize; 2],
    /// Value read outside the input (0 for conv/avg pool, -inf for max pool). im2col only.
    pub pad_value: f64,
    /// Spatial size (h, w) of the image: the output of col2im, the input of im2col.
    pub image: [usize; 2],
}

impl WindowParams {
    /// Output spatial size (number of window positions along h and w); 0 along a dim where
    /// the window does not fit the padded image. Meaningful only for parameters that
    /// [`WindowParams::checked_out_hw`] accepts (inference checks them before any kernel runs).
    pub fn out_hw(&self) -> [usize; 2] {
        self.checked_out_hw("window").unwrap_or([0, 0])
    }

    /// Output spatial size, checking the parameters: kernel, stride and dilation positive,
    /// and window and padded-image extents that do not overflow. The product of the two
    /// sizes fits in `usize`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `op`.
    pub fn checked_out_hw(&self, op: &'static str) -> Result<[usize; 2]> {
        if self.kernel.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(Error::invalid(
                op,
                format!(
                    "kernel {:?}, stride {:?} and dilation {:?} must be positive",
                    self.kernel, self.stride, self.dilation
                ),
            ));
        }
        let mut out = [0; 2];
        for i in 0..2 {
            let eff = self.dilation[i]
                .checked_mul(self.kernel[i] - 1)
                .and_then(|e| e.checked_add(1));
            // Kernels index the padded image with `isize` arithmetic: keep it in range.
            let padded = self.padding[i]
                .checked_mul(2)
                .and_then(|p| p.checked_add(self.image[i]))
                .filter(|&p| p <= isize::MAX as usize);
            let eff =
                eff.filter(|&e| e <= isize::MAX as usize && self.stride[i] <= isize::MAX as usize);
            let (Some(eff), Some(padded)) = (eff, padded) else {
                return Err(Error::invalid(
                    op,
                    format!(
                        "window {:?} with dilation {:?} over image {:?} with padding {:?} \
                         overflows",
                        self.kernel, self.dilation, self.image, self.padding
                    ),
                ));
            };
            out[i] = if padded < eff {
                0
            } else {
                (padded - eff) / self.stride[i] + 1
            };
        }
        if out[0].checked_mul(out[1]).is_none() {
            return Err(Error::invalid(
                op,
                format!("{out:?} window positions overflow"),
            ));
        }
        Ok(out)
    }
}

/// Parameters passed with an op to its kernel.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum OpParams {
    /// No parameters.
    #[default]
    None,
    /// One scalar (masked_fill value, fill value).
    Scalar(f64),
    /// Clamp bounds.
    Clamp {
        /// Lower bound.
        min: Option<f64>,
        /// Upper bound.
        max: Option<f64>,
    },
    /// Reduction over sorted, normalized dims.
    Reduce {
        /// Dims reduced (empty only for 0-d input).
        dims: DimVec,
        /// Keep reduced dims as size 1.
        keepdim: bool,
    },
    /// Arg-reduction over one dim, or the flattened tensor when `dim` is `None`.
    Arg {
        /// Dim, or None for all elements.
        dim: Option<usize>,
        /// Keep the reduced dim as size 1.
        keepdim: bool,
    },
    /// One normalized dim (softmax, cat, index_select, gather, scatter_add).
    Dim(usize),
    /// Target dtype of a cast.
    Cast(DType),
    /// 2-D convolution.
    Conv2d(Conv2dParams),
    /// im2col / col2im windows.
    Window(WindowParams),
    /// Target shape (reshape, expand, fill).
    Shape(Shape),
    /// Fill: shape, dtype and value.
    Fill {
        /// Shape of the output.
        shape: Shape,
        /// Element type.
        dtype: DType,
        /// Value.
        value: f64,
    },
    /// Source device of a transfer (recorded on `copy` nodes made by `Tensor::to`).
    Device(Device),
    /// Permutation (output dim `i` = input dim `perm[i]`).
    Perm(DimVec),
    /// Strided slice of one dim.
    Slice {
        /// Dim.
        dim: usize,
        /// First index.
        start: usize,
        /// Number of elements kept.
        len: usize,
        /// Step between kept elements.
        step: usize,
    },
}
