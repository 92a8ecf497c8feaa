//! The `st-bench` case table and backend selection. Case names, shapes and work counts match
//! `peers/torch_cpu.py` one for one, so the two outputs can be joined on `name`. The CPU runs
//! every case; WGPU runs the subset in [`WGPU_CASES`].

use crate::case::runner;
pub use crate::case::{randn, Case, Runner};
use crate::Work;
use st_core::events::{global_event_bus, EventCallback, SubscriptionId};
use st_core::{Conv2dParams, DType, Device, Result, Tensor};
use std::hint::black_box;
use std::sync::Arc;

/// Which backends `st-bench --backend` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// The CPU backend only (the default).
    Cpu,
    /// The WGPU backend only (adapter 0).
    Wgpu,
    /// Every backend: the CPU first, then WGPU.
    All,
}

impl BackendChoice {
    /// Names of the selected backends, in run order.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            BackendChoice::Cpu => &["cpu"],
            BackendChoice::Wgpu => &["wgpu"],
            BackendChoice::All => &["cpu", "wgpu"],
        }
    }
}

/// The cases `st-bench` runs on WGPU.
pub const WGPU_CASES: &[&str] = &[
    "matmul_f32_256",
    "matmul_f32_1024",
    "add_f32_1m",
    "softmax_f32_1024x1024",
];

/// The cases for the backend called `backend`, in run order: every case on `"cpu"`, the
/// [`WGPU_CASES`] on `"wgpu"`, none on any other backend.
pub fn cases_for(backend: &str) -> Vec<Case> {
    let cases = all_cases().into_iter();
    match backend {
        "cpu" => cases.collect(),
        "wgpu" => cases.filter(|c| WGPU_CASES.contains(&c.name)).collect(),
        _ => Vec::new(),
    }
}

fn inputs(case: &Case, device: &Device) -> Result<Vec<Tensor>> {
    case.shapes
        .iter()
        .enumerate()
        .map(|(i, s)| randn(s, 17 + i as u64, device))
        .collect()
}

fn build_matmul(case: &Case, device: &Device) -> Result<Runner> {
    let v = inputs(case, device)?;
    let (a, b) = (v[0].clone(), v[1].clone());
    Ok(runner(device, move || a.matmul(&b)))
}

fn build_add(case: &Case, device: &Device) -> Result<Runner> {
    let v = inputs(case, device)?;
    let (a, b) = (v[0].clone(), v[1].clone());
    Ok(runner(device, move || a.add(&b)))
}

/// Unsubscribes from the global bus when dropped (when the case's runner is dropped).
struct Subscription(SubscriptionId);

impl Drop for Subscription {
    fn drop(&mut self) {
        global_event_bus().unsubscribe(self.0);
    }
}

fn build_add_subscribed(case: &Case, device: &Device) -> Result<Runner> {
    let v = inputs(case, device)?;
    let (a, b) = (v[0].clone(), v[1].clone());
    let callback: EventCallback = Arc::new(|e| {
        black_box(e);
    });
    let sub = Subscription(global_event_bus().subscribe("TensorOp", callback));
    Ok(runner(device, move || {
        let _keep = &sub;
        a.add(&b)
    }))
}

/// `a.add_(b)`: in place, no output allocation.
fn build_add_inplace(case: &Case, device: &Device) -> Result<Runner> {
    let v = inputs(case, device)?;
    let (a, b) = (v[0].clone(), v[1].clone());
    Ok(runner(device, move || {
        a.add_(&b)?;
        Ok(a.clone())
    }))
}

/// One SGD step over [`SGD_PARAMS`] parameters, in place under `no_grad`: `p -= lr * g`
/// (PyTorch's `torch.optim.SGD(foreach=True).step()` without momentum).
fn build_sgd_update(case: &Case, device: &Device) -> Result<Runner> {
    let v = inputs(case, device)?;
    let (params, grads) = v.split_at(SGD_PARAMS);
    let (params, grads) = (params.to_vec(), grads.to_vec());
    Ok(runner(device, move || {
        let _g = st_core::no_grad();
        for (p, g) in params.iter().zip(&grads) {
            p.add_scaled_(g, -1e-3)?;
        }
        Ok(params[0].clone())
    }))
}

/// Parameters of `sgd_update_f32_1m`.
const SGD_PARAMS: usize = 10;

fn build_sum(case: &Case, device: &Device) -> Result<Runner> {
    let a = inputs(case, device)?.remove(0);
    Ok(runner(device, move || a.sum_all()))
}

fn build_softmax(case: &Case, device: &Device) -> Result<Runner> {
    let a = inputs(case, device)?.remove(0);
    Ok(runner(device, move || a.softmax(-1)))
}

fn build_conv2d(case: &Case, device: &Device) -> Result<Runner> {
    let v = inputs(case, device)?;
    let (x, w) = (v[0].clone(), v[1].clone());
    let p = Conv2dParams {
        padding: [1, 1],
        ..Conv2dParams::default()
    };
    Ok(runner(device, move || x.conv2d(&w, None, p)))
}

fn matmul(name: &'static str, n: usize) -> Case {
    Case {
        name,
        dtype: DType::F32,
        shapes: vec![vec![n, n], vec![n, n]],
        work: Work::matmul(n, n, n),
        build: build_matmul,
    }
}

