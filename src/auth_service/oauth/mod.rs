//! OAuth and OpenID Connect sign-in through upstream providers: `/authorize`, `/callback`, and
//! the provider list in `/settings`.
//!
//! `/authorize` records a flow state (the client's PKCE challenge, our own PKCE verifier and
//! nonce towards the provider, the validated `redirect_to`) and binds its `state` to the browser
//! with a short-lived HttpOnly cookie. `/callback` accepts the provider's answer only with that
//! state and that cookie, exchanges the code, reads who the user is (a verified id token for OIDC,
//! the REST APIs for GitHub and Facebook), creates or links the user, and sends the browser back
//! with a single-use `?code=` (PKCE) or, only if the implicit flow is switched on, the session in
//! the fragment.
//!
//! The token exchange is one form POST, done with reqwest directly: the `oauth2` crate's typed
//! clients would add more code than they save here.

mod facebook;
mod github;
mod linking;
mod oidc;
mod providers;

use std::time::Duration;

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

pub use self::providers::Providers;
use self::providers::{fetch_provider_user, provider_error};
use super::{
    config::ProviderKind,
    email_flows::redirect_with_error,
    error::{AuthError, AuthResult},
    flow, now,
    rate_limit::Bucket,
    redirect,
    request::Client,
    sessions::{self, SignInMethod},
    AuthState,
};
use crate::{
    contract::{
        cookies::{cookie_header, cookie_value},
        pkce,
    },
    crypto::{random_token, sha256},
};

/// How long a login may take at the provider.
const FLOW_LIFETIME: Duration = Duration::from_secs(600);
const STATE_COOKIE: &str = "ferrochat-oauth-state";
/// Every provider GoTrue's `/settings` lists, so clients see the shape they expect.
const KNOWN_PROVIDERS: &[&str] = &[
    "anonymous_users",
    "apple",
    "azure",
    "bitbucket",
    "discord",
    "facebook",
    "figma",
    "fly",
    "github",
    "gitlab",
    "google",
    "keycloak",
    "kakao",
    "linkedin",
    "linkedin_oidc",
    "notion",
    "spotify",
    "slack",
    "slack_oidc",
    "workos",
    "twitch",
    "twitter",
    "zoom",
    "oidc",
];

fn bad_state() -> AuthError {
    AuthError::new(
        StatusCode::BAD_REQUEST,
        "bad_oauth_state",
        "OAuth state parameter is invalid or has expired",
    )
}

/// `GET /settings`.
pub async fn settings(State(state): State<AuthState>) -> Json<Value> {
    let mut external = serde_json::Map::new();
    for name in KNOWN_PROVIDERS {
        external.insert((*name).into(), json!(state.providers.get(name).is_some()));
    }
    external.insert("email".into(), json!(true));
    external.insert("phone".into(), json!(false));
    external.insert("anonymous_users".into(), json!(state.config.anonymous));
    Json(json!({
        "external": external,
        "disable_signup": state.config.disable_signup,
        "mailer_autoconfirm": state.config.autoconfirm,
        "phone_autoconfirm": false,
        "sms_provider": "",
        "saml_enabled": false,
    }))
}

#[derive(Deserialize)]
pub struct AuthorizeQuery {
    provider: Option<String>,
    redirect_to: Option<String>,
    scopes: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// `GET /authorize`: starts the dance and sends the browser to the provider. Anyone may call it
/// and each call stores a flow state, so it counts against the client's sign-in limit.
pub async fn authorize(
    State(state): State<AuthState>,
    Query(query): Query<AuthorizeQuery>,
    client: Client,
) -> AuthResult<Response> {
    state
        .limiter
        .check(Bucket::Authorize, &client.rate_limit_key())
        .await?;
    let provider = query
        .provider
        .as_deref()
        .and_then(|name| state.providers.get(name))
        .ok_or_else(|| {
            AuthError::new(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "Unsupported provider: provider is not enabled",
            )
        })?;
    flow::require_pkce(&state.config, query.code_challenge.as_deref())?;
    if let Some(challenge) = &query.code_challenge {
        flow::check_challenge(challenge, query.code_challenge_method.as_deref())?;
    }
    let redirect_to = redirect::resolve(&state.config, query.redirect_to.as_deref());
    let endpoints = state.providers.endpoints(provider).await?;
    let oauth_state = random_token();
    let verifier = random_token();
    flow::create(
        &state.pool,
        flow::NewFlow {
            code_challenge: query.code_challenge.as_deref().unwrap_or(""),
            provider: provider.name,
            method: "oauth",
            redirect_to: redirect_to.as_str(),
            oauth_state_hash: Some(sha256(oauth_state.as_bytes())),
            provider_verifier: Some(verifier.clone()),
            user_id: None,
        },
    )
    .await?;

    let mut url = Url::parse(&endpoints.authorize)
        .map_err(|_| provider_error("bad authorization endpoint"))?;
    {
        let mut pairs = url.query_pairs_mut();
        pairs
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", &callback_url(&state))
            .append_pair("response_type", "code")
            .append_pair("state", &oauth_state);
        let base_scopes = match provider.kind {
            ProviderKind::Oidc { .. } => "openid email profile",
            ProviderKind::GitHub { .. } => "user:email",
            ProviderKind::Facebook { .. } => "email public_profile",
        };
        let scopes = match query
            .scopes
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(extra) => format!("{base_scopes} {extra}"),
            None => base_scopes.to_owned(),
        };
        pairs.append_pair("scope", &scopes);
        if matches!(provider.kind, ProviderKind::Oidc { .. }) {
            // PKCE towards the provider, and the nonce is bound to this flow through the verifier.
            pairs
                .append_pair("code_challenge", &pkce::challenge(&verifier))
                .append_pair("code_challenge_method", "S256")
                .append_pair("nonce", &nonce_for(&verifier));
        }
    }
    let cookie = format!(
        "{STATE_COOKIE}={oauth_state}; Path=/auth/v1/callback; Max-Age={}; HttpOnly; SameSite=Lax{}",
        FLOW_LIFETIME.as_secs(),
        if state.config.site_url.scheme() == "https" { "; Secure" } else { "" },
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response())
}

