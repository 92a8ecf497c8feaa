// softmax / log_softmax over one dim of a contiguous input (src/kernels/softmax.rs), viewed as
// [outer, d, inner]: one 256-thread workgroup per (outer, inner) row, two tree reductions (max,
// then the sum of exp(x - max)).
//
// The element type `st_t` (f32 or f16) is aliased by the generated prelude
// (src/kernels/softmax.rs); values are widened to f32, all math is f32, and each result is
// rounded to `st_t` once.
//
// meta: [n_rows, d, inner, offset, log (0/1), 0, ...]

@group(0) @binding(1) var<storage, read> inp: array<st_t>;
@group(0) @binding(2) var<storage, read_write> out: array<st_t>;

var<workgroup> red: array<f32, 256>;

fn st_addr(row: u32, j: u32) -> u32 {
    let d = st_meta[1];
    let inner = st_meta[2];
    let o = row / inner;
    let i = row % inner;
    return (o * d + j) * inner + i;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = st_wid(wid, nwg);
    if (row >= st_meta[0]) {
        return;
    }
    let d = st_meta[1];
    let off = st_meta[3];
    var m = -st_inf();
    for (var j = lid; j < d; j = j + 256u) {
        let x = f32(inp[off + st_addr(row, j)]);
        if (x > m || st_is_nan(x)) {
            m = select(x, m, st_is_nan(m));
        }
    }
    red[lid] = m;
    workgroupBarrier();
    for (var h = 128u; h > 0u; h = h >> 1u) {
        if (lid < h) {
            let b = red[lid + h];
            if (b > red[lid] || (st_is_nan(b) && !st_is_nan(red[lid]))) {
                red[lid] = b;
            }
        }
        workgroupBarrier();
    }
    let mx = red[0];
    workgroupBarrier();
    var s = 0.0;
    for (var j = lid; j < d; j = j + 256u) {
        s = s + exp(f32(inp[off + st_addr(row, j)]) - mx);
    }
    red[lid] = s;
    workgroupBarrier();
    for (var h = 128u; h > 0u; h = h >> 1u) {
        if (lid < h) {
            red[lid] = red[lid] + red[lid + h];
        }
        workgroupBarrier();
    }
    let total = red[0];
    let lg = log(total);
    for (var j = lid; j < d; j = j + 256u) {
        let a = st_addr(row, j);
        let x = f32(inp[off + a]) - mx;
        var y: f32;
        if (st_meta[4] == 1u) {
            y = x - lg;
        } else {
            y = exp(x) / total;
        }
        out[a] = st_t(y);
    }
}
