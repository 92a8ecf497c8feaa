//! Integration tests of `TensorDataset`, `DataLoader` (batch sizes, `drop_last`, seeded
//! shuffling, `set_epoch`, prefetching, early drops) and the default parallel collation of a
//! custom `Dataset`, including error propagation from `get`.

use st_core::{DType, Device, Error, Result, Tensor};
use st_nn::data::{DataLoader, DataLoaderConfig, Dataset, TensorDataset};
use std::sync::mpsc;
use std::time::Duration;

/// `x[i] = [3i, 3i+1, 3i+2]` (f32) and `y[i] = i` (i64): the labels reveal the sample order.
fn indexed(n: usize) -> TensorDataset {
    let cpu = Device::cpu();
    let x: Vec<f32> = (0..n * 3).map(|v| v as f32).collect();
    let y: Vec<i64> = (0..n as i64).collect();
    TensorDataset::new(vec![
        Tensor::from_vec(x, [n, 3], &cpu).unwrap(),
        Tensor::from_vec(y, [n], &cpu).unwrap(),
    ])
    .unwrap()
}

fn cfg(batch_size: usize) -> DataLoaderConfig {
    DataLoaderConfig {
        batch_size,
        ..Default::default()
    }
}

fn labels(batch: &[Tensor]) -> Vec<i64> {
    batch[1].to_vec::<i64>().unwrap()
}

/// The labels of every batch of one epoch.
fn epoch<D: Dataset>(l: &mut DataLoader<D>) -> Vec<Vec<i64>> {
    l.iter().map(|b| labels(&b.unwrap())).collect()
}

fn is_permutation(order: &[i64], n: usize) -> bool {
    let mut s = order.to_vec();
    s.sort_unstable();
    s == (0..n as i64).collect::<Vec<_>>()
}

#[test]
fn tensor_dataset_len_get_and_batches() {
    let ds = indexed(10);
    assert_eq!(ds.len(), 10);
    assert!(!ds.is_empty());
    let s = ds.get(3).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].dims(), &[3]);
    assert_eq!(s[0].to_vec::<f32>().unwrap(), [9.0, 10.0, 11.0]);
    assert_eq!(s[1].rank(), 0);
    assert_eq!(s[1].to_scalar::<i64>().unwrap(), 3);

    let b = ds.get_batch(&[4, 1, 9, 4]).unwrap();
    assert_eq!(b[0].dims(), &[4, 3]);
    assert_eq!(
        b[0].to_vec::<f32>().unwrap(),
        [12., 13., 14., 3., 4., 5., 27., 28., 29., 12., 13., 14.]
    );
    assert_eq!(labels(&b), [4, 1, 9, 4]);

    let sub = ds.select(&[2, 0]).unwrap();
    assert_eq!(sub.len(), 2);
    assert_eq!(sub.tensors()[1].to_vec::<i64>().unwrap(), [2, 0]);
}

#[test]
fn tensor_dataset_errors() {
    let cpu = Device::cpu();
    let a = Tensor::zeros([4, 2], DType::F32, &cpu).unwrap();
    let b = Tensor::zeros([5], DType::I64, &cpu).unwrap();
    let e = TensorDataset::new(vec![a.clone(), b]).err().unwrap();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    assert!(TensorDataset::new(vec![]).is_err());
    let s = Tensor::scalar(1.0, DType::F32, &cpu).unwrap();
    assert!(TensorDataset::new(vec![a, s]).is_err());

    let ds = indexed(10);
    assert!(matches!(
        ds.get(10),
        Err(Error::IndexOutOfRange {
            index: 10,
            size: 10,
            ..
        })
    ));
    assert!(matches!(
        ds.get_batch(&[0, 10]),
        Err(Error::IndexOutOfRange { index: 10, .. })
    ));
    assert!(ds.select(&[11]).is_err());
}

