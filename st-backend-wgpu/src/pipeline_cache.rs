//! Compiled compute pipelines, cached by (shader variant, entry point).
//!
//! A shader variant is the WGSL text a kernel family generates for one (op, dtypes) combination;
//! its key is a short string such as `unary/exp/f32`. The WGSL is only generated and compiled on
//! the first miss.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// Counters of the pipeline cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// Pipelines compiled.
    pub compiled: u64,
    /// Lookups served from the cache.
    pub hits: u64,
}

/// Cache of compiled compute pipelines.
#[derive(Default)]
pub struct PipelineCache {
    map: Mutex<HashMap<(String, &'static str), Arc<wgpu::ComputePipeline>>>,
    stats: Mutex<PipelineStats>,
}

impl PipelineCache {
    /// The cached pipeline for (`key`, `entry`).
    pub fn get(&self, key: &str, entry: &'static str) -> Option<Arc<wgpu::ComputePipeline>> {
        let hit = self.map.lock().get(&(key.to_string(), entry)).cloned();
        if hit.is_some() {
            self.stats.lock().hits += 1;
        }
        hit
    }

    /// Stores a freshly compiled pipeline.
    pub fn insert(&self, key: &str, entry: &'static str, p: Arc<wgpu::ComputePipeline>) {
        self.stats.lock().compiled += 1;
        self.map.lock().insert((key.to_string(), entry), p);
    }

    /// Current counters.
    pub fn stats(&self) -> PipelineStats {
        *self.stats.lock()
    }
}
