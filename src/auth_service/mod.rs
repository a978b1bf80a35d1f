//! The embedded auth service: the Supabase Auth (GoTrue) HTTP API at `/auth/v1`.
//!
//! Same paths, parameters, JSON shapes, status codes and `error_code` values as supabase/auth, so
//! that Supabase's own clients work against it and the app can later point at a real project.

pub mod config;
pub mod error;
pub mod flow;
pub mod imported_keys;
pub mod keys;
pub mod mail;
pub mod maintenance;
pub mod password;
pub mod rate_limit;
pub mod redirect;
pub mod request;
pub mod session_status;
pub mod sessions;
pub mod users;

mod account;
mod admin;
mod anonymous;
mod email_flows;
mod email_proof;
pub mod mfa;
mod oauth;
mod reauthentication;
mod resend;
mod token;
mod totp;
mod unsupported;

use std::{path::Path, sync::Arc};

use axum::{
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use serde_json::json;

use self::{
    config::AuthConfig,
    error::{AuthError, AuthResult},
    keys::KeySet,
    mail::Mailer,
    password::Hasher,
    rate_limit::{Bucket, RateLimiter},
};
use crate::{crypto, store::Pool};

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct AuthState(Arc<Inner>);

pub struct Inner {
    pub pool: Pool,
    pub config: AuthConfig,
    pub keys: KeySet,
    /// Derives each refresh token from its parent (see `sessions`).
    pub refresh_key: Vec<u8>,
    /// Request limits, counted in the database so every instance shares them.
    pub limiter: RateLimiter,
    /// Computes password hashes, a bounded number at once.
    pub passwords: Hasher,
    pub mailer: Mailer,
    pub providers: oauth::Providers,
    /// Seals the TOTP keys of second factors in the database (see `totp`).
    pub mfa_key: Vec<u8>,
    /// Deletes what the rest of the app keeps of a user, before the user is deleted.
    pub forget_user: maintenance::ForgetUser,
    /// Recent answers to "is this session still signed in?" (see `session_status`).
    pub session_status: Arc<session_status::SessionStatusCache>,
}

impl std::fmt::Debug for AuthState {
    // Keys and secrets stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthState { .. }")
    }
}

impl std::ops::Deref for AuthState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AuthState {
    /// Loads keys and secrets (creating them on first start).
    pub async fn new(
        pool: Pool,
        config: AuthConfig,
        data_dir: &Path,
        forget_user: maintenance::ForgetUser,
    ) -> AuthResult<Self> {
        let keys = KeySet::load(&pool, &config.signing, config.jwt_expiry, config.issuer()).await?;
        let refresh_key = server_secret(&pool, "refresh_token_key").await?;
        let limiter = RateLimiter::new(
            pool.clone(),
            config.rate_limits,
            server_secret(&pool, "rate_limit_key").await?,
        );
        let passwords = Hasher::new(config.hash_concurrency);
        let providers = oauth::Providers::new(&config.providers)?;
        let mailer = Mailer::new(config.smtp.as_ref(), data_dir)?;
        let mfa_key = server_secret(&pool, "mfa_key").await?;
        let session_status = Arc::new(session_status::SessionStatusCache::new(
            config.session_status_cache,
        ));
        // Computed now, not on the first unknown-user sign-in, so that one is not slower.
        password::dummy_hash();
        Ok(AuthState(Arc::new(Inner {
            mailer,
            pool,
            config,
            keys,
            refresh_key,
            limiter,
            passwords,
            providers,
            mfa_key,
            session_status,
            forget_user,
        })))
    }
}

