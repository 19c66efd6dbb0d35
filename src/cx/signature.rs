//! Webhook signature verification \[C, Chatwoot 4.11+\]: `X-Chatwoot-Signature: sha256=<hex>` where
//! the hex is `HMAC-SHA256(secret, "<timestamp>.<raw body>")` and `X-Chatwoot-Timestamp` holds Unix
//! seconds. CX's create calls show no secret, so this only runs when one is configured \[G\].

use chrono::{DateTime, Utc};

use crate::crypto;

/// How far a delivery's timestamp may be from now, either way, before it is refused (replays) \[G\].
pub(crate) const SIGNATURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);

/// Why a delivery's signature was refused. Messages never echo the expected signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the timestamp header is missing or empty")]
    MissingTimestamp,
    #[error("the timestamp header {0:?} is not Unix seconds")]
    BadTimestamp(String),
    #[error("the timestamp is {skew_seconds} s away from now (more than 300 s): stale or replayed delivery")]
    OutsideWindow { skew_seconds: i64 },
    #[error("the signature header is missing or empty")]
    MissingSignature,
    #[error("the signature header must look like `sha256=<64 hex digits>`")]
    BadFormat,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// The `X-Chatwoot-Signature` value for `raw_body` sent at `timestamp` (what the emulator sends).
pub fn sign(secret: &[u8], timestamp: i64, raw_body: &[u8]) -> String {
    let tag = crypto::hmac_sha256(secret, &signed_parts(&timestamp.to_string(), raw_body));
    format!("sha256={}", hex::encode(tag))
}

/// Checks a delivery: the timestamp is within [`SIGNATURE_WINDOW`] of `now` and the signature is
/// HMAC-SHA256 of `"<timestamp>.<raw body>"` under `secret`, compared in constant time.
pub fn verify_signature(
    secret: &[u8],
    timestamp_header: &str,
    signature_header: &str,
    raw_body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let timestamp_text = timestamp_header.trim();
    if timestamp_text.is_empty() {
        return Err(SignatureError::MissingTimestamp);
    }
    let timestamp: i64 = timestamp_text
        .parse()
        .map_err(|_| SignatureError::BadTimestamp(shorten(timestamp_text)))?;
    let skew = now.timestamp().saturating_sub(timestamp);
    let window = i64::try_from(SIGNATURE_WINDOW.as_secs()).unwrap_or(i64::MAX);
    if skew.saturating_abs() > window {
        return Err(SignatureError::OutsideWindow { skew_seconds: skew });
    }
    let signature = signature_header.trim();
    if signature.is_empty() {
        return Err(SignatureError::MissingSignature);
    }
    let hex_digits = signature
        .strip_prefix("sha256=")
        .or_else(|| signature.strip_prefix("SHA256="))
        .ok_or(SignatureError::BadFormat)?;
    if hex_digits.len() != 64 {
        return Err(SignatureError::BadFormat);
    }
    let expected = hex::decode(hex_digits).map_err(|_| SignatureError::BadFormat)?;
    // The raw timestamp text is what was signed, so sign it as received.
    if crypto::hmac_sha256_matches(secret, &signed_parts(timestamp_text, raw_body), &expected) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// What Chatwoot signs: `"{timestamp}.{body}"`.
fn signed_parts<'a>(timestamp: &'a str, raw_body: &'a [u8]) -> [&'a [u8]; 3] {
    [timestamp.as_bytes(), b".", raw_body]
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn a_signed_body_verifies_within_the_window() {
        let body = br#"{"event":"message_created","id":1}"#;
        let signature = sign(b"shh", 1_700_000_000, body);
        assert!(signature.starts_with("sha256=") && signature.len() == 71);
        assert_eq!(
            verify_signature(b"shh", "1700000000", &signature, body, at(1_700_000_000)),
            Ok(())
        );
        assert_eq!(
            verify_signature(b"shh", "1700000000", &signature, body, at(1_700_000_300)),
            Ok(())
        );
        assert_eq!(
            verify_signature(
                b"shh",
                " 1700000000 ",
                &signature.to_uppercase().replace("SHA256", "sha256"),
                body,
                at(1_699_999_800)
            ),
            Ok(())
        );
    }

    #[test]
    fn tampering_wrong_secret_and_stale_timestamps_are_refused() {
        let body = b"{}";
        let signature = sign(b"shh", 1_700_000_000, body);
        let now = at(1_700_000_000);
        assert_eq!(
            verify_signature(b"shh", "1700000000", &signature, b"{ }", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"other", "1700000000", &signature, body, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"shh", "1700000001", &signature, body, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"shh", "1700000000", &signature, body, at(1_700_000_301)),
            Err(SignatureError::OutsideWindow { skew_seconds: 301 })
        );
    }

    #[test]
    fn malformed_headers_get_precise_errors() {
        let now = at(1_700_000_000);
        let good = sign(b"k", 1_700_000_000, b"x");
        assert_eq!(
            verify_signature(b"k", "", &good, b"x", now),
            Err(SignatureError::MissingTimestamp)
        );
        assert_eq!(
            verify_signature(b"k", "yesterday", &good, b"x", now),
            Err(SignatureError::BadTimestamp("yesterday".into()))
        );
        assert_eq!(
            verify_signature(b"k", "1700000000", "", b"x", now),
            Err(SignatureError::MissingSignature)
        );
        assert_eq!(
            verify_signature(b"k", "1700000000", &good[7..], b"x", now),
            Err(SignatureError::BadFormat)
        );
        assert_eq!(
            verify_signature(b"k", "1700000000", "sha256=zz", b"x", now),
            Err(SignatureError::BadFormat)
        );
        let not_hex = format!("sha256={}", "g".repeat(64));
        assert_eq!(
            verify_signature(b"k", "1700000000", &not_hex, b"x", now),
            Err(SignatureError::BadFormat)
        );
        assert_eq!(
            verify_signature(b"k", "-9223372036854775808", &good, b"x", now),
            Err(SignatureError::OutsideWindow { skew_seconds: i64::MAX })
        );
    }
}
