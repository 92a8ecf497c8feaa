//! [`DataLoader`]: batches of a [`Dataset`] in a seeded order, collated on a background thread
//! one batch ahead of the training loop.

use super::dataset::Dataset;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use st_core::{Error, Result, Tensor};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

/// A [`DataLoader`]'s options (PyTorch's `DataLoader` arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataLoaderConfig {
    /// Samples per batch (1).
    pub batch_size: usize,
    /// Reshuffle every epoch (false).
    pub shuffle: bool,
    /// Seed of the shuffle; epoch `e` uses a permutation derived from `(seed, e)`.
    pub seed: u64,
    /// Drop the last batch when it is smaller than `batch_size` (false).
    pub drop_last: bool,
    /// Collate the next batch on a background thread while the current one is used (true).
    pub prefetch: bool,
}

impl Default for DataLoaderConfig {
    fn default() -> Self {
        DataLoaderConfig {
            batch_size: 1,
            shuffle: false,
            seed: 0,
            drop_last: false,
            prefetch: true,
        }
    }
}

/// Iterates a dataset in batches (`torch.utils.data.DataLoader`). Each call of
/// [`iter`](DataLoader::iter) is one epoch.
pub struct DataLoader<D: Dataset + 'static> {
    dataset: Arc<D>,
    cfg: DataLoaderConfig,
    epoch: u64,
}

impl<D: Dataset + 'static> DataLoader<D> {
    /// A loader over `dataset`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero batch size.
    pub fn new(dataset: D, cfg: DataLoaderConfig) -> Result<Self> {
        if cfg.batch_size == 0 {
            return Err(Error::invalid("DataLoader", "batch_size must be positive"));
        }
        Ok(DataLoader {
            dataset: Arc::new(dataset),
            cfg,
            epoch: 0,
        })
    }

    /// The dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// Batches per epoch.
    pub fn len(&self) -> usize {
        let (n, b) = (self.dataset.len(), self.cfg.batch_size);
        if self.cfg.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// Whether an epoch has no batches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets the epoch whose order the next [`iter`](DataLoader::iter) uses (resuming).
    pub fn set_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
    }

    /// The sample order of `epoch`.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.dataset.len()).collect();
        if self.cfg.shuffle {
            let mix = self.cfg.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            idx.shuffle(&mut ChaCha8Rng::seed_from_u64(mix));
        }
        idx
    }

    /// One epoch of batches; the next call starts the next epoch.
    pub fn iter(&mut self) -> Batches {
        let order = self.order(self.epoch);
        self.epoch += 1;
        let b = self.cfg.batch_size;
        let mut chunks: Vec<Vec<usize>> = order.chunks(b).map(<[usize]>::to_vec).collect();
        if self.cfg.drop_last && chunks.last().is_some_and(|c| c.len() < b) {
            chunks.pop();
        }
        let total = chunks.len();
        if !self.cfg.prefetch {
            let ds = Arc::clone(&self.dataset);
            let mut it = chunks.into_iter();
            return Batches {
                source: Source::Inline(Box::new(move || it.next().map(|c| ds.get_batch(&c)))),
                remaining: total,
            };
        }
        // A bounded channel of one: the worker collates batch k+1 while batch k trains.
        let (tx, rx) = sync_channel(1);
        let ds = Arc::clone(&self.dataset);
        let spawned = std::thread::Builder::new()
            .name("st-nn-dataloader".into())
            .spawn(move || {
                for c in chunks {
                    if tx.send(ds.get_batch(&c)).is_err() {
                        return; // the epoch was dropped early
                    }
                }
            });
        match spawned {
            Ok(_) => Batches {
                source: Source::Thread(rx),
                remaining: total,
            },
            Err(e) => Batches {
                source: Source::Failed(Some(Error::io(
                    "DataLoader: spawning the prefetch thread",
                    e,
                ))),
                remaining: 1,
            },
        }
    }
}

enum Source {
    Thread(Receiver<Result<Vec<Tensor>>>),
    Inline(Box<dyn FnMut() -> Option<Result<Vec<Tensor>>> + Send>),
    Failed(Option<Error>),
}

/// One epoch of collated batches, from [`DataLoader::iter`].
pub struct Batches {
    source: Source,
    remaining: usize,
}

impl Iterator for Batches {
    type Item = Result<Vec<Tensor>>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = match &mut self.source {
            Source::Thread(rx) => rx.recv().ok(),
            Source::Inline(f) => f(),
            Source::Failed(e) => e.take().map(Err),
        };
        self.remaining = self.remaining.saturating_sub(1);
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}
