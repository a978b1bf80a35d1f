//! The claims of a Supabase access token and the policy every verifier applies to them.

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
