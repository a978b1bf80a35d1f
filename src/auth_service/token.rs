//! `POST /token?grant_type=password|refresh_token|pkce`.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;
use serde_json::Value;

use super::{
    crypto::sha256,
    error::{AuthError, AuthResult},
    now, password,
    rate_limit::Bucket,
    request::{Body, Client},
    sessions::{self, SignInMethod},
    unsupported,
    users::{self, Email},
    AuthState,
};
use crate::contract::pkce;

#[derive(Deserialize)]
pub struct TokenQuery {
    grant_type: Option<String>,
}

#[derive(Deserialize)]
struct PasswordGrant {
    email: Option<String>,
    phone: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize)]
struct RefreshGrant {
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct PkceGrant {
    auth_code: Option<String>,
    code_verifier: Option<String>,
}

pub async fn token(
    State(state): State<AuthState>,
    Query(query): Query<TokenQuery>,
    client: Client,
    Body(body): Body<Value>,
) -> AuthResult<Json<Value>> {
    let session = match query.grant_type.as_deref() {
        Some("password") => {
            state.limit_sign_in(&client).await?;
            let grant: PasswordGrant = parse(body)?;
            password_grant(&state, grant, &client).await?
        }
        Some("refresh_token") => {
            state
                .limiter
                .check(Bucket::Refresh, &client.rate_limit_key())
                .await?;
            let grant: RefreshGrant = parse(body)?;
            let token = grant
                .refresh_token
                .filter(|token| !token.is_empty())
                .ok_or_else(|| AuthError::validation("refresh_token required"))?;
            sessions::refresh(&state, &token).await?
        }
        Some("pkce") => {
            state.limit_sign_in(&client).await?;
            let grant: PkceGrant = parse(body)?;
            pkce_grant(&state, grant, &client).await?
        }
        Some("web3") => return Err(unsupported::web3_disabled()),
        _ => {
            // GoTrue's code and message for this case, odd as they are.
            return Err(AuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_credentials",
                "unsupported_grant_type",
            ));
        }
    };
    let identities = users::identities(&state.pool, &session.user.id).await?;
    Ok(Json(session.to_json(&identities)))
}

fn parse<T: serde::de::DeserializeOwned>(body: Value) -> AuthResult<T> {
    serde_json::from_value(body)
        .map_err(|error| AuthError::validation(format!("Invalid request body: {error}")))
}

async fn password_grant(
    state: &AuthState,
    grant: PasswordGrant,
    client: &Client,
) -> AuthResult<sessions::IssuedSession> {
    if grant
        .phone
        .as_deref()
        .is_some_and(|phone| !phone.is_empty())
    {
        return Err(unsupported::phone_disabled(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Phone logins are disabled",
        ));
    }
    let (Some(email), Some(password)) = (grant.email, grant.password) else {
        return Err(AuthError::validation(
            "Only an email address or phone number should be provided on login.",
        ));
    };
    // An address that cannot exist cannot sign in: same answer as a wrong password.
    let email = Email::parse(&email).map_err(|_| AuthError::invalid_credentials())?;
    state.limit_attempts_on(client, email.as_str()).await?;
    let user = users::find_by_email(&state.pool, &email).await?;
    let stored = user
        .as_ref()
        .and_then(|user| user.encrypted_password.clone());
    let matches = state
        .passwords
        .verify(password::normalise(&password), stored)
        .await?;
    let user = match user {
        Some(user) if matches => user,
        _ => return Err(AuthError::invalid_credentials()),
    };
    if user.email_confirmed_at.is_none() {
        return Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "email_not_confirmed",
            "Email not confirmed",
        ));
    }
    sessions::start(state, user, SignInMethod::Password, client).await
}

/// A flow state found by its auth code.
#[derive(sqlx::FromRow)]
struct IssuedCode {
    id: String,
    code_challenge: String,
    user_id: Option<String>,
    auth_code_issued_at: Option<i64>,
    authentication_method: String,
}

fn flow_state_not_found() -> AuthError {
    AuthError::new(
        StatusCode::NOT_FOUND,
        "flow_state_not_found",
        "invalid flow state, no valid flow state found",
    )
}

/// Exchanges a PKCE auth code (single use, short-lived, bound to the S256 challenge).
async fn pkce_grant(
    state: &AuthState,
    grant: PkceGrant,
    client: &Client,
) -> AuthResult<sessions::IssuedSession> {
    let (Some(code), Some(verifier)) = (grant.auth_code, grant.code_verifier) else {
        return Err(AuthError::validation(
            "invalid request: both auth code and code verifier should be non-empty",
        ));
    };
    let row: Option<IssuedCode> = sqlx::query_as(
        "SELECT id, code_challenge, user_id, auth_code_issued_at, authentication_method
         FROM flow_states WHERE auth_code = $1",
    )
    .bind(sha256(code.as_bytes()))
    .fetch_optional(&state.pool)
    .await?;
    let Some(IssuedCode {
        id: flow_id,
        code_challenge: challenge,
        user_id: Some(user_id),
        auth_code_issued_at: Some(issued_at),
        authentication_method: method,
    }) = row
    else {
        return Err(flow_state_not_found());
    };
    if now() - issued_at > state.config.pkce_code_expiry.as_secs() as i64 {
        sqlx::query("DELETE FROM flow_states WHERE id = $1")
            .bind(&flow_id)
            .execute(&state.pool)
            .await?;
        return Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "flow_state_expired",
            "invalid flow state, flow state has expired",
        ));
    }
    if !pkce::is_well_formed(&verifier) || pkce::challenge(&verifier) != challenge {
        return Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "bad_code_verifier",
            "code challenge does not match previously saved code verifier",
        ));
    }
    // Single use: of two racing exchanges only one deletes the row.
    let deleted = sqlx::query("DELETE FROM flow_states WHERE id = $1")
        .bind(&flow_id)
        .execute(&state.pool)
        .await?;
    if deleted.rows_affected() != 1 {
        return Err(flow_state_not_found());
    }
    let user = users::find_by_id(&state.pool, &user_id)
        .await?
        .ok_or_else(flow_state_not_found)?;
    let method = match method.as_str() {
        "oauth" => SignInMethod::OAuth,
        "recovery" => SignInMethod::Recovery,
        "magiclink" => SignInMethod::MagicLink,
        _ => SignInMethod::EmailSignup,
    };
    sessions::start(state, user, method, client).await
}
