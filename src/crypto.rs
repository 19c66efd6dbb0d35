//! Random identifiers and keyed hashes, each made in one place: every id, nonce, token and key
//! comes from the same generator (`rand`'s thread generator, a CSPRNG seeded from the OS) and is
//! written the same way, secrets are compared in constant time, and every HMAC-SHA256 (CX webhook signatures, the emulator's signing,
//! widget tokens) is computed and checked by the two functions here. Jittered backoff draws its
//! own numbers in [`crate::cx`].

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// True when two secrets (tokens in URLs, site secrets) are equal, compared in constant time.
pub(crate) fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.ct_eq(b))
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    keyed(key, parts).finalize().into_bytes().into()
}

/// True when `tag` is the HMAC-SHA256 of `parts` under `key`, compared in constant time.
pub(crate) fn hmac_sha256_matches(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    keyed(key, parts).verify_slice(tag).is_ok()
}

fn keyed(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    #[expect(
        clippy::expect_used,
        reason = "HMAC takes keys of any length; only fixed-key MACs fail here"
    )]
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// `bytes` random bytes.
pub(crate) fn random_bytes(bytes: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buffer);
    buffer
}

/// `bytes` random bytes as lowercase hex (`2 * bytes` characters).
pub(crate) fn random_hex(bytes: usize) -> String {
    hex::encode(random_bytes(bytes))
}

/// 128 random bits as 32 hex digits: conversation ids, nonces, file keys.
pub fn random_id() -> String {
    random_hex(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_of_the_asked_length_and_differ() {
        let (a, b) = (random_id(), random_id());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        assert_eq!(random_hex(3).len(), 6);
        assert_eq!(random_bytes(32).len(), 32);
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2_and_checks_its_tag() {
        let tag = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(hmac_sha256_matches(b"Jefe", &[b"what do ya want for nothing?"], &tag));
        assert!(!hmac_sha256_matches(b"Jefe", &[b"what do ya want for nothing!"], &tag));
        assert!(!hmac_sha256_matches(b"Jefe", &[b"what do ya want for nothing?"], &tag[..31]));
    }
}
