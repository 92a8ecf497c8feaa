// Batched matmul of contiguous operands (src/kernels/matmul.rs): 16x16 output tiles per
// workgroup, staging 16x16 tiles of A and B in workgroup memory. Batch dims broadcast through
// zero batch strides. The element type `st_t` (f32 or f16) is aliased by the generated
// prelude; tiles and the accumulator are f32, and each result is rounded to `st_t` once.
//
// The output is a strided view (element (batch, row, col) at o_off + batch offset + row * o_rs
// + col * o_cs), so the output-buffer form (`matmul_out`) writes into existing tensors.
//
// meta: [m, n, k, n_batch, batch_rank, a_off, b_off, o_off, o_rs, o_cs, out_batch_shape[br],
//        a_bstrides[br], b_bstrides[br], o_bstrides[br]] (o_* as i32 bits)

@group(0) @binding(1) var<storage, read> a: array<st_t>;
@group(0) @binding(2) var<storage, read> b: array<st_t>;
@group(0) @binding(3) var<storage, read_write> out: array<st_t>;

var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m = st_meta[0];
    let n = st_meta[1];
    let k = st_meta[2];
    let batch = wid.z;
    let br = st_meta[4];
    var ao = st_meta[5];
    var bo = st_meta[6];
    var oo = bitcast<i32>(st_meta[7]);
    var rem = batch;
    var d = br;
    loop {
        if (d == 0u) {
            break;
        }
        d = d - 1u;
        let size = st_meta[10u + d];
        let c = rem % size;
        rem = rem / size;
        ao = ao + c * st_meta[10u + br + d];
        bo = bo + c * st_meta[10u + 2u * br + d];
        oo = oo + i32(c) * bitcast<i32>(st_meta[10u + 3u * br + d]);
    }
    let row = wid.y * 16u + lid.y;
    let col = wid.x * 16u + lid.x;
    var acc = 0.0;
    for (var t = 0u; t < k; t = t + 16u) {
        let ak = t + lid.x;
        var av = 0.0;
        if (row < m && ak < k) {
            av = f32(a[ao + row * k + ak]);
        }
        ta[lid.y][lid.x] = av;
        let bk = t + lid.y;
        var bv = 0.0;
        if (bk < k && col < n) {
            bv = f32(b[bo + bk * n + col]);
        }
        tb[lid.y][lid.x] = bv;
        workgroupBarrier();
        for (var q = 0u; q < 16u; q = q + 1u) {
            acc = acc + ta[lid.y][q] * tb[q][lid.x];
        }
        workgroupBarrier();
    }
    if (row < m && col < n) {
        let o = oo + i32(row) * bitcast<i32>(st_meta[8]) + i32(col) * bitcast<i32>(st_meta[9]);
        out[u32(o)] = st_t(acc);
    }
}
