//! Rust source text for the reproduction log (sizes, dims, floats), and the escaping of the
//! one-line-per-record report format.

/// Escapes a line for the one-line-per-record report format.
pub fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\t', "\\t")
        .replace('\r', "\\r")
}

/// Reverses [`escape`].
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A usize as Rust source, symbolic when huge.
pub fn fmt_u(n: usize) -> String {
    if n == usize::MAX {
        "usize::MAX".into()
    } else if n == usize::MAX / 2 {
        "(usize::MAX / 2)".into()
    } else if n >= 1 << 16 && n.is_power_of_two() {
        format!("(1 << {})", n.trailing_zeros())
    } else {
        n.to_string()
    }
}

/// An isize as Rust source, symbolic when extreme.
pub fn fmt_i(n: isize) -> String {
    match n {
        isize::MAX => "isize::MAX".into(),
        isize::MIN => "isize::MIN".into(),
        _ if n >= 1 << 16 && (n as usize).is_power_of_two() => {
            format!("(1 << {})", n.trailing_zeros())
        }
        _ => n.to_string(),
    }
}

/// Dims as a Rust array literal (`[2, (1 << 40)]`, or `[1; 70]` for long uniform ranks).
pub fn fmt_dims(d: &[usize]) -> String {
    if d.len() > 8 && d.iter().all(|&x| x == d[0]) {
        return format!("[{}; {}]", fmt_u(d[0]), d.len());
    }
    let v: Vec<String> = d.iter().map(|&x| fmt_u(x)).collect();
    format!("[{}]", v.join(", "))
}

/// Signed dims as a Rust array literal.
pub fn fmt_idims(d: &[isize]) -> String {
    if d.len() > 8 && d.iter().all(|&x| x == d[0]) {
        return format!("[{}; {}]", fmt_i(d[0]), d.len());
    }
    let v: Vec<String> = d.iter().map(|&x| fmt_i(x)).collect();
    format!("[{}]", v.join(", "))
}

/// An f64 as Rust source.
pub fn fmt_f(v: f64) -> String {
    if v.is_nan() {
        "f64::NAN".into()
    } else if v == f64::INFINITY {
        "f64::INFINITY".into()
    } else if v == f64::NEG_INFINITY {
        "f64::NEG_INFINITY".into()
    } else {
        format!("{v:?}")
    }
}

/// Floats as a Rust array literal.
pub fn fmt_floats(v: &[f64]) -> String {
    let s: Vec<String> = v.iter().map(|&x| fmt_f(x)).collect();
    format!("[{}]", s.join(", "))
}

/// An optional f64 as Rust source.
pub fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("None".into(), |x| format!("Some({})", fmt_f(x)))
}
