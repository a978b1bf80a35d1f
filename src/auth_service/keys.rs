//! The keys that sign access tokens, and the JWKS that publishes their public halves.
//!
//! ES256 (default): a P-256 key pair generated on first start and kept in the database, signing
//! with a `kid`. Rotation retires the current key; a retired key stays in the JWKS (and keeps
//! verifying) until every token it signed has expired. HS256: the shared secret, no JWKS.

use std::{collections::HashMap, time::Duration};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use ring::{
    rand::SystemRandom,
    signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING},
};
use serde_json::{json, Value};
use sqlx::SqlitePool;

use super::{
    config::JwtSigning,
    crypto::base64url,
    error::{AuthError, AuthResult},
    now,
};
use crate::auth::claims::{self, AccessClaims, LEEWAY_SECS, MAX_TOKEN_BYTES};

/// The signing key and every key that may still verify.
pub struct KeySet {
    signer: (Option<String>, EncodingKey, Algorithm),
    verifiers: HashMap<Option<String>, (DecodingKey, Algorithm)>,
    jwks: Value,
    issuer: String,
}

struct StoredKey {
    kid: String,
    private_der: Vec<u8>,
    x: String,
    y: String,
}

impl KeySet {
    /// Loads the keys (creating the first ES256 key if there is none).
    pub async fn load(
        pool: &SqlitePool,
        signing: &JwtSigning,
        expiry: Duration,
        issuer: String,
    ) -> AuthResult<Self> {
        match signing {
            JwtSigning::Hs256 { secret } => Ok(KeySet {
                signer: (None, EncodingKey::from_secret(secret), Algorithm::HS256),
                verifiers: HashMap::from([(
                    None,
                    (DecodingKey::from_secret(secret), Algorithm::HS256),
                )]),
                jwks: json!({ "keys": [] }),
                issuer,
            }),
            JwtSigning::Es256 => {
                let mut keys = published_keys(pool, expiry).await?;
                if keys.is_empty() {
                    create_key(pool).await?;
                    keys = published_keys(pool, expiry).await?;
                }
                let current = &keys[0];
                let signer = (
                    Some(current.kid.clone()),
                    EncodingKey::from_ec_der(&current.private_der),
                    Algorithm::ES256,
                );
                let mut verifiers = HashMap::new();
                let mut jwks = Vec::new();
                for key in &keys {
                    let decoding = DecodingKey::from_ec_components(&key.x, &key.y)
                        .map_err(AuthError::internal)?;
                    verifiers.insert(Some(key.kid.clone()), (decoding, Algorithm::ES256));
                    jwks.push(json!({
                        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
                        "key_ops": ["verify"], "kid": key.kid, "x": key.x, "y": key.y,
                    }));
                }
                Ok(KeySet {
                    signer,
                    verifiers,
                    jwks: json!({ "keys": jwks }),
                    issuer,
                })
            }
        }
    }

    /// Signs an access token with the current key.
    pub fn sign(&self, claims: &AccessClaims) -> AuthResult<String> {
        let (kid, key, algorithm) = &self.signer;
        let mut header = Header::new(*algorithm);
        header.kid = kid.clone();
        jsonwebtoken::encode(&header, claims, key).map_err(AuthError::internal)
    }

    /// Verifies one of our access tokens. The algorithm comes from our key, never from the
    /// token's header: a token whose header names another algorithm is refused.
    pub fn verify(&self, token: &str) -> AuthResult<AccessClaims> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::bad_jwt("token is too long"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(AuthError::bad_jwt)?;
        let (key, algorithm) = self
            .verifiers
            .get(&header.kid)
            .ok_or_else(|| AuthError::bad_jwt("unknown signing key"))?;
        let validation = claims::validation(*algorithm, &self.issuer);
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, key, &validation).map_err(|error| {
                match error.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        AuthError::bad_jwt("token has invalid claims: token is expired")
                    }
                    _ => AuthError::bad_jwt(error),
                }
            })?;
        Ok(data.claims)
    }

    /// The JWKS document (`{"keys": [...]}`), public keys only.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }
}

/// Makes a new ES256 key the signing key and retires the previous one, which stays published
/// until its tokens have expired. Returns the new key id.
pub async fn rotate(pool: &SqlitePool) -> AuthResult<String> {
    sqlx::query("UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL")
        .bind(now())
        .execute(pool)
        .await?;
    create_key(pool).await
}

async fn create_key(pool: &SqlitePool) -> AuthResult<String> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(AuthError::internal)?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(AuthError::internal)?;
    // An uncompressed P-256 point: 0x04, then 32 bytes of x and 32 of y.
    let point = pair.public_key().as_ref();
    let kid = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO signing_keys (kid, algorithm, private_der, public_x, public_y, created_at)
         VALUES (?, 'ES256', ?, ?, ?, ?)",
    )
    .bind(&kid)
    .bind(pkcs8.as_ref())
    .bind(base64url(&point[1..33]))
    .bind(base64url(&point[33..65]))
    .bind(now())
    .execute(pool)
    .await?;
    Ok(kid)
}

/// The current key first, then retired keys whose tokens may still be valid.
async fn published_keys(pool: &SqlitePool, expiry: Duration) -> AuthResult<Vec<StoredKey>> {
    let oldest_valid = now() - expiry.as_secs() as i64 - LEEWAY_SECS as i64;
    let rows: Vec<(String, Vec<u8>, String, String)> = sqlx::query_as(
        "SELECT kid, private_der, public_x, public_y FROM signing_keys
         WHERE retired_at IS NULL OR retired_at >= ?
         ORDER BY retired_at IS NULL DESC, created_at DESC, rowid DESC",
    )
    .bind(oldest_valid)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kid, private_der, x, y)| StoredKey {
            kid,
            private_der,
            x,
            y,
        })
        .collect())
}
