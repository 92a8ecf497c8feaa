//! The shared conformance suite (st-core's `testing` kit) instantiated for WGPU: every op and
//! dtype compared with the reference and with the CPU backend.
//!
//! Needs an adapter (Mesa lavapipe in CI, run with `ST_REQUIRE_WGPU=1`).

// st_core::Error is 152 bytes; every fallible function here returns it (st-core has the
// same lint hit; boxing it is a core decision).
#![allow(clippy::result_large_err)]

use st_backend_wgpu as _;

st_core::conformance_suite!(wgpu, "wgpu");
