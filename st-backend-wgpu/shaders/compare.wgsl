// Comparisons and logical and/or (src/kernels/compare.rs). The result is a bool byte (0 or 1)
// in a u32; the generated entry point packs four of them per output word. Float comparisons
// follow IEEE (NaN compares unequal to everything).

fn st_b(c: bool) -> u32 {
    return select(0u, 1u, c);
}
