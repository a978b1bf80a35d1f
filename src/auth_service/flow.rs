//! PKCE flow states: a login in progress, then an auth code waiting for its verifier.

use sqlx::SqlitePool;

use super::{
    crypto::{random_token, sha256},
    error::{AuthError, AuthResult},
    now,
};

/// Checks the client's `code_challenge_method`: only S256 (any case); `plain` is refused.
pub fn check_challenge(challenge: &str, method: Option<&str>) -> AuthResult<()> {
    let method_ok = method.is_none_or(|method| method.eq_ignore_ascii_case("s256"));
    if !method_ok {
        return Err(AuthError::validation(
            "Code challenge method not supported: use s256",
        ));
    }
    let well_formed = (43..=128).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if well_formed {
        Ok(())
    } else {
        Err(AuthError::validation(
            "code challenge is not a valid S256 challenge",
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

pub async fn create(pool: &SqlitePool, flow: NewFlow<'_>) -> AuthResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO flow_states (id, code_challenge, provider, authentication_method, redirect_to,
                                  oauth_state, provider_verifier, user_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
pub async fn issue_code(pool: &SqlitePool, flow_id: &str, user_id: &str) -> AuthResult<String> {
    let code = random_token();
    sqlx::query(
        "UPDATE flow_states SET auth_code = ?, auth_code_issued_at = ?, user_id = ?,
                                oauth_state = NULL, provider_verifier = NULL
         WHERE id = ?",
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
    pool: &SqlitePool,
    user_id: &str,
    method: &str,
) -> AuthResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM flow_states
         WHERE user_id = ? AND authentication_method = ? AND auth_code IS NULL
         ORDER BY created_at DESC, rowid DESC LIMIT 1",
    )
    .bind(user_id)
    .bind(method)
    .fetch_optional(pool)
    .await?)
}
