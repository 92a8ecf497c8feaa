//! Composite ops, written once in terms of primitive ops so every backend that has the
//! primitives gets them (and their gradients) for free.
