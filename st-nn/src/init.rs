//! Parameter initialisation, as `torch.nn.init`: every function fills a tensor in place
//! (under `no_grad`) from st-core's default generator, so [`st_core::manual_seed`] makes a
//! model's initial weights reproducible.
//!
//! Fans follow PyTorch: for a weight `[out, in, k...]`, `fan_in = in·∏k` and
//! `fan_out = out·∏k`.

use st_core::{no_grad, DType, Device, Error, Result, Tensor};

/// Fan mode of the Kaiming initialisers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    /// Preserve the variance of the forward pass (PyTorch's default).
    FanIn,
    /// Preserve the variance of the backward pass.
    FanOut,
}

/// The non-linearity a gain is computed for ([`calculate_gain`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nonlinearity {
    /// Linear, convolutions, sigmoid: gain 1.
    Linear,
    /// tanh: gain 5/3.
    Tanh,
    /// ReLU: gain √2.
    Relu,
    /// Leaky ReLU with this negative slope: gain √(2 / (1 + slope²)).
    LeakyRelu(f64),
    /// SELU: gain 3/4.
    Selu,
}

/// The recommended gain for `nl` (PyTorch's `calculate_gain`).
pub fn calculate_gain(nl: Nonlinearity) -> f64 {
    match nl {
        Nonlinearity::Linear => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f64.sqrt(),
        Nonlinearity::LeakyRelu(a) => (2.0 / (1.0 + a * a)).sqrt(),
        Nonlinearity::Selu => 0.75,
    }
}

/// `(fan_in, fan_out)` of a weight of rank ≥ 2.
///
/// # Errors
/// [`Error::InvalidShape`] for rank below 2, as PyTorch.
pub fn fan_in_and_fan_out(t: &Tensor) -> Result<(usize, usize)> {
    let d = t.dims();
    if d.len() < 2 {
        return Err(Error::InvalidShape {
            op: "init.fan_in_and_fan_out",
            shape: Box::new(t.shape().clone()),
            reason: "fan in and fan out need a tensor of rank 2 or more".into(),
        });
    }
    let field: usize = d[2..].iter().product();
    Ok((d[1] * field, d[0] * field))
}

/// Writes `values` (f64 on the CPU) into `t`, cast to its dtype and moved to its device.
fn assign(t: &Tensor, values: Tensor) -> Result<()> {
    let _g = no_grad();
    t.copy_(&values.to_dtype(t.dtype())?.to(&t.device())?)
}

fn float_target(op: &'static str, t: &Tensor) -> Result<()> {
    if t.dtype().is_float() {
        Ok(())
    } else {
        Err(Error::DTypeMismatch {
            op,
            got: vec![t.dtype()],
            reason: "initialisers fill floating-point tensors".into(),
        })
    }
}

/// Fills `t` from U(low, high).
///
/// # Errors
/// [`Error::DTypeMismatch`] for a non-float tensor; [`Error::InvalidArgument`] when
/// `low > high`.
pub fn uniform_(t: &Tensor, low: f64, high: f64) -> Result<()> {
    float_target("init.uniform_", t)?;
    if low > high || !low.is_finite() || !high.is_finite() {
        return Err(Error::invalid(
            "init.uniform_",
            format!("need finite low <= high, got [{low}, {high})"),
        ));
    }
    let u = Tensor::rand(t.shape().clone(), DType::F64, &Device::cpu())?;
    assign(t, u.mul_scalar(high - low)?.add_scalar(low)?)
}

/// Fills `t` from N(mean, std²).
///
/// # Errors
/// [`Error::DTypeMismatch`] for a non-float tensor; [`Error::InvalidArgument`] for a negative
/// `std`.
pub fn normal_(t: &Tensor, mean: f64, std: f64) -> Result<()> {
    float_target("init.normal_", t)?;
    if std < 0.0 || !std.is_finite() || !mean.is_finite() {
        return Err(Error::invalid(
            "init.normal_",
            format!("need finite mean and std >= 0, got mean {mean}, std {std}"),
        ));
    }
    let n = Tensor::randn(t.shape().clone(), DType::F64, &Device::cpu())?;
    assign(t, n.mul_scalar(std)?.add_scalar(mean)?)
}

/// Fills `t` with `value`.
///
/// # Errors
/// Errors of `fill_` (a value the dtype cannot hold).
pub fn constant_(t: &Tensor, value: f64) -> Result<()> {
    let _g = no_grad();
    t.fill_(value)
}

/// Fills `t` with zeros.
///
/// # Errors
/// As [`constant_`].
pub fn zeros_(t: &Tensor) -> Result<()> {
    constant_(t, 0.0)
}

/// Fills `t` with ones.
///
/// # Errors
/// As [`constant_`].
pub fn ones_(t: &Tensor) -> Result<()> {
    constant_(t, 1.0)
}

