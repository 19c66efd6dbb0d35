//! Integration tests: `syntax`.
