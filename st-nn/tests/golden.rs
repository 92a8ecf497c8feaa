//! st-nn against golden fixtures generated once with PyTorch 2.15
//! (`tests/fixtures/make_fixtures.py`; not run in CI): every layer's forward and backward with
//! PyTorch's own weights (loaded by PyTorch's state-dict names), every loss configuration,
//! 50 optimizer steps on an MLP from the same weights and batches, and 100 steps of every LR
//! schedule. All in f64.

use serde_json::Value;
use st_core::{DType, Device, Tensor};
use st_nn::layers::{
    AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Conv2dConfig, Embedding,
    Flatten, Gelu, LayerNorm, Linear, LogSoftmax, MaxPool2d, MultiheadAttention, Relu, Sigmoid,
    Silu, Softmax, Tanh,
};
use st_nn::loss::{
    BceLoss, BceWithLogitsLoss, CrossEntropyLoss, L1Loss, MseLoss, NllLoss, Reduction, SmoothL1Loss,
};
use st_nn::optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, Optimizer, RmsProp, RmsPropConfig, Sgd,
    SgdConfig,
};
use st_nn::schedule::{
    CosineAnnealingLr, ExponentialLr, LinearLr, LrScheduler, MultiStepLr, OneCycleLr, Schedule,
    SequentialLr, StepLr,
};
use st_nn::{Module, Sequential, StateDict};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str::<Value>(&text).unwrap()["cases"].clone()
}

fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = serde_json::from_value(v["shape"].clone()).unwrap();
    let data: Vec<f64> = serde_json::from_value(v["data"].clone()).unwrap();
    let dt = match v["dtype"].as_str().unwrap() {
        "float64" => DType::F64,
        "int64" => DType::I64,
        "bool" => DType::Bool,
        other => panic!("fixture dtype {other}"),
    };
    Tensor::from_f64_slice(&data, shape.as_slice(), dt, &Device::cpu()).unwrap()
}

fn state(v: &Value) -> StateDict {
    StateDict::from_entries(
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, t)| (k.clone(), tensor(t)))
            .collect(),
    )
}

fn close(what: &str, got: &Tensor, want: &Tensor, rtol: f64) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let (g, w) = (got.to_f64_vec().unwrap(), want.to_f64_vec().unwrap());
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() <= rtol * b.abs().max(1e-3),
            "{what}[{i}]: st-nn {a}, PyTorch {b}"
        );
    }
}

fn f64c() -> (DType, Device) {
    (DType::F64, Device::cpu())
}

fn layer(name: &str) -> Box<dyn Module> {
    let (dt, cpu) = f64c();
    match name {
        "linear" => Box::new(Linear::build(5, 4, true, dt, &cpu).unwrap()),
        "linear_3d_nobias" => Box::new(Linear::build(5, 2, false, dt, &cpu).unwrap()),
        "conv2d" => {
            let cfg = Conv2dConfig {
                stride: [2, 1],
                padding: [1, 2],
                dilation: [1, 2],
                groups: 2,
                bias: true,
            };
            Box::new(Conv2d::build(4, 6, [3, 3], cfg, dt, &cpu).unwrap())
        }
        "conv2d_plain" => {
            Box::new(Conv2d::build(3, 5, [3, 3], Conv2dConfig::default(), dt, &cpu).unwrap())
        }
        "maxpool2d" => Box::new(MaxPool2d::new(2)),
        "maxpool2d_stride_pad" => Box::new(MaxPool2d {
            kernel: [3, 3],
            stride: [2, 2],
            padding: [1, 1],
        }),
        "avgpool2d" => Box::new(AvgPool2d {
            kernel: [3, 3],
            stride: [2, 2],
            padding: [1, 1],
        }),
        "adaptive_avgpool2d" => Box::new(AdaptiveAvgPool2d { output: [3, 2] }),
        "layernorm" => Box::new(LayerNorm::build(&[3, 4], 1e-5, true, dt, &cpu).unwrap()),
        "batchnorm1d" => Box::new(BatchNorm1d::build(5, 1e-5, Some(0.1), dt, &cpu).unwrap()),
        "batchnorm1d_3d" => Box::new(BatchNorm1d::build(3, 1e-5, Some(0.1), dt, &cpu).unwrap()),
        "batchnorm2d" => Box::new(BatchNorm2d::build(3, 1e-5, Some(0.1), dt, &cpu).unwrap()),
        "embedding" => Box::new(Embedding::build(10, 4, dt, &cpu).unwrap()),
        "relu" => Box::new(Relu),
        "gelu" => Box::new(Gelu { tanh: false }),
        "gelu_tanh" => Box::new(Gelu { tanh: true }),
        "silu" => Box::new(Silu),
        "tanh" => Box::new(Tanh),
        "sigmoid" => Box::new(Sigmoid),
        "softmax" => Box::new(Softmax { dim: -1 }),
        "log_softmax" => Box::new(LogSoftmax { dim: 1 }),
        "flatten" => Box::new(Flatten::default()),
        "mha_causal" => {
            let mut m = MultiheadAttention::build(4, 2, true, dt, &cpu).unwrap();
            m.causal = true;
            Box::new(m)
        }
        other => panic!("no layer for fixture {other}"),
    }
}

