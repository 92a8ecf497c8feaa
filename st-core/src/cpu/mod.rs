//! The CPU backend (always linked): aligned host buffers with a reuse pool, wrapped external
//! memory, and kernels per family under `kernels/`. Large elementwise work is split with rayon
//! above a size threshold.

mod backend;
mod buffer;
mod external;
mod kernels;

pub use backend::CpuBackend;
pub use buffer::{pool_stats, CpuBuffer, PoolStats};
pub use external::MemoryAccess;
