//! Sessions and refresh tokens.
//!
//! A refresh token is opaque and random; the database keeps only its SHA-256. Each refresh
//! rotates it: the presented token is revoked and its child becomes the session's token. The
//! child is derived from the parent (HMAC under a server secret), so that requests racing with
//! the same parent all arrive at the same child without the server storing any plaintext. A
//! revoked token presented again within the reuse interval yields the child's session (the
//! "already used" race of concurrent tabs); later, it is reuse: the whole session is revoked.
//!
//! A session may have two lifetimes (both off by default): a timebox from sign-in, and an
//! inactivity timeout from its last refresh, as in GoTrue. A session past either is deleted when
//! next seen, by a refresh, an access token or the app's revocation check.

use serde_json::{json, Value};

use super::{
    config::AuthConfig,
    error::{AuthError, AuthResult},
    mfa, now, rfc3339,
    users::{self, User},
    AuthState,
};
use crate::{
    contract::{
        claims::{AccessClaims, AuthMethod},
        ClientIdentity,
    },
    crypto::{base64url, hmac_sha256, random_token, sha256},
    store::Pool,
};
use axum::http::StatusCode;

/// How a session came to be, for `amr`.
#[derive(Clone, Copy, Debug)]
pub enum SignInMethod {
    Password,
    OAuth,
    MagicLink,
    Recovery,
    EmailSignup,
    /// A guest's sign-up without credentials.
    Anonymous,
}

impl SignInMethod {
    fn amr(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::OAuth => "oauth",
            SignInMethod::MagicLink => "otp",
            SignInMethod::Recovery => "otp",
            SignInMethod::EmailSignup => "otp",
            SignInMethod::Anonymous => "anonymous",
        }
    }
}

/// A row of `sessions`: one signed-in browser or client.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub aal: String,
    pub amr: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: i64,
    pub refreshed_at: i64,
}

/// Which lifetime a session outlived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Signed in longer ago than the timebox.
    Timebox,
    /// Not refreshed for longer than the inactivity timeout.
    Inactivity,
}

impl Expiry {
    /// GoTrue's answer to a refresh of such a session.
    pub fn error(self) -> AuthError {
        AuthError::new(
            StatusCode::BAD_REQUEST,
            "session_expired",
            match self {
                Expiry::Timebox => "Invalid Refresh Token: Session Expired",
                Expiry::Inactivity => "Invalid Refresh Token: Session Expired (Inactivity)",
            },
        )
    }
}

impl SessionRecord {
    /// The lifetime the session has outlived at `at` (the timebox first, as GoTrue checks).
    pub fn expiry(&self, config: &AuthConfig, at: i64) -> Option<Expiry> {
        let past = |since: i64, limit: Option<std::time::Duration>| {
            limit.is_some_and(|limit| at - since > limit.as_secs() as i64)
        };
        if past(self.created_at, config.session_timebox) {
            Some(Expiry::Timebox)
        } else if past(self.refreshed_at, config.session_inactivity_timeout) {
            Some(Expiry::Inactivity)
        } else {
            None
        }
    }
}

/// A session just issued: what `/token` and friends return.
pub struct IssuedSession {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub expires_at: i64,
    pub user: User,
    /// The user's second factors: supabase-js reads them from the session's user.
    pub factors: Vec<mfa::Factor>,
}

impl IssuedSession {
    /// GoTrue's session object.
    pub fn to_json(&self, identities: &[users::Identity]) -> Value {
        json!({
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "expires_at": self.expires_at,
            "refresh_token": self.refresh_token,
            "user": mfa::with_factors(self.user.to_json(identities), &self.factors),
        })
    }

    /// The same as URL fragment/query pairs, for redirects of the implicit flow.
    pub fn to_params(&self, kind: &str) -> Vec<(&'static str, String)> {
        vec![
            ("access_token", self.access_token.clone()),
            ("expires_at", self.expires_at.to_string()),
            ("expires_in", self.expires_in.to_string()),
            ("refresh_token", self.refresh_token.clone()),
            ("token_type", "bearer".into()),
            ("type", kind.into()),
        ]
    }
}

