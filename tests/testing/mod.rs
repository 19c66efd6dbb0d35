//! Integration tests: `testing`.
