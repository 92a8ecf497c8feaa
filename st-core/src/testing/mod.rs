//! Conformance kit: an OpSpec per op, sample inputs, tolerances and the conformance_suite! macro.
