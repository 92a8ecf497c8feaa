//! Every layer, loss and optimizer of st-nn on WGPU agrees with the CPU, and 1,000 training
//! steps on WGPU keep the buffer pool flat.
//!
//! Without an adapter each test prints a skip notice, unless `ST_REQUIRE_WGPU=1` (CI on Mesa
//! lavapipe), which makes a missing adapter a failure.

use st_core::{manual_seed, DType, Device, Result, Tensor};
use st_nn::layers::{
    AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Conv2dConfig, Dropout,
    Embedding, Flatten, Gelu, LayerNorm, Linear, LogSoftmax, MaxPool2d, Relu, Sigmoid, Silu,
    Softmax, Tanh,
};
use st_nn::loss::{
    BceLoss, BceWithLogitsLoss, CrossEntropyLoss, L1Loss, MseLoss, NllLoss, Reduction, SmoothL1Loss,
};
use st_nn::optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, Optimizer, RmsProp, RmsPropConfig, Sgd,
    SgdConfig,
};
use st_nn::{Module, Sequential};
use std::sync::Mutex;

/// Tests here reseed the global generator to build twin layers: one at a time.
static SEED: Mutex<()> = Mutex::new(());

fn wgpu() -> Option<Device> {
    match st_backend_wgpu::device(0).and_then(|d| Tensor::zeros([1], DType::F32, &d).map(|_| d)) {
        Ok(d) => Some(d),
        Err(e) => {
            let required = std::env::var("ST_REQUIRE_WGPU").is_ok_and(|v| v == "1");
            assert!(!required, "ST_REQUIRE_WGPU=1 but wgpu is unavailable: {e}");
            eprintln!("skipping wgpu test: {e}");
            None
        }
    }
}

/// A deterministic f32 tensor of `dims` with values in about [-1.5, 1.5].
fn data(dims: &[usize], salt: usize) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| (((i * 37 + salt * 11) % 29) as f32 - 14.0) / 9.5)
        .collect();
    Tensor::from_vec(v, dims, &Device::cpu()).unwrap()
}

fn close(what: &str, a: &Tensor, b: &Tensor, tol: f64) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes");
    let (a, b) = (a.to_f64_vec().unwrap(), b.to_f64_vec().unwrap());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + x.abs()),
            "{what}[{i}]: cpu {x} vs wgpu {y}"
        );
    }
}

/// Builds the module twice from one seed, runs forward and backward on the CPU and on `dev`,
/// and compares outputs, input gradients and parameter gradients.
fn twin<M: Module>(dev: &Device, name: &str, make: impl Fn() -> Result<M>, x: &Tensor) {
    let _g = SEED.lock().unwrap_or_else(|e| e.into_inner());
    manual_seed(7);
    let a = make().unwrap();
    manual_seed(7);
    let mut b = make().unwrap();
    b.to(dev).unwrap();
    let run = |m: &M, x: &Tensor| {
        let x = x.detach().requires_grad_().unwrap();
        let y = m.forward(&x).unwrap();
        let w = data(y.dims(), 3).to(&x.device()).unwrap();
        y.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
        (y, x.grad())
    };
    let (ya, ga) = run(&a, x);
    let (yb, gb) = run(&b, &x.to(dev).unwrap());
    close(&format!("{name} output"), &ya, &yb, 1e-4);
    if let (Some(ga), Some(gb)) = (ga, gb) {
        close(&format!("{name} input grad"), &ga, &gb, 1e-4);
    }
    for ((n, pa), (_, pb)) in a.named_parameters().iter().zip(b.named_parameters()) {
        match (pa.grad(), pb.grad()) {
            (Some(x), Some(y)) => close(&format!("{name} {n} grad"), &x, &y, 1e-4),
            (x, y) => assert_eq!(x.is_some(), y.is_some(), "{name} {n}: grad presence"),
        }
    }
    for ((n, ba), (_, bb)) in a.named_buffers().iter().zip(b.named_buffers()) {
        close(&format!("{name} buffer {n}"), ba, &bb, 1e-5);
    }
}

