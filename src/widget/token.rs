//! Page tokens: HMAC-SHA256-signed claims (conversation, user, site, expiry), one per
//! conversation. Signed rather than random so any replica, and a restarted one, can check them
//! without a lookup; the `user` claim pins the identity the server writes into `from`.

use crate::crypto;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// What a token proves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Conversation id the token is bound to.
    #[serde(rename = "c")]
    pub conversation: String,
    /// The customer's user id (`from.id` of every customer activity).
    #[serde(rename = "u")]
    pub user_id: String,
    /// The customer's display name, if the site's backend gave one.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// The site the token was minted for.
    #[serde(rename = "s")]
    pub site: String,
    /// Expiry, Unix seconds.
    #[serde(rename = "x")]
    pub expires_at: i64,
    /// When it was issued, Unix milliseconds (0 in tokens from before this claim existed):
    /// a refresh retires the tokens issued before it.
    #[serde(rename = "i", default)]
    pub issued_ms: i64,
    /// 128 random bits so two tokens minted in the same second differ.
    #[serde(rename = "r")]
    pub nonce: String,
}

impl Claims {
    /// Seconds until the token expires (what `expires_in` reports), never negative.
    pub(crate) fn seconds_left(&self, now_unix: i64) -> u64 {
        u64::try_from(self.expires_at - now_unix).unwrap_or(0)
    }
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenProblem {
    /// Not a token we issued, or tampered with.
    Invalid,
    /// Ours, but past its expiry.
    Expired,
}

const PREFIX: &str = "bt1";

/// Signs claims into `bt1.<claims>.<signature>`.
pub fn sign(key: &[u8], claims: &Claims) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signature = URL_SAFE_NO_PAD.encode(mac(key, &body));
    format!("{PREFIX}.{body}.{signature}")
}

/// Checks the signature and the expiry against `now_unix`.
pub fn verify(key: &[u8], token: &str, now_unix: i64) -> Result<Claims, TokenProblem> {
    let mut parts = token.split('.');
    let (Some(PREFIX), Some(body), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenProblem::Invalid);
    };
    let given = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenProblem::Invalid)?;
    if !crypto::hmac_sha256_matches(key, &[body.as_bytes()], &given) {
        return Err(TokenProblem::Invalid);
    }
    let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| TokenProblem::Invalid)?;
    let claims: Claims = serde_json::from_slice(&raw).map_err(|_| TokenProblem::Invalid)?;
    if claims.expires_at <= now_unix {
        return Err(TokenProblem::Expired);
    }
    Ok(claims)
}

fn mac(key: &[u8], body: &str) -> [u8; 32] {
    crypto::hmac_sha256(key, &[body.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires_at: i64) -> Claims {
        Claims {
            conversation: "c1".into(),
            user_id: "dl_u".into(),
            user_name: None,
            site: "demo".into(),
            expires_at,
            issued_ms: 0,
            nonce: crate::crypto::random_id(),
        }
    }

    #[test]
    fn round_trip_and_tamper() {
        let token = sign(b"k", &claims(100));
        assert_eq!(verify(b"k", &token, 50).unwrap(), claims_of(&token));
        assert_eq!(verify(b"other", &token, 50), Err(TokenProblem::Invalid));
        assert_eq!(verify(b"k", &token, 100), Err(TokenProblem::Expired));
        let mut forged = token.clone();
        forged.insert(5, 'A');
        assert_eq!(verify(b"k", &forged, 50), Err(TokenProblem::Invalid));
        assert_eq!(verify(b"k", "garbage", 50), Err(TokenProblem::Invalid));
    }

    fn claims_of(token: &str) -> Claims {
        let body = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap()
    }
}
