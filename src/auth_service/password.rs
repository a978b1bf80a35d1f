//! Password rules and argon2id hashing.
//!
//! Passwords are normalised to NFKC first, so the same passphrase typed on two keyboards (or
//! pasted with compatibility characters) is the same password. Nothing is truncated; an upper
//! bound on bytes keeps a request from making the server hash megabytes.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, OnceLock,
    },
    time::Duration,
};

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;

use super::{
    crypto,
    error::{AuthError, AuthResult},
};

/// The default least number of characters (`FERROCHAT_PASSWORD_MIN_LENGTH`); GoTrue's is 6.
pub const MIN_CHARS: usize = 8;
/// The least a configured minimum may be: GoTrue's own floor.
pub const MIN_CHARS_FLOOR: usize = 6;
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

/// Checks a new password against the rules (at least `min_chars` characters, at most
/// [`MAX_BYTES`]); `password` is already normalised.
pub fn check_new(password: &str, min_chars: usize) -> AuthResult<()> {
    if password.chars().count() < min_chars {
        return Err(AuthError::weak_password(
            format!("Password should be at least {min_chars} characters."),
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

/// How long a request waits for a hashing slot before it is told the server is busy.
const PERMIT_WAIT: Duration = Duration::from_secs(2);

/// Computes argon2id hashes on the blocking pool, at most a configured number at once: each takes
/// 19 MiB and tens of milliseconds of a core, so a burst of sign-ins must queue, not exhaust
/// memory. A request that cannot get a slot within [`PERMIT_WAIT`] gets 503 `service_busy`.
pub struct Hasher {
    permits: Arc<Semaphore>,
    load: Arc<Load>,
}

/// Hashes running now, and the most that ever ran at once.
#[derive(Default)]
struct Load {
    running: AtomicUsize,
    peak: AtomicUsize,
}

/// Counts one running hash for as long as it lives.
struct Running<'a>(&'a Load);

impl<'a> Running<'a> {
    fn start(load: &'a Load) -> Self {
        let running = load.running.fetch_add(1, Ordering::SeqCst) + 1;
        load.peak.fetch_max(running, Ordering::SeqCst);
        Running(load)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hasher {
    /// A hasher that runs at most `concurrency` hashes at once.
    pub fn new(concurrency: usize) -> Self {
        Hasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            load: Arc::default(),
        }
    }

    /// The most hashes that ran at the same moment so far, for monitoring and tests.
    pub fn peak_concurrency(&self) -> usize {
        self.load.peak.load(Ordering::SeqCst)
    }

    /// Runs `work` on the blocking pool once a slot is free. The slot moves into the blocking
    /// task, so it stays taken until the hash is done even if the request is dropped meanwhile.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AuthResult<T> {
        let permit = tokio::time::timeout(PERMIT_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| AuthError::service_busy())?
            .map_err(AuthError::internal)?;
        let load = self.load.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _running = Running::start(&load);
            work()
        })
        .await
        .map_err(AuthError::internal)
    }

    /// Hashes a normalised password.
    pub async fn hash(&self, password: String) -> AuthResult<String> {
        self.run(move || {
            let salt = SaltString::encode_b64(&crypto::random_bytes::<16>())
                .map_err(AuthError::internal)?;
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(AuthError::internal)
        })
        .await?
    }

    /// Checks a normalised password against a stored hash. Without a hash (unknown user, or an
    /// account with no password) it checks against a dummy hash and fails, so that the answer
    /// takes as long as for a known user, and waits for a slot like any other check.
    pub async fn verify(&self, password: String, stored: Option<String>) -> AuthResult<bool> {
        if password.len() > MAX_BYTES {
            return Ok(false);
        }
        self.run(move || {
            let (hash, known) = match stored.as_deref() {
                Some(stored) => (stored, true),
                None => (dummy_hash(), false),
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
    }
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
        let error = check_new("1234567", MIN_CHARS).unwrap_err();
        assert_eq!(error.code, "weak_password");
        assert_eq!(error.msg, "Password should be at least 8 characters.");
        let error = check_new("12345678901", 12).unwrap_err();
        assert_eq!(error.msg, "Password should be at least 12 characters.");
        assert!(check_new("12345678", MIN_CHARS).is_ok());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Seven characters are too few even in 21 bytes; eight are enough.
        assert!(check_new("日本語のパスワ", MIN_CHARS).is_err());
        assert!(check_new("日本語のパスワー", MIN_CHARS).is_ok());
    }

    #[test]
    fn overlong_passwords_are_refused_not_truncated() {
        assert!(check_new(&"a".repeat(MAX_BYTES), MIN_CHARS).is_ok());
        assert_eq!(
            check_new(&"a".repeat(MAX_BYTES + 1), MIN_CHARS)
                .unwrap_err()
                .code,
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
        let hasher = Hasher::new(2);
        let hash = hasher.hash("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let verify =
            |password: &str, stored: Option<String>| hasher.verify(password.to_owned(), stored);
        assert!(verify("correct horse battery", Some(hash.clone()))
            .await
            .unwrap());
        assert!(!verify("correct horse battery!", Some(hash)).await.unwrap());
        assert!(!verify("anything", None).await.unwrap());
    }

    #[tokio::test]
    async fn no_more_hashes_run_at_once_than_the_bound() {
        let hasher = Arc::new(Hasher::new(1));
        let checks: Vec<_> = (0..4)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.verify("password".into(), None).await })
            })
            .collect();
        for check in checks {
            // On a slow machine the last may wait too long: busy is a fine answer, a match is not.
            match check.await.unwrap() {
                Ok(matches) => assert!(!matches),
                Err(error) => assert_eq!(error.code, "service_busy"),
            }
        }
        assert_eq!(hasher.peak_concurrency(), 1);
    }
}
