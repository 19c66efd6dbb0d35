//! Random identifiers and secrets: the one place that draws them, so every id, nonce, token and
//! key comes from the same generator (`rand`'s thread generator, a CSPRNG seeded from the OS)
//! and is written the same way. Jittered backoff draws its own numbers in [`crate::cx`].

use rand::RngCore;

/// `bytes` random bytes.
pub fn random_bytes(bytes: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buffer);
    buffer
}

/// `bytes` random bytes as lowercase hex (`2 * bytes` characters).
pub fn random_hex(bytes: usize) -> String {
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
}
