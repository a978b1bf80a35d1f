//! OpenID Connect id tokens: verified with the provider's published keys, which are cached.
//!
//! A provider's JWKS is kept for [`KEYS_MAX_AGE`]; an id token naming a key not among them makes
//! one early refetch per [`REFETCH_INTERVAL`] (the provider rotated). No lock is held while a
//! fetch is on the wire.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use jsonwebtoken::{jwk::JwkSet, DecodingKey, Validation};
use serde_json::{json, Value};

use super::providers::{provider_error, ProviderUser, Providers};
use crate::{auth_service::error::AuthResult, contract::claims::jwk_algorithm};

/// How long a provider's keys are used before they are fetched again.
const KEYS_MAX_AGE: Duration = Duration::from_secs(600);
/// The least time between two fetches of one provider's keys.
const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Clock skew tolerated on the id token's times.
const LEEWAY_SECS: u64 = 30;

/// Providers' published keys, by JWKS URL.
#[derive(Default)]
pub(super) struct ProviderKeys {
    sets: Mutex<HashMap<String, (JwkSet, Instant)>>,
}

impl ProviderKeys {
    fn cached(&self, jwks_uri: &str) -> Option<(JwkSet, Instant)> {
        self.sets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(jwks_uri)
            .cloned()
    }

    /// The key set that should hold `kid`: the cached one while fresh and knowing it, else a
    /// new fetch if the last one is old enough, else the cached one as it is.
    async fn for_kid(
        &self,
        providers: &Providers,
        jwks_uri: &str,
        kid: Option<&str>,
    ) -> AuthResult<JwkSet> {
        let cached = self.cached(jwks_uri);
        let knows = |set: &JwkSet| kid.is_none_or(|kid| set.find(kid).is_some());
        match &cached {
            Some((set, at)) if at.elapsed() < KEYS_MAX_AGE && knows(set) => return Ok(set.clone()),
            Some((set, at)) if at.elapsed() < REFETCH_INTERVAL => return Ok(set.clone()),
            _ => {}
        }
        let fetched = providers.get_json(jwks_uri, None).await.and_then(|value| {
            serde_json::from_value::<JwkSet>(value)
                .map_err(|error| provider_error(format!("bad JWKS: {error}")))
        });
        match (fetched, cached) {
            (Ok(set), _) => {
                self.sets
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(jwks_uri.to_owned(), (set.clone(), Instant::now()));
                Ok(set)
            }
            // The provider is briefly unreachable: the keys we know are still its keys.
            (Err(_), Some((set, _))) => Ok(set),
            (Err(error), None) => Err(error),
        }
    }
}

/// Verifies an id token with the provider's published keys. The algorithm comes from the key,
/// not from the token's header; the token must be meant for us (`aud`, and `azp` when present or
/// when there are several audiences), from the provider (`iss`), for this login (`nonce`).
pub(super) async fn verify_id_token(
    providers: &Providers,
    id_token: &str,
    jwks_uri: &str,
    issuer: &str,
    client_id: &str,
    nonce: &str,
) -> AuthResult<ProviderUser> {
    let header = jsonwebtoken::decode_header(id_token)
        .map_err(|error| provider_error(format!("id token: {error}")))?;
    let jwks = providers
        .keys
        .for_kid(providers, jwks_uri, header.kid.as_deref())
        .await?;
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or_else(|| provider_error("id token signed with an unknown key"))?;
    let algorithm =
        jwk_algorithm(jwk).ok_or_else(|| provider_error("id token key has no usable algorithm"))?;
    let key =
        DecodingKey::from_jwk(jwk).map_err(|error| provider_error(format!("bad JWK: {error}")))?;
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[issuer]);
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECS;
    let claims: Value = jsonwebtoken::decode(id_token, &key, &validation)
        .map_err(|error| provider_error(format!("id token rejected: {error}")))?
        .claims;
    check_authorized_party(&claims, client_id)?;
    if claims["nonce"].as_str() != Some(nonce) {
        return Err(provider_error("id token nonce does not match"));
    }
    let id = claims["sub"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| provider_error("id token without sub"))?;
    Ok(ProviderUser {
        id: id.to_owned(),
        email: claims["email"].as_str().map(str::to_owned),
        email_verified: claims["email_verified"].as_bool().unwrap_or(false),
        data: json!({
            "sub": id,
            "name": claims["name"],
            "picture": claims["picture"],
            "email": claims["email"],
            "email_verified": claims["email_verified"],
            "iss": issuer,
        }),
    })
}

/// OpenID Connect Core 3.1.3.7: with several audiences the token must name us as its
/// authorized party, and an `azp` that names someone else is refused either way.
fn check_authorized_party(claims: &Value, client_id: &str) -> AuthResult<()> {
    let several_audiences = claims["aud"].as_array().is_some_and(|aud| aud.len() > 1);
    match claims.get("azp") {
        Some(azp) if azp.as_str() == Some(client_id) => Ok(()),
        Some(_) => Err(provider_error("id token is for another client (azp)")),
        None if several_audiences => {
            Err(provider_error("id token with several audiences has no azp"))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorized_party_must_be_us() {
        let ok = |claims: Value| check_authorized_party(&claims, "ferrochat").is_ok();
        assert!(ok(json!({ "aud": "ferrochat" })));
        assert!(ok(json!({ "aud": ["ferrochat"], "azp": "ferrochat" })));
        assert!(ok(
            json!({ "aud": ["ferrochat", "other"], "azp": "ferrochat" })
        ));
        assert!(!ok(json!({ "aud": ["ferrochat", "other"] })));
        assert!(!ok(
            json!({ "aud": ["ferrochat", "other"], "azp": "other" })
        ));
        assert!(!ok(json!({ "aud": "ferrochat", "azp": "other" })));
    }
}
