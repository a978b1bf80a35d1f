//! Password rules and argon2id hashing.
//!
//! Passwords are normalised to NFKC first, so the same passphrase typed on two keyboards (or
//! pasted with compatibility characters) is the same password. Nothing is truncated; an upper
//! bound on bytes keeps a request from making the server hash megabytes.

use std::sync::OnceLock;

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use unicode_normalization::UnicodeNormalization;

use super::{
    crypto,
    error::{AuthError, AuthResult},
};

/// The seed app's rule.
pub const MIN_CHARS: usize = 8;
/// Far beyond any passphrase, far below what would make hashing a burden.
pub const MAX_BYTES: usize = 1024;

/// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A password as it will be hashed.
pub fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

/// Checks a new password against the rules; `password` is already normalised.
pub fn check_new(password: &str) -> AuthResult<()> {
    if password.chars().count() < MIN_CHARS {
        return Err(AuthError::weak_password(
            "Password should be at least 8 characters.",
            &["length"],
        ));
    }
    if password.len() > MAX_BYTES {
        return Err(AuthError::validation(
            "Password cannot be longer than 1024 bytes.",
        ));
    }
    Ok(())
}

/// Hashes a normalised password on the blocking pool (it takes tens of milliseconds).
pub async fn hash(password: String) -> AuthResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt =
            SaltString::encode_b64(&crypto::random_bytes::<16>()).map_err(AuthError::internal)?;
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(AuthError::internal)
    })
    .await
    .map_err(AuthError::internal)?
}

/// Checks a normalised password against a stored hash. Without a hash (unknown user, or an
/// account with no password) it checks against a dummy hash and fails, so that the answer takes
/// as long as for a known user.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    if password.len() > MAX_BYTES {
        return false;
    }
    tokio::task::spawn_blocking(move || {
        let dummy = dummy_hash();
        let (hash, known) = match stored.as_deref() {
            Some(stored) => (stored, true),
            None => (dummy, false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let matches = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && matches
    })
    .await
    .unwrap_or(false)
}

/// A real hash of a random password, made once, to verify against for unknown users.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::encode_b64(&crypto::random_bytes::<16>()).expect("16-byte salt");
        argon2()
            .hash_password(crypto::random_token().as_bytes(), &salt)
            .expect("hashing a random password")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_passwords_are_weak_with_the_length_reason() {
        let error = check_new("1234567").unwrap_err();
        assert_eq!(error.code, "weak_password");
        assert!(check_new("12345678").is_ok());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Seven characters are too few even in 21 bytes; eight are enough.
        assert!(check_new("日本語のパスワ").is_err());
        assert!(check_new("日本語のパスワー").is_ok());
    }

    #[test]
    fn overlong_passwords_are_refused_not_truncated() {
        assert!(check_new(&"a".repeat(MAX_BYTES)).is_ok());
        assert_eq!(
            check_new(&"a".repeat(MAX_BYTES + 1)).unwrap_err().code,
            "validation_failed"
        );
    }

    #[test]
    fn compatibility_forms_normalise_to_one_password() {
        // Full-width letters and the "ﬁ" ligature are NFKC-equivalent to plain ASCII.
        assert_eq!(normalise("ｐａｓｓ ﬁle"), "pass file");
    }

    #[tokio::test]
    async fn hashes_verify_only_their_own_password() {
        let hash = hash("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".into(), Some(hash.clone())).await);
        assert!(!verify("correct horse battery!".into(), Some(hash)).await);
        assert!(!verify("anything".into(), None).await);
    }
}
