//! TOTP second factors: `POST /factors`, `POST /factors/{id}/challenge`,
//! `POST /factors/{id}/verify`, `DELETE /factors/{id}`, with GoTrue's shapes and error codes.
//!
//! Stricter than GoTrue in two ways: a code is accepted once (each factor remembers the time
//! step of its last accepted code, and a code of that step or an earlier one is refused), and
//! verification attempts are limited per user, whichever address they come from.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    error::{AuthError, AuthResult},
    now,
    rate_limit::Bucket,
    request::{Authenticated, Body, Client},
    rfc3339, sessions,
    totp::{self, TotpKey},
    AuthState,
};
use crate::store::Pool;

/// How long a challenge may be answered (GoTrue's `MFA_CHALLENGE_EXPIRY_DURATION`).
pub const CHALLENGE_EXPIRY_SECS: i64 = 300;
/// How long an enrolment may stay unverified before the next enrolment removes it.
const UNVERIFIED_FACTOR_EXPIRY_SECS: i64 = 300;
/// Factors a user may have, verified or not (GoTrue's `MFA_MAX_ENROLLED_FACTORS`).
const MAX_FACTORS: i64 = 10;
/// The `amr` method a TOTP verification adds to the session.
pub const TOTP_METHOD: &str = "totp";

/// A row of `mfa_factors`, without its secret.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Factor {
    pub id: String,
    pub user_id: String,
    pub friendly_name: String,
    pub factor_type: String,
    pub status: String,
    pub last_challenged_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const FACTOR_COLUMNS: &str =
    "id, user_id, friendly_name, factor_type, status, last_challenged_at, created_at, updated_at";

impl Factor {
    /// Whether a code has been verified with it.
    pub fn is_verified(&self) -> bool {
        self.status == "verified"
    }

    /// GoTrue's factor object, as in the user's `factors`.
    pub fn to_json(&self) -> Value {
        let mut factor = json!({
            "id": self.id,
            "factor_type": self.factor_type,
            "status": self.status,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "last_challenged_at": self.last_challenged_at.map(rfc3339),
        });
        if !self.friendly_name.is_empty() {
            factor["friendly_name"] = json!(self.friendly_name);
        }
        factor
    }
}

/// The user's factors, oldest first.
pub async fn list(pool: &Pool, user_id: &str) -> AuthResult<Vec<Factor>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {FACTOR_COLUMNS} FROM mfa_factors WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}

/// Whether the user has a verified factor, so that an `aal1` session of theirs is not enough.
pub async fn has_verified_factor(pool: &Pool, user_id: &str) -> AuthResult<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM mfa_factors WHERE user_id = $1 AND status = 'verified' LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    Ok(found.is_some())
}

/// `user` JSON with its `factors` added, when it has any (GoTrue omits an empty list).
pub fn with_factors(mut user: Value, factors: &[Factor]) -> Value {
    if !factors.is_empty() {
        user["factors"] = factors.iter().map(Factor::to_json).collect();
    }
    user
}

/// 404 `mfa_factor_not_found`: no factor of this user has the id (another user's included).
fn factor_not_found() -> AuthError {
    AuthError::new(
        StatusCode::NOT_FOUND,
        "mfa_factor_not_found",
        "Factor not found",
    )
}

/// 422 `mfa_verification_failed`: a wrong code, or one already used.
fn verification_failed() -> AuthError {
    AuthError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "mfa_verification_failed",
        "Invalid TOTP code entered",
    )
}

/// 403 for an anonymous user, as GoTrue's `requireNotAnonymous`.
fn refuse_anonymous(auth: &Authenticated) -> AuthResult<()> {
    if auth.claims.is_anonymous {
        return Err(AuthError::new(
            StatusCode::FORBIDDEN,
            "no_authorization",
            "Anonymous user not allowed to perform these actions",
        ));
    }
    Ok(())
}

