//! OAuth and OpenID Connect sign-in through upstream providers: `/authorize`, `/callback`, and
//! the provider list in `/settings`.
//!
//! `/authorize` records a flow state (the client's PKCE challenge, our own PKCE verifier and
//! nonce towards the provider, the validated `redirect_to`) and binds its `state` to the browser
//! with a short-lived HttpOnly cookie. `/callback` accepts the provider's answer only with that
//! state and that cookie, exchanges the code, reads who the user is (a verified id token for OIDC,
//! the REST APIs for GitHub and Facebook), creates or links the user, and sends the browser back
//! with a single-use `?code=` (PKCE) or the session in the fragment (implicit flow).
//!
//! The token exchange is one form POST, done with reqwest directly: the `oauth2` crate's typed
//! clients would add more code than they save here.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Json,
};
use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

use crate::auth::cookies::{cookie_header, cookie_value};

use super::{
    config::{ProviderConfig, ProviderKind},
    crypto::{pkce_challenge, random_token, sha256},
    email_flows::redirect_with_error,
    error::{AuthError, AuthResult},
    flow, now, redirect,
    request::Client,
    sessions::{self, SignInMethod},
    users::{self, Email, NewUser},
    AuthState,
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

/// The enabled providers and what was learnt about them.
pub struct Providers {
    list: Vec<ProviderConfig>,
    http: reqwest::Client,
    discovered: Mutex<HashMap<&'static str, OidcMetadata>>,
}

#[derive(Clone, Deserialize)]
struct OidcMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// Endpoints of one provider for one login.
struct Endpoints {
    authorize: String,
    token: String,
    /// OIDC: where the id token's keys are, and the issuer it must name.
    oidc: Option<(String, String)>,
}

/// Who the provider says the user is.
struct ProviderUser {
    id: String,
    email: Option<String>,
    email_verified: bool,
    data: Value,
}

impl Providers {
    pub fn new(list: &[ProviderConfig]) -> AuthResult<Self> {
        let http = reqwest::Client::builder()
            // A provider must not bounce our server-side calls elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .user_agent("ferrochat")
            .build()
            .map_err(AuthError::internal)?;
        Ok(Providers {
            list: list.to_vec(),
            http,
            discovered: Mutex::new(HashMap::new()),
        })
    }

    fn get(&self, name: &str) -> Option<&ProviderConfig> {
        self.list.iter().find(|provider| provider.name == name)
    }

    async fn endpoints(&self, provider: &ProviderConfig) -> AuthResult<Endpoints> {
        let join =
            |base: &Url, path: &str| format!("{}{path}", base.as_str().trim_end_matches('/'));
        match &provider.kind {
            ProviderKind::GitHub { web, .. } => Ok(Endpoints {
                authorize: join(web, "/login/oauth/authorize"),
                token: join(web, "/login/oauth/access_token"),
                oidc: None,
            }),
            ProviderKind::Facebook { web, api } => Ok(Endpoints {
                authorize: join(web, "/dialog/oauth"),
                token: join(api, "/oauth/access_token"),
                oidc: None,
            }),
            ProviderKind::Oidc { issuer } => {
                let metadata = self.discover(provider.name, issuer).await?;
                Ok(Endpoints {
                    authorize: metadata.authorization_endpoint,
                    token: metadata.token_endpoint,
                    oidc: Some((metadata.jwks_uri, metadata.issuer)),
                })
            }
        }
    }

    /// The issuer's discovery document, fetched once.
    async fn discover(&self, name: &'static str, issuer: &Url) -> AuthResult<OidcMetadata> {
        if let Some(metadata) = self.lock().get(name) {
            return Ok(metadata.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.as_str().trim_end_matches('/')
        );
        let metadata: OidcMetadata = self.get_json(&url, None).await.and_then(|value| {
            serde_json::from_value(value)
                .map_err(|error| provider_error(format!("bad discovery document: {error}")))
        })?;
        if metadata.issuer.trim_end_matches('/') != issuer.as_str().trim_end_matches('/') {
            return Err(provider_error(
                "the discovery document names another issuer",
            ));
        }
        self.lock().insert(name, metadata.clone());
        Ok(metadata)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, OidcMetadata>> {
        self.discovered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn get_json(&self, url: &str, bearer: Option<&str>) -> AuthResult<Value> {
        let mut request = self
            .http
            .get(url)
            .header(header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|error| provider_error(error.without_url()))?;
        if !response.status().is_success() {
            return Err(provider_error(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|error| provider_error(error.without_url()))
    }
}

fn provider_error(detail: impl std::fmt::Display) -> AuthError {
    tracing::warn!(%detail, "OAuth provider error");
    AuthError::new(
        StatusCode::BAD_GATEWAY,
        "bad_oauth_callback",
        "The sign-in provider could not be reached or gave an unusable answer",
    )
}

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

/// `GET /authorize`: starts the dance and sends the browser to the provider.
pub async fn authorize(
    State(state): State<AuthState>,
    Query(query): Query<AuthorizeQuery>,
) -> AuthResult<Response> {
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
                .append_pair("code_challenge", &pkce_challenge(&verifier))
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
    super::crypto::base64url(&sha256(format!("nonce:{verifier}").as_bytes()))
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
    let user = find_or_create_user(state, provider.name, &upstream)
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
    sqlx::query("DELETE FROM flow_states WHERE id = ?")
        .bind(&flow.id)
        .execute(&state.pool)
        .await
        .map_err(|error| fail(error.into()))?;
    let session = sessions::start(state, user, SignInMethod::OAuth, &client.info)
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
         FROM flow_states WHERE oauth_state = ?",
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
        "UPDATE flow_states SET oauth_state = NULL WHERE id = ? AND oauth_state IS NOT NULL",
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

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    id_token: Option<String>,
}

async fn fetch_provider_user(
    state: &AuthState,
    provider: &ProviderConfig,
    code: &str,
    verifier: &str,
) -> AuthResult<ProviderUser> {
    let providers = &state.providers;
    let endpoints = providers.endpoints(provider).await?;
    let redirect_uri = callback_url(state);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &redirect_uri),
        ("client_id", &provider.client_id),
        ("client_secret", &provider.client_secret.0),
    ];
    if endpoints.oidc.is_some() {
        form.push(("code_verifier", verifier));
    }
    let response = providers
        .http
        .post(&endpoints.token)
        .header(header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|error| provider_error(error.without_url()))?;
    if !response.status().is_success() {
        return Err(provider_error(format!(
            "token endpoint answered {}",
            response.status()
        )));
    }
    let tokens: TokenResponse = response
        .json()
        .await
        .map_err(|error| provider_error(format!("bad token response: {}", error.without_url())))?;
    match (&provider.kind, endpoints.oidc) {
        (ProviderKind::Oidc { .. }, Some((jwks_uri, issuer))) => {
            let id_token = tokens
                .id_token
                .ok_or_else(|| provider_error("no id_token"))?;
            verify_id_token(
                providers,
                &id_token,
                &jwks_uri,
                &issuer,
                &provider.client_id,
                &nonce_for(verifier),
            )
            .await
        }
        (ProviderKind::GitHub { api, .. }, _) => {
            github_user(providers, api, &tokens.access_token).await
        }
        (ProviderKind::Facebook { api, .. }, _) => {
            facebook_user(providers, api, &tokens.access_token).await
        }
        (ProviderKind::Oidc { .. }, None) => Err(provider_error("OIDC endpoints missing")),
    }
}

/// Verifies an id token with the provider's published keys. The algorithm comes from the key,
/// not from the token's header.
async fn verify_id_token(
    providers: &Providers,
    id_token: &str,
    jwks_uri: &str,
    issuer: &str,
    client_id: &str,
    nonce: &str,
) -> AuthResult<ProviderUser> {
    let header = jsonwebtoken::decode_header(id_token)
        .map_err(|error| provider_error(format!("id token: {error}")))?;
    let jwks: JwkSet = serde_json::from_value(providers.get_json(jwks_uri, None).await?)
        .map_err(|error| provider_error(format!("bad JWKS: {error}")))?;
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or_else(|| provider_error("id token signed with an unknown key"))?;
    let algorithm = match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(alg), _) => alg.to_string().parse::<Algorithm>().ok(),
        (None, jsonwebtoken::jwk::AlgorithmParameters::RSA(_)) => Some(Algorithm::RS256),
        (None, jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_)) => Some(Algorithm::ES256),
        (None, jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_)) => Some(Algorithm::EdDSA),
        (None, _) => None,
    }
    .ok_or_else(|| provider_error("id token key has no usable algorithm"))?;
    let key =
        DecodingKey::from_jwk(jwk).map_err(|error| provider_error(format!("bad JWK: {error}")))?;
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[issuer]);
    validation.leeway = 30;
    let claims: Value = jsonwebtoken::decode(id_token, &key, &validation)
        .map_err(|error| provider_error(format!("id token rejected: {error}")))?
        .claims;
    if claims["nonce"].as_str() != Some(nonce) {
        return Err(provider_error("id token nonce does not match"));
    }
    let id = claims["sub"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| provider_error("id token without sub"))?;
    Ok(ProviderUser {
        id: id.to_owned(),
        email: claims["email"].as_str().map(str::to_owned),
        email_verified: claims["email_verified"].as_bool().unwrap_or(false),
        data: json!({
            "sub": id,
            "name": claims["name"],
            "picture": claims["picture"],
            "email": claims["email"],
            "email_verified": claims["email_verified"],
            "iss": issuer,
        }),
    })
}

