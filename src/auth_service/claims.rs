//! The claims of a Supabase access token.

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
}

/// One entry of `amr`: how and when the session was authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthMethod {
    pub method: String,
    pub timestamp: i64,
}