#[test]
fn layers_agree_with_the_cpu() {
    let Some(dev) = wgpu() else { return };
    let cfg = Conv2dConfig {
        stride: [2, 1],
        padding: [1, 2],
        dilation: [1, 2],
        groups: 2,
        bias: true,
    };
    let f32c = (DType::F32, Device::cpu());
    twin(&dev, "Linear", || Linear::new(6, 5), &data(&[4, 6], 0));
    twin(
        &dev,
        "Linear 3-d",
        || Linear::build(6, 3, false, f32c.0, &f32c.1),
        &data(&[2, 3, 6], 1),
    );
    twin(
        &dev,
        "Conv2d",
        || Conv2d::build(4, 6, [3, 3], cfg, f32c.0, &f32c.1),
        &data(&[2, 4, 7, 6], 2),
    );
    twin(
        &dev,
        "MaxPool2d",
        || Ok(MaxPool2d::new(2)),
        &data(&[2, 3, 6, 6], 3),
    );
    twin(
        &dev,
        "AvgPool2d",
        || Ok(AvgPool2d::new(3)),
        &data(&[1, 2, 6, 9], 4),
    );
    twin(
        &dev,
        "AdaptiveAvgPool2d",
        || Ok(AdaptiveAvgPool2d { output: [3, 2] }),
        &data(&[2, 2, 5, 7], 5),
    );
    twin(
        &dev,
        "Flatten",
        || Ok(Flatten::default()),
        &data(&[2, 3, 2, 2], 6),
    );
    twin(
        &dev,
        "LayerNorm",
        || LayerNorm::new(&[3, 4]),
        &data(&[2, 3, 4], 7),
    );
    twin(
        &dev,
        "BatchNorm1d",
        || BatchNorm1d::new(5),
        &data(&[8, 5], 8),
    );
    twin(
        &dev,
        "BatchNorm2d",
        || BatchNorm2d::new(3),
        &data(&[4, 3, 3, 3], 9),
    );
    twin(
        &dev,
        "Dropout eval",
        || {
            let d = Dropout::with_seed(0.5, 1)?;
            d.eval();
            Ok(d)
        },
        &data(&[3, 4], 10),
    );
    twin(&dev, "ReLU", || Ok(Relu), &data(&[3, 5], 11));
    twin(
        &dev,
        "GELU",
        || Ok(Gelu { tanh: false }),
        &data(&[3, 5], 12),
    );
    twin(
        &dev,
        "GELU tanh",
        || Ok(Gelu { tanh: true }),
        &data(&[3, 5], 13),
    );
    twin(&dev, "SiLU", || Ok(Silu), &data(&[3, 5], 14));
    twin(&dev, "Tanh", || Ok(Tanh), &data(&[3, 5], 15));
    twin(&dev, "Sigmoid", || Ok(Sigmoid), &data(&[3, 5], 16));
    twin(
        &dev,
        "Softmax",
        || Ok(Softmax { dim: -1 }),
        &data(&[3, 5], 17),
    );
    twin(
        &dev,
        "LogSoftmax",
        || Ok(LogSoftmax { dim: 1 }),
        &data(&[3, 5], 18),
    );
}

#[test]
fn embedding_agrees_with_the_cpu() {
    let Some(dev) = wgpu() else { return };
    let _g = SEED.lock().unwrap_or_else(|e| e.into_inner());
    manual_seed(3);
    let a = Embedding::new(10, 4).unwrap();
    manual_seed(3);
    let mut b = Embedding::new(10, 4).unwrap();
    b.to(&dev).unwrap();
    let ids = Tensor::from_vec(vec![1i64, 7, 7, 0, 9, 3], [2, 3], &Device::cpu()).unwrap();
    let ya = a.forward(&ids).unwrap();
    let yb = b.forward(&ids.to(&dev).unwrap()).unwrap();
    close("Embedding", &ya, &yb, 1e-6);
    ya.sum_all().unwrap().backward().unwrap();
    yb.sum_all().unwrap().backward().unwrap();
    close(
        "Embedding grad",
        &a.weight.grad().unwrap(),
        &b.weight.grad().unwrap(),
        1e-6,
    );
}

type LossCase = (
    &'static str,
    Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor>>,
);

