//! Local verification of Supabase access tokens: no network call per request.
//!
//! HS256 with the project's JWT secret, or ES256/RS256 with the keys of the service's JWKS,
//! fetched once and cached. An unknown `kid` triggers one refetch (a key rotation), and at most
//! one per `REFETCH_INTERVAL`, so a stream of forged kids cannot turn into a stream of fetches.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use jsonwebtoken::{
    jwk::{AlgorithmParameters, JwkSet},
    Algorithm, DecodingKey,
};
use tokio::sync::Mutex;

use super::claims::{self, AccessClaims, MAX_TOKEN_BYTES};

/// The least time between two JWKS fetches caused by unknown kids.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// Why a token was not accepted. The detail is for logs, not for the user.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("token is too large")]
    TooLarge,
    #[error("token is malformed: {0}")]
    Malformed(jsonwebtoken::errors::Error),
    #[error("token is signed with an unknown key")]
    UnknownKey,
    #[error("token is expired")]
    Expired,
    #[error("token is invalid: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("token is not a user's token")]
    WrongRole,
    #[error("the token's session was signed out")]
    Revoked,
}

/// How tokens are checked.
pub enum KeySource {
    /// The project's shared secret.
    Secret(Vec<u8>),
    /// The service's JWKS document.
    Jwks { url: String, http: reqwest::Client },
}

struct JwksCache {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    fetched_at: Option<Instant>,
    fetches: u64,
}

/// Verifies access tokens of one auth service.
pub struct Verifier {
    source: KeySource,
    issuer: String,
    refetch_interval: Duration,
    cache: Mutex<JwksCache>,
}

impl Verifier {
    pub fn new(source: KeySource, issuer: String) -> Self {
        Verifier {
            source,
            issuer,
            refetch_interval: REFETCH_INTERVAL,
            cache: Mutex::new(JwksCache {
                keys: HashMap::new(),
                fetched_at: None,
                fetches: 0,
            }),
        }
    }

    /// Changes the least time between refetches (the default is [`REFETCH_INTERVAL`]).
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// How many times the JWKS was fetched (for tests of the refetch bound).
    pub async fn jwks_fetches(&self) -> u64 {
        self.cache.lock().await.fetches
    }

    /// Verifies signature, algorithm, audience, issuer, expiry and role.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(VerifyError::TooLarge);
        }
        let header = jsonwebtoken::decode_header(token).map_err(VerifyError::Malformed)?;
        let (key, algorithm) = match &self.source {
            KeySource::Secret(secret) => (DecodingKey::from_secret(secret), Algorithm::HS256),
            KeySource::Jwks { url, http } => {
                let kid = header.kid.as_deref().ok_or(VerifyError::UnknownKey)?;
                self.jwks_key(kid, url, http).await?
            }
        };
        let validation = claims::validation(algorithm, &self.issuer);
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => VerifyError::Expired,
                _ => VerifyError::Invalid(error),
            })?
            .claims;
        if claims.role != "authenticated" {
            return Err(VerifyError::WrongRole);
        }
        Ok(claims)
    }

    async fn jwks_key(
        &self,
        kid: &str,
        url: &str,
        http: &reqwest::Client,
    ) -> Result<(DecodingKey, Algorithm), VerifyError> {
        // The lock also makes concurrent misses share one fetch.
        let mut cache = self.cache.lock().await;
        if let Some(found) = cache.keys.get(kid) {
            return Ok(found.clone());
        }
        let may_fetch = cache
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.refetch_interval);
        if may_fetch {
            cache.fetched_at = Some(Instant::now());
            cache.fetches += 1;
            match fetch_jwks(url, http).await {
                Ok(keys) => cache.keys = keys,
                Err(error) => tracing::warn!(%error, "cannot fetch the JWKS"),
            }
        }
        cache.keys.get(kid).cloned().ok_or(VerifyError::UnknownKey)
    }
}

/// The usable keys of a JWKS: asymmetric only, each with the algorithm its type implies.
async fn fetch_jwks(
    url: &str,
    http: &reqwest::Client,
) -> Result<HashMap<String, (DecodingKey, Algorithm)>, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if !response.status().is_success() {
        return Err(format!("JWKS answered {}", response.status()));
    }
    let set: JwkSet = response
        .json()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            // A symmetric key in a public document is a misconfiguration: never trust it.
            _ => continue,
        };
        if let (Some(kid), Ok(key)) = (&jwk.common.key_id, DecodingKey::from_jwk(jwk)) {
            keys.insert(kid.clone(), (key, algorithm));
        }
    }
    Ok(keys)
}
