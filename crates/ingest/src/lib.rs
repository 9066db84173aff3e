//! Format readers: see the crate description.