#[test]
fn batch_sizes_len_and_drop_last() {
    let mut l = DataLoader::new(indexed(10), cfg(4)).unwrap();
    assert_eq!(l.len(), 3);
    let it = l.iter();
    assert_eq!(it.size_hint(), (3, Some(3)));
    let batches: Vec<Vec<Tensor>> = it.map(|b| b.unwrap()).collect();
    let sizes: Vec<usize> = batches.iter().map(|b| b[0].dims()[0]).collect();
    assert_eq!(sizes, [4, 4, 2]);
    assert_eq!(batches[2][0].dims(), &[2, 3]);
    assert_eq!(
        batches.iter().flat_map(|b| labels(b)).collect::<Vec<_>>(),
        (0..10).collect::<Vec<i64>>(),
        "no shuffle: the natural order"
    );

    let mut l = DataLoader::new(
        indexed(10),
        DataLoaderConfig {
            drop_last: true,
            ..cfg(4)
        },
    )
    .unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(epoch(&mut l), [vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);

    // An exact multiple loses nothing to drop_last.
    let l = DataLoader::new(
        indexed(8),
        DataLoaderConfig {
            drop_last: true,
            ..cfg(4)
        },
    )
    .unwrap();
    assert_eq!(l.len(), 2);
    // A batch larger than the dataset.
    let mut l = DataLoader::new(indexed(3), cfg(64)).unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(epoch(&mut l), [vec![0, 1, 2]]);
    let l = DataLoader::new(
        indexed(3),
        DataLoaderConfig {
            drop_last: true,
            ..cfg(64)
        },
    )
    .unwrap();
    assert!(l.is_empty());
}

#[test]
fn zero_batch_size_is_an_error() {
    let e = DataLoader::new(indexed(4), cfg(0)).err().unwrap();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
}

fn shuffled(seed: u64, prefetch: bool) -> DataLoader<TensorDataset> {
    DataLoader::new(
        indexed(50),
        DataLoaderConfig {
            batch_size: 7,
            shuffle: true,
            seed,
            drop_last: false,
            prefetch,
        },
    )
    .unwrap()
}

#[test]
fn seeded_shuffle_is_deterministic_and_changes_per_epoch() {
    let mut a = shuffled(42, true);
    let mut b = shuffled(42, true);
    let a0 = epoch(&mut a);
    let a1 = epoch(&mut a);
    let a2 = epoch(&mut a);
    assert_eq!(epoch(&mut b), a0, "same seed, same first epoch");
    assert_eq!(epoch(&mut b), a1, "same seed, same second epoch");
    assert_ne!(a0, a1, "each epoch reshuffles");
    assert_ne!(a1, a2);
    for e in [&a0, &a1, &a2] {
        let flat: Vec<i64> = e.concat();
        assert!(is_permutation(&flat, 50), "{flat:?}");
        assert_ne!(flat, (0..50).collect::<Vec<i64>>(), "actually shuffled");
        assert_eq!(
            e.iter().map(Vec::len).collect::<Vec<_>>(),
            [7, 7, 7, 7, 7, 7, 7, 1]
        );
    }
    // order() agrees with what iter() yields.
    let o1: Vec<i64> = a.order(1).into_iter().map(|i| i as i64).collect();
    assert_eq!(o1, a1.concat());

    // Another seed gives another order.
    let mut c = shuffled(43, true);
    assert_ne!(epoch(&mut c), a0);

    // set_epoch reproduces an epoch's order (resuming), and the epoch after it follows.
    let mut d = shuffled(42, true);
    d.set_epoch(1);
    assert_eq!(epoch(&mut d), a1);
    assert_eq!(epoch(&mut d), a2);
    d.set_epoch(0);
    assert_eq!(epoch(&mut d), a0);
}

#[test]
fn prefetch_and_inline_yield_identical_batches() {
    let mut p = shuffled(7, true);
    let mut q = shuffled(7, false);
    for _ in 0..3 {
        let bp: Vec<Vec<Tensor>> = p.iter().map(|b| b.unwrap()).collect();
        let bq: Vec<Vec<Tensor>> = q.iter().map(|b| b.unwrap()).collect();
        assert_eq!(bp.len(), bq.len());
        for (x, y) in bp.iter().zip(&bq) {
            assert_eq!(x.len(), y.len());
            for (s, t) in x.iter().zip(y) {
                assert_eq!(s.dims(), t.dims());
                assert_eq!(s.dtype(), t.dtype());
                assert_eq!(s.to_bytes().unwrap(), t.to_bytes().unwrap());
            }
        }
    }
}

/// Runs `f` on another thread and fails the test if it takes longer than `secs`.
fn within(secs: u64, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("timed out: the loader hung (or the closure panicked)");
}

#[test]
fn dropping_an_epoch_early_does_not_hang() {
    within(60, || {
        let mut l = DataLoader::new(indexed(1000), cfg(1)).unwrap();
        for _ in 0..20 {
            let mut it = l.iter();
            assert!(it.next().unwrap().is_ok());
            drop(it);
        }
        // Dropped before taking anything.
        drop(l.iter());
        // The loader still works afterwards: the 22nd epoch starts in natural order.
        let first = l.iter().next().unwrap().unwrap();
        assert_eq!(labels(&first), [0]);
        drop(l);
    });
}

/// Sample `i` is `([i, i²] f32, i i64)`; `get` fails for `fail_at`.
struct Squares {
    n: usize,
    fail_at: Option<usize>,
}

impl Dataset for Squares {
    fn len(&self) -> usize {
        self.n
    }
    fn get(&self, i: usize) -> Result<Vec<Tensor>> {
        if Some(i) == self.fail_at {
            return Err(Error::invalid("Squares", format!("sample {i} is corrupt")));
        }
        if i >= self.n {
            return Err(Error::IndexOutOfRange {
                op: "Squares",
                index: i as i64,
                size: self.n,
            });
        }
        let cpu = Device::cpu();
        let v = i as f32;
        Ok(vec![
            Tensor::from_vec(vec![v, v * v], [2], &cpu)?,
            Tensor::scalar(i as f64, DType::I64, &cpu)?,
        ])
    }
}

#[test]
fn custom_dataset_uses_default_stacking_collation() {
    let ds = Squares {
        n: 40,
        fail_at: None,
    };
    let idx: Vec<usize> = (0..40).rev().step_by(3).collect();
    let b = ds.get_batch(&idx).unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].dims(), &[idx.len(), 2]);
    assert_eq!(b[1].dims(), &[idx.len()]);
    let want_x: Vec<f32> = idx
        .iter()
        .flat_map(|&i| [i as f32, (i * i) as f32])
        .collect();
    assert_eq!(
        b[0].to_vec::<f32>().unwrap(),
        want_x,
        "order kept in parallel"
    );
    assert_eq!(
        labels(&b),
        idx.iter().map(|&i| i as i64).collect::<Vec<_>>()
    );
    assert!(ds.get_batch(&[]).unwrap().is_empty());
    assert!(ds.get_batch(&[1, 40]).is_err());

    for prefetch in [true, false] {
        let mut l = DataLoader::new(
            Squares {
                n: 10,
                fail_at: None,
            },
            DataLoaderConfig {
                batch_size: 3,
                shuffle: true,
                seed: 1,
                prefetch,
                ..Default::default()
            },
        )
        .unwrap();
        let order = l.order(0);
        let batches: Vec<Vec<Tensor>> = l.iter().map(|b| b.unwrap()).collect();
        assert_eq!(batches.len(), 4);
        let got: Vec<i64> = batches.iter().flat_map(|b| labels(b)).collect();
        assert_eq!(got, order.iter().map(|&i| i as i64).collect::<Vec<_>>());
        for b in &batches {
            let x = b[0].to_vec::<f32>().unwrap();
            for (k, &i) in labels(b).iter().enumerate() {
                assert_eq!([x[2 * k], x[2 * k + 1]], [i as f32, (i * i) as f32]);
            }
        }
    }
}

