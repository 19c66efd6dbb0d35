//! Integration tests: `emulator`.
