//! Device buffers and the caching buffer pool.
//!
//! Every tensor buffer is a `STORAGE | COPY_SRC | COPY_DST` wgpu buffer whose capacity is a
//! power-of-two size bucket (at least 256 bytes, always a multiple of 4 so that 1-byte dtypes
//! can be addressed as packed `u32` words in WGSL). Dropping a [`WgpuBuffer`] returns its
//! wgpu buffer to the pool's bucket; the next allocation of that bucket reuses it (a pool hit).
//! Reuse is safe without fences because every kernel is submitted to the one queue in order.

use parking_lot::Mutex;
use st_core::backend::DeviceBuffer;
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

/// Smallest bucket, in bytes.
pub const MIN_BUCKET: u64 = 256;

/// Pool counters, as reported by [`BufferPool::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Bytes (bucket capacity) held by live buffers.
    pub live_bytes: u64,
    /// Highest `live_bytes` seen.
    pub peak_bytes: u64,
    /// Bytes cached in the free lists.
    pub cached_bytes: u64,
    /// Allocations served from a free list.
    pub hits: u64,
    /// Allocations that created a new wgpu buffer.
    pub misses: u64,
}

/// A size-bucketed cache of wgpu buffers.
pub struct BufferPool {
    device: wgpu::Device,
    inner: Mutex<PoolInner>,
}

#[derive(Default)]
struct PoolInner {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    stats: PoolStats,
}

/// The bucket capacity for a request of `bytes`.
pub fn bucket_size(bytes: u64) -> u64 {
    bytes.max(MIN_BUCKET).next_power_of_two()
}

impl BufferPool {
    /// An empty pool allocating from `device`.
    pub fn new(device: wgpu::Device) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            device,
            inner: Mutex::new(PoolInner::default()),
        })
    }

    /// A buffer of at least `bytes` bytes (contents unspecified).
    pub fn alloc(self: &Arc<Self>, bytes: usize) -> WgpuBuffer {
        let cap = bucket_size(bytes as u64);
        let reused = {
            let mut inner = self.inner.lock();
            let hit = inner.free.get_mut(&cap).and_then(Vec::pop);
            let st = &mut inner.stats;
            if hit.is_some() {
                st.hits += 1;
                st.cached_bytes -= cap;
            } else {
                st.misses += 1;
            }
            st.live_bytes += cap;
            st.peak_bytes = st.peak_bytes.max(st.live_bytes);
            hit
        };
        let buf = reused.unwrap_or_else(|| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("st-tensor"),
                size: cap,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        });
        WgpuBuffer {
            buf,
            len: bytes,
            pool: Arc::clone(self),
        }
    }

    fn release(&self, buf: wgpu::Buffer) {
        let cap = buf.size();
        let mut inner = self.inner.lock();
        inner.stats.live_bytes -= cap;
        inner.stats.cached_bytes += cap;
        inner.free.entry(cap).or_default().push(buf);
    }

    /// Current counters.
    pub fn stats(&self) -> PoolStats {
        self.inner.lock().stats
    }

    /// Destroys every cached (free) buffer.
    pub fn trim(&self) {
        let mut inner = self.inner.lock();
        for (_, bufs) in inner.free.drain() {
            for b in bufs {
                b.destroy();
            }
        }
        inner.stats.cached_bytes = 0;
    }
}

/// A tensor buffer on the WGPU device.
pub struct WgpuBuffer {
    buf: wgpu::Buffer,
    len: usize,
    pool: Arc<BufferPool>,
}

impl WgpuBuffer {
    /// The wgpu buffer (its size is the bucket capacity, at least [`Self::len_bytes`]).
    pub fn raw(&self) -> &wgpu::Buffer {
        &self.buf
    }

    /// Downcasts a storage buffer of a kernel input.
    ///
    /// # Errors
    /// `Error::Internal` when the buffer belongs to another backend.
    pub fn downcast<'a>(b: &'a dyn DeviceBuffer, op: &'static str) -> st_core::Result<&'a Self> {
        b.as_any()
            .downcast_ref::<WgpuBuffer>()
            .ok_or_else(|| crate::error::foreign_buffer(op))
    }
}

impl DeviceBuffer for WgpuBuffer {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn len_bytes(&self) -> usize {
        self.len
    }
}

impl Drop for WgpuBuffer {
    fn drop(&mut self) {
        // wgpu buffers are reference-counted handles: the clone keeps the allocation alive in
        // the free list after this handle goes away.
        self.pool.release(self.buf.clone());
    }
}
