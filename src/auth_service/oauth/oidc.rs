//! OpenID Connect id tokens: verified with the provider's published keys.

use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use super::providers::{provider_error, ProviderUser, Providers};
use crate::auth_service::error::AuthResult;

/// Verifies an id token with the provider's published keys. The algorithm comes from the key,
/// not from the token's header.
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
    let jwks: JwkSet = serde_json::from_value(providers.get_json(jwks_uri, None).await?)
        .map_err(|error| provider_error(format!("bad JWKS: {error}")))?;
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or_else(|| provider_error("id token signed with an unknown key"))?;
    let algorithm = match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(alg), _) => alg.to_string().parse::<Algorithm>().ok(),
        (None, jsonwebtoken::jwk::AlgorithmParameters::RSA(_)) => Some(Algorithm::RS256),
        (None, jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_)) => Some(Algorithm::ES256),
        (None, jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_)) => Some(Algorithm::EdDSA),
        (None, _) => None,
    }
    .ok_or_else(|| provider_error("id token key has no usable algorithm"))?;
    let key =
        DecodingKey::from_jwk(jwk).map_err(|error| provider_error(format!("bad JWK: {error}")))?;
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[issuer]);
    validation.leeway = 30;
    let claims: Value = jsonwebtoken::decode(id_token, &key, &validation)
        .map_err(|error| provider_error(format!("id token rejected: {error}")))?
        .claims;
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