/// Starts a session for `user` and issues its tokens.
pub async fn start(
    state: &AuthState,
    user: User,
    method: SignInMethod,
    client: &ClientIdentity,
) -> AuthResult<IssuedSession> {
    // Every way of signing in ends here, so a ban is enforced once for all of them.
    if user.is_banned() {
        return Err(users::user_banned());
    }
    let pool = &state.pool;
    let session_id = uuid::Uuid::new_v4().to_string();
    let at = now();
    let amr = json!([{ "method": method.amr(), "timestamp": at }]);
    sqlx::query(
        "INSERT INTO sessions (id, user_id, aal, amr, user_agent, ip, created_at, refreshed_at)
         VALUES ($1, $2, 'aal1', $3, $4, $5, $6, $7)",
    )
    .bind(&session_id)
    .bind(&user.id)
    .bind(amr.to_string())
    .bind(&client.user_agent)
    .bind(client.ip.map(|ip| ip.to_string()))
    .bind(at)
    .bind(at)
    .execute(pool)
    .await?;
    let refresh_token = random_token();
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
    )
    .bind(sha256(refresh_token.as_bytes()))
    .bind(&session_id)
    .bind(at)
    .execute(pool)
    .await?;
    users::touch_sign_in(pool, &user.id, None).await?;
    let user = users::find_by_id(pool, &user.id).await?.unwrap_or(user);
    issue(state, user, &session_id, refresh_token).await
}

