//! The README's first command, end to end: the MLP and the CNN reach 97 % test accuracy on
//! the shipped digits, the best checkpoint reloads into a fresh model (strict keys),
//! and the data file is the one its README describes.

use st_core::{Device, Tensor};
use st_examples::digits::{default_path, Digits};
use st_examples::train::{model, train, Model, TrainOptions};
use st_nn::checkpoint;
use st_nn::Module;

#[test]
fn the_shipped_data_parses_to_1797_images() {
    let d = Digits::load(&default_path()).unwrap();
    assert_eq!(d.len(), 1797);
    assert_eq!(d.images.len(), 1797 * 64);
    let mut counts = [0usize; 10];
    for &l in &d.labels {
        counts[l as usize] += 1;
    }
    // The UCI test set has 174..=183 images of each digit.
    assert!(
        counts.iter().all(|&c| (174..=183).contains(&c)),
        "{counts:?}"
    );
}

#[test]
fn a_corrupt_data_file_is_an_error() {
    let path = std::env::temp_dir().join(format!("st-digits-bad-{}.csv.gz", std::process::id()));
    std::fs::write(&path, b"not gzip").unwrap();
    assert!(Digits::load(&path).is_err());
    std::fs::remove_file(&path).ok();
}

fn run(kind: Model, epochs: usize) {
    let d = Digits::load(&default_path()).unwrap();
    let dir = std::env::temp_dir().join(format!("st-digits-{kind:?}-{}", std::process::id()));
    let opts = TrainOptions {
        model: kind,
        epochs,
        checkpoint_dir: Some(dir.clone()),
        progress: false,
        ..Default::default()
    };
    let (test, history) = train(&d, &opts).unwrap();
    assert_eq!(history.len(), epochs);
    assert!(
        test["accuracy"] >= 0.97,
        "{kind:?}: test accuracy {:.4}",
        test["accuracy"]
    );
    // The best checkpoint loads into a fresh model.
    let (tensors, _) = checkpoint::load(dir.join("best.safetensors"), &Device::cpu()).unwrap();
    let fresh = model(kind, &Device::cpu()).unwrap();
    let sd: st_nn::StateDict = st_nn::StateDict::from_entries(
        tensors
            .into_iter()
            .filter_map(|(n, t)| n.strip_prefix("model.").map(|n| (n.to_string(), t)))
            .collect(),
    );
    fresh.load_state_dict(&sd, true).unwrap();
    let x = Tensor::zeros(
        if kind == Model::Cnn {
            vec![1, 1, 8, 8]
        } else {
            vec![1, 64]
        },
        st_core::DType::F32,
        &Device::cpu(),
    )
    .unwrap();
    assert_eq!(fresh.forward(&x).unwrap().dims(), &[1, 10]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_mlp_reaches_97_percent() {
    run(Model::Mlp, 40);
}

#[test]
fn the_cnn_reaches_97_percent() {
    run(Model::Cnn, 25);
}
