//! Integration tests of the `Module` trait on a custom model with nested containers: dotted
//! names, parameters versus buffers, train/eval propagation, dtype and device moves, state
//! dict round trips through safetensors files and bytes, `load_state_dict` errors (and that a
//! failed load writes nothing), `StateDict::deep_clone`/`sub`, `zero_grad`, and malformed
//! checkpoint files.

use st_core::{DType, Device, Error, Tensor};
use st_nn::layers::{BatchNorm1d, Dropout, Linear, Relu};
use st_nn::module::{Visitor, VisitorMut};
use st_nn::optim::{Optimizer, Sgd, SgdConfig};
use st_nn::{checkpoint, Module, ModuleList, Sequential, StateDict};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// `manual_seed` reseeds one process-wide generator: seeding and building run under this lock
/// so that parallel tests cannot interleave their draws.
static SEED: Mutex<()> = Mutex::new(());

/// `layers` (Linear, BatchNorm1d, Relu, Dropout), `blocks` (a ModuleList of one Linear) and
/// `head` (a Linear).
struct Net {
    layers: Sequential,
    blocks: ModuleList,
    head: Linear,
}

impl Module for Net {
    fn forward(&self, x: &Tensor) -> st_core::Result<Tensor> {
        let mut h = self.layers.forward(x)?;
        for b in self.blocks.iter() {
            h = b.forward(&h)?.relu()?;
        }
        self.head.forward(&h)
    }
    fn visit(&self, v: &mut Visitor<'_>) {
        v.child("layers", &self.layers);
        v.child("blocks", &self.blocks);
        v.child("head", &self.head);
    }
    fn visit_mut(&mut self, v: &mut VisitorMut<'_>) {
        v.child("layers", &mut self.layers);
        v.child("blocks", &mut self.blocks);
        v.child("head", &mut self.head);
    }
}

fn net(seed: u64) -> Net {
    let _g = SEED.lock().unwrap_or_else(|e| e.into_inner());
    st_core::manual_seed(seed);
    let layers = Sequential::new()
        .push(Linear::new(4, 8).unwrap())
        .push(BatchNorm1d::new(8).unwrap())
        .push(Relu)
        .push(Dropout::with_seed(0.5, seed).unwrap());
    let mut blocks = ModuleList::new();
    blocks.push(Linear::new(8, 8).unwrap());
    Net {
        layers,
        blocks,
        head: Linear::new(8, 3).unwrap(),
    }
}

fn input(seed: u64) -> Tensor {
    let mut g = st_core::Generator::new(seed);
    Tensor::randn_with(&mut g, [16, 4], DType::F32, &Device::cpu()).unwrap()
}

/// Every parameter and buffer as (name, dtype, dims, bytes).
fn snapshot(m: &dyn Module) -> Vec<(String, DType, Vec<usize>, Vec<u8>)> {
    m.named_tensors()
        .into_iter()
        .map(|(n, t, _)| (n, t.dtype(), t.dims().to_vec(), t.to_bytes().unwrap()))
        .collect()
}

/// A few training-mode forwards (moving BatchNorm's statistics) and one SGD step.
fn perturb(m: &Net) {
    let mut opt = Sgd::new(
        m.parameters(),
        SgdConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    m.train();
    for s in 0..3 {
        opt.zero_grad();
        m.forward(&input(100 + s))
            .unwrap()
            .pow_scalar(2.0)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        opt.step().unwrap();
    }
}

fn temp_path(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!(
        "st-nn-module-{tag}-{}-{nanos}.safetensors",
        std::process::id()
    ))
}

