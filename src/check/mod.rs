//! Check: validation passes over parsed files (names, flow, patterns, templates, timers…) that
//! produce every diagnostic at once, and `compile`, which turns a clean bundle into an
//! `engine::Program`. Imports `syntax`, `source`, `diagnostic` and the engine's program types.