/// The caller's factor `id`; another user's factor is as missing as one that never existed.
pub(super) async fn owned_factor(pool: &Pool, user_id: &str, id: &str) -> AuthResult<Factor> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(AuthError::new(
            StatusCode::NOT_FOUND,
            "validation_failed",
            "factor_id must be an UUID",
        ));
    }
    sqlx::query_as(&format!(
        "SELECT {FACTOR_COLUMNS} FROM mfa_factors WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(factor_not_found)
}

#[derive(Deserialize)]
pub struct EnrollParams {
    factor_type: Option<String>,
    #[serde(default)]
    friendly_name: String,
    #[serde(default)]
    issuer: String,
}

/// `POST /factors`: a new, unverified TOTP factor; its key is in the answer and nowhere else.
pub async fn enroll(
    State(state): State<AuthState>,
    auth: Authenticated,
    Body(params): Body<EnrollParams>,
) -> AuthResult<Json<Value>> {
    refuse_anonymous(&auth)?;
    match params.factor_type.as_deref() {
        Some("totp") => {}
        Some("phone") => {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "mfa_phone_enroll_not_enabled",
                "MFA enroll is disabled for Phone",
            ))
        }
        Some("webauthn") => {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "mfa_webauthn_enroll_not_enabled",
                "MFA enroll is disabled for WebAuthn",
            ))
        }
        _ => {
            return Err(AuthError::validation(
                "factor_type needs to be totp, phone, or webauthn",
            ))
        }
    }
    let issuer = if params.issuer.is_empty() {
        // The site's host without its port: a `:` would end the issuer in the URI's label.
        state
            .config
            .site_url
            .host_str()
            .unwrap_or("ferrochat")
            .to_owned()
    } else if params.issuer.contains(':') {
        return Err(AuthError::validation("issuer must not contain ':'"));
    } else {
        params.issuer
    };
    let pool = &state.pool;
    let user = &auth.user;
    sqlx::query(
        "DELETE FROM mfa_factors WHERE user_id = $1 AND status = 'unverified' AND created_at < $2",
    )
    .bind(&user.id)
    .bind(now() - UNVERIFIED_FACTOR_EXPIRY_SECS)
    .execute(pool)
    .await?;
    let factors = list(pool, &user.id).await?;
    if factors
        .iter()
        .any(|factor| factor.friendly_name == params.friendly_name)
    {
        return Err(name_conflict(&params.friendly_name));
    }
    if factors.len() as i64 >= MAX_FACTORS {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_enrolled_mfa_factors",
            "Maximum number of verified factors reached, unenroll to continue",
        ));
    }
    if factors.iter().any(Factor::is_verified) && auth.session.aal != "aal2" {
        return Err(AuthError::new(
            StatusCode::FORBIDDEN,
            "insufficient_aal",
            "AAL2 required to enroll a new factor",
        ));
    }
    let key = TotpKey::generate();
    let uri = key.uri(&issuer, &user.email)?;
    let id = uuid::Uuid::new_v4().to_string();
    let at = now();
    let inserted = sqlx::query(
        "INSERT INTO mfa_factors (id, user_id, friendly_name, factor_type, status, secret,
                                  created_at, updated_at)
         VALUES ($1, $2, $3, 'totp', 'unverified', $4, $5, $6)",
    )
    .bind(&id)
    .bind(&user.id)
    .bind(&params.friendly_name)
    .bind(key.seal(&state.mfa_key, &id)?)
    .bind(at)
    .bind(at)
    .execute(pool)
    .await;
    match inserted {
        // A concurrent enrolment took the name first.
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            return Err(name_conflict(&params.friendly_name))
        }
        other => other?,
    };
    let mut answer = json!({
        "id": id,
        "type": "totp",
        "totp": {
            "qr_code": totp::qr_svg(&uri)?,
            "secret": key.base32()?,
            "uri": uri,
        },
    });
    if !params.friendly_name.is_empty() {
        answer["friendly_name"] = json!(params.friendly_name);
    }
    Ok(Json(answer))
}

fn name_conflict(name: &str) -> AuthError {
    AuthError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "mfa_factor_name_conflict",
        format!("A factor with the friendly name {name:?} for this user already exists"),
    )
}