fn names(v: &[(String, Tensor)]) -> Vec<&str> {
    v.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn dotted_names_buffers_and_counts() {
    let m = net(1);
    assert_eq!(
        names(&m.named_parameters()),
        [
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.weight",
            "layers.1.bias",
            "blocks.0.weight",
            "blocks.0.bias",
            "head.weight",
            "head.bias",
        ]
    );
    assert_eq!(
        names(&m.named_buffers()),
        [
            "layers.1.running_mean",
            "layers.1.running_var",
            "layers.1.num_batches_tracked",
        ]
    );
    let keys: Vec<String> = m.state_dict().keys().map(str::to_string).collect();
    assert_eq!(keys.len(), 11);
    assert_eq!(keys[4], "layers.1.running_mean");
    assert_eq!(keys[10], "head.bias");
    assert_eq!(
        m.num_parameters(),
        (4 * 8 + 8) + (8 + 8) + (8 * 8 + 8) + (8 * 3 + 3)
    );
    assert_eq!(m.parameters().len(), 8);
    assert!(m.parameters().iter().all(Tensor::requires_grad));
    assert!(m.named_buffers().iter().all(|(_, t)| !t.requires_grad()));
    assert_eq!(m.head.weight.dims(), &[3, 8]);
    // parameters() are handles on the module's storage.
    assert!(m.parameters()[6].same_storage(&m.head.weight));
}

#[test]
fn train_and_eval_propagate_to_nested_layers() {
    let m = net(2);
    assert!(m.is_training());
    m.eval();
    assert!(!m.is_training());
    assert!(!m.layers.get(1).unwrap().is_training(), "BatchNorm");
    assert!(!m.layers.get(3).unwrap().is_training(), "Dropout");
    let x = input(3);
    let nbt = m.layers.get(1).unwrap().named_buffers()[2].1.clone();
    let a = m.forward(&x).unwrap().to_vec::<f32>().unwrap();
    let b = m.forward(&x).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(a, b, "eval forward must be deterministic");
    assert_eq!(
        nbt.to_scalar::<i64>().unwrap(),
        0,
        "eval does not track batches"
    );

    m.train();
    assert!(m.is_training());
    assert!(m.layers.get(1).unwrap().is_training());
    assert!(m.layers.get(3).unwrap().is_training());
    let drop = m.layers.get(3).unwrap();
    let ones = Tensor::ones([64, 8], DType::F32, &Device::cpu()).unwrap();
    let d = drop.forward(&ones).unwrap().to_vec::<f32>().unwrap();
    assert!(
        d.contains(&0.0) && d.contains(&2.0),
        "Dropout(0.5) drops in training"
    );
    m.forward(&x).unwrap();
    assert_eq!(nbt.to_scalar::<i64>().unwrap(), 1);

    m.set_training(false);
    assert!(!m.layers.get(3).unwrap().is_training());
    assert_eq!(
        drop.forward(&ones).unwrap().to_vec::<f32>().unwrap(),
        vec![1.0; 64 * 8]
    );
}

#[test]
fn to_dtype_casts_floats_and_keeps_integer_buffers() {
    let mut m = net(3);
    m.to_dtype(DType::F64).unwrap();
    for (n, p) in m.named_parameters() {
        assert_eq!(p.dtype(), DType::F64, "{n}");
        assert!(p.requires_grad() && p.is_leaf(), "{n}");
    }
    let bufs = m.named_buffers();
    assert_eq!(bufs[0].1.dtype(), DType::F64);
    assert_eq!(bufs[1].1.dtype(), DType::F64);
    assert_eq!(
        bufs[2].1.dtype(),
        DType::I64,
        "num_batches_tracked stays i64"
    );
    let x = input(4).to_dtype(DType::F64).unwrap();
    let y = m.forward(&x).unwrap();
    assert_eq!(y.dtype(), DType::F64);
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(m.head.weight.grad().unwrap().dtype(), DType::F64);

    // An f32 state dict loads into the f64 model, cast on the way in.
    let src = net(33);
    m.load_state_dict(&src.state_dict(), true).unwrap();
    assert_eq!(m.head.weight.dtype(), DType::F64);
    assert_eq!(
        m.head.weight.to_vec::<f64>().unwrap(),
        src.head
            .weight
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect::<Vec<_>>()
    );

    let before = snapshot(&m);
    let err = m.to_dtype(DType::I32).unwrap_err();
    assert!(matches!(err, Error::DTypeMismatch { .. }), "{err:?}");
    assert_eq!(snapshot(&m), before, "a failed cast changes nothing");
}

#[test]
fn to_same_device_keeps_values_and_grad_flags() {
    let mut m = net(4);
    let before = snapshot(&m);
    m.to(&Device::cpu()).unwrap();
    assert_eq!(snapshot(&m), before);
    assert!(m
        .parameters()
        .iter()
        .all(|p| p.requires_grad() && p.device().is_cpu()));
    let y = m.forward(&input(5)).unwrap();
    y.sum_all().unwrap().backward().unwrap();
    assert!(m.parameters().iter().all(|p| p.grad().is_some()));
}

fn assert_same_state(a: &dyn Module, b: &dyn Module) {
    assert_eq!(snapshot(a), snapshot(b));
}

fn output_bytes(m: &dyn Module, x: &Tensor) -> Vec<u8> {
    m.forward(x).unwrap().to_bytes().unwrap()
}

#[test]
fn state_dict_round_trips_through_a_file_exactly() {
    let a = net(5);
    perturb(&a);
    a.eval();
    let path = temp_path("roundtrip");
    let meta = BTreeMap::from([
        ("epoch".to_string(), "7".to_string()),
        ("note".to_string(), "ünïcode ok".to_string()),
    ]);
    checkpoint::save(&path, &a.state_dict(), &meta).unwrap();
    let (sd, meta2) = checkpoint::load(&path, &Device::cpu()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(meta2, meta);
    // safetensors orders tensors by alignment and name, not declaration order.
    let mut keys: Vec<&str> = sd.keys().collect();
    keys.sort_unstable();
    let mut want: Vec<String> = a.state_dict().keys().map(str::to_string).collect();
    want.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(
        sd.get("layers.1.num_batches_tracked").unwrap().dtype(),
        DType::I64
    );

    let b = net(6);
    b.eval();
    let x = input(7);
    assert_ne!(output_bytes(&a, &x), output_bytes(&b, &x));
    let inc = b.load_state_dict(&sd, true).unwrap();
    assert!(inc.missing.is_empty() && inc.unexpected.is_empty());
    assert_same_state(&a, &b);
    assert_eq!(output_bytes(&a, &x), output_bytes(&b, &x));
    // Loading copies: b does not alias the loaded tensors.
    assert!(!b.head.weight.same_storage(sd.get("head.weight").unwrap()));
}

#[test]
fn state_dict_round_trips_through_bytes_exactly() {
    let a = net(8);
    perturb(&a);
    a.eval();
    let meta = BTreeMap::from([("k".to_string(), "v".to_string())]);
    let bytes = checkpoint::to_bytes(&a.state_dict(), &meta).unwrap();
    let (sd, meta2) = checkpoint::from_bytes(&bytes, &Device::cpu()).unwrap();
    assert_eq!(meta2, meta);
    let b = net(9);
    b.eval();
    b.load_state_dict(&sd, true).unwrap();
    assert_same_state(&a, &b);
    let x = input(10);
    assert_eq!(output_bytes(&a, &x), output_bytes(&b, &x));
    // Empty metadata round trips as empty.
    let bytes = checkpoint::to_bytes(&a.state_dict(), &BTreeMap::new()).unwrap();
    assert!(checkpoint::from_bytes(&bytes, &Device::cpu())
        .unwrap()
        .1
        .is_empty());
}

fn state_dict_error(e: Error) -> (Vec<String>, Vec<String>, Vec<String>) {
    match e {
        Error::StateDict(m) => (m.missing, m.unexpected, m.mismatched),
        other => panic!("expected Error::StateDict, got {other:?}"),
    }
}

#[test]
fn load_state_dict_missing_key() {
    let src = net(11);
    let dst = net(12);
    let mut sd = src.state_dict();
    sd.remove("head.bias").unwrap();
    let before = snapshot(&dst);
    let e = dst.load_state_dict(&sd, true).unwrap_err();
    assert!(e.to_string().contains("head.bias"), "{e}");
    assert_eq!(
        state_dict_error(e),
        (vec!["head.bias".into()], vec![], vec![])
    );
    assert_eq!(snapshot(&dst), before, "a strict failure writes nothing");

    let inc = dst.load_state_dict(&sd, false).unwrap();
    assert_eq!(inc.missing, ["head.bias"]);
    assert!(inc.unexpected.is_empty());
    assert_eq!(
        dst.head.weight.to_bytes().unwrap(),
        src.head.weight.to_bytes().unwrap()
    );
    assert_eq!(
        dst.head.bias.as_ref().unwrap().to_bytes().unwrap(),
        before[10].3,
        "the missing key keeps its value"
    );
}

#[test]
fn load_state_dict_unexpected_key() {
    let src = net(13);
    let dst = net(14);
    let mut sd = src.state_dict();
    sd.insert(
        "extra.weight",
        Tensor::zeros([2], DType::F32, &Device::cpu()).unwrap(),
    );
    let before = snapshot(&dst);
    let e = dst.load_state_dict(&sd, true).unwrap_err();
    assert!(e.to_string().contains("extra.weight"), "{e}");
    assert_eq!(
        state_dict_error(e),
        (vec![], vec!["extra.weight".into()], vec![])
    );
    assert_eq!(snapshot(&dst), before);

    let inc = dst.load_state_dict(&sd, false).unwrap();
    assert!(inc.missing.is_empty());
    assert_eq!(inc.unexpected, ["extra.weight"]);
    assert_same_state(&src, &dst);
}

#[test]
fn load_state_dict_mis_shaped_key_is_always_an_error_and_writes_nothing() {
    let src = net(15);
    let dst = net(16);
    let mut sd = src.state_dict();
    sd.insert(
        "head.weight",
        Tensor::zeros([2, 8], DType::F32, &Device::cpu()).unwrap(),
    );
    sd.remove("layers.0.bias");
    sd.insert(
        "junk",
        Tensor::zeros([1], DType::F32, &Device::cpu()).unwrap(),
    );
    let before = snapshot(&dst);
    for strict in [true, false] {
        let e = dst.load_state_dict(&sd, strict).unwrap_err();
        assert!(e.to_string().contains("head.weight"), "{e}");
        let (missing, unexpected, mismatched) = state_dict_error(e);
        assert_eq!(mismatched.len(), 1, "{mismatched:?}");
        assert!(mismatched[0].starts_with("head.weight"), "{mismatched:?}");
        if strict {
            assert_eq!(missing, ["layers.0.bias"]);
            assert_eq!(unexpected, ["junk"]);
        }
        assert_eq!(
            snapshot(&dst),
            before,
            "strict={strict}: nothing is written"
        );
    }
}

#[test]
fn deep_clone_is_independent_of_training_and_sub_strips_prefixes() {
    let m = net(17);
    let before = snapshot(&m);
    let deep = m.state_dict().deep_clone().unwrap();
    let shallow = m.state_dict();
    perturb(&m);
    let after = snapshot(&m);
    assert_ne!(after, before);
    let as_rows = |sd: &StateDict| -> Vec<(String, DType, Vec<usize>, Vec<u8>)> {
        sd.iter()
            .map(|(n, t)| {
                (
                    n.to_string(),
                    t.dtype(),
                    t.dims().to_vec(),
                    t.to_bytes().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(as_rows(&deep), before, "deep_clone keeps the old values");
    assert_eq!(as_rows(&shallow), after, "state_dict shares storage");

    let layers = deep.sub("layers");
    let keys: Vec<&str> = layers.keys().collect();
    assert_eq!(
        keys,
        [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked",
        ]
    );
    assert_eq!(deep.sub("layers.1").len(), 5);
    assert!(
        deep.sub("lay").is_empty(),
        "prefixes match whole components"
    );
    assert!(deep.sub("nope").is_empty());

    // A child's sub-dict loads into a standalone layer of the same shape.
    let head = Linear::new(8, 3).unwrap();
    head.load_state_dict(&deep.sub("head"), true).unwrap();
    assert_eq!(head.weight.to_bytes().unwrap(), before[9].3);
}

#[test]
fn zero_grad_clears_every_gradient() {
    let m = net(18);
    m.forward(&input(19))
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(m.parameters().iter().all(|p| p.grad().is_some()));
    m.zero_grad();
    for (n, p) in m.named_parameters() {
        assert!(p.grad().is_none(), "{n} still has a gradient");
    }
}

#[test]
fn module_list_forward_is_an_error() {
    let m = net(20);
    let e = m.blocks.forward(&input(21)).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert_eq!(m.blocks.len(), 1);
    assert!(m
        .blocks
        .get(0)
        .unwrap()
        .forward(&Tensor::zeros([2, 8], DType::F32, &Device::cpu()).unwrap())
        .is_ok());
}

#[test]
fn malformed_safetensors_are_errors_not_panics() {
    let m = net(22);
    let good = checkpoint::to_bytes(&m.state_dict(), &BTreeMap::new()).unwrap();
    let cpu = Device::cpu();
    // Truncated at many points, including inside the header and inside the data.
    for cut in [0, 4, 7, 8, 9, 20, good.len() / 2, good.len() - 1] {
        assert!(
            checkpoint::from_bytes(&good[..cut], &cpu).is_err(),
            "truncated at {cut} of {}",
            good.len()
        );
    }
    // A header length far past the end.
    let mut huge = u64::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    assert!(checkpoint::from_bytes(&huge, &cpu).is_err());
    // A header that is not JSON.
    let mut bad = 8u64.to_le_bytes().to_vec();
    bad.extend_from_slice(b"not json");
    assert!(checkpoint::from_bytes(&bad, &cpu).is_err());

    // The same through files.
    let path = temp_path("garbage");
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let truncated = checkpoint::load(&path, &cpu);
    std::fs::write(&path, b"\x13\x37 definitely not a safetensors file").unwrap();
    let garbage = checkpoint::load(&path, &cpu);
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(truncated, Err(Error::InvalidArgument { .. })));
    let e = garbage.expect_err("garbage must not load");
    assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
    assert!(matches!(
        checkpoint::load(&path, &cpu),
        Err(Error::Io { .. })
    ));
}
