//! The keys that sign access tokens, and the JWKS that publishes their public halves.
//!
//! ES256 (default): P-256 key pairs kept in the database, each with a `kid`. A rotated-in key is
//! *published* at once but *signs* only from its `activates_at`, a configurable lead later, so
//! every verifier that caches the JWKS (other instances, supabase-js, a backend with PyJWT) has
//! it before the first token it signs arrives. The key it replaces keeps verifying until every
//! token it signed has expired. Every instance reloads the keys from the database every minute
//! (see `maintenance`) and when a token names an unknown `kid` (at most once per
//! [`RELOAD_INTERVAL`]), so a rotation needs no restart anywhere. HS256: the shared secret, no
//! JWKS.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use ring::{
    rand::SystemRandom,
    signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING},
};
use serde_json::{json, Value};

use super::{
    config::JwtSigning,
    error::{AuthError, AuthResult},
    now,
};
use crate::{
    contract::claims::{self, AccessClaims, LEEWAY_SECS, MAX_TOKEN_BYTES},
    crypto::base64url,
    store::Pool,
};

/// The least time between two reloads caused by unknown key ids.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// The signing keys and every key that may still verify; reloads itself from the database.
pub struct KeySet {
    pool: Pool,
    /// Keys that are not kept in the database (the HS256 secret, imported keys): never reloaded.
    fixed: Option<Arc<Loaded>>,
    expiry: Duration,
    issuer: String,
    loaded: RwLock<Arc<Loaded>>,
    /// When the last reload for an unknown key id ran (None: not yet).
    unknown_kid_reload: tokio::sync::Mutex<Option<Instant>>,
    /// When the last reload for a JWKS request ran (None: not yet).
    jwks_reload: tokio::sync::Mutex<Option<Instant>>,
}

/// The keys as last read from the database (or as configured).
struct Loaded {
    /// Keys that may sign, newest activation first, with the time from which each may.
    signers: Vec<(i64, Option<String>, Algorithm, EncodingKey)>,
    /// By key id, each with the one algorithm it verifies.
    verifiers: HashMap<Option<String>, (Algorithm, DecodingKey)>,
    jwks: Value,
}

struct StoredKey {
    kid: String,
    private_der: Vec<u8>,
    x: String,
    y: String,
    activates_at: i64,
}

impl KeySet {
    /// Loads the keys (creating the first ES256 key if there is none).
    pub async fn load(
        pool: &Pool,
        signing: &JwtSigning,
        expiry: Duration,
        issuer: String,
    ) -> AuthResult<Self> {
        let fixed = match signing {
            JwtSigning::Hs256 { secret } => Some(Arc::new(Loaded {
                signers: vec![(
                    i64::MIN,
                    None,
                    Algorithm::HS256,
                    EncodingKey::from_secret(secret),
                )],
                verifiers: HashMap::from([(
                    None,
                    (Algorithm::HS256, DecodingKey::from_secret(secret)),
                )]),
                jwks: json!({ "keys": [] }),
            })),
            JwtSigning::Imported(imported) => Some(Arc::new(Loaded {
                signers: imported
                    .iter()
                    .filter_map(|key| {
                        let encoding = key.encoding.clone()?;
                        Some((i64::MIN, Some(key.kid.clone()), key.algorithm, encoding))
                    })
                    .collect(),
                verifiers: imported
                    .iter()
                    .map(|key| (Some(key.kid.clone()), (key.algorithm, key.decoding.clone())))
                    .collect(),
                jwks: json!({ "keys": imported.iter().map(|key| key.public_jwk.clone()).collect::<Vec<_>>() }),
            })),
            JwtSigning::Es256 => None,
        };
        let keys = KeySet {
            pool: pool.clone(),
            fixed,
            expiry,
            issuer,
            loaded: RwLock::new(Arc::new(Loaded {
                signers: Vec::new(),
                verifiers: HashMap::new(),
                jwks: json!({ "keys": [] }),
            })),
            unknown_kid_reload: tokio::sync::Mutex::new(None),
            jwks_reload: tokio::sync::Mutex::new(None),
        };
        if keys.fixed.is_none() && published_keys(pool, expiry).await?.is_empty() {
            create_key(pool, now()).await?;
        }
        keys.reload().await?;
        Ok(keys)
    }