/// `POST /factors/{id}/challenge`: a challenge to answer with a code within 5 minutes, from the
/// same address.
pub async fn challenge(
    State(state): State<AuthState>,
    auth: Authenticated,
    client: Client,
    Path(factor_id): Path<String>,
) -> AuthResult<Json<Value>> {
    refuse_anonymous(&auth)?;
    state.limit_sign_in(&client).await?;
    let factor = owned_factor(&state.pool, &auth.user.id, &factor_id).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let at = now();
    sqlx::query(
        "INSERT INTO mfa_challenges (id, factor_id, ip_address, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(&factor.id)
    .bind(client_address(&client))
    .bind(at)
    .execute(&state.pool)
    .await?;
    sqlx::query("UPDATE mfa_factors SET last_challenged_at = $1 WHERE id = $2")
        .bind(at)
        .bind(&factor.id)
        .execute(&state.pool)
        .await?;
    Ok(Json(json!({
        "id": id,
        "type": factor.factor_type,
        "expires_at": at + CHALLENGE_EXPIRY_SECS,
    })))
}

/// The address a challenge is bound to.
fn client_address(client: &Client) -> String {
    client.ip.map(|ip| ip.to_string()).unwrap_or_default()
}

#[derive(Deserialize)]
pub struct VerifyParams {
    #[serde(default)]
    challenge_id: String,
    #[serde(default)]
    code: String,
}

/// A row of `mfa_challenges`.
#[derive(sqlx::FromRow)]
struct Challenge {
    id: String,
    ip_address: String,
    created_at: i64,
    verified_at: Option<i64>,
}

/// `POST /factors/{id}/verify`: a right code verifies the factor (the first time) and raises the
/// session to `aal2` with new tokens.
pub async fn verify(
    State(state): State<AuthState>,
    auth: Authenticated,
    client: Client,
    Path(factor_id): Path<String>,
    Body(params): Body<VerifyParams>,
) -> AuthResult<Json<Value>> {
    refuse_anonymous(&auth)?;
    let pool = &state.pool;
    let factor = owned_factor(pool, &auth.user.id, &factor_id).await?;
    if params.code.is_empty() {
        return Err(AuthError::validation("Code needs to be non-empty"));
    }
    // Per user, from wherever: a million codes cannot be tried by spreading over addresses.
    state
        .limiter
        .check(Bucket::MfaVerify, &auth.user.id)
        .await?;
    let challenge: Challenge = sqlx::query_as(
        "SELECT id, ip_address, created_at, verified_at FROM mfa_challenges
         WHERE id = $1 AND factor_id = $2",
    )
    .bind(&params.challenge_id)
    .bind(&factor.id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| {
        AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "mfa_factor_not_found",
            "MFA factor with the provided challenge ID not found",
        )
    })?;
    if challenge.verified_at.is_some() || challenge.ip_address != client_address(&client) {
        return Err(ip_mismatch());
    }
    if now() - challenge.created_at > CHALLENGE_EXPIRY_SECS {
        sqlx::query("DELETE FROM mfa_challenges WHERE id = $1")
            .bind(&challenge.id)
            .execute(pool)
            .await?;
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "mfa_challenge_expired",
            format!(
                "MFA challenge {} has expired, verify against another challenge or create a new challenge.",
                challenge.id
            ),
        ));
    }
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT secret FROM mfa_factors WHERE id = $1")
        .bind(&factor.id)
        .fetch_one(pool)
        .await?;
    let key = TotpKey::open(&state.mfa_key, &factor.id, &sealed)?;
    let step = key
        .matching_step(params.code.trim(), now() as u64)
        .ok_or_else(verification_failed)?;
    // Each claim is one conditional UPDATE, so of two racing requests exactly one wins: a code's
    // step (or an earlier one) is accepted once, and the challenge is answered once.
    let fresh = sqlx::query(
        "UPDATE mfa_factors SET last_used_step = $1, status = 'verified', updated_at = $2
         WHERE id = $3 AND (last_used_step IS NULL OR last_used_step < $1)",
    )
    .bind(step as i64)
    .bind(now())
    .bind(&factor.id)
    .execute(pool)
    .await?;
    if fresh.rows_affected() != 1 {
        tracing::info!(factor_id = factor.id, "a TOTP code was presented again");
        return Err(verification_failed());
    }
    let claimed = sqlx::query(
        "UPDATE mfa_challenges SET verified_at = $1 WHERE id = $2 AND verified_at IS NULL",
    )
    .bind(now())
    .bind(&challenge.id)
    .execute(pool)
    .await?;
    if claimed.rows_affected() != 1 {
        return Err(ip_mismatch());
    }
    if !factor.is_verified() {
        // GoTrue: once one is verified, the user's other pending enrolments go.
        sqlx::query("DELETE FROM mfa_factors WHERE user_id = $1 AND status = 'unverified'")
            .bind(&auth.user.id)
            .execute(pool)
            .await?;
    }
    let session = sessions::step_up(&state, &auth.session, TOTP_METHOD).await?;
    Ok(Json(session.to_json(
        &super::users::identities(pool, &auth.user.id).await?,
    )))
}

/// 422 `mfa_ip_address_mismatch`: GoTrue's answer for a challenge answered already or from
/// another address.
fn ip_mismatch() -> AuthError {
    AuthError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "mfa_ip_address_mismatch",
        "Challenge and verify IP addresses mismatch.",
    )
}

/// `DELETE /factors/{id}`: removes a factor; a verified one only from an `aal2` session.
pub async fn unenroll(
    State(state): State<AuthState>,
    auth: Authenticated,
    Path(factor_id): Path<String>,
) -> AuthResult<Json<Value>> {
    refuse_anonymous(&auth)?;
    let factor = owned_factor(&state.pool, &auth.user.id, &factor_id).await?;
    if factor.is_verified() && auth.session.aal != "aal2" {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "insufficient_aal",
            "AAL2 required to unenroll verified factor",
        ));
    }
    remove(&state.pool, &auth.user.id, &factor.id).await?;
    Ok(Json(json!({ "id": factor.id })))
}

/// Deletes a factor of a user; once no verified factor is left, the user's sessions are `aal1`
/// again. False if the user has no such factor. (Also the admin API's way to help a person who
/// lost their authenticator.)
pub async fn remove(pool: &Pool, user_id: &str, factor_id: &str) -> AuthResult<bool> {
    let deleted = sqlx::query("DELETE FROM mfa_factors WHERE id = $1 AND user_id = $2")
        .bind(factor_id)
        .bind(user_id)
        .execute(pool)
        .await?;
    if deleted.rows_affected() == 0 {
        return Ok(false);
    }
    if !has_verified_factor(pool, user_id).await? {
        sessions::step_down(pool, user_id, TOTP_METHOD).await?;
    }
    Ok(true)
}
