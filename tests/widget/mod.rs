//! Integration tests: `widget`.
