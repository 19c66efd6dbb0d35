//! Integration tests: `server`.