/// Raises `session` to `aal2` after a second factor (`method`, e.g. `totp`) and issues its new
/// tokens. A refresh keeps the session's level, so every refresh token handed out before the
/// step-up is deleted: one obtained at `aal1` must not come back as `aal2`. The user's other
/// `aal1` sessions end, as in GoTrue: whoever signed in with the password alone is out.
pub async fn step_up(
    state: &AuthState,
    session: &SessionRecord,
    method: &str,
) -> AuthResult<IssuedSession> {
    let at = now();
    let mut amr: Vec<AuthMethod> = serde_json::from_str(&session.amr).unwrap_or_default();
    amr.retain(|entry| entry.method != method);
    // Newest first, as GoTrue orders `amr`.
    amr.insert(
        0,
        AuthMethod {
            method: method.to_owned(),
            timestamp: at,
        },
    );
    let refresh_token = random_token();
    let mut tx = crate::store::begin_write(&state.pool).await?;
    let updated = sqlx::query("UPDATE sessions SET aal = 'aal2', amr = $1 WHERE id = $2")
        .bind(serde_json::to_string(&amr).map_err(AuthError::internal)?)
        .bind(&session.id)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() != 1 {
        return Err(AuthError::session_not_found());
    }
    sqlx::query("DELETE FROM refresh_tokens WHERE session_id = $1")
        .bind(&session.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
    )
    .bind(sha256(refresh_token.as_bytes()))
    .bind(&session.id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id != $2 AND aal = 'aal1'")
        .bind(&session.user_id)
        .bind(&session.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let user = users::find_by_id(&state.pool, &session.user_id)
        .await?
        .ok_or_else(AuthError::session_not_found)?;
    issue(state, user, &session.id, refresh_token).await
}

/// Lowers every session of the user to `aal1` and drops `method` from their `amr`: the user's
/// last second factor is gone. Access tokens already issued keep their claims until they expire.
pub async fn step_down(pool: &Pool, user_id: &str, method: &str) -> AuthResult<()> {
    for session in list(pool, user_id).await? {
        let mut amr: Vec<AuthMethod> = serde_json::from_str(&session.amr).unwrap_or_default();
        amr.retain(|entry| entry.method != method);
        sqlx::query("UPDATE sessions SET aal = 'aal1', amr = $1 WHERE id = $2")
            .bind(serde_json::to_string(&amr).map_err(AuthError::internal)?)
            .bind(&session.id)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Signs an access token for the session and packs the response.
async fn issue(
    state: &AuthState,
    user: User,
    session_id: &str,
    refresh_token: String,
) -> AuthResult<IssuedSession> {
    let session = find(&state.pool, session_id)
        .await?
        .ok_or_else(AuthError::session_not_found)?;
    let iat = now();
    let expires_in = state.config.jwt_expiry.as_secs();
    let expires_at = iat + expires_in as i64;
    let claims = AccessClaims {
        iss: state.config.issuer(),
        sub: user.id.clone(),
        aud: "authenticated".into(),
        exp: expires_at,
        iat,
        email: user.email.clone(),
        phone: String::new(),
        app_metadata: user.app_metadata(),
        user_metadata: user.user_metadata(),
        role: "authenticated".into(),
        aal: session.aal.clone(),
        amr: serde_json::from_str::<Vec<AuthMethod>>(&session.amr).unwrap_or_default(),
        session_id: session.id.clone(),
        is_anonymous: user.is_anonymous(),
        nbf: None,
    };
    let access_token = state.keys.sign(&claims)?;
    let factors = mfa::list(&state.pool, &user.id).await?;
    Ok(IssuedSession {
        access_token,
        refresh_token,
        expires_in,
        expires_at,
        user,
        factors,
    })
}

pub async fn find(pool: &Pool, session_id: &str) -> AuthResult<Option<SessionRecord>> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, aal, amr, user_agent, ip, created_at, refreshed_at
         FROM sessions WHERE id = $1",
    )
    .bind(session_id)
    .fetch_optional(pool)
    .await?)
}

/// The session if it exists and has not outlived its lifetimes. One that has is deleted now
/// (its refresh tokens with it), so that every later lookup agrees it is gone.
pub async fn find_live(state: &AuthState, session_id: &str) -> AuthResult<Option<SessionRecord>> {
    let Some(session) = find(&state.pool, session_id).await? else {
        return Ok(None);
    };
    Ok(match end_if_expired(state, &session).await? {
        Some(_) => None,
        None => Some(session),
    })
}

/// Deletes the session if it outlived a lifetime, and says which.
async fn end_if_expired(state: &AuthState, session: &SessionRecord) -> AuthResult<Option<Expiry>> {
    let Some(expiry) = session.expiry(&state.config, now()) else {
        return Ok(None);
    };
    tracing::info!(
        session_id = session.id,
        ?expiry,
        "session expired: ending it"
    );
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(&session.id)
        .execute(&state.pool)
        .await?;
    Ok(Some(expiry))
}

fn refresh_token_not_found() -> AuthError {
    AuthError::new(
        StatusCode::BAD_REQUEST,
        "refresh_token_not_found",
        "Invalid Refresh Token: Refresh Token Not Found",
    )
}

/// How many rotations a late request may walk forward within the reuse interval.
const MAX_CHAIN_WALK: usize = 4;

/// `grant_type=refresh_token`: rotates the token and issues a new access token.
pub async fn refresh(state: &AuthState, presented: &str) -> AuthResult<IssuedSession> {
    let pool = &state.pool;
    let mut token = presented.to_owned();
    for step in 0..=MAX_CHAIN_WALK {
        let row: Option<(i64, String, Option<i64>)> = sqlx::query_as(
            "SELECT id, session_id, revoked_at FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(sha256(token.as_bytes()))
        .fetch_optional(pool)
        .await?;
        let Some((id, session_id, revoked_at)) = row else {
            return Err(refresh_token_not_found());
        };
        if step == 0 {
            // Every token of a walk belongs to one session: check its lifetimes once, before
            // anything rotates.
            if let Some(session) = find(pool, &session_id).await? {
                if let Some(expiry) = end_if_expired(state, &session).await? {
                    return Err(expiry.error());
                }
            }
        }
        let child = base64url(&hmac_sha256(&state.refresh_key, token.as_bytes()));
        match revoked_at {
            // Reached by walking from a just-rotated token: this is the session's current token,
            // which the racing request already returned. Return it too; do not rotate it again.
            None if step > 0 => return finish_refresh(state, &session_id, token).await,
            None => {
                // Insert the child before revoking the parent: a racing request that finds the
                // parent revoked must find the child too.
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, session_id, parent_id, created_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (token_hash) DO NOTHING",
                )
                .bind(sha256(child.as_bytes()))
                .bind(&session_id)
                .bind(id)
                .bind(now())
                .execute(pool)
                .await?;
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(now())
                .bind(id)
                .execute(pool)
                .await?;
                // Won or lost the race, the child is now the session's token.
                return finish_refresh(state, &session_id, child).await;
            }
            Some(revoked_at)
                if now() - revoked_at <= state.config.refresh_reuse_interval.as_secs() as i64 =>
            {
                // Rotated a moment ago by a concurrent request: continue with its child.
                token = child;
            }
            Some(_) => {
                tracing::warn!(session_id, "refresh token reused: revoking the session");
                sqlx::query("DELETE FROM sessions WHERE id = $1")
                    .bind(&session_id)
                    .execute(pool)
                    .await?;
                return Err(AuthError::new(
                    StatusCode::BAD_REQUEST,
                    "refresh_token_already_used",
                    "Invalid Refresh Token: Already Used",
                ));
            }
        }
    }
    Err(refresh_token_not_found())
}

async fn finish_refresh(
    state: &AuthState,
    session_id: &str,
    token: String,
) -> AuthResult<IssuedSession> {
    let session = find(&state.pool, session_id)
        .await?
        .ok_or_else(refresh_token_not_found)?;
    sqlx::query("UPDATE sessions SET refreshed_at = $1 WHERE id = $2")
        .bind(now())
        .bind(session_id)
        .execute(&state.pool)
        .await?;
    let user = users::find_by_id(&state.pool, &session.user_id)
        .await?
        .ok_or_else(refresh_token_not_found)?;
    issue(state, user, session_id, token).await
}

/// Which sessions `/logout` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogoutScope {
    Global,
    Local,
    Others,
}