#[test]
fn losses_agree_with_the_cpu() {
    let Some(dev) = wgpu() else { return };
    let cpu = Device::cpu();
    let x = data(&[6, 4], 20);
    let t = data(&[6, 4], 21);
    let classes = Tensor::from_vec(vec![0i64, 3, 1, 2, 3, 0], [6], &cpu).unwrap();
    let probs = data(&[6, 4], 22).softmax(1).unwrap();
    let unit = x.sigmoid().unwrap();
    let target01 = data(&[6, 4], 23)
        .gt_scalar(0.0)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
    let w = Tensor::from_vec(vec![0.5f32, 1.0, 2.0, 1.5], [4], &cpu).unwrap();
    let cases: Vec<(LossCase, &Tensor, &Tensor)> = vec![
        (
            ("MSE", Box::new(|a, b| MseLoss::default().forward(a, b))),
            &x,
            &t,
        ),
        (
            (
                "L1 sum",
                Box::new(|a, b| {
                    L1Loss {
                        reduction: Reduction::Sum,
                    }
                    .forward(a, b)
                }),
            ),
            &x,
            &t,
        ),
        (
            (
                "SmoothL1",
                Box::new(|a, b| {
                    SmoothL1Loss {
                        beta: 0.5,
                        ..Default::default()
                    }
                    .forward(a, b)
                }),
            ),
            &x,
            &t,
        ),
        (
            (
                "CE",
                Box::new(|a, b| CrossEntropyLoss::default().forward(a, b)),
            ),
            &x,
            &classes,
        ),
        (
            (
                "CE probabilities",
                Box::new(|a, b| CrossEntropyLoss::default().forward(a, b)),
            ),
            &x,
            &probs,
        ),
        (
            ("BCE", Box::new(|a, b| BceLoss::default().forward(a, b))),
            &unit,
            &target01,
        ),
        (
            (
                "BCEWithLogits",
                Box::new(|a, b| BceWithLogitsLoss::default().forward(a, b)),
            ),
            &x,
            &target01,
        ),
    ];
    let wd = w.to(&dev).unwrap();
    let weighted = |w: Tensor| {
        move |a: &Tensor, b: &Tensor| {
            CrossEntropyLoss {
                weight: Some(w.clone()),
                ignore_index: Some(3),
                label_smoothing: 0.1,
                reduction: Reduction::Mean,
            }
            .forward(a, b)
        }
    };
    let nll = |w: Tensor| {
        move |a: &Tensor, b: &Tensor| {
            NllLoss {
                weight: Some(w.clone()),
                ..Default::default()
            }
            .forward(&a.log_softmax(1)?, b)
        }
    };
    let mut all: Vec<(
        String,
        Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor>>,
        Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor>>,
        Tensor,
        Tensor,
    )> = cases
        .into_iter()
        .map(|((n, f), a, b)| {
            let f = std::rc::Rc::new(f);
            let g = f.clone();
            (
                n.to_string(),
                Box::new(move |a: &Tensor, b: &Tensor| f(a, b))
                    as Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor>>,
                Box::new(move |a: &Tensor, b: &Tensor| g(a, b))
                    as Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor>>,
                a.clone(),
                b.clone(),
            )
        })
        .collect();
    all.push((
        "CE weight+ignore+smoothing".into(),
        Box::new(weighted(w.clone())),
        Box::new(weighted(wd.clone())),
        x.clone(),
        classes.clone(),
    ));
    all.push((
        "NLL weight".into(),
        Box::new(nll(w.clone())),
        Box::new(nll(wd)),
        x.clone(),
        classes.clone(),
    ));
    for (name, on_cpu, on_gpu, a, b) in all {
        let xa = a.detach().requires_grad_().unwrap();
        let la = on_cpu(&xa, &b).unwrap();
        la.backward().unwrap();
        let xb = a.to(&dev).unwrap().requires_grad_().unwrap();
        let lb = on_gpu(&xb, &b.to(&dev).unwrap()).unwrap();
        lb.backward().unwrap();
        close(&format!("{name} loss"), &la, &lb, 1e-5);
        close(
            &format!("{name} grad"),
            &xa.grad().unwrap(),
            &xb.grad().unwrap(),
            1e-5,
        );
    }
}

/// Parameters and fixed gradients (from one backward pass) on `dev`.
fn params_on(dev: &Device) -> Vec<Tensor> {
    let ps: Vec<Tensor> = (0..3)
        .map(|i| {
            data(&[5, 3], 30 + i)
                .to(dev)
                .unwrap()
                .requires_grad_()
                .unwrap()
        })
        .collect();
    let mut loss = Tensor::scalar(0.0, DType::F32, dev).unwrap();
    for (i, p) in ps.iter().enumerate() {
        let c = data(&[5, 3], 40 + i).to(dev).unwrap();
        loss = loss
            .add(&p.mul(&c).unwrap().mul(p).unwrap().sum_all().unwrap())
            .unwrap();
    }
    loss.backward().unwrap();
    ps
}

