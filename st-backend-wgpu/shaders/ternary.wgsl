// where / masked_fill (src/kernels/ternary.rs). The condition and mask are bool bytes; the fill
// value of masked_fill is the scalar in meta slots 0 (and 1 for the high word of an i64).

fn st_pick_f(c: u32, t: f32, f: f32) -> f32 {
    return select(f, t, c != 0u);
}