/// Glorot uniform: U(-b, b) with `b = gain·√(6 / (fan_in + fan_out))`.
///
/// # Errors
/// As [`fan_in_and_fan_out`] and [`uniform_`].
pub fn xavier_uniform_(t: &Tensor, gain: f64) -> Result<()> {
    let (fi, fo) = fan_in_and_fan_out(t)?;
    let b = gain * (6.0 / (fi + fo).max(1) as f64).sqrt();
    uniform_(t, -b, b)
}

/// Glorot normal: N(0, σ²) with `σ = gain·√(2 / (fan_in + fan_out))`.
///
/// # Errors
/// As [`fan_in_and_fan_out`] and [`normal_`].
pub fn xavier_normal_(t: &Tensor, gain: f64) -> Result<()> {
    let (fi, fo) = fan_in_and_fan_out(t)?;
    normal_(t, 0.0, gain * (2.0 / (fi + fo).max(1) as f64).sqrt())
}

fn kaiming_std(t: &Tensor, a: f64, mode: FanMode, nl: Nonlinearity) -> Result<f64> {
    let (fi, fo) = fan_in_and_fan_out(t)?;
    let fan = match mode {
        FanMode::FanIn => fi,
        FanMode::FanOut => fo,
    };
    let gain = match nl {
        Nonlinearity::LeakyRelu(_) => calculate_gain(Nonlinearity::LeakyRelu(a)),
        other => calculate_gain(other),
    };
    Ok(gain / (fan.max(1) as f64).sqrt())
}

/// He uniform: U(-b, b) with `b = gain·√(3 / fan)`; `a` is the leaky-ReLU slope used when
/// `nl` is [`Nonlinearity::LeakyRelu`]. `kaiming_uniform_(w, √5, FanIn, LeakyRelu(√5))` is
/// PyTorch's default for Linear and Conv weights.
///
/// # Errors
/// As [`fan_in_and_fan_out`] and [`uniform_`].
pub fn kaiming_uniform_(t: &Tensor, a: f64, mode: FanMode, nl: Nonlinearity) -> Result<()> {
    let b = 3f64.sqrt() * kaiming_std(t, a, mode, nl)?;
    uniform_(t, -b, b)
}

/// He normal: N(0, σ²) with `σ = gain / √fan`.
///
/// # Errors
/// As [`fan_in_and_fan_out`] and [`normal_`].
pub fn kaiming_normal_(t: &Tensor, a: f64, mode: FanMode, nl: Nonlinearity) -> Result<()> {
    normal_(t, 0.0, kaiming_std(t, a, mode, nl)?)
}

/// PyTorch's default initialisation of a Linear or Conv layer: the weight from
/// `kaiming_uniform_(a = √5)`, which is U(±1/√fan_in), and the bias from U(±1/√fan_in).
///
/// # Errors
/// As [`kaiming_uniform_`].
pub fn default_linear_(weight: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    let a = 5f64.sqrt();
    kaiming_uniform_(weight, a, FanMode::FanIn, Nonlinearity::LeakyRelu(a))?;
    if let Some(b) = bias {
        let (fi, _) = fan_in_and_fan_out(weight)?;
        let bound = if fi > 0 {
            1.0 / (fi as f64).sqrt()
        } else {
            0.0
        };
        uniform_(b, -bound, bound)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fans_follow_pytorch() {
        let w = Tensor::zeros([16, 3, 5, 5], DType::F32, &Device::cpu()).unwrap();
        assert_eq!(fan_in_and_fan_out(&w).unwrap(), (75, 400));
        let v = Tensor::zeros([4], DType::F32, &Device::cpu()).unwrap();
        assert!(fan_in_and_fan_out(&v).is_err());
    }

    #[test]
    fn default_linear_bound_is_one_over_sqrt_fan_in() {
        let w = Tensor::zeros([200, 100], DType::F32, &Device::cpu()).unwrap();
        default_linear_(&w, None).unwrap();
        let v = w.to_f64_vec().unwrap();
        let max = v.iter().fold(0f64, |m, x| m.max(x.abs()));
        assert!(max <= 0.1 + 1e-7 && max > 0.09, "max |w| = {max}");
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        // U(-b, b) has variance b²/3.
        assert!((var - 0.01 / 3.0).abs() < 2e-4, "var {var}");
    }

    #[test]
    fn integer_targets_and_bad_ranges_are_errors() {
        let t = Tensor::zeros([3, 3], DType::I32, &Device::cpu()).unwrap();
        assert!(matches!(
            uniform_(&t, 0.0, 1.0),
            Err(Error::DTypeMismatch { .. })
        ));
        let f = Tensor::zeros([3, 3], DType::F32, &Device::cpu()).unwrap();
        assert!(matches!(
            uniform_(&f, 1.0, 0.0),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            normal_(&f, 0.0, -1.0),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
