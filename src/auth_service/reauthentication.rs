//! Proving the person again before a password or email change, once their sign-in is old: with
//! the current password (GoTrue's `current_password`), or with a code that `GET /reauthenticate`
//! mails (GoTrue's `nonce`).
//!
//! A session can be stolen (a token copied off a shared computer, a cookie lifted by malware).
//! Without this rule its thief could change the password or move the account to their own
//! address and keep it for good. A fresh sign-in, including one made by a recovery link, is
//! proof enough: the window is `FERROCHAT_AUTH_REAUTH_AFTER_SECS` from the session's creation
//! (refreshing a session does not make its sign-in younger).

use std::time::Duration;

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

use super::{
    crypto::{random_bytes, sha256},
    email_flows::limit_email_to,
    error::{AuthError, AuthResult},
    now, password,
    request::{Authenticated, Client},
    AuthState,
};
use crate::store::Pool;

/// How long a mailed code works.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// The change that asks for the proof, for the words of the refusal.
#[derive(Clone, Copy, Debug)]
pub enum Change {
    Password,
    Email,
}

/// What a request may carry to prove the person anew.
#[derive(Clone, Copy, Debug, Default)]
pub struct Proof<'a> {
    pub current_password: Option<&'a str>,
    pub nonce: Option<&'a str>,
}

/// Lets `change` through if the session's sign-in is recent or the request proves the person.
/// A proof that is given is checked even on a fresh session: a wrong one is never ignored.
///
/// Missing proof: 400 `current_password_required` for a user with a password (the proof they
/// can give at once), 400 `reauthentication_needed` for one without (they need a code).
pub async fn require(
    state: &AuthState,
    client: &Client,
    auth: &Authenticated,
    proof: Proof<'_>,
    change: Change,
) -> AuthResult<()> {
    let user = &auth.user;
    if let Some(current) = proof.current_password.filter(|p| !p.is_empty()) {
        // Guesses through a stolen session count like sign-in attempts.
        state.limit_sign_in(client).await?;
        state.limit_attempts_on(client, &user.email).await?;
        let stored = user.encrypted_password.clone();
        return if state
            .passwords
            .verify(password::normalise(current), stored)
            .await?
        {
            Ok(())
        } else {
            Err(AuthError::new(
                StatusCode::BAD_REQUEST,
                "current_password_invalid",
                "Current password is incorrect.",
            ))
        };
    }
    if let Some(nonce) = proof.nonce.filter(|n| !n.is_empty()) {
        return spend_code(&state.pool, &user.id, nonce).await;
    }
    if now() - auth.session.created_at <= state.config.reauth_after.as_secs() as i64 {
        return Ok(());
    }
    Err(match (user.encrypted_password.is_some(), change) {
        (true, Change::Password) => AuthError::new(
            StatusCode::BAD_REQUEST,
            "current_password_required",
            "Current password required when setting new password.",
        ),
        (true, Change::Email) => AuthError::new(
            StatusCode::BAD_REQUEST,
            "current_password_required",
            "Current password required when changing the email address.",
        ),
        (false, Change::Password) => AuthError::new(
            StatusCode::BAD_REQUEST,
            "reauthentication_needed",
            "Password update requires reauthentication",
        ),
        (false, Change::Email) => AuthError::new(
            StatusCode::BAD_REQUEST,
            "reauthentication_needed",
            "Email change requires reauthentication",
        ),
    })
}

/// `GET /reauthenticate`: mails the signed-in user a six-digit code for `nonce`, valid once for
/// ten minutes. Counted like the other emails to the address.
pub async fn reauthenticate(
    State(state): State<AuthState>,
    client: Client,
    auth: Authenticated,
) -> AuthResult<Json<Value>> {
    if auth.user.email.is_empty() {
        // An anonymous user: there is nowhere to send a code (GoTrue's answer).
        return Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "Reauthentication requires the user to have an email or a phone number",
        ));
    }
    limit_email_to(&state, &client, &[&auth.user.email]).await?;
    let code = six_digit_code();
    sqlx::query(
        "UPDATE users SET reauthentication_token = $1, reauthentication_sent_at = $2
         WHERE id = $3",
    )
    .bind(sha256(code.as_bytes()))
    .bind(now())
    .bind(&auth.user.id)
    .execute(&state.pool)
    .await?;
    let body = format!(
        "Enter this code to confirm it is you:\r\n\r\n{code}\r\n\r\nIt works once, for ten \
         minutes. If you did not ask for it, someone else may be signed in to your account: \
         change your password.\r\n"
    );
    state
        .mailer
        .send(
            &auth.user.email,
            &format!("{code} is your verification code"),
            &body,
        )
        .await?;
    Ok(Json(json!({})))
}

/// A uniformly random code of six digits (the modulo bias of 64 random bits is negligible).
fn six_digit_code() -> String {
    let n = u64::from_be_bytes(random_bytes::<8>());
    format!("{:06}", n % 1_000_000)
}

/// Spends the user's code if `nonce` is it and it is still fresh. Any other attempt voids the
/// code too: a six-digit code gets one guess per mail, and mails are rate limited.
async fn spend_code(pool: &Pool, user_id: &str, nonce: &str) -> AuthResult<()> {
    let spent = sqlx::query(
        "UPDATE users SET reauthentication_token = NULL, reauthentication_sent_at = NULL
         WHERE id = $1 AND reauthentication_token = $2 AND reauthentication_sent_at >= $3",
    )
    .bind(user_id)
    .bind(sha256(nonce.trim().as_bytes()))
    .bind(now() - CODE_LIFETIME.as_secs() as i64)
    .execute(pool)
    .await?
    .rows_affected();
    if spent == 1 {
        return Ok(());
    }
    sqlx::query(
        "UPDATE users SET reauthentication_token = NULL, reauthentication_sent_at = NULL
         WHERE id = $1",
    )
    .bind(user_id)
    .execute(pool)
    .await?;
    Err(AuthError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "reauthentication_not_valid",
        "Nonce has expired or is invalid",
    ))
}

#[cfg(test)]
mod tests {
    use super::six_digit_code;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let code = six_digit_code();
            assert_eq!(code.len(), 6, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
    }
}
