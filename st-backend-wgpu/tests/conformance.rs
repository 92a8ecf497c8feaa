//! The shared conformance suite (st-core's `testing` kit) instantiated for WGPU: every op and
//! dtype compared with the reference and with the CPU backend.
//!
//! Needs an adapter (Mesa lavapipe in CI, run with `ST_REQUIRE_WGPU=1`).

use st_backend_wgpu as _;

st_core::conformance_suite!(wgpu, "wgpu");
