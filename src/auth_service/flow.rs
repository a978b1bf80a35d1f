//! PKCE flow states: a login in progress, then an auth code waiting for its verifier.

use super::{
    config::AuthConfig,
    error::{AuthError, AuthResult},
    now,
};
use crate::{
    contract::pkce,
    crypto::{random_token, sha256},
    store::Pool,
};

/// Checks the client's `code_challenge_method`: only S256 (any case); `plain` is refused.
pub fn check_challenge(challenge: &str, method: Option<&str>) -> AuthResult<()> {
    let method_ok = method.is_none_or(|method| method.eq_ignore_ascii_case("s256"));
    if !method_ok {
        return Err(AuthError::validation(
            "Code challenge method not supported: use s256",
        ));
    }
    if pkce::is_well_formed(challenge) {
        Ok(())
    } else {
        Err(AuthError::validation(
            "code challenge is not a valid S256 challenge",
        ))
    }
}

/// Refuses a sign-in without a PKCE challenge unless the implicit flow is switched on: without
/// PKCE its session could only travel in the URL fragment, where history, extensions and the
/// page's scripts can read it (RFC 9700 advises against it).
pub fn require_pkce(config: &AuthConfig, challenge: Option<&str>) -> AuthResult<()> {
    if challenge.is_some() || config.implicit_flow {
        Ok(())
    } else {
        Err(AuthError::validation(
            "PKCE is required: send code_challenge and code_challenge_method=s256",
        ))
    }
}

/// A new flow state.
pub struct NewFlow<'a> {
    pub code_challenge: &'a str,
    pub provider: &'a str,
    /// oauth, signup, recovery, magiclink, email_change
    pub method: &'a str,
    pub redirect_to: &'a str,
    pub oauth_state_hash: Option<Vec<u8>>,
    pub provider_verifier: Option<String>,
    pub user_id: Option<&'a str>,
}

pub async fn create(pool: &Pool, flow: NewFlow<'_>) -> AuthResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO flow_states (id, code_challenge, provider, authentication_method, redirect_to,
                                  oauth_state, provider_verifier, user_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(flow.code_challenge)
    .bind(flow.provider)
    .bind(flow.method)
    .bind(flow.redirect_to)
    .bind(flow.oauth_state_hash)
    .bind(flow.provider_verifier)
    .bind(flow.user_id)
    .bind(now())
    .execute(pool)
    .await?;
    Ok(id)
}

/// Gives the flow an auth code for `user_id`; returns the code (stored hashed).
pub async fn issue_code(pool: &Pool, flow_id: &str, user_id: &str) -> AuthResult<String> {
    let code = random_token();
    sqlx::query(
        "UPDATE flow_states SET auth_code = $1, auth_code_issued_at = $2, user_id = $3,
                                oauth_state = NULL, provider_verifier = NULL
         WHERE id = $4",
    )
    .bind(sha256(code.as_bytes()))
    .bind(now())
    .bind(user_id)
    .bind(flow_id)
    .execute(pool)
    .await?;
    Ok(code)
}

/// The newest pending flow of a user for an email link, if the client started one with PKCE.
pub async fn pending_for_user(
    pool: &Pool,
    user_id: &str,
    method: &str,
) -> AuthResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM flow_states
         WHERE user_id = $1 AND authentication_method = $2 AND auth_code IS NULL
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(user_id)
    .bind(method)
    .fetch_optional(pool)
    .await?)
}
