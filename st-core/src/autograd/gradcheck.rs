//! Finite-difference gradient checking.
