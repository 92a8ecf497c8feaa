//! The shared conformance suite (st-core's `testing` kit) instantiated for WGPU: every op and
//! dtype compared with the reference and with the CPU backend, with the WGPU gaps declared in
//! `known_gaps/`.
//!
//! Needs an adapter (Mesa lavapipe in CI, run with `ST_REQUIRE_WGPU=1`).

mod known_gaps;

use st_backend_wgpu as _;

st_core::conformance_suite!(wgpu, "wgpu", known_gaps::GAPS);
