//! Zero-copy external memory: `from_vec` moves, `from_blob` with owners and strides,
//! `from_bytes`, `as_bytes`/`to_bytes`, read-only memory maps, the aliasing rules of buffer
//! reuse, version bumps of writes into wrapped memory, and kernels over element-aligned memory.

use st_core::cpu::{pool_stats, MemoryAccess};
use st_core::{DType, Device, Error, Layout, MappedFile, Shape, Tensor};
use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Tests that assert on the process-wide buffer pool take this lock, so that no other test of
/// this binary drops or takes large buffers meanwhile.
static POOL_LOCK: Mutex<()> = Mutex::new(());

fn cpu() -> Device {
    Device::cpu()
}

/// Memory owned by a test: 16-byte aligned words, a count of owner drops, and where the
/// wrapped elements start (`skew` bytes in, to make element-aligned-only memory). Every
/// access goes through `base`, taken once from the vector, so the tensor's writes and the
/// test's reads use one pointer.
struct Owner {
    _words: Vec<u128>,
    base: *mut u8,
    skew: usize,
    drops: Arc<AtomicUsize>,
}

// SAFETY: `base` points into `_words`, which the owner keeps; the tests access it from one
// thread at a time (tensor ops and owner reads never overlap).
unsafe impl Send for Owner {}
// SAFETY: as for `Send`.
unsafe impl Sync for Owner {}

impl Owner {
    fn new(n_f32: usize, skew: usize) -> (Arc<Owner>, Arc<AtomicUsize>) {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut words = vec![0u128; (n_f32 * 4 + skew).div_ceil(16) + 1];
        let base = words.as_mut_ptr().cast::<u8>();
        let o = Owner {
            _words: words,
            base,
            skew,
            drops: drops.clone(),
        };
        (Arc::new(o), drops)
    }

    /// The wrapped region's start.
    fn ptr(&self) -> *mut u8 {
        self.base.wrapping_add(self.skew)
    }

    /// The first `n` wrapped floats, read through the owner.
    fn f32s(&self, n: usize) -> Vec<f32> {
        // SAFETY: the region holds at least `n` floats (see `new`) and no in-place op runs.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr(), 4 * n) };
        bytemuck::pod_collect_to_vec(bytes)
    }

