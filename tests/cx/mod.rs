//! Integration tests: `cx`.
