// Prelude shared by every SpiralTorch WGSL kernel (prepended by src/kernels/mod.rs).
//
// Binding 0 is `meta`, a read-only array of u32 words whose layout each kernel family documents.
// Tensor buffers are bound as `array<u32>`: f32 and i32 elements are bitcast from one word,
// 1-byte elements (bool, u8) are bytes of a little-endian word, and i64 elements are two words
// (low, high).

@group(0) @binding(0) var<storage, read> st_meta: array<u32>;

// Linear invocation id of a 1-D kernel dispatched on a (x, y) grid of 256-thread groups.
fn st_tid(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

// Workgroup id of a one-group-per-item kernel dispatched on a (x, y) grid.
fn st_wid(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

fn st_is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn st_nan() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

fn st_inf() -> f32 {
    return bitcast<f32>(0x7f800000u);
}

// Scalar parameter j (slots 2..5 of meta) as f32, i32 or u32.
fn st_sf(j: u32) -> f32 {
    return bitcast<f32>(st_meta[2u + j]);
}

fn st_si(j: u32) -> i32 {
    return bitcast<i32>(st_meta[2u + j]);
}

fn st_su(j: u32) -> u32 {
    return st_meta[2u + j];
}

// Element offset of output element i in strided view k of an elementwise kernel.
// meta: [numel, rank, s0, s1, s2, s3, shape[rank], per view: offset, strides[rank]].
fn st_view_off(k: u32, i: u32) -> u32 {
    let rank = st_meta[1];
    let base = 6u + rank + k * (rank + 1u);
    var off = bitcast<i32>(st_meta[base]);
    var rem = i;
    var d = rank;
    loop {
        if (d == 0u) {
            break;
        }
        d = d - 1u;
        let size = st_meta[6u + d];
        let c = rem % size;
        rem = rem / size;
        off = off + i32(c) * bitcast<i32>(st_meta[base + 1u + d]);
    }
    return u32(off);
}
