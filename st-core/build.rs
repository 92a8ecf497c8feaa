//! Records the compiler version for `declare_plugin!`: a dynamic plugin and its host must be
//! built by the same rustc (Rust has no stable ABI), and the loader compares this string.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string());
    if let Some(v) = version {
        println!("cargo:rustc-env=ST_RUSTC_VERSION={v}");
    }
}