impl LogoutScope {
    pub fn parse(value: Option<&str>) -> AuthResult<LogoutScope> {
        match value {
            None | Some("global") => Ok(LogoutScope::Global),
            Some("local") => Ok(LogoutScope::Local),
            Some("others") => Ok(LogoutScope::Others),
            Some(_) => Err(AuthError::validation(
                "Unsupported logout scope: use global, local or others",
            )),
        }
    }
}

/// Ends the sessions `scope` names, relative to the caller's session.
pub async fn logout(
    pool: &Pool,
    user_id: &str,
    session_id: &str,
    scope: LogoutScope,
) -> AuthResult<()> {
    // Exactly the values each statement uses: Postgres accepts an unused extra one, and then
    // the connection's cached statement for that text expects two, so the next query of the
    // same text with one value (an account deletion) fails on that connection.
    let query = match scope {
        LogoutScope::Global => sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id),
        LogoutScope::Local => sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(session_id),
        LogoutScope::Others => sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id != $2")
            .bind(user_id)
            .bind(session_id),
    };
    query.execute(pool).await?;
    Ok(())
}

/// The user's sessions, most recently used first, for the account page.
pub async fn list(pool: &Pool, user_id: &str) -> AuthResult<Vec<SessionRecord>> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, aal, amr, user_agent, ip, created_at, refreshed_at
         FROM sessions WHERE user_id = $1 ORDER BY refreshed_at DESC, created_at DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}

/// Ends one of the user's sessions; false if the user has no such session.
pub async fn revoke(pool: &Pool, user_id: &str, session_id: &str) -> AuthResult<bool> {
    let deleted = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(session_id)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

impl SessionRecord {
    /// The session as the sessions endpoint lists it.
    pub fn to_json(&self, current_session_id: &str) -> Value {
        json!({
            "id": self.id,
            "user_agent": self.user_agent,
            "ip": self.ip,
            "aal": self.aal,
            "created_at": rfc3339(self.created_at),
            "refreshed_at": rfc3339(self.refreshed_at),
            "current": self.id == current_session_id,
        })
    }
}
