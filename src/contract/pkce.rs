//! PKCE (RFC 7636), S256 only: the app makes verifiers and challenges, the service checks them.

use crate::crypto::{base64url, random_token, sha256};

/// A new code verifier: 43 characters of base64url, 256 bits of entropy.
pub fn new_verifier() -> String {
    random_token()
}

/// The S256 challenge of a verifier: base64url(SHA-256(verifier)).
pub fn challenge(verifier: &str) -> String {
    base64url(&sha256(verifier.as_bytes()))
}

/// RFC 7636's shape of a verifier (and of an S256 challenge): 43 to 128 unreserved characters.
pub fn is_well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn new_verifiers_are_well_formed_and_distinct() {
        let (a, b) = (new_verifier(), new_verifier());
        assert!(is_well_formed(&a) && is_well_formed(&challenge(&a)));
        assert_ne!(a, b);
        assert!(!is_well_formed("short"));
        assert!(!is_well_formed(&format!("{a}+")));
    }
}
