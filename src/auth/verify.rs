//! Local verification of Supabase access tokens: no network call per request.
//!
//! HS256 with the project's JWT secret, or ES256/ES384/RS256 with the keys of the service's
//! JWKS, fetched once and kept for [`JWKS_MAX_AGE`]. A token with an unknown `kid` triggers a
//! refetch (a key rotation), at most one per refetch interval, so a stream of forged kids cannot
//! become a stream of fetches. Fetches happen outside the lock that readers take, and one fetch
//! serves every request that waits for it. When a fetch fails the known keys stay in use, and a
//! token signed by an unknown key is "unverifiable for now", not "invalid": its session is kept.
//!
//! Each key comes with its validation policy, built once (the secret's when the verifier is made,
//! a JWKS key's when it is fetched): a verification is `jsonwebtoken::decode` and the role check,
//! within a few percent of the raw call (bench/RESULTS.md).
//!
//! A browser presents the same access token on every request for up to an hour, so tokens that
//! verified are remembered by their exact text ([`Verifier::verified`]) and the signature is checked once
//! per token, not once per request: with ES256 that check was most of what being signed in cost
//! a request. Expiry is still checked on every use.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};

use super::{client::AuthClient, memory::Memory};
use crate::contract::claims::{self, jwk_algorithm, AccessClaims, MAX_TOKEN_BYTES};

/// The least time between two JWKS fetches caused by unknown kids.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// How long fetched keys are used before they are fetched again (a revoked key leaves the JWKS).
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(300);

/// Why a token was not accepted. The detail is for logs, not for the user.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("token is too large")]
    TooLarge,
    #[error("token is malformed: {0}")]
    Malformed(jsonwebtoken::errors::Error),
    #[error("token is signed with an unknown key")]
    UnknownKey,
    #[error("the signing keys cannot be fetched right now")]
    KeysUnavailable,
    #[error("token is expired")]
    Expired,
    #[error("token is invalid: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("token is not a user's token")]
    WrongRole,
    #[error("the token's session was signed out")]
    Revoked,
    #[error("the token's session cannot be checked right now")]
    RevocationUnknown,
}

impl VerifyError {
    /// Whether the failure says nothing about the token itself (keys or database briefly out of
    /// reach): the session must be kept, not signed out.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            VerifyError::KeysUnavailable | VerifyError::RevocationUnknown
        )
    }
}

/// How tokens are checked.
// One per app, made at start-up: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum KeySource {
    /// The project's shared secret.
    Secret(Vec<u8>),
    /// The service's JWKS document, fetched through its client.
    Jwks(AuthClient),
}

/// A key, the policy tokens signed with it must pass, and the key set it came with.
struct Checker {
    key: DecodingKey,
    validation: Validation,
    /// The fetch of the JWKS that brought it (see [`Verifier::stands`]); 0 for the secret.
    key_set: u64,
}

impl Checker {
    fn new(key: DecodingKey, algorithm: Algorithm, issuer: &str, key_set: u64) -> Arc<Self> {
        Arc::new(Checker {
            key,
            validation: claims::validation(algorithm, issuer),
            key_set,
        })
    }
}

type Keys = HashMap<String, Arc<Checker>>;

/// A [`KeySource`] made ready: the secret's checker built once. (The client boxed: the two
/// variants' sizes differ by two hundred bytes.)
enum Source {
    Secret(Arc<Checker>),
    Jwks(Box<AuthClient>),
}

/// The last fetched key set.
struct Cached {
    keys: Arc<Keys>,
    /// When the keys were last fetched successfully.
    fetched_at: Option<Instant>,
}

/// A token that verified: its claims, and how long that verdict stands.
#[derive(Clone, Debug)]
pub struct Verified {
    pub claims: Arc<AccessClaims>,
    /// Until when the token may be taken as verified: its expiry (with the validation's
    /// leeway), and no later than [`JWKS_MAX_AGE`] after it was checked, so that a key that
    /// leaves the JWKS stops verifying its tokens as soon as it would without a memory. An
    /// `Instant`, so that a request reads the clock once for this and its session's standing.
    until: Instant,
    /// The key set it was checked against ([`Verifier::stands`]).
    key_set: u64,
}

