//! The claims of a Supabase access token and the policy every verifier applies to them.

use jsonwebtoken::{
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm},
    Algorithm,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a Supabase access token says about its user and session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub app_metadata: Value,
    #[serde(default)]
    pub user_metadata: Value,
    pub role: String,
    #[serde(default)]
    pub aal: String,
    #[serde(default)]
    pub amr: Vec<AuthMethod>,
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    pub is_anonymous: bool,
    /// Not before: GoTrue does not set it, other issuers may; checked when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// One entry of `amr`: how and when the session was authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthMethod {
    pub method: String,
    pub timestamp: i64,
}

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 10;
/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The checks every Supabase access token must pass, for a key of `algorithm` (chosen by our
/// key configuration, never by the token's header): audience, issuer, expiry, not-before.
pub fn validation(algorithm: jsonwebtoken::Algorithm, issuer: &str) -> jsonwebtoken::Validation {
    let mut validation = jsonwebtoken::Validation::new(algorithm);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_audience(&["authenticated"]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
    validation
}

/// The algorithm a published key may verify: implied by its type and curve, and, if the JWK
/// names one, that name must agree.
pub fn jwk_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let implied = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::RSA(_) => match jwk.common.key_algorithm {
            Some(KeyAlgorithm::RS384) => Algorithm::RS384,
            Some(KeyAlgorithm::RS512) => Algorithm::RS512,
            Some(KeyAlgorithm::PS256) => Algorithm::PS256,
            Some(KeyAlgorithm::PS384) => Algorithm::PS384,
            Some(KeyAlgorithm::PS512) => Algorithm::PS512,
            _ => Algorithm::RS256,
        },
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        AlgorithmParameters::OctetKey(_) => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(implied),
        Some(named) => (named.to_string() == format!("{implied:?}")).then_some(implied),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwk(value: serde_json::Value) -> Jwk {
        serde_json::from_value(value).unwrap()
    }

    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    #[test]
    fn an_ec_key_verifies_only_the_algorithm_of_its_curve() {
        let p256 = jwk(json!({"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "a"}));
        assert_eq!(jwk_algorithm(&p256), Some(Algorithm::ES256));
        let mislabelled =
            jwk(json!({"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "a", "alg": "ES384"}));
        assert_eq!(jwk_algorithm(&mislabelled), None);
        let p521 = jwk(json!({"kty": "EC", "crv": "P-521", "x": X, "y": Y, "kid": "a"}));
        assert_eq!(jwk_algorithm(&p521), None);
    }

    #[test]
    fn a_symmetric_key_in_a_jwks_is_never_used() {
        let secret = jwk(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "s", "alg": "HS256"}));
        assert_eq!(jwk_algorithm(&secret), None);
    }
}