async fn github_user(providers: &Providers, api: &Url, token: &str) -> AuthResult<ProviderUser> {
    let base = api.as_str().trim_end_matches('/');
    let user = providers
        .get_json(&format!("{base}/user"), Some(token))
        .await?;
    let emails = providers
        .get_json(&format!("{base}/user/emails"), Some(token))
        .await?;
    let emails = emails.as_array().cloned().unwrap_or_default();
    let verified = |email: &&Value| email["verified"].as_bool() == Some(true);
    let chosen = emails
        .iter()
        .filter(verified)
        .find(|email| email["primary"].as_bool() == Some(true))
        .or_else(|| emails.iter().find(verified));
    let id = match &user["id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => return Err(provider_error("GitHub user without id")),
    };
    Ok(ProviderUser {
        email: chosen
            .and_then(|email| email["email"].as_str())
            .map(str::to_owned),
        email_verified: chosen.is_some(),
        data: json!({
            "sub": id,
            "name": user["name"],
            "user_name": user["login"],
            "avatar_url": user["avatar_url"],
            "email": chosen.map(|email| email["email"].clone()),
            "email_verified": chosen.is_some(),
        }),
        id,
    })
}

async fn facebook_user(providers: &Providers, api: &Url, token: &str) -> AuthResult<ProviderUser> {
    let base = api.as_str().trim_end_matches('/');
    let me = providers
        .get_json(
            &format!("{base}/me?fields=id,name,email,picture"),
            Some(token),
        )
        .await?;
    let id = me["id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| provider_error("Facebook user without id"))?;
    // Facebook only returns addresses it has confirmed.
    let email = me["email"].as_str().map(str::to_owned);
    Ok(ProviderUser {
        id: id.to_owned(),
        email_verified: email.is_some(),
        data: json!({
            "sub": id,
            "name": me["name"],
            "avatar_url": me["picture"]["data"]["url"],
            "email": email,
            "email_verified": email.is_some(),
        }),
        email,
    })
}

/// The user behind a provider identity: the linked one, an existing account with the same
/// *verified* email (linked now), or a new user.
async fn find_or_create_user(
    state: &AuthState,
    provider: &str,
    upstream: &ProviderUser,
) -> AuthResult<users::User> {
    let pool = &state.pool;
    if let Some(identity) = users::find_identity(pool, provider, &upstream.id).await? {
        users::touch_sign_in(pool, &identity.user_id, Some(&identity.id)).await?;
        return users::find_by_id(pool, &identity.user_id)
            .await?
            .ok_or_else(|| AuthError::internal("identity without user"));
    }
    let email = upstream
        .email
        .as_deref()
        .map(Email::parse)
        .transpose()?
        .ok_or_else(|| {
            AuthError::new(
                StatusCode::BAD_REQUEST,
                "provider_email_needs_verification",
                "The sign-in provider did not share an email address",
            )
        })?;
    if let Some(existing) = users::find_by_email(pool, &email).await? {
        if !upstream.email_verified {
            // Linking on an unverified address would hand the account to whoever typed it in.
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "email_exists",
                "An account with this email exists; sign in to it first",
            ));
        }
        users::link_identity(pool, &existing, provider, &upstream.id, &upstream.data).await?;
        if existing.email_confirmed_at.is_none() {
            users::confirm_email(pool, &existing.id).await?;
        }
        return users::find_by_id(pool, &existing.id)
            .await?
            .ok_or_else(|| AuthError::internal("user vanished while linking"));
    }
    if state.config.disable_signup {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "signup_disabled",
            "Signups not allowed for this instance",
        ));
    }
    users::create(
        pool,
        NewUser {
            email: &email,
            password_hash: None,
            user_metadata: upstream.data.clone(),
            confirmed: upstream.email_verified,
            provider,
            provider_id: Some(&upstream.id),
            identity_data: upstream.data.clone(),
        },
    )
    .await
}
