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

# WGPU runs for real on Mesa's lavapipe (Vulkan on the CPU); a missing adapter is a failure.
if [ ! -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ]; then
    step "apt-get install mesa-vulkan-drivers libvulkan1 (lavapipe for the WGPU tests)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1
fi
export ST_REQUIRE_WGPU=1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 0700 "$XDG_RUNTIME_DIR"

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

step "cargo clippy without op-events (the build the event-overhead bench compares against)"
cargo clippy -p st-core -p st-benches --no-default-features --all-targets -- -D warnings

step "cargo test --workspace --all-features"
cargo test --workspace --all-features

step "all checks passed"
