//! Training-step cases (issue 11): one call is forward, cross entropy, backward and an SGD
//! step with momentum, as in `peers/torch_cpu.py`'s cases of the same names.

use crate::case::{randn, runner, Case, Runner};
use crate::Work;
use st_core::{manual_seed, DType, Device, Generator, Result, Tensor};
use st_nn::layers::{Conv2d, Conv2dConfig, Flatten, Linear, MaxPool2d, Relu};
use st_nn::loss::CrossEntropyLoss;
use st_nn::optim::{Optimizer, Sgd, SgdConfig};
use st_nn::{Module, Sequential};

/// 784-256-10 with ReLU.
fn mlp() -> Result<Sequential> {
    Ok(Sequential::new()
        .push(Linear::new(784, 256)?)
        .push(Relu)
        .push(Linear::new(256, 10)?))
}

/// LeNet-5 on 1×28×28: conv 6@5×5 (padding 2), pool, conv 16@5×5, pool, 120, 84, 10.
fn lenet5() -> Result<Sequential> {
    let f32c = (DType::F32, Device::cpu());
    let pad2 = Conv2dConfig {
        padding: [2, 2],
        ..Default::default()
    };
    Ok(Sequential::new()
        .push(Conv2d::build(1, 6, [5, 5], pad2, f32c.0, &f32c.1)?)
        .push(Relu)
        .push(MaxPool2d::new(2))
        .push(Conv2d::new(6, 16, 5)?)
        .push(Relu)
        .push(MaxPool2d::new(2))
        .push(Flatten::default())
        .push(Linear::new(400, 120)?)
        .push(Relu)
        .push(Linear::new(120, 84)?)
        .push(Relu)
        .push(Linear::new(84, 10)?))
}

/// A runner of one training step of `model` on a fixed batch `[case.shapes[0]]`.
fn train_step(case: &Case, device: &Device, model: Result<Sequential>) -> Result<Runner> {
    let mut model = model?;
    model.to(device)?;
    let x = randn(&case.shapes[0], 17, device)?;
    let n = case.shapes[0][0];
    let y = Tensor::randint_with(&mut Generator::new(18), 0, 10, [n], DType::I64, device)?;
    let cfg = SgdConfig {
        lr: 0.01,
        momentum: 0.9,
        ..Default::default()
    };
    let mut opt = Sgd::new(model.parameters(), cfg)?;
    let ce = CrossEntropyLoss::default();
    Ok(runner(device, move || {
        opt.zero_grad();
        let loss = ce.forward(&model.forward(&x)?, &y)?;
        loss.backward()?;
        opt.step()?;
        Ok(loss)
    }))
}

fn build_mlp(case: &Case, device: &Device) -> Result<Runner> {
    manual_seed(1);
    train_step(case, device, mlp())
}

fn build_cnn(case: &Case, device: &Device) -> Result<Runner> {
    manual_seed(1);
    train_step(case, device, lenet5())
}

fn mlp_case(name: &'static str, bs: usize) -> Case {
    Case {
        name,
        dtype: DType::F32,
        shapes: vec![vec![bs, 784]],
        work: Work::Samples(bs as f64),
        build: build_mlp,
    }
}

/// The training-step cases, in run order.
pub fn cases() -> Vec<Case> {
    vec![
        mlp_case("mlp_train_step_f32_bs64", 64),
        mlp_case("mlp_train_step_f32_bs256", 256),
        Case {
            name: "cnn_train_step_f32_bs32",
            dtype: DType::F32,
            shapes: vec![vec![32, 1, 28, 28]],
            work: Work::Samples(32.0),
            build: build_cnn,
        },
    ]
}
