// conv2d (direct), im2col and col2im on contiguous NCHW tensors (src/kernels/conv.rs), one
// invocation per output element. col2im gathers (no atomics), so it is deterministic. The
// element type `st_t` (f32 or f16) is aliased by the generated prelude; values are widened to
// f32, sums accumulate in f32, and each result is rounded to `st_t` once.
//
// meta: [n_out, N, C, H, W, O, kh, kw, OH, OW, sh, sw, ph, pw, dh, dw, groups, x_off, w_off,
//        pad_value (f32 bits)]

@group(0) @binding(1) var<storage, read> x: array<st_t>;
@group(0) @binding(2) var<storage, read_write> out: array<st_t>;
@group(0) @binding(3) var<storage, read> w: array<st_t>;

// Source coordinate of output position o along one axis (may be negative or past the end).
fn st_src(o: u32, k: u32, stride: u32, pad: u32, dil: u32) -> i32 {
    return i32(o * stride + k * dil) - i32(pad);
}

@compute @workgroup_size(256)
fn conv2d(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = st_tid(gid, nwg);
    if (t >= st_meta[0]) {
        return;
    }
    let C = st_meta[2];
    let H = st_meta[3];
    let W = st_meta[4];
    let O = st_meta[5];
    let kh = st_meta[6];
    let kw = st_meta[7];
    let OH = st_meta[8];
    let OW = st_meta[9];
    let ox = t % OW;
    let oy = (t / OW) % OH;
    let oc = (t / (OW * OH)) % O;
    let n = t / (OW * OH * O);
    let cpg = C / st_meta[16];
    let g = oc / (O / st_meta[16]);
    var acc = 0.0;
    for (var ic = 0u; ic < cpg; ic = ic + 1u) {
        let c = g * cpg + ic;
        for (var ki = 0u; ki < kh; ki = ki + 1u) {
            let iy = st_src(oy, ki, st_meta[10], st_meta[12], st_meta[14]);
            if (iy < 0i || iy >= i32(H)) {
                continue;
            }
            for (var kj = 0u; kj < kw; kj = kj + 1u) {
                let ix = st_src(ox, kj, st_meta[11], st_meta[13], st_meta[15]);
                if (ix < 0i || ix >= i32(W)) {
                    continue;
                }
                let xv = f32(x[st_meta[17] + ((n * C + c) * H + u32(iy)) * W + u32(ix)]);
                let wv = f32(w[st_meta[18] + ((oc * cpg + ic) * kh + ki) * kw + kj]);
                acc = acc + xv * wv;
            }
        }
    }
    out[t] = st_t(acc);
}

// out [N, C*kh*kw, OH*OW] from x [N, C, H, W]; positions outside the input read pad_value.
@compute @workgroup_size(256)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = st_tid(gid, nwg);
    if (t >= st_meta[0]) {
        return;
    }
    let C = st_meta[2];
    let H = st_meta[3];
    let W = st_meta[4];
    let kh = st_meta[6];
    let kw = st_meta[7];
    let OW = st_meta[9];
    let L = st_meta[8] * OW;
    let col = t % L;
    let row = (t / L) % (C * kh * kw);
    let n = t / (L * C * kh * kw);
    let kj = row % kw;
    let ki = (row / kw) % kh;
    let c = row / (kw * kh);
    let iy = st_src(col / OW, ki, st_meta[10], st_meta[12], st_meta[14]);
    let ix = st_src(col % OW, kj, st_meta[11], st_meta[13], st_meta[15]);
    var v = bitcast<f32>(st_meta[19]);
    if (iy >= 0i && iy < i32(H) && ix >= 0i && ix < i32(W)) {
        v = f32(x[st_meta[17] + ((n * C + c) * H + u32(iy)) * W + u32(ix)]);
    }
    out[t] = st_t(v);
}

// out [N, C, H, W] from cols x [N, C*kh*kw, OH*OW], summing every window that covers a pixel.
@compute @workgroup_size(256)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = st_tid(gid, nwg);
    if (t >= st_meta[0]) {
        return;
    }
    let C = st_meta[2];
    let H = st_meta[3];
    let W = st_meta[4];
    let kh = st_meta[6];
    let kw = st_meta[7];
    let OH = st_meta[8];
    let OW = st_meta[9];
    let px = t % W;
    let py = (t / W) % H;
    let c = (t / (W * H)) % C;
    let n = t / (W * H * C);
    var acc = 0.0;
    for (var ki = 0u; ki < kh; ki = ki + 1u) {
        let ty = i32(py + st_meta[12]) - i32(ki * st_meta[14]);
        if (ty < 0i || u32(ty) % st_meta[10] != 0u || u32(ty) / st_meta[10] >= OH) {
            continue;
        }
        let oy = u32(ty) / st_meta[10];
        for (var kj = 0u; kj < kw; kj = kj + 1u) {
            let tx = i32(px + st_meta[13]) - i32(kj * st_meta[15]);
            if (tx < 0i || u32(tx) % st_meta[11] != 0u || u32(tx) / st_meta[11] >= OW) {
                continue;
            }
            let ox = u32(tx) / st_meta[11];
            let row = (c * kh + ki) * kw + kj;
            acc = acc + f32(x[st_meta[17] + (n * C * kh * kw + row) * OH * OW + oy * OW + ox]);
        }
    }
    out[t] = st_t(acc);
}