#[test]
fn layers_match_pytorch_forward_and_backward() {
    let cases = fixture("layers");
    for c in cases.as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let m = layer(name);
        m.load_state_dict(&state(&c["params"]), true)
            .unwrap_or_else(|e| panic!("{name}: PyTorch's state dict does not load: {e}"));
        let x = tensor(&c["input"]);
        let x = if x.dtype().is_float() {
            x.requires_grad_().unwrap()
        } else {
            x
        };
        let y = m.forward(&x).unwrap();
        close(&format!("{name} output"), &y, &tensor(&c["output"]), 1e-9);
        y.mul(&tensor(&c["w_out"]))
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        if let Some(g) = c.get("input_grad") {
            close(
                &format!("{name} input grad"),
                &x.grad().unwrap(),
                &tensor(g),
                1e-9,
            );
        }
        let params: std::collections::HashMap<String, Tensor> =
            m.named_parameters().into_iter().collect();
        for (k, g) in c["param_grads"].as_object().unwrap() {
            let p = &params[k];
            close(
                &format!("{name} {k} grad"),
                &p.grad().unwrap(),
                &tensor(g),
                1e-9,
            );
        }
        let buffers: std::collections::HashMap<String, Tensor> =
            m.named_buffers().into_iter().collect();
        for (k, b) in c["buffers_after"].as_object().unwrap() {
            close(&format!("{name} buffer {k}"), &buffers[k], &tensor(b), 1e-9);
        }
    }
}

fn loss(name: &str, c: &Value) -> Box<dyn Fn(&Tensor, &Tensor) -> st_core::Result<Tensor>> {
    let w = c.get("weight").map(tensor);
    let sum = Reduction::Sum;
    match name {
        "mse" => Box::new(|a, b| MseLoss::default().forward(a, b)),
        "mse_sum" => Box::new(move |a, b| MseLoss { reduction: sum }.forward(a, b)),
        "l1" => Box::new(|a, b| L1Loss::default().forward(a, b)),
        "smooth_l1_beta_half" => Box::new(|a, b| {
            SmoothL1Loss {
                beta: 0.5,
                ..Default::default()
            }
            .forward(a, b)
        }),
        "ce" | "ce_probs" => Box::new(|a, b| CrossEntropyLoss::default().forward(a, b)),
        "ce_sum" => Box::new(move |a, b| {
            CrossEntropyLoss {
                reduction: sum,
                ..Default::default()
            }
            .forward(a, b)
        }),
        "ce_weight_ignore_smooth" => Box::new(move |a, b| {
            CrossEntropyLoss {
                weight: w.clone(),
                ignore_index: Some(3),
                label_smoothing: 0.1,
                reduction: Reduction::Mean,
            }
            .forward(a, b)
        }),
        "ce_smooth_none" => Box::new(|a, b| {
            CrossEntropyLoss {
                label_smoothing: 0.2,
                reduction: Reduction::None,
                ..Default::default()
            }
            .forward(a, b)
        }),
        "ce_probs_weight_smooth" => Box::new(move |a, b| {
            CrossEntropyLoss {
                weight: w.clone(),
                label_smoothing: 0.1,
                ..Default::default()
            }
            .forward(a, b)
        }),
        "nll_weight" => Box::new(move |a, b| {
            NllLoss {
                weight: w.clone(),
                ..Default::default()
            }
            .forward(&a.log_softmax(1)?, b)
        }),
        "bce" => Box::new(|a, b| BceLoss::default().forward(a, b)),
        "bce_logits_pos_weight" => {
            let pw = tensor(&c["pos_weight"]);
            Box::new(move |a, b| {
                BceWithLogitsLoss {
                    pos_weight: Some(pw.clone()),
                    ..Default::default()
                }
                .forward(a, b)
            })
        }
        other => panic!("no loss for fixture {other}"),
    }
}

#[test]
fn losses_match_pytorch_values_and_gradients() {
    for c in fixture("losses").as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let f = loss(name, c);
        let x = tensor(&c["input"]).requires_grad_().unwrap();
        let v = f(&x, &tensor(&c["target"])).unwrap();
        close(&format!("{name} value"), &v, &tensor(&c["value"]), 1e-10);
        v.sum_all().unwrap().backward().unwrap();
        close(
            &format!("{name} grad"),
            &x.grad().unwrap(),
            &tensor(&c["input_grad"]),
            1e-9,
        );
    }
}

