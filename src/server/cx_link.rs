//! Connects the outbox to Sangoma CX: adapts the CX client to [`CxOutbound`].

use std::sync::Arc;

use super::{Config, CxOutbound, ServeError};

/// Builds the CX side of the outbox from the `cx:` section.
pub fn connect_cx(config: &Config) -> Result<Arc<dyn CxOutbound>, ServeError> {
    let _ = &config.cx;
    Err(ServeError::CxUnavailable)
}
