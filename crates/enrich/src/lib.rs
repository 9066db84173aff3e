//! Enrichment: see the crate description.
