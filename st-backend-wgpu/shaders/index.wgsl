// cat, index_select, gather and scatter_add (src/kernels/index.rs) for 1-word (f32, i32) and
// 2-word (i64) elements; slot 0 of meta holds the words per element. Index tensors are i64
// (two words, low first); the kernels check their range on the device (Note [Device-side
// index checks] in src/kernels/index.rs): an out-of-range index is recorded in `st_err`.
//
// The generated prelude aliases the data element `st_w` (`u32` words, or `f16` for the f16
// variant, one element per "word") and defines `st_w2f` / `st_f2w` (the element as f32 and
// back) and `st_round` (an f32 sum rounded to the element type) for scatter_add.
//
// meta: [numel, rank, words, s1, s2, s3, shape[rank], view 0, view 1, view 2 (offset, strides)]

@group(0) @binding(1) var<storage, read> x: array<st_w>;
@group(0) @binding(2) var<storage, read_write> out: array<st_w>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
// [flag, index low word, index high word, unused], zeroed before the dispatch.
@group(0) @binding(4) var<storage, read_write> st_err: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read> src: array<st_w>;

// Whether the i64 index (lo, hi) lies in [0, size); the first invocation that finds one
// outside records it.
fn st_index_ok(lo: u32, hi: u32, size: u32) -> bool {
    if (hi == 0u && lo < size) {
        return true;
    }
    if (atomicExchange(&st_err[0], 1u) == 0u) {
        atomicStore(&st_err[1], lo);
        atomicStore(&st_err[2], hi);
    }
    return false;
}

fn st_copy_words(dst: u32, at: u32) {
    let words = st_meta[2];
    for (var w = 0u; w < words; w = w + 1u) {
        out[dst * words + w] = x[at * words + w];
    }
}

// cat: copies view 0 of x into view 1 of out (the slice of the output along the cat dim).
@compute @workgroup_size(256)
fn cat_copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = st_tid(gid, nwg);
    if (t >= st_meta[0]) {
        return;
    }
    st_copy_words(st_view_off(1u, t), st_view_off(0u, t));
}

// index_select / gather: out[t] = x[view0(t) + idx[view1(t)] * s2], where view 0 has a zero
// stride along the indexed dim, s2 is x's stride there and s3 its size.
@compute @workgroup_size(256)
fn take(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = st_tid(gid, nwg);
    if (t >= st_meta[0]) {
        return;
    }
    let e = st_view_off(1u, t);
    let lo = idx[2u * e];
    if (!st_index_ok(lo, idx[2u * e + 1u], st_su(3u))) {
        return;
    }
    let at = i32(st_view_off(0u, t)) + i32(lo) * st_si(2u);
    st_copy_words(t, u32(at));
}

// scatter_add, gathered per output element (deterministic, no atomics):
// out[p] = x[p] + sum over j of src[p with dim d = j] where idx[p with dim d = j] == p_d,
// added in index order and rounded to the element type after each addition, as the CPU does.
// s1 = d, s3 = idx rank-length shape offset in meta (start of idx_shape[rank]).
fn st_scatter_value(t: u32) -> f32 {
    let rank = st_meta[1];
    let d = st_meta[3];
    let shp = st_meta[5];
    let vb1 = 6u + rank + (rank + 1u);
    let vb2 = 6u + rank + 2u * (rank + 1u);
    var acc = st_w2f(x[st_view_off(0u, t)]);
    var ib = bitcast<i32>(st_meta[vb1]);
    var sb = bitcast<i32>(st_meta[vb2]);
    var rem = t;
    var pd = 0u;
    var k = rank;
    loop {
        if (k == 0u) {
            break;
        }
        k = k - 1u;
        let size = st_meta[6u + k];
        let c = rem % size;
        rem = rem / size;
        if (k == d) {
            pd = c;
        } else {
            if (c >= st_meta[shp + k]) {
                return acc;
            }
            ib = ib + i32(c) * bitcast<i32>(st_meta[vb1 + 1u + k]);
            sb = sb + i32(c) * bitcast<i32>(st_meta[vb2 + 1u + k]);
        }
    }
    let n = st_meta[shp + d];
    let is = bitcast<i32>(st_meta[vb1 + 1u + d]);
    let ss = bitcast<i32>(st_meta[vb2 + 1u + d]);
    for (var j = 0u; j < n; j = j + 1u) {
        let e = u32(ib + i32(j) * is);
        let lo = idx[2u * e];
        if (!st_index_ok(lo, idx[2u * e + 1u], st_meta[6u + d])) {
            continue;
        }
        if (lo == pd) {
            acc = st_round(acc + st_w2f(src[u32(sb + i32(j) * ss)]));
        }
    }
    return acc;
}

@compute @workgroup_size(256)
fn scatter_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = st_tid(gid, nwg);
    if (t >= st_meta[0]) {
        return;
    }
    out[t] = st_f2w(st_scatter_value(t));
}