#[test]
fn optimizers_agree_with_the_cpu() {
    let Some(dev) = wgpu() else { return };
    type Make = fn(Vec<Tensor>) -> Result<Box<dyn Optimizer>>;
    let makers: Vec<(&str, Make)> = vec![
        ("SGD", |p| {
            Ok(Box::new(Sgd::new(
                p,
                SgdConfig {
                    lr: 0.05,
                    momentum: 0.9,
                    weight_decay: 0.01,
                    nesterov: true,
                    ..Default::default()
                },
            )?))
        }),
        ("Adam", |p| {
            Ok(Box::new(Adam::new(
                p,
                AdamConfig {
                    lr: 0.01,
                    amsgrad: true,
                    weight_decay: 0.01,
                    ..Default::default()
                },
            )?))
        }),
        ("AdamW", |p| {
            Ok(Box::new(AdamW::new(
                p,
                AdamConfig {
                    lr: 0.01,
                    weight_decay: 0.05,
                    ..Default::default()
                },
            )?))
        }),
        ("RMSprop", |p| {
            Ok(Box::new(RmsProp::new(
                p,
                RmsPropConfig {
                    centered: true,
                    momentum: 0.5,
                    ..Default::default()
                },
            )?))
        }),
        ("Adagrad", |p| {
            Ok(Box::new(Adagrad::new(
                p,
                AdagradConfig {
                    lr: 0.1,
                    lr_decay: 0.01,
                    ..Default::default()
                },
            )?))
        }),
    ];
    for (name, make) in makers {
        let (pc, pg) = (params_on(&Device::cpu()), params_on(&dev));
        let (mut oc, mut og) = (make(pc.clone()).unwrap(), make(pg.clone()).unwrap());
        for _ in 0..20 {
            oc.step().unwrap();
            og.step().unwrap();
        }
        for (a, b) in pc.iter().zip(&pg) {
            close(name, a, b, 1e-4);
        }
    }
}

/// 1,000 steps of forward, cross entropy, backward and SGD-momentum on WGPU: the pool's live
/// bytes stay flat after warm-up, and the loss falls as on the CPU.
#[test]
fn training_on_wgpu_keeps_the_pool_flat() {
    let Some(dev) = wgpu() else { return };
    let make = || -> Sequential {
        manual_seed(11);
        Sequential::new()
            .push(Linear::new(8, 16).unwrap())
            .push(Relu)
            .push(Linear::new(16, 3).unwrap())
    };
    let (cpu_model, mut gpu_model) = {
        let _g = SEED.lock().unwrap_or_else(|e| e.into_inner());
        (make(), make())
    };
    gpu_model.to(&dev).unwrap();
    let x = data(&[32, 8], 50);
    let y = Tensor::from_vec(
        (0..32).map(|i| (i % 3) as i64).collect::<Vec<_>>(),
        [32],
        &Device::cpu(),
    )
    .unwrap();
    let cfg = SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        ..Default::default()
    };
    let mut oc = Sgd::new(cpu_model.parameters(), cfg).unwrap();
    let mut og = Sgd::new(gpu_model.parameters(), cfg).unwrap();
    let (xg, yg) = (x.to(&dev).unwrap(), y.to(&dev).unwrap());
    let ce = CrossEntropyLoss::default();
    let mut live = 0;
    let (mut first, mut last) = (0.0, 0.0);
    for i in 0..1000 {
        og.zero_grad();
        let loss = ce.forward(&gpu_model.forward(&xg).unwrap(), &yg).unwrap();
        loss.backward().unwrap();
        og.step().unwrap();
        if i < 50 {
            oc.zero_grad();
            let lc = ce.forward(&cpu_model.forward(&x).unwrap(), &y).unwrap();
            lc.backward().unwrap();
            oc.step().unwrap();
            if i == 49 {
                close("loss after 50 steps", &lc, &loss, 1e-3);
            }
        }
        if i == 0 {
            first = loss.to_f64_vec().unwrap()[0];
        }
        if i == 20 {
            dev.sync().unwrap();
            live = st_backend_wgpu::pool_stats().unwrap().live_bytes;
        }
        if i == 999 {
            last = loss.to_f64_vec().unwrap()[0];
        }
    }
    dev.sync().unwrap();
    let stats = st_backend_wgpu::pool_stats().unwrap();
    assert!(
        stats.live_bytes <= live,
        "live bytes grew from {live} to {} over 1,000 steps ({stats:?})",
        stats.live_bytes
    );
    assert!(last < 0.5 * first, "loss {first} -> {last}");
}
