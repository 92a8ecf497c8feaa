//! [`Conv2d`]: 2-d convolution with stride, padding, dilation and groups.

use super::linear::param;
use crate::init;
use crate::module::{Module, Visitor, VisitorMut};
use st_core::{default_device, Conv2dParams, DType, Device, Error, Result, Tensor};

/// The hyper-parameters of a [`Conv2d`], with PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// Stride (h, w); default 1.
    pub stride: [usize; 2],
    /// Zero padding (h, w); default 0.
    pub padding: [usize; 2],
    /// Dilation (h, w); default 1.
    pub dilation: [usize; 2],
    /// Groups; `in_channels` and `out_channels` must be multiples. Default 1.
    pub groups: usize,
    /// Whether the layer has a bias; default true.
    pub bias: bool,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Conv2dConfig {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
            bias: true,
        }
    }
}

/// A 2-d convolution (`nn.Conv2d`): weight `[out, in/groups, kh, kw]`, bias `[out]`,
/// initialised as PyTorch (U(±1/√fan_in), `fan_in = in/groups·kh·kw`). Input `[N, C, H, W]`.
pub struct Conv2d {
    /// `[out_channels, in_channels / groups, kh, kw]`.
    pub weight: Tensor,
    /// `[out_channels]`, when the layer has a bias.
    pub bias: Option<Tensor>,
    params: Conv2dParams,
}

impl Conv2d {
    /// A square `kernel` with the default configuration, f32 on the default device.
    ///
    /// # Errors
    /// As [`Conv2d::build`].
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Result<Conv2d> {
        Conv2d::build(
            in_channels,
            out_channels,
            [kernel, kernel],
            Conv2dConfig::default(),
            DType::F32,
            &default_device(),
        )
    }

    /// A convolution with `cfg`, of `dtype` on `device`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for zero groups, channels that groups do not divide, a zero
    /// kernel, stride or dilation.
    pub fn build(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        cfg: Conv2dConfig,
        dtype: DType,
        device: &Device,
    ) -> Result<Conv2d> {
        let g = cfg.groups;
        if g == 0 || !in_channels.is_multiple_of(g) || !out_channels.is_multiple_of(g) {
            return Err(Error::invalid(
                "Conv2d",
                format!("groups = {g} must divide in_channels = {in_channels} and out_channels = {out_channels}"),
            ));
        }
        if kernel.contains(&0) || cfg.stride.contains(&0) || cfg.dilation.contains(&0) {
            return Err(Error::invalid(
                "Conv2d",
                format!(
                    "kernel {kernel:?}, stride {:?} and dilation {:?} must be positive",
                    cfg.stride, cfg.dilation
                ),
            ));
        }
        let weight = param(
            &[out_channels, in_channels / g, kernel[0], kernel[1]],
            dtype,
            device,
        )?;
        let bias = if cfg.bias {
            Some(param(&[out_channels], dtype, device)?)
        } else {
            None
        };
        init::default_linear_(&weight, bias.as_ref())?;
        let params = Conv2dParams {
            stride: cfg.stride,
            padding: cfg.padding,
            dilation: cfg.dilation,
            groups: g,
        };
        Ok(Conv2d {
            weight,
            bias,
            params,
        })
    }

    /// The stride, padding, dilation and groups.
    pub fn params(&self) -> Conv2dParams {
        self.params
    }
}

impl Module for Conv2d {
    /// `[N, C_in, H, W]` to `[N, C_out, H', W']`.
    ///
    /// # Errors
    /// Shape errors of `conv2d` naming the shapes.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.conv2d(&self.weight, self.bias.as_ref(), self.params)
    }

    fn visit(&self, v: &mut Visitor<'_>) {
        v.param("weight", &self.weight);
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
    }

    fn visit_mut(&mut self, v: &mut VisitorMut<'_>) {
        v.param("weight", &mut self.weight);
        if let Some(b) = &mut self.bias {
            v.param("bias", b);
        }
    }
}