fn make_opt(name: &str, p: Vec<Tensor>) -> Box<dyn Optimizer> {
    match name {
        "sgd_momentum" => Box::new(
            Sgd::new(
                p,
                SgdConfig {
                    lr: 0.1,
                    momentum: 0.9,
                    weight_decay: 1e-3,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "sgd_nesterov" => Box::new(
            Sgd::new(
                p,
                SgdConfig {
                    lr: 0.05,
                    momentum: 0.9,
                    nesterov: true,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "adam" => Box::new(
            Adam::new(
                p,
                AdamConfig {
                    lr: 1e-2,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "adam_amsgrad_l2" => Box::new(
            Adam::new(
                p,
                AdamConfig {
                    lr: 1e-2,
                    weight_decay: 1e-2,
                    amsgrad: true,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "adamw" => Box::new(
            AdamW::new(
                p,
                AdamConfig {
                    lr: 1e-2,
                    weight_decay: 0.1,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "rmsprop_centered" => Box::new(
            RmsProp::new(
                p,
                RmsPropConfig {
                    lr: 1e-3,
                    centered: true,
                    momentum: 0.5,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "adagrad" => Box::new(
            Adagrad::new(
                p,
                AdagradConfig {
                    lr: 0.05,
                    lr_decay: 1e-3,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        other => panic!("no optimizer for fixture {other}"),
    }
}

#[test]
fn fifty_optimizer_steps_match_pytorch() {
    let c = fixture("optim");
    let (dt, cpu) = f64c();
    let init = state(&c["init"]);
    let batches: Vec<(Tensor, Tensor)> = c["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (tensor(&b["x"]), tensor(&b["y"])))
        .collect();
    for (name, run) in c["runs"].as_object().unwrap() {
        let model = Sequential::new()
            .push(Linear::build(4, 8, true, dt, &cpu).unwrap())
            .push(Relu)
            .push(Linear::build(8, 3, true, dt, &cpu).unwrap());
        model.load_state_dict(&init, true).unwrap();
        let mut opt = make_opt(name, model.parameters());
        let want: Vec<f64> = serde_json::from_value(run["losses"].clone()).unwrap();
        for (step, ((x, y), w)) in batches.iter().zip(&want).enumerate() {
            opt.zero_grad();
            let l = CrossEntropyLoss::default()
                .forward(&model.forward(x).unwrap(), y)
                .unwrap();
            l.backward().unwrap();
            opt.step().unwrap();
            let got = l.to_scalar::<f64>().unwrap();
            assert!(
                (got - w).abs() <= 1e-5 * w.abs(),
                "{name} step {step}: loss {got}, PyTorch {w}"
            );
        }
        let fin = state(&run["final"]);
        for (k, p) in model.state_dict() {
            close(&format!("{name} final {k}"), &p, fin.get(&k).unwrap(), 1e-6);
        }
    }
}

#[test]
fn schedules_match_pytorch_over_100_steps() {
    let c = fixture("schedules");
    let cases: Vec<(&str, Box<dyn Schedule>)> = vec![
        (
            "step",
            Box::new(StepLr {
                step_size: 30,
                gamma: 0.1,
            }),
        ),
        (
            "multistep",
            Box::new(MultiStepLr {
                milestones: vec![20, 50, 80],
                gamma: 0.5,
            }),
        ),
        ("exponential", Box::new(ExponentialLr { gamma: 0.97 })),
        (
            "cosine",
            Box::new(CosineAnnealingLr {
                t_max: 40,
                eta_min: 0.001,
            }),
        ),
        (
            "linear",
            Box::new(LinearLr {
                start_factor: 0.25,
                end_factor: 1.0,
                total_iters: 10,
            }),
        ),
        ("onecycle", Box::new(OneCycleLr::new(0.5, 100))),
        (
            "sequential",
            Box::new(SequentialLr {
                schedules: vec![
                    Box::new(LinearLr {
                        start_factor: 0.1,
                        end_factor: 1.0,
                        total_iters: 10,
                    }),
                    Box::new(CosineAnnealingLr {
                        t_max: 90,
                        eta_min: 0.0,
                    }),
                ],
                milestones: vec![10],
            }),
        ),
    ];
    for (name, schedule) in cases {
        let p = Tensor::zeros([1], DType::F64, &Device::cpu())
            .unwrap()
            .requires_grad_()
            .unwrap();
        let mut opt = Sgd::new(
            vec![p],
            SgdConfig {
                lr: 0.1,
                ..Default::default()
            },
        )
        .unwrap();
        let mut s = LrScheduler::new(&mut opt, BoxedSchedule(schedule)).unwrap();
        let want: Vec<f64> = serde_json::from_value(c[name].clone()).unwrap();
        for (t, w) in want.iter().enumerate() {
            let got = opt.param_groups()[0].lr;
            assert!(
                (got - w).abs() <= 1e-12 * w.abs().max(1e-12),
                "{name} step {t}: {got} vs PyTorch {w}"
            );
            s.step(&mut opt);
        }
    }
}

/// A boxed schedule as a schedule (the scheduler takes one by value).
struct BoxedSchedule(Box<dyn Schedule>);

impl Schedule for BoxedSchedule {
    fn lr_at(&self, t: usize, base: f64) -> f64 {
        self.0.lr_at(t, base)
    }
    fn validate(&self) -> st_core::Result<()> {
        self.0.validate()
    }
}