#[test]
fn get_errors_propagate_from_the_iterator() {
    for prefetch in [true, false] {
        let mut l = DataLoader::new(
            Squares {
                n: 10,
                fail_at: Some(5),
            },
            DataLoaderConfig {
                batch_size: 4,
                prefetch,
                ..Default::default()
            },
        )
        .unwrap();
        let mut it = l.iter();
        let first = it.next().unwrap().unwrap();
        assert_eq!(labels(&first), [0, 1, 2, 3], "prefetch={prefetch}");
        let e = it
            .next()
            .expect("a second batch")
            .expect_err("batch 1 holds sample 5");
        assert!(e.to_string().contains("sample 5 is corrupt"), "{e}");
        drop(it);
    }
}

/// Samples whose first field changes shape cannot be stacked.
struct Ragged;

impl Dataset for Ragged {
    fn len(&self) -> usize {
        3
    }
    fn get(&self, i: usize) -> Result<Vec<Tensor>> {
        Ok(vec![Tensor::zeros([i + 1], DType::F32, &Device::cpu())?])
    }
}

#[test]
fn ragged_samples_are_a_collation_error() {
    assert!(Ragged.get_batch(&[0, 1]).is_err());
    let mut l = DataLoader::new(Ragged, cfg(3)).unwrap();
    let r: Vec<_> = l.iter().collect();
    assert_eq!(r.len(), 1);
    assert!(r[0].is_err());
    assert!(Ragged.get_batch(&[2, 2]).is_ok());
}