    /// Writes floats through the owner (before any tensor exists: `&mut`).
    fn set(self: &mut Arc<Owner>, vals: &[f32]) {
        let o = Arc::get_mut(self).expect("no tensor yet");
        // SAFETY: the region holds `vals.len()` floats, and `o` is the only handle.
        let bytes = unsafe { std::slice::from_raw_parts_mut(o.ptr(), 4 * vals.len()) };
        bytes.copy_from_slice(bytemuck::cast_slice(vals));
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A tensor over an owner's floats.
fn wrap(
    owner: &Arc<Owner>,
    len: usize,
    shape: &[usize],
    strides: &[isize],
    access: MemoryAccess,
) -> st_core::Result<Tensor> {
    let o: Arc<dyn Any + Send + Sync> = owner.clone();
    // SAFETY: the owner's words hold `len` floats after `skew` bytes and live as long as the
    // owner, which the tensor keeps; the tests read them through the owner only while no
    // in-place op runs.
    unsafe {
        Tensor::from_blob(
            owner.ptr(),
            len,
            DType::F32,
            shape.to_vec(),
            strides,
            o,
            access,
        )
    }
}

fn data_ptr(t: &Tensor) -> usize {
    t.as_bytes().unwrap().as_ptr() as usize
}

#[test]
fn from_vec_moves_the_vector_without_copying() {
    for n in [0usize, 1, 3, 16, 1000] {
        let v: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let ptr = v.as_ptr() as usize;
        let t = Tensor::from_vec(v, [n], &cpu()).unwrap();
        if n > 0 {
            assert_eq!(data_ptr(&t), ptr, "{n} elements were copied");
        }
        assert_eq!(
            t.to_vec::<f32>().unwrap(),
            (0..n).map(|i| i as f32).collect::<Vec<_>>()
        );
    }
    // Views share the moved memory.
    let v = vec![1i64, 2, 3, 4, 5, 6];
    let ptr = v.as_ptr() as usize;
    let t = Tensor::from_vec(v, [2, 3], &cpu()).unwrap();
    let row = t.narrow(0, 1, 1).unwrap();
    assert_eq!(data_ptr(&row), ptr + 3 * 8);
    assert_eq!(row.to_vec::<i64>().unwrap(), [4, 5, 6]);
}

#[test]
fn from_vec_checks_the_element_count() {
    let e = Tensor::from_vec(vec![1.0f32; 5], [2, 3], &cpu()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ElementCount {
                op: "from_vec",
                len: 5,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn from_bytes_copies_from_any_address_and_checks_lengths() {
    let vals = [1.5f32, -2.0, 3.25, 4.0, 5.0, 6.5];
    let mut raw = vec![0u8; 1];
    raw.extend(vals.iter().flat_map(|x| x.to_ne_bytes()));
    // One byte in: misaligned for f32, and still a valid copy source.
    let bytes = &raw[1..];
    assert_ne!(bytes.as_ptr() as usize % 4, 0);
    let t = Tensor::from_bytes(bytes, DType::F32, [2, 3], &cpu()).unwrap();
    assert_eq!(t.to_vec::<f32>().unwrap(), vals);
    assert_ne!(data_ptr(&t), bytes.as_ptr() as usize, "from_bytes copies");
    assert_eq!(data_ptr(&t) % 4, 0);

    let e = Tensor::from_bytes(&bytes[..23], DType::F32, [2, 3], &cpu()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidArgument {
                op: "from_bytes",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("23 bytes"), "{e}");
    let e = Tensor::from_bytes(&bytes[..20], DType::F32, [2, 3], &cpu()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ElementCount {
                op: "from_bytes",
                len: 5,
                ..
            }
        ),
        "{e}"
    );
    let t = Tensor::from_bytes(&[1, 0, 1], DType::Bool, [3], &cpu()).unwrap();
    assert_eq!(t.to_f64_vec().unwrap(), [1.0, 0.0, 1.0]);
    let e = Tensor::from_bytes(&[1, 2, 0], DType::Bool, [3], &cpu()).unwrap_err();
    assert!(e.to_string().contains("byte 1 is 2"), "{e}");
}

#[test]
fn from_blob_keeps_the_owner_until_the_last_view_and_saved_tensor() {
    let (mut owner, drops) = Owner::new(6, 0);
    owner.set(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // The 2×3 row-major data seen as its 3×2 transpose.
    let t = wrap(&owner, 6, &[3, 2], &[1, 3], MemoryAccess::ReadOnly).unwrap();
    drop(owner);
    assert_eq!(t.strides(), &[1, 3]);
    assert_eq!(t.to_vec::<f32>().unwrap(), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    let col = t.select(1, 1).unwrap();
    let leaf = t.detach().requires_grad_().unwrap();
    let y = leaf.mul(&leaf).unwrap().sum_all().unwrap(); // saves `leaf` for backward
    drop((t, leaf));
    assert_eq!(drops.load(Ordering::SeqCst), 0, "dropped under a live view");
    assert_eq!(col.to_vec::<f32>().unwrap(), [4.0, 5.0, 6.0]);
    drop(col);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "dropped under a saved tensor"
    );
    assert_eq!(y.to_scalar::<f32>().unwrap(), 91.0);
    drop(y);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn from_blob_rejects_bad_regions() {
    let (owner, _) = Owner::new(8, 0);
    let o: Arc<dyn Any + Send + Sync> = owner.clone();
    let check = |r: st_core::Result<Tensor>, needle: &str| {
        let e = r.unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidArgument {
                    op: "from_blob",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
    };
    // SAFETY (every call): the region is the owner's memory or is rejected before use.
    unsafe {
        let null = std::ptr::null_mut();
        check(
            Tensor::from_blob(
                null,
                4,
                DType::F32,
                [4],
                &[1],
                o.clone(),
                MemoryAccess::ReadOnly,
            ),
            "null",
        );
        let odd = owner.ptr().add(2);
        check(
            Tensor::from_blob(
                odd,
                4,
                DType::F32,
                [4],
                &[1],
                o.clone(),
                MemoryAccess::ReadOnly,
            ),
            "not aligned",
        );
        let p = owner.ptr();
        check(
            Tensor::from_blob(
                p,
                8,
                DType::F32,
                [3, 3],
                &[3, 1],
                o.clone(),
                MemoryAccess::ReadOnly,
            ),
            "reaches element 8",
        );
        check(
            Tensor::from_blob(
                p,
                8,
                DType::F32,
                [2, 2],
                &[1],
                o.clone(),
                MemoryAccess::ReadOnly,
            ),
            "strides",
        );
        check(
            Tensor::from_blob(
                p,
                8,
                DType::F32,
                [2],
                &[-1],
                o.clone(),
                MemoryAccess::ReadOnly,
            ),
            "stride -1",
        );
        // An empty region may be null.
        let t = Tensor::from_blob(
            null,
            0,
            DType::F64,
            [0, 3],
            &[3, 1],
            o,
            MemoryAccess::ReadOnly,
        )
        .unwrap();
        assert_eq!(t.numel(), 0);
        assert!(t.to_vec::<f64>().unwrap().is_empty());
    }
}

/// The tiny-storage cache (RECENT_TINY) never takes over a storage around external memory,
/// and no new tiny output is ever placed in it.
#[test]
fn tiny_external_memory_is_never_reused_by_the_tiny_cache() {
    let (mut owner, drops) = Owner::new(2, 0);
    owner.set(&[7.0, 8.0]);
    let ext_ptr = owner.ptr() as usize;
    let e = wrap(&owner, 2, &[2], &[1], MemoryAccess::ReadWrite).unwrap();
    let x = Tensor::from_slice(&[1.0f32, 2.0], [2], &cpu()).unwrap();
    // Tiny outputs come and go; each one may reuse the previous one's storage.
    for _ in 0..4 {
        let a = x.add(&e).unwrap();
        assert_eq!(a.to_vec::<f32>().unwrap(), [8.0, 10.0]);
    }
    // The external tensor's own storage is dropped (the owner is still held here) ...
    let ext_storage = e.storage().clone();
    drop(e);
    drop(ext_storage);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    // ... and new tiny tensors never land in its memory.
    let mut outs = Vec::new();
    for i in 0..8 {
        let o = x.mul_scalar(i as f64).unwrap();
        assert_ne!(
            data_ptr(&o),
            ext_ptr,
            "a tiny output was written into external memory"
        );
        outs.push(o);
        outs.push(Tensor::zeros([2], DType::F32, &cpu()).unwrap());
        outs.push(Tensor::from_slice(&[9.0f32, 9.0], [2], &cpu()).unwrap());
    }
    for o in &outs {
        assert_ne!(data_ptr(o), ext_ptr);
    }
    drop(outs);
    for _ in 0..4 {
        let _ = x.sub(&x).unwrap();
    }
    assert_eq!(owner.f32s(2), [7.0, 8.0], "external memory was written");
}

/// Freed large external memory goes back to its owner, never into the pool, and pooled
/// buffers are never external memory.
#[test]
fn large_external_memory_is_never_pooled() {
    let _g = POOL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let n = (3 << 20) / 4 + 333; // 3 MiB of f32: far above the pool's 1 MiB threshold
    let (mut owner, drops) = Owner::new(n, 0);
    owner.set(&vec![2.5f32; n]);
    let ext_ptr = owner.ptr() as usize;
    let t = wrap(&owner, n, &[n], &[1], MemoryAccess::ReadWrite).unwrap();
    // A large output of the same size, pooled when dropped.
    let out = t.mul_scalar(2.0).unwrap();
    assert_eq!(out.to_vec::<f32>().unwrap()[n - 1], 5.0);
    drop(out);
    let pooled = pool_stats().pooled_bytes;
    drop(t);
    assert_eq!(
        pool_stats().pooled_bytes,
        pooled,
        "external memory entered the pool"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    // New large outputs come from the pool or fresh memory, never from the owner's.
    let x = Tensor::full([n], 1.0, DType::F32, &cpu()).unwrap();
    let outs: Vec<Tensor> = (0..3).map(|_| x.add_scalar(1.0).unwrap()).collect();
    for o in &outs {
        assert_ne!(data_ptr(o), ext_ptr);
    }
    drop(outs);
    assert!(owner.f32s(n).iter().all(|&v| v == 2.5));
    // A moved-in vector is freed by the allocator when its tensor goes, not pooled.
    let v = vec![0.5f32; n];
    let t = Tensor::from_vec(v, [n], &cpu()).unwrap();
    let pooled = pool_stats().pooled_bytes;
    drop(t);
    assert_eq!(pool_stats().pooled_bytes, pooled);
    drop(owner);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn writes_into_wrapped_memory_bump_the_version_and_reach_the_owner() {
    let (mut owner, _) = Owner::new(6, 0);
    owner.set(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let t = wrap(&owner, 6, &[2, 3], &[3, 1], MemoryAccess::ReadWrite).unwrap();
    let view = t.t().unwrap();
    let v0 = t.version();
    t.add_(&Tensor::from_slice(&[10.0f32, 20.0, 30.0], [3], &cpu()).unwrap())
        .unwrap();
    assert_eq!(t.version(), v0 + 1);
    assert_eq!(view.version(), v0 + 1, "views share the counter");
    assert_eq!(owner.f32s(6), [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
    // Through a transposed view.
    view.copy_(&Tensor::from_slice(&[0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0], [3, 2], &cpu()).unwrap())
        .unwrap();
    assert_eq!(t.version(), v0 + 2);
    assert_eq!(owner.f32s(6), [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
    t.narrow(1, 1, 2).unwrap().fill_(-1.0).unwrap();
    assert_eq!(t.version(), v0 + 3);
    assert_eq!(owner.f32s(6), [0.0, -1.0, -1.0, 1.0, -1.0, -1.0]);
    t.mul_scalar_(2.0).unwrap();
    assert_eq!(t.version(), v0 + 4);
    assert_eq!(owner.f32s(6), [0.0, -2.0, -2.0, 2.0, -2.0, -2.0]);
    // `from_vec` memory too.
    let v = vec![1.0f64, 2.0];
    let ptr = v.as_ptr() as usize;
    let w = Tensor::from_vec(v, [2], &cpu()).unwrap();
    w.add_scalar_(1.0).unwrap();
    assert_eq!((w.version(), data_ptr(&w)), (1, ptr));
    assert_eq!(w.to_vec::<f64>().unwrap(), [2.0, 3.0]);
}

#[test]
fn read_only_wrapped_memory_rejects_writes_before_writing() {
    let (mut owner, _) = Owner::new(4, 0);
    owner.set(&[1.0, 2.0, 3.0, 4.0]);
    let t = wrap(&owner, 4, &[2, 2], &[2, 1], MemoryAccess::ReadOnly).unwrap();
    assert!(!t.storage().is_writable());
    let other = Tensor::ones([2, 2], DType::F32, &cpu()).unwrap();
    let results = [
        ("add_", t.add_(&other)),
        ("copy_", t.copy_(&other)),
        ("fill_", t.fill_(0.0)),
        ("add_scalar_", t.add_scalar_(1.0)),
        ("matmul_out", other.matmul_out(&other, &t)),
    ];
    for (op, r) in results {
        let e = r.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{op}: {e}");
        for needle in ["read-only", "f32", "[2, 2]", "cpu"] {
            assert!(msg.contains(needle), "{op}: {msg:?} lacks {needle:?}");
        }
    }
    assert_eq!(t.version(), 0);
    assert_eq!(owner.f32s(4), [1.0, 2.0, 3.0, 4.0]);
    // Reading and out-of-place ops work; a copy is writable.
    let c = t.add(&other).unwrap();
    assert_eq!(c.to_vec::<f32>().unwrap(), [2.0, 3.0, 4.0, 5.0]);
    let w = t.copy().unwrap();
    w.add_(&other).unwrap();
    assert_eq!(w.to_vec::<f32>().unwrap(), [2.0, 3.0, 4.0, 5.0]);
}

/// A file of `vals` with a `head`-byte prefix, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, head: usize, vals: &[f32]) -> TempFile {
        let path = std::env::temp_dir().join(format!("st_ext_{name}_{}", std::process::id()));
        let mut bytes = vec![0xAAu8; head];
        bytes.extend(vals.iter().flat_map(|x| x.to_ne_bytes()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }

    fn open(&self) -> std::fs::File {
        std::fs::File::open(&self.0).unwrap()
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.0).unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn mmap_tensors_read_the_file_without_copying() {
    let f = TempFile::new("read", 8, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // SAFETY: nothing writes or truncates the file while it is mapped.
    let map = unsafe { MappedFile::new(&f.open()) }.unwrap();
    assert_eq!(map.len(), 8 + 24);
    let a = map.tensor(8, DType::F32, [2, 3]).unwrap();
    let b = map.tensor(8 + 12, DType::F32, [3]).unwrap();
    assert_eq!(data_ptr(&a), map.bytes().as_ptr() as usize + 8, "copied");
    drop(map); // the tensors keep the mapping
    assert_eq!(a.to_vec::<f32>().unwrap(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(b.to_vec::<f32>().unwrap(), [4.0, 5.0, 6.0]);
    assert_eq!(
        a.t()
            .unwrap()
            .sum(&[1], false)
            .unwrap()
            .to_vec::<f32>()
            .unwrap(),
        [5.0, 7.0, 9.0]
    );
    // SAFETY: as above.
    let s = unsafe { Tensor::from_mmap(&f.open(), 8, DType::F32, Shape::scalar()) }.unwrap();
    assert_eq!(s.to_scalar::<f32>().unwrap(), 1.0);
    let empty = unsafe { Tensor::from_mmap(&f.open(), 32, DType::F32, [0]) }.unwrap();
    assert_eq!(empty.numel(), 0);
}

#[test]
fn mmap_regions_are_checked() {
    let f = TempFile::new("bounds", 2, &[1.0, 2.0]);
    // SAFETY: nothing writes or truncates the file while it is mapped.
    let map = unsafe { MappedFile::new(&f.open()) }.unwrap();
    let msg = |r: st_core::Result<Tensor>| {
        let e = r.unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidArgument {
                    op: "from_mmap",
                    ..
                }
            ),
            "{e}"
        );
        e.to_string()
    };
    assert!(msg(map.tensor(2, DType::F32, [3])).contains("past the end of a 10-byte file"));
    assert!(msg(map.tensor(usize::MAX, DType::F32, [1])).contains("past the end"));
    assert!(msg(map.tensor(0, DType::F64, [usize::MAX / 4])).contains("past the end"));
    assert!(msg(map.tensor(2, DType::F32, [2])).contains("not a multiple of the 4-byte f32"));
    // Bytes at any offset are fine for 1-byte dtypes.
    let u = map.tensor(1, DType::U8, [3]).unwrap();
    assert_eq!(u.to_vec::<u8>().unwrap(), [0xAA, 0, 0]);
}

#[test]
fn writes_into_mmap_tensors_are_errors_and_leave_the_file_unchanged() {
    let f = TempFile::new("write", 0, &[1.0, 2.0, 3.0, 4.0]);
    let before = f.bytes();
    // SAFETY: nothing writes or truncates the file while it is mapped.
    let t = unsafe { Tensor::from_mmap(&f.open(), 0, DType::F32, [2, 2]) }.unwrap();
    let ones = Tensor::ones([2, 2], DType::F32, &cpu()).unwrap();
    let results = [
        t.add_(&ones),
        t.t().unwrap().copy_(&ones),
        t.fill_(7.0),
        t.zero_(),
        t.narrow(0, 0, 1).unwrap().mul_scalar_(3.0),
        t.set_data(&ones),
        ones.add_out(&ones, &t),
    ];
    for r in results {
        let e = r.unwrap_err();
        assert!(e.to_string().contains("read-only memory"), "{e}");
    }
    assert_eq!(t.version(), 0);
    assert_eq!(t.to_vec::<f32>().unwrap(), [1.0, 2.0, 3.0, 4.0]);
    drop(t);
    assert_eq!(f.bytes(), before);
}

#[test]
fn as_bytes_borrows_contiguous_cpu_tensors_and_to_bytes_copies_any_view() {
    let t = Tensor::from_vec((0..12).map(|i| i as u8).collect::<Vec<_>>(), [3, 4], &cpu()).unwrap();
    assert_eq!(&*t.as_bytes().unwrap(), &(0..12).collect::<Vec<u8>>()[..]);
    assert_eq!(
        &*t.narrow(0, 1, 2).unwrap().as_bytes().unwrap(),
        &[4, 5, 6, 7, 8, 9, 10, 11]
    );
    for view in [
        t.t().unwrap(),
        t.narrow(1, 1, 2).unwrap(),
        t.slice(1, 0, 4, 2).unwrap(),
        t.select(1, 3).unwrap(),
    ] {
        let e = view.as_bytes().unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument { op: "as_bytes", .. }),
            "{e}"
        );
        assert!(e.to_string().contains("contiguous"), "{e}");
        assert_eq!(view.to_bytes().unwrap(), view.to_vec::<u8>().unwrap());
    }
    assert_eq!(t.t().unwrap().to_bytes().unwrap()[..4], [0, 4, 8, 1]);
    assert_eq!(
        t.slice(1, 0, 4, 2).unwrap().to_bytes().unwrap(),
        [0, 2, 4, 6, 8, 10]
    );
    let f = Tensor::from_vec(vec![1.0f32, -2.0], [2], &cpu()).unwrap();
    assert_eq!(
        &*f.as_bytes().unwrap(),
        &[1.0f32.to_ne_bytes(), (-2.0f32).to_ne_bytes()].concat()[..]
    );
    // Reads may nest; a guard does not block other readers.
    let g1 = f.as_bytes().unwrap();
    let g2 = f.as_bytes().unwrap();
    assert_eq!(&*g1, &*g2);
    assert_eq!(f.add(&f).unwrap().to_vec::<f32>().unwrap(), [2.0, -4.0]);
}

fn assert_close(a: &Tensor, b: &Tensor, what: &str) {
    let (x, y) = (a.to_f64_vec().unwrap(), b.to_f64_vec().unwrap());
    assert_eq!(a.dims(), b.dims(), "{what}");
    for (i, (p, q)) in x.iter().zip(&y).enumerate() {
        assert!(
            (p - q).abs() <= 1e-4 * (1.0 + q.abs()),
            "{what}[{i}]: {p} vs {q}"
        );
    }
}

/// Kernels read (and in-place ops write) memory that is aligned to 4 bytes only, with the
/// same results as on a 16-aligned copy; reinterpreting it as f64 is an error.
#[test]
fn kernels_handle_element_aligned_external_memory() {
    let (r, c) = (67, 45);
    let n = r * c;
    let (mut owner, _) = Owner::new(n + 7, 4);
    let vals: Vec<f32> = (0..n + 7)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 16.0)
        .collect();
    owner.set(&vals);
    assert_eq!(owner.ptr() as usize % 16, 4);
    let x = wrap(
        &owner,
        n + 7,
        &[r, c],
        &[c as isize, 1],
        MemoryAccess::ReadWrite,
    )
    .unwrap();
    let xc = x.copy().unwrap();
    assert_eq!(data_ptr(&xc) % 16, 0);
    assert_eq!(data_ptr(&x) % 16, 4);
    // An odd offset view too: its first element is at 4 + 3·4 ≡ 0 mod 16, the next at 4.
    let xo = wrap(
        &owner,
        n + 7,
        &[r, c],
        &[c as isize, 1],
        MemoryAccess::ReadOnly,
    )
    .unwrap()
    .reshape(&[n as isize])
    .unwrap();
    let xoc = xo.copy().unwrap();
    let exact = |a: Tensor, b: Tensor, what: &str| {
        assert_eq!(
            a.to_vec::<f32>().unwrap(),
            b.to_vec::<f32>().unwrap(),
            "{what}"
        );
    };
    exact(x.add(&x).unwrap(), xc.add(&xc).unwrap(), "add");
    exact(x.mul(&xc).unwrap(), xc.mul(&xc).unwrap(), "mul mixed");
    exact(x.exp().unwrap(), xc.exp().unwrap(), "exp");
    exact(
        x.t().unwrap().contiguous().unwrap(),
        xc.t().unwrap().contiguous().unwrap(),
        "t",
    );
    exact(
        xo.add_scalar(1.0).unwrap(),
        xoc.add_scalar(1.0).unwrap(),
        "flat",
    );
    assert_close(&x.sum_all().unwrap(), &xc.sum_all().unwrap(), "sum_all");
    assert_close(
        &x.sum(&[0], false).unwrap(),
        &xc.sum(&[0], false).unwrap(),
        "sum dim 0",
    );
    assert_close(&x.softmax(1).unwrap(), &xc.softmax(1).unwrap(), "softmax");
    let w = x.t().unwrap();
    let wc = xc.t().unwrap();
    assert_close(&x.matmul(&w).unwrap(), &xc.matmul(&wc).unwrap(), "matmul");
    assert_close(&w.matmul(&x).unwrap(), &wc.matmul(&xc).unwrap(), "matmul t");
    // In-place writes into the element-aligned memory.
    x.mul_scalar_(2.0).unwrap();
    xc.mul_scalar_(2.0).unwrap();
    exact(x.clone(), xc.clone(), "mul_scalar_");
    let m = Tensor::zeros([r, r], DType::F32, &cpu()).unwrap();
    let (mut out_owner, _) = Owner::new(r * r, 4);
    out_owner.set(&vec![0.0; r * r]);
    let out = wrap(
        &out_owner,
        r * r,
        &[r, r],
        &[r as isize, 1],
        MemoryAccess::ReadWrite,
    )
    .unwrap();
    x.matmul_out(&x.t().unwrap(), &out).unwrap();
    xc.matmul_out(&xc.t().unwrap(), &m).unwrap();
    assert_close(&out, &m, "matmul_out");
    // The same bytes as f64 would need 8-byte alignment: an error, not a panic.
    let len = x.storage().len_bytes() / 8;
    let as_f64 = Tensor::from_storage(
        x.storage().clone(),
        Layout::contiguous([len]),
        DType::F64,
        cpu(),
    )
    .unwrap();
    let e = as_f64.add(&as_f64).unwrap_err();
    assert!(e.to_string().contains("not aligned for f64"), "{e}");
    assert!(as_f64
        .fill_(0.0)
        .unwrap_err()
        .to_string()
        .contains("not aligned"));
    assert_eq!(as_f64.to_bytes().unwrap().len(), len * 8);
}