    fn current(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Reads the keys from the database again.
    pub async fn reload(&self) -> AuthResult<()> {
        let loaded = match &self.fixed {
            Some(fixed) => fixed.clone(),
            None => {
                let keys = published_keys(&self.pool, self.expiry).await?;
                let mut signers = Vec::new();
                let mut verifiers = HashMap::new();
                let mut jwks = Vec::new();
                for key in &keys {
                    let decoding = DecodingKey::from_ec_components(&key.x, &key.y)
                        .map_err(AuthError::internal)?;
                    verifiers.insert(Some(key.kid.clone()), (Algorithm::ES256, decoding));
                    signers.push((
                        key.activates_at,
                        Some(key.kid.clone()),
                        Algorithm::ES256,
                        EncodingKey::from_ec_der(&key.private_der),
                    ));
                    jwks.push(json!({
                        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
                        "key_ops": ["verify"], "kid": key.kid, "x": key.x, "y": key.y,
                    }));
                }
                Arc::new(Loaded {
                    signers,
                    verifiers,
                    jwks: json!({ "keys": jwks }),
                })
            }
        };
        *self
            .loaded
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = loaded;
        Ok(())
    }

    /// Reloads unless the last reload of the same cause happened within [`RELOAD_INTERVAL`]: a
    /// stream of tokens with made-up key ids, or of JWKS requests, cannot turn into a stream of
    /// database reads.
    async fn reload_bounded(&self, last: &tokio::sync::Mutex<Option<Instant>>) {
        let mut last = last.lock().await;
        if last.is_some_and(|at| at.elapsed() < RELOAD_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        if let Err(error) = self.reload().await {
            tracing::warn!(error = %error.msg, "cannot reload the signing keys");
        }
    }

    /// Signs an access token (or an API key) with the newest key whose time has come.
    pub fn sign(&self, claims: &impl serde::Serialize) -> AuthResult<String> {
        let loaded = self.current();
        let at = now();
        let (_, kid, algorithm, key) = loaded
            .signers
            .iter()
            .find(|(activates_at, ..)| *activates_at <= at)
            .ok_or_else(|| AuthError::internal("no signing key is active"))?;
        let mut header = Header::new(*algorithm);
        header.kid = kid.clone();
        jsonwebtoken::encode(&header, claims, key).map_err(AuthError::internal)
    }

    /// Verifies one of our access tokens. The algorithm comes from our key, never from the
    /// token's header: a token whose header names another algorithm is refused.
    pub async fn verify(&self, token: &str) -> AuthResult<AccessClaims> {
        self.verify_with(token, |algorithm| {
            claims::validation(algorithm, &self.issuer)
        })
        .await
    }

    /// Verifies an API key (or any token of ours) for its `role`: signed by one of our keys,
    /// issued by us, not expired; no audience or subject needed, as API keys have neither.
    pub async fn verify_api_key(&self, token: &str) -> AuthResult<ApiKeyClaims> {
        self.verify_with(token, |algorithm| {
            let mut validation = jsonwebtoken::Validation::new(algorithm);
            validation.leeway = LEEWAY_SECS;
            validation.validate_aud = false;
            validation.set_issuer(&[&self.issuer]);
            validation.set_required_spec_claims(&["exp", "iss"]);
            validation
        })
        .await
    }

    /// Signs a long-lived API key for `role` (`anon` or `service_role`), as Supabase issues for
    /// a project. It stays valid as long as the key that signed it is published.
    pub fn sign_api_key(&self, role: &str) -> AuthResult<String> {
        let iat = now();
        self.sign(&ApiKeyClaims {
            iss: self.issuer.clone(),
            role: role.to_owned(),
            iat,
            exp: iat + API_KEY_LIFETIME_SECS,
        })
    }

    async fn verify_with<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        validation: impl FnOnce(Algorithm) -> jsonwebtoken::Validation,
    ) -> AuthResult<T> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::bad_jwt("token is too long"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(AuthError::bad_jwt)?;
        let mut loaded = self.current();
        if !loaded.verifiers.contains_key(&header.kid) {
            // Perhaps rotated in by another instance since the last reload.
            self.reload_bounded(&self.unknown_kid_reload).await;
            loaded = self.current();
        }
        let (algorithm, key) = loaded
            .verifiers
            .get(&header.kid)
            .ok_or_else(|| AuthError::bad_jwt("unknown signing key"))?;
        let validation = validation(*algorithm);
        let data =
            jsonwebtoken::decode::<T>(token, key, &validation).map_err(|error| {
                match error.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        AuthError::bad_jwt("token has invalid claims: token is expired")
                    }
                    _ => AuthError::bad_jwt(error),
                }
            })?;
        Ok(data.claims)
    }

    /// The JWKS document (`{"keys": [...]}`), public keys only, read again from the database
    /// first (at most every few seconds) so that a key rotated in elsewhere is published here.
    pub async fn jwks(&self) -> Value {
        self.reload_bounded(&self.jwks_reload).await;
        self.current().jwks.clone()
    }
}

