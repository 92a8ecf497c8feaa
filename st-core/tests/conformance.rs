//! The conformance suite on the CPU backend: one test per (op, dtype), plus error, gradient and
//! coverage tests (`cargo test -p st-core --features testing --test conformance`).

#![cfg(feature = "testing")]

st_core::conformance_suite!(cpu, "cpu");
