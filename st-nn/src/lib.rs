//! # st-nn
//!
//! Neural-network building blocks on top of [`st_core`], with PyTorch's names, shapes,
//! defaults and semantics:
//!
//! - [`Module`]: `forward`, recursive named parameters and buffers with dotted names
//!   (`layers.0.weight`), `train`/`eval`, `to(device)`, `zero_grad`, `state_dict` and
//!   `load_state_dict`; containers [`Sequential`] and [`ModuleList`].
//! - [`layers`]: Linear, Conv2d, pooling, Flatten, Embedding, LayerNorm, BatchNorm, Dropout,
//!   MultiheadAttention,
//!   activations, each initialised as PyTorch does through [`init`].
//! - [`loss`]: MSE, L1, SmoothL1, CrossEntropy, NLL, BCE, BCEWithLogits.
//! - [`optim`]: SGD, Adam, AdamW, RMSprop, Adagrad with parameter groups and gradient clipping;
//!   updates run in place under `no_grad` and allocate nothing once warm.
//! - [`data`]: a [`data::Dataset`] trait, an in-memory [`data::TensorDataset`] and a seeded,
//!   prefetching [`data::DataLoader`].
//!
//! Everything is written with st-core tensor ops, so it runs on every backend that has the
//! kernels (CPU and WGPU today).
//!
//! ```
//! use st_core::{DType, Device, Tensor};
//! use st_nn::layers::{Linear, Relu};
//! use st_nn::{loss::CrossEntropyLoss, optim::{Optimizer, Sgd, SgdConfig}, Module, Sequential};
//!
//! st_core::manual_seed(0);
//! let model = Sequential::new().push(Linear::new(4, 8)?).push(Relu).push(Linear::new(8, 3)?);
//! let mut opt = Sgd::new(model.parameters(), SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() })?;
//! let x = Tensor::randn([16, 4], DType::F32, &Device::cpu())?;
//! let y = Tensor::randint(0, 3, [16], DType::I64, &Device::cpu())?;
//! for _ in 0..5 {
//!     opt.zero_grad();
//!     let loss = CrossEntropyLoss::default().forward(&model.forward(&x)?, &y)?;
//!     loss.backward()?;
//!     opt.step()?;
//! }
//! assert_eq!(model.named_parameters()[0].0, "0.weight");
//! # Ok::<(), st_core::Error>(())
//! ```

#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

mod check;
pub mod checkpoint;
pub mod data;
pub mod init;
pub mod layers;
pub mod loss;
pub mod module;
pub mod optim;
pub mod schedule;
pub mod trainer;

pub use module::{Incompatible, Item, Mode, Module, ModuleList, Sequential, Slot, StateDict};
