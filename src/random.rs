//! Unguessable identifiers from the thread-local CSPRNG (ChaCha, seeded from the OS).

use rand::RngCore as _;

/// 128 random bits as 32 upper-case hex digits (the shape of HelseID's `jti` and `sid`).
pub fn hex_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// `n` random bytes, base64url-encoded (opaque tickets, codes, handles).
pub fn url_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    crate::jose::b64url(bytes)
}

/// `n` random bytes, standard base64 with padding (`+`, `/`, `=`), as SFM writes its session
/// ids and codes (64 bytes: 88 characters).
pub fn base64_token(n: usize) -> String {
    use base64::Engine as _;
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_128_bits_and_differ() {
        let a = hex_id();
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
        );
        assert_ne!(a, hex_id());
        assert_eq!(url_token(16).len(), 22);
        let sfm = base64_token(64);
        assert_eq!(sfm.len(), 88);
        assert!(sfm.ends_with("=="));
        assert_ne!(sfm, base64_token(64));
    }
}
