// Reductions over any set of dims (src/kernels/reduce.rs): one 256-thread workgroup per output
// element; each thread folds a strided share of the reduced elements, then the workgroup
// combines the partials in a shared-memory tree.
//
// meta: [n_out, n_red, keep_rank, red_rank, offset, keep_shape[kr], keep_strides[kr],
//        red_shape[rr], red_strides[rr]]

// Offset of output element o (row-major over the kept dims) relative to the view offset.
fn st_keep_off(o: u32) -> i32 {
    let kr = st_meta[2];
    var off = 0i;
    var rem = o;
    var d = kr;
    loop {
        if (d == 0u) {
            break;
        }
        d = d - 1u;
        let size = st_meta[5u + d];
        off = off + i32(rem % size) * bitcast<i32>(st_meta[5u + kr + d]);
        rem = rem / size;
    }
    return off;
}

// Offset of reduced element j (row-major over the reduced dims).
fn st_red_off(j: u32) -> i32 {
    let kr = st_meta[2];
    let rr = st_meta[3];
    let b = 5u + 2u * kr;
    var off = 0i;
    var rem = j;
    var d = rr;
    loop {
        if (d == 0u) {
            break;
        }
        d = d - 1u;
        let size = st_meta[b + d];
        off = off + i32(rem % size) * bitcast<i32>(st_meta[b + rr + d]);
        rem = rem / size;
    }
    return off;
}

// NaN-propagating max / min, as the CPU kernels.
fn st_fmax_nan(a: f32, x: f32) -> f32 {
    if (st_is_nan(a)) {
        return a;
    }
    return select(a, x, x > a || st_is_nan(x));
}

fn st_fmin_nan(a: f32, x: f32) -> f32 {
    if (st_is_nan(a)) {
        return a;
    }
    return select(a, x, x < a || st_is_nan(x));
}

// Whether candidate (vb, ib) beats (va, ia) for argmax (is_max) or argmin: NaN is the extremum,
// ties go to the smaller index, index 0xffffffff marks an empty slot.
fn st_arg_better_f(va: f32, ia: u32, vb: f32, ib: u32, is_max: bool) -> bool {
    if (ib == 0xffffffffu) {
        return false;
    }
    if (ia == 0xffffffffu) {
        return true;
    }
    let na = st_is_nan(va);
    let nb = st_is_nan(vb);
    if (na || nb) {
        return nb && (!na || ib < ia);
    }
    if (va == vb) {
        return ib < ia;
    }
    return select((vb < va), (vb > va), is_max);
}

fn st_arg_better_i(va: i32, ia: u32, vb: i32, ib: u32, is_max: bool) -> bool {
    if (ib == 0xffffffffu) {
        return false;
    }
    if (ia == 0xffffffffu) {
        return true;
    }
    if (va == vb) {
        return ib < ia;
    }
    return select((vb < va), (vb > va), is_max);
}