/// How long an API key printed by `ferrochat keys` is valid: ten years, as Supabase's.
pub const API_KEY_LIFETIME_SECS: i64 = 10 * 365 * 24 * 3600;

/// The claims of an API key: who may call, not which user.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ApiKeyClaims {
    pub iss: String,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
}

/// Makes a new ES256 key that signs from `now + lead` on; the keys signing until then retire at
/// that moment and stay published until their tokens have expired. Returns the new key id and
/// when it starts signing.
pub async fn rotate(pool: &Pool, lead: Duration) -> AuthResult<(String, i64)> {
    let activates_at = now() + lead.as_secs() as i64;
    let kid = create_key(pool, activates_at).await?;
    sqlx::query(
        "UPDATE signing_keys SET retired_at = $1
         WHERE kid != $2 AND (retired_at IS NULL OR retired_at > $1)",
    )
    .bind(activates_at)
    .bind(&kid)
    .execute(pool)
    .await?;
    Ok((kid, activates_at))
}

async fn create_key(pool: &Pool, activates_at: i64) -> AuthResult<String> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(AuthError::internal)?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(AuthError::internal)?;
    // An uncompressed P-256 point: 0x04, then 32 bytes of x and 32 of y.
    let point = pair.public_key().as_ref();
    let kid = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO signing_keys
             (kid, algorithm, private_der, public_x, public_y, created_at, activates_at)
         VALUES ($1, 'ES256', $2, $3, $4, $5, $6)",
    )
    .bind(&kid)
    .bind(pkcs8.as_ref().to_vec())
    .bind(base64url(&point[1..33]))
    .bind(base64url(&point[33..65]))
    .bind(now())
    .bind(activates_at)
    .execute(pool)
    .await?;
    Ok(kid)
}

/// Every key that signs, will sign, or signed tokens that may still be valid: newest first.
async fn published_keys(pool: &Pool, expiry: Duration) -> AuthResult<Vec<StoredKey>> {
    let oldest_valid = now() - expiry.as_secs() as i64 - LEEWAY_SECS as i64;
    let rows: Vec<(String, Vec<u8>, String, String, i64)> = sqlx::query_as(
        "SELECT kid, private_der, public_x, public_y, COALESCE(activates_at, created_at)
         FROM signing_keys
         WHERE retired_at IS NULL OR retired_at >= $1
         ORDER BY COALESCE(activates_at, created_at) DESC, created_at DESC, kid",
    )
    .bind(oldest_valid)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kid, private_der, x, y, activates_at)| StoredKey {
            kid,
            private_der,
            x,
            y,
            activates_at,
        })
        .collect())
}