/// How many verified tokens are remembered at most (about 1.5 kB each).
const REMEMBERED_TOKENS: usize = 4096;

/// Verifies access tokens of one auth service.
pub struct Verifier {
    source: Source,
    issuer: String,
    refetch_interval: Duration,
    cache: RwLock<Cached>,
    /// Held while fetching: one fetch at a time; its value is when the last attempt started.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    fetches: std::sync::atomic::AtomicU64,
    /// Tokens that verified, by their exact text. Emptied whenever the keys are fetched again
    /// (its verdicts no longer stand); when full, the entries that no longer stand go, and if
    /// that is not enough, all of them.
    remembered: Memory<Verified>,
    /// The key set in use, counted up by each successful fetch: a verdict reached with an
    /// older one no longer stands, wherever it is remembered (a key may have left the set).
    key_set: std::sync::atomic::AtomicU64,
    signature_checks: std::sync::atomic::AtomicU64,
}

impl Verifier {
    pub fn new(source: KeySource, issuer: String) -> Self {
        let source = match source {
            KeySource::Secret(secret) => Source::Secret(Checker::new(
                DecodingKey::from_secret(&secret),
                Algorithm::HS256,
                &issuer,
                0,
            )),
            KeySource::Jwks(client) => Source::Jwks(Box::new(client)),
        };
        Verifier {
            source,
            issuer,
            refetch_interval: REFETCH_INTERVAL,
            cache: RwLock::new(Cached {
                keys: Arc::new(HashMap::new()),
                fetched_at: None,
            }),
            fetching: tokio::sync::Mutex::new(None),
            fetches: std::sync::atomic::AtomicU64::new(0),
            remembered: Memory::new(REMEMBERED_TOKENS),
            key_set: std::sync::atomic::AtomicU64::new(0),
            signature_checks: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Checks every token in full, every time (for benchmarks of the check itself).
    pub fn without_memory(mut self) -> Self {
        self.remembered = Memory::new(0);
        self
    }

    /// Changes the least time between refetches (the default is [`REFETCH_INTERVAL`]).
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// How many times the JWKS was fetched (for tests of the refetch bound).
    pub fn jwks_fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many tokens were checked in full, signature included (for tests of the memory).
    pub fn signature_checks(&self) -> u64 {
        self.signature_checks
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Verifies signature, algorithm, audience, issuer, expiry, not-before and role; a token
    /// that passed lately is only checked for expiry again.
    ///
    /// The claims are shared (one copy per remembered token), not cloned for every request.
    pub async fn verify(&self, token: &str) -> Result<Arc<AccessClaims>, VerifyError> {
        Ok(self.verified(token).await?.claims)
    }

    /// [`Verifier::verify`], with how long the verdict stands: a caller that remembers it (by a
    /// text that holds the token) asks [`Verifier::stands`] before each use instead of looking
    /// the token up again.
    pub async fn verified(&self, token: &str) -> Result<Verified, VerifyError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(VerifyError::TooLarge);
        }
        let now = Instant::now();
        if let Some(verified) = self
            .remembered
            .get(token.as_bytes())
            .filter(|v| self.stands(v, now))
        {
            return Ok(verified);
        }
        let (claims, key_set) = self.verify_in_full(token).await?;
        let claims = Arc::new(claims);
        // `decode` has just checked the expiry against this same clock.
        let lasts = u64::try_from(claims.exp)
            .unwrap_or(0)
            .saturating_add(claims::LEEWAY_SECS)
            .saturating_sub(jsonwebtoken::get_current_timestamp())
            .min(JWKS_MAX_AGE.as_secs());
        let verified = Verified {
            claims,
            until: now + Duration::from_secs(lasts),
            key_set,
        };
        self.remembered
            .insert(token.as_bytes(), verified.clone(), |kept| {
                self.stands(kept, now)
            });
        Ok(verified)
    }

    /// Whether a verdict still stands at `now`: the token has not expired and the keys it was
    /// checked against are still the ones in use.
    pub fn stands(&self, verified: &Verified, now: Instant) -> bool {
        verified.key_set == self.key_set.load(std::sync::atomic::Ordering::Acquire)
            && now <= verified.until
    }

    /// The token's claims, and the key set of the key that checked it.
    async fn verify_in_full(&self, token: &str) -> Result<(AccessClaims, u64), VerifyError> {
        self.signature_checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let checker = match &self.source {
            Source::Secret(secret) => secret.clone(),
            Source::Jwks(client) => {
                let header = jsonwebtoken::decode_header(token).map_err(VerifyError::Malformed)?;
                let kid = header.kid.as_deref().ok_or(VerifyError::UnknownKey)?;
                self.jwks_key(kid, client).await?
            }
        };
        // The algorithm is the key's (its policy allows that one only), never the header's.
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &checker.key, &checker.validation)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => VerifyError::Expired,
                _ => VerifyError::Invalid(error),
            })?
            .claims;
        if claims.role != "authenticated" {
            return Err(VerifyError::WrongRole);
        }
        Ok((claims, checker.key_set))
    }

    fn cached(&self) -> (Arc<Keys>, Option<Instant>) {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (cache.keys.clone(), cache.fetched_at)
    }

    async fn jwks_key(&self, kid: &str, client: &AuthClient) -> Result<Arc<Checker>, VerifyError> {
        let (keys, fetched_at) = self.cached();
        let fresh = fetched_at.is_some_and(|at| at.elapsed() < JWKS_MAX_AGE);
        if fresh {
            if let Some(found) = keys.get(kid) {
                return Ok(found.clone());
            }
        }
        let fetched = self.refetch(client).await;
        let (keys, _) = self.cached();
        match keys.get(kid) {
            Some(found) => Ok(found.clone()),
            // The keys we have are current and do not know this kid: a forged or retired key.
            None if fetched => Err(VerifyError::UnknownKey),
            // The fetch failed or was not allowed yet: we cannot tell.
            None if fresh => Err(VerifyError::UnknownKey),
            None => Err(VerifyError::KeysUnavailable),
        }
    }

    /// Fetches the JWKS unless the last attempt is too recent; true if the cache now holds a
    /// successful fetch no older than this call.
    async fn refetch(&self, client: &AuthClient) -> bool {
        let requested = Instant::now();
        let mut last_attempt = self.fetching.lock().await;
        // Someone fetched while we waited for the lock: use theirs.
        if self.cached().1.is_some_and(|at| at >= requested) {
            return true;
        }
        if last_attempt.is_some_and(|at| at.elapsed() < self.refetch_interval) {
            return false;
        }
        *last_attempt = Some(Instant::now());
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // One fetch at a time (the lock above): nobody else counts the key sets up.
        let key_set = self.key_set.load(std::sync::atomic::Ordering::Acquire) + 1;
        match fetch_jwks(client, &self.issuer, key_set).await {
            Ok(keys) => {
                let mut cache = self
                    .cache
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                *cache = Cached {
                    keys: Arc::new(keys),
                    fetched_at: Some(Instant::now()),
                };
                // A key may have left the set: its tokens must be checked against the new one.
                self.key_set
                    .store(key_set, std::sync::atomic::Ordering::Release);
                // Its verdicts no longer stand: free them now.
                self.remembered.clear();
                true
            }
            Err(error) => {
                tracing::warn!(%error, "cannot fetch the JWKS; keeping the keys already known");
                false
            }
        }
    }
}

/// The usable keys of a JWKS: asymmetric only, each with the one algorithm its type and curve
/// allow. A symmetric key in a public document is a misconfiguration and is never trusted.
async fn fetch_jwks(client: &AuthClient, issuer: &str, key_set: u64) -> Result<Keys, String> {
    let document = client.jwks().await.map_err(|error| error.to_string())?;
    let set: JwkSet = serde_json::from_value(document).map_err(|error| error.to_string())?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(algorithm) = jwk_algorithm(jwk) else {
            continue;
        };
        if let (Some(kid), Ok(key)) = (&jwk.common.key_id, DecodingKey::from_jwk(jwk)) {
            keys.insert(kid.clone(), Checker::new(key, algorithm, issuer, key_set));
        }
    }
    Ok(keys)
}