fn add(name: &'static str, n: usize, build: fn(&Case, &Device) -> Result<Runner>) -> Case {
    // Two reads and one write of 4 bytes per element.
    Case {
        name,
        dtype: DType::F32,
        shapes: vec![vec![n], vec![n]],
        work: Work::bytes(n, 12),
        build,
    }
}

/// Every `st-bench` case, in run order. `add_f32_1_subscribed` exists only in builds with
/// st-core's `op-events` feature (the default): without it there is no event to subscribe to.
pub fn all_cases() -> Vec<Case> {
    const M: usize = 1 << 20;
    let mut cases = vec![
        matmul("matmul_f32_256", 256),
        matmul("matmul_f32_1024", 1024),
        matmul("matmul_f32_2048", 2048),
        add("add_f32_1", 1, build_add),
        add("add_f32_1_subscribed", 1, build_add_subscribed),
        add("add_f32_1m", M, build_add),
        add("add_f32_16m", 16 * M, build_add),
        add("add_inplace_f32_16m", 16 * M, build_add_inplace),
        Case {
            name: "sgd_update_f32_1m",
            dtype: DType::F32,
            // 10 parameters of 100k elements, then their gradients.
            shapes: vec![vec![100_000]; 2 * SGD_PARAMS],
            // Reads p and g, writes p: 12 bytes per parameter element.
            work: Work::bytes(SGD_PARAMS * 100_000, 12),
            build: build_sgd_update,
        },
        Case {
            name: "sum_f32_16m",
            dtype: DType::F32,
            shapes: vec![vec![16 * M]],
            work: Work::bytes(16 * M, 4),
            build: build_sum,
        },
        Case {
            name: "softmax_f32_1024x1024",
            dtype: DType::F32,
            shapes: vec![vec![1024, 1024]],
            // One read and one write of 4 bytes per element.
            work: Work::bytes(1024 * 1024, 8),
            build: build_softmax,
        },
        Case {
            name: "conv2d_f32_n8_c64_h56_k3",
            dtype: DType::F32,
            shapes: vec![vec![8, 64, 56, 56], vec![64, 64, 3, 3]],
            // Stride 1 and padding 1 keep the 56×56 spatial size.
            work: Work::conv2d(8, 64, 64, [3, 3], [56, 56]),
            build: build_conv2d,
        },
    ];
    cases.extend(crate::train_cases::cases());
    if !st_core::events::OP_EVENTS_ENABLED {
        cases.retain(|c| c.name != "add_f32_1_subscribed");
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_case_names_are_present_and_unique() {
        let names: Vec<_> = all_cases().iter().map(|c| c.name).collect();
        for required in [
            "matmul_f32_256",
            "matmul_f32_1024",
            "matmul_f32_2048",
            "add_f32_1",
            "add_f32_1m",
            "add_f32_16m",
            "add_inplace_f32_16m",
            "sgd_update_f32_1m",
            "sum_f32_16m",
            "softmax_f32_1024x1024",
            "conv2d_f32_n8_c64_h56_k3",
            "mlp_train_step_f32_bs64",
            "mlp_train_step_f32_bs256",
            "cnn_train_step_f32_bs32",
        ] {
            assert!(names.contains(&required), "missing case {required}");
        }
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            names.len(),
            "duplicate case names in {names:?}"
        );
    }

    #[test]
    fn wgpu_runs_its_subset_in_table_order() {
        let cpu: Vec<_> = cases_for("cpu").iter().map(|c| c.name).collect();
        let all: Vec<_> = all_cases().iter().map(|c| c.name).collect();
        assert_eq!(cpu, all, "the CPU runs every case");
        let wgpu: Vec<_> = cases_for("wgpu").iter().map(|c| c.name).collect();
        let want: Vec<_> = all
            .iter()
            .copied()
            .filter(|n| WGPU_CASES.contains(n))
            .collect();
        assert_eq!(wgpu, want);
        assert_eq!(wgpu.len(), WGPU_CASES.len(), "every WGPU case exists");
        assert!(cases_for("cuda").is_empty());
    }

    #[test]
    fn backend_choice_parses_and_lists_backends() {
        use clap::ValueEnum;
        let parse = |s: &str| BackendChoice::from_str(s, false);
        assert_eq!(parse("cpu"), Ok(BackendChoice::Cpu));
        assert_eq!(parse("wgpu"), Ok(BackendChoice::Wgpu));
        assert_eq!(
            parse("all").map(BackendChoice::names),
            Ok(&["cpu", "wgpu"][..])
        );
        assert!(parse("cuda").is_err());
    }

    #[test]
    fn subscribed_case_exists_exactly_with_op_events() {
        let has = all_cases().iter().any(|c| c.name == "add_f32_1_subscribed");
        assert_eq!(has, cfg!(feature = "op-events"));
    }

    #[cfg(feature = "op-events")]
    #[test]
    fn subscription_is_removed_when_the_runner_drops() {
        let bus = global_event_bus();
        let before = bus.subscriber_count();
        let case = all_cases()
            .into_iter()
            .find(|c| c.name == "add_f32_1_subscribed")
            .unwrap();
        let r = case.build(&Device::cpu()).unwrap();
        assert_eq!(bus.subscriber_count(), before + 1);
        drop(r);
        assert_eq!(bus.subscriber_count(), before);
    }
}
