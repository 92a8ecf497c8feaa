#!/usr/bin/env bash
# The test command from the README: formatting, lints, file-size cap, and the whole test suite
# (including st-core's conformance suite behind the `testing` feature). CI runs it via .ci/run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

# Rust toolchain pieces the checks need.
if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "cargo not found: install Rust with rustup (https://rustup.rs)" >&2
        exit 1
    fi
fi
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        step "rustup component add $component"
        rustup component add "$component"
    fi
done

step "file size: no tracked .rs file above 1200 lines"
too_long=0
while IFS= read -r -d '' f; do
    [ -f "$f" ] || continue
    n=$(wc -l <"$f")
    if [ "$n" -gt 1200 ]; then
        echo "  $f: $n lines (cap 1200, STYLE.md 3.6)" >&2
        too_long=1
    fi
done < <(git ls-files -z -- '*.rs')
if [ "$too_long" -ne 0 ]; then
    exit 1
fi

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets --all-features -- -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo test --workspace --all-features"
cargo test --workspace --all-features

step "all checks passed"
