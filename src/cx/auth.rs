//! OAuth client-credentials \[S\]: the credentials, the access token, and the cache that renews it
//! shortly before it expires. Secrets and tokens never appear in `Debug` output or logs.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

/// Client id and secret of a CX API client. `Debug` shows the id only.
#[derive(Clone)]
pub struct Credentials {
    pub client_id: String,
    client_secret: String,
}

impl Credentials {
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self { client_id: client_id.into(), client_secret: client_secret.into() }
    }

    /// Reads both from the environment variables the configuration names.
    pub(crate) fn from_env(id_var: &str, secret_var: &str) -> Result<Self, String> {
        let read = |var: &str| match std::env::var(var) {
            Ok(value) if !value.trim().is_empty() => Ok(value),
            Ok(_) => Err(format!("environment variable {var} is empty")),
            Err(std::env::VarError::NotPresent) => Err(format!(
                "environment variable {var} is not set (it must hold the CX API client {})",
                if var == id_var { "id" } else { "secret" }
            )),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("environment variable {var} is not valid UTF-8"))
            }
        };
        Ok(Self::new(read(id_var)?, read(secret_var)?))
    }

    pub(crate) fn secret(&self) -> &str {
        &self.client_secret
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// A bearer token and what the token endpoint said about it. `Debug` hides the token.
#[derive(Clone)]
pub struct AccessToken {
    value: String,
    /// `token_type`, normally `bearer`.
    pub token_type: String,
    /// Scope granted, when the endpoint says.
    pub scope: Option<String>,
    /// Lifetime the endpoint announced.
    pub expires_in: Duration,
    pub(crate) obtained_at: Instant,
}

/// Lifetime assumed when the token endpoint gives none \[G\].
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3_600);

impl AccessToken {
    pub(crate) fn new(
        value: String,
        token_type: String,
        scope: Option<String>,
        expires_in: Option<u64>,
    ) -> Self {
        Self {
            value,
            token_type,
            scope,
            expires_in: expires_in.map_or(DEFAULT_LIFETIME, Duration::from_secs),
            obtained_at: Instant::now(),
        }
    }

    /// The token itself, for an `Authorization: Bearer` header. Do not log it.
    pub(crate) fn expose(&self) -> &str {
        &self.value
    }

    /// Renew this long before expiry: 10% of the lifetime, at most 60 s.
    fn renewal_margin(&self) -> Duration {
        (self.expires_in / 10).min(Duration::from_secs(60))
    }

    /// Whether the cache should still hand this token out at `now`.
    pub(crate) fn is_fresh(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.obtained_at) + self.renewal_margin() < self.expires_in
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The token endpoint's answer \[S: `access_token`, `scope`, `token_type`, `expires_in`\].
#[derive(serde::Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub expires_in: Option<u64>,
}

/// `expires_in` as a number or numeric string; anything else counts as absent.
fn lenient_seconds<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
    Ok(super::ids::id_from_value(&value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let credentials = Credentials::new("botrun-dev", "s3cr3t-value");
        let token = AccessToken::new("tok-abc123".into(), "bearer".into(), None, Some(60));
        let shown = format!("{credentials:?} {token:?}");
        assert!(!shown.contains("s3cr3t-value") && !shown.contains("tok-abc123"), "{shown}");
        assert!(shown.contains("botrun-dev"));
    }

    #[test]
    fn renews_ten_percent_early_capped_at_a_minute() {
        let token = AccessToken::new("t".into(), "bearer".into(), None, Some(100));
        assert!(token.is_fresh(token.obtained_at + Duration::from_secs(89)));
        assert!(!token.is_fresh(token.obtained_at + Duration::from_secs(90)));
        let year = AccessToken::new("t".into(), "bearer".into(), None, Some(31_536_000));
        assert!(year.is_fresh(year.obtained_at + Duration::from_secs(31_536_000 - 61)));
        assert!(!year.is_fresh(year.obtained_at + Duration::from_secs(31_536_000 - 60)));
    }
}
