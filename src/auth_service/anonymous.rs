//! Anonymous sign-in (GoTrue's `signInAnonymously`): `POST /signup` without an email address or
//! phone number creates a user with neither, signed in at once, whose tokens say
//! `is_anonymous: true`. The user becomes permanent, keeping its id, when an address is added
//! (`PUT /user`, see `account::update_user` and `users::apply_email_change`); until then it
//! cannot sign in again any other way, and it is pruned once abandoned (`maintenance`).

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

use super::{
    error::{AuthError, AuthResult},
    rate_limit::Bucket,
    request::Client,
    sessions::{self, SignInMethod},
    users, AuthState,
};

/// Creates an anonymous user with `data` as its `user_metadata` and starts its session. The
/// checks come in GoTrue's order: the provider switch, the hourly per-IP limit (apart from the
/// sign-in limit), then the sign-up switch.
pub async fn sign_up(
    state: &AuthState,
    client: &Client,
    data: Option<Value>,
) -> AuthResult<Response> {
    if !state.config.anonymous {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "anonymous_provider_disabled",
            "Anonymous sign-ins are disabled",
        ));
    }
    state
        .limiter
        .check(Bucket::Anonymous, &client.rate_limit_key())
        .await?;
    if state.config.disable_signup {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "signup_disabled",
            "Signups not allowed for this instance",
        ));
    }
    let metadata = match data {
        None | Some(Value::Null) => json!({}),
        Some(data) => {
            users::check_user_metadata(&data)?;
            data
        }
    };
    let user = users::create_anonymous(&state.pool, &metadata).await?;
    tracing::info!(user_id = %user.id, "anonymous user signed up");
    let session = sessions::start(state, user, SignInMethod::Anonymous, client).await?;
    // An anonymous user has no identity yet.
    Ok(Json(session.to_json(&[])).into_response())
}
