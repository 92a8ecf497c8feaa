//! Datasets and the [`DataLoader`].

mod dataset;
mod loader;

pub use dataset::{Dataset, TensorDataset};
pub use loader::{Batches, DataLoader, DataLoaderConfig};