impl AuthState {
    /// Counts a sign-in-like request (password, PKCE, sign-up, link redemption) of this client.
    /// Deletes a user and first what the rest of the app keeps of them (their chats): if that
    /// fails, the user is kept, so nothing is left without an owner and the deletion can be
    /// tried again.
    pub(crate) async fn delete_user(&self, user_id: &str) -> AuthResult<()> {
        (self.forget_user)(user_id.to_owned())
            .await
            .map_err(|error| {
                tracing::error!(%error, %user_id, "cannot delete a user's chats; the user is kept");
                AuthError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unexpected_failure",
                    "The account could not be deleted just now. Please try again.",
                )
            })?;
        users::delete(&self.pool, user_id).await
    }

    pub(crate) async fn limit_sign_in(&self, client: &request::Client) -> AuthResult<()> {
        self.limiter
            .check(Bucket::SignIn, &client.rate_limit_key())
            .await
    }

    /// Counts a password attempt (sign-in, sign-up, current password) of this client on one
    /// address. The budget is per address *and* client: a guesser is slowed on each account,
    /// while the owner, elsewhere, is never locked out by someone else's guesses.
    pub(crate) async fn limit_attempts_on(
        &self,
        client: &request::Client,
        email: &str,
    ) -> AuthResult<()> {
        let key = format!("{email}\n{}", client.rate_limit_key());
        self.limiter.check(Bucket::SignInEmail, &key).await
    }
}

/// The `/auth/v1` routes.
pub fn router(state: AuthState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/settings", get(oauth::settings))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/signup", post(account::signup))
        .route("/token", post(token::token))
        .route(
            "/user",
            get(account::get_user)
                .put(account::update_user)
                .delete(account::delete_user),
        )
        .route("/reauthenticate", get(reauthentication::reauthenticate))
        .route("/logout", post(account::logout))
        .route("/sessions", get(account::list_sessions))
        .route(
            "/sessions/{id}",
            axum::routing::delete(account::revoke_session),
        )
        .route("/recover", post(email_flows::recover))
        .route("/otp", post(email_flows::otp))
        .route("/resend", post(resend::resend))
        .route(
            "/verify",
            get(email_flows::verify_link).post(email_flows::verify),
        )
        .route("/factors", post(mfa::enroll))
        .route("/factors/{id}", axum::routing::delete(mfa::unenroll))
        .route("/factors/{id}/challenge", post(mfa::challenge))
        .route("/factors/{id}/verify", post(mfa::verify))
        .route("/authorize", get(oauth::authorize))
        .route("/callback", get(oauth::callback))
        .merge(admin::routes())
        .merge(unsupported::routes())
        .fallback(unsupported::not_found)
        .method_not_allowed_fallback(unsupported::method_not_allowed)
        // GoTrue's bodies are small; this bounds what a client can make us parse.
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn(error::api_version))
        .layer(axum::middleware::from_fn_with_state(
            state.session_status.clone(),
            session_status::forget_after_writes,
        ))
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "name": "ferrochat-auth",
        "description": "ferrochat's embedded Supabase-Auth-compatible service",
    }))
}

/// `GET /.well-known/jwks.json`. Reads the keys again first (at most every few seconds), so a key
/// rotated in by another instance or the CLI is published by every instance.
async fn jwks(
    axum::extract::State(state): axum::extract::State<AuthState>,
) -> Json<serde_json::Value> {
    Json(state.keys.jwks().await)
}

/// A server secret shared by every instance (see [`crate::store::secret`]).
async fn server_secret(pool: &Pool, name: &str) -> AuthResult<Vec<u8>> {
    Ok(crate::store::secret(pool, name).await?)
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// GoTrue's timestamp format.
pub fn rfc3339(unix_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The app asks the embedded service whether a token's session was signed out (or outlived its
/// lifetimes) and whether it owes a second factor: recent answers, or indexed reads of its own
/// database; no network call.
impl crate::contract::SessionStatus for AuthState {
    fn remembered(
        &self,
        claims: &crate::contract::claims::AccessClaims,
        now: std::time::Instant,
    ) -> Option<crate::contract::Standing> {
        session_status::remembered(self, claims, now)
    }

    fn standing<'a>(
        &'a self,
        claims: &'a crate::contract::claims::AccessClaims,
        _access_token: &'a str,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<
                        crate::contract::Standing,
                        crate::contract::session::StatusUnknown,
                    >,
                > + Send
                + 'a,
        >,
    > {
        Box::pin(session_status::standing(self, claims))
    }
}