fn callback_url(state: &AuthState) -> String {
    format!("{}/callback", state.config.issuer())
}

/// The OIDC nonce of a flow, derived from its provider verifier so nothing more is stored.
fn nonce_for(verifier: &str) -> String {
    crate::crypto::base64url(&sha256(format!("nonce:{verifier}").as_bytes()))
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /callback`: back from the provider.
pub async fn callback(
    State(state): State<AuthState>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
    client: Client,
) -> Response {
    let clear_cookie =
        format!("{STATE_COOKIE}=; Path=/auth/v1/callback; Max-Age=0; HttpOnly; SameSite=Lax");
    let response = match finish_callback(&state, query, &headers, &client).await {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err((target, error, pkce)) => redirect_with_error(target, &error, !pkce),
    };
    ([(header::SET_COOKIE, clear_cookie)], response).into_response()
}

/// The flow state found for a callback.
struct Flow {
    id: String,
    code_challenge: String,
    provider: String,
    redirect_to: Url,
    provider_verifier: String,
}

type CallbackError = (Url, AuthError, bool);

async fn finish_callback(
    state: &AuthState,
    query: CallbackQuery,
    headers: &HeaderMap,
    client: &Client,
) -> Result<Url, CallbackError> {
    let site = state.config.site_url.clone();
    let flow = find_flow(state, query.state.as_deref(), headers)
        .await
        .map_err(|error| (site.clone(), error, true))?;
    let pkce = !flow.code_challenge.is_empty();
    let fail = |error: AuthError| (flow.redirect_to.clone(), error, pkce);
    if !pkce {
        // Started while the implicit flow was on: no session in a URL once it is off.
        flow::require_pkce(&state.config, None).map_err(fail)?;
    }
    if let Some(error) = query.error {
        tracing::info!(error, description = ?query.error_description, "provider refused the sign-in");
        return Err(fail(AuthError::new(
            StatusCode::BAD_REQUEST,
            "oauth_provider_error",
            "The sign-in provider did not sign you in",
        )));
    }
    let code = query.code.filter(|code| !code.is_empty()).ok_or_else(|| {
        fail(AuthError::new(
            StatusCode::BAD_REQUEST,
            "bad_oauth_callback",
            "OAuth callback with missing authorization code",
        ))
    })?;
    let provider = state
        .providers
        .get(&flow.provider)
        .ok_or_else(|| fail(bad_state()))?;
    let upstream = fetch_provider_user(state, provider, &code, &flow.provider_verifier)
        .await
        .map_err(fail)?;
    let user = linking::find_or_create_user(state, provider.name, &upstream)
        .await
        .map_err(fail)?;

    let mut target = flow.redirect_to.clone();
    if pkce {
        let code = flow::issue_code(&state.pool, &flow.id, &user.id)
            .await
            .map_err(fail)?;
        target.query_pairs_mut().append_pair("code", &code);
        return Ok(target);
    }
    sqlx::query("DELETE FROM flow_states WHERE id = $1")
        .bind(&flow.id)
        .execute(&state.pool)
        .await
        .map_err(|error| fail(error.into()))?;
    let session = sessions::start(state, user, SignInMethod::OAuth, client)
        .await
        .map_err(fail)?;
    let fragment = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(session.to_params("oauth"))
        .finish();
    target.set_fragment(Some(&fragment));
    Ok(target)
}

/// The flow whose state the callback carries, if the same browser started it recently.
async fn find_flow(
    state: &AuthState,
    oauth_state: Option<&str>,
    headers: &HeaderMap,
) -> AuthResult<Flow> {
    let oauth_state = oauth_state
        .filter(|s| !s.is_empty())
        .ok_or_else(bad_state)?;
    let cookies = cookie_header(headers);
    let cookie = cookie_value(&cookies, STATE_COOKIE);
    if cookie != Some(oauth_state) {
        return Err(bad_state());
    }
    let row: Option<(String, String, String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT id, code_challenge, provider, redirect_to, provider_verifier, created_at
         FROM flow_states WHERE oauth_state = $1",
    )
    .bind(sha256(oauth_state.as_bytes()))
    .fetch_optional(&state.pool)
    .await?;
    let Some((id, code_challenge, provider, redirect_to, Some(provider_verifier), created_at)) =
        row
    else {
        return Err(bad_state());
    };
    // One use: the state is cleared before the (slow) exchange, so a replay finds nothing.
    let cleared = sqlx::query(
        "UPDATE flow_states SET oauth_state = NULL WHERE id = $1 AND oauth_state IS NOT NULL",
    )
    .bind(&id)
    .execute(&state.pool)
    .await?;
    if cleared.rows_affected() != 1 || now() - created_at > FLOW_LIFETIME.as_secs() as i64 {
        return Err(bad_state());
    }
    Ok(Flow {
        id,
        code_challenge,
        provider,
        redirect_to: Url::parse(&redirect_to).unwrap_or_else(|_| state.config.site_url.clone()),
        provider_verifier,
    })
}
