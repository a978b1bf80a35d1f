//! One client for the Supabase Auth API, used for the embedded service and for a remote
//! Supabase project alike: typed requests and responses, GoTrue errors mapped to one type.
//!
//! Only the transport differs. A remote project is called over HTTPS. The embedded service is
//! called in-process: the request goes straight into its router with the browser's address as
//! the peer, so rate limits and the session list see the real client, not the app (which, over
//! loopback, would make every user one client). Every call made on a person's behalf names them
//! with a [`ClientIdentity`].

use std::{net::SocketAddr, time::Duration};

use axum::{
    extract::ConnectInfo,
    http::{header, HeaderValue, Method, Request, StatusCode},
};
use serde_json::{json, Value};
use tower::ServiceExt;
use url::Url;

use crate::contract::{ClientIdentity, SessionTokens};

/// The largest answer read from the auth service.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// A failed call: GoTrue's error, or the service being unreachable or failing.
#[derive(Clone, Debug, thiserror::Error)]
pub enum AuthApiError {
    #[error("{msg}")]
    Api {
        status: u16,
        code: String,
        msg: String,
    },
    #[error("the sign-in service is unreachable")]
    Unreachable,
}

impl AuthApiError {
    /// GoTrue's `error_code`, if the service answered.
    pub fn code(&self) -> &str {
        match self {
            AuthApiError::Api { code, .. } => code,
            AuthApiError::Unreachable => "unreachable",
        }
    }

    /// A refusal that may go away by itself (a rate limit, an outage), as opposed to a verdict on
    /// the request (a wrong password, a revoked refresh token). A session is kept through these.
    pub fn is_transient(&self) -> bool {
        match self {
            AuthApiError::Unreachable => true,
            AuthApiError::Api { status, .. } => *status == 429 || *status >= 500,
        }
    }
}

/// What sign-up led to.
pub enum SignUp {
    /// Signed in at once (autoconfirm).
    Session(SessionTokens),
    /// A confirmation link was sent.
    ConfirmationSent,
}

/// How requests reach the service.
#[derive(Clone)]
enum Transport {
    /// A remote project: `base` is its API root, e.g. `https://<ref>.supabase.co/auth/v1`.
    Http {
        base: Url,
        apikey: Option<String>,
        http: reqwest::Client,
    },
    /// The embedded service's router, called without a network hop.
    InProcess(axum::Router),
}

/// A client of one auth service.
#[derive(Clone)]
pub struct AuthClient {
    transport: Transport,
    /// The API root as a browser reaches it (OAuth starts there).
    public_base: Url,
    /// A remote project's service-role key, for what only its admin API offers.
    service_role_key: Option<String>,
}

impl std::fmt::Debug for AuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthClient")
            .field("public_base", &self.public_base.as_str())
            .finish_non_exhaustive()
    }
}

/// One call to the service.
struct Call<'a> {
    method: Method,
    path: &'a str,
    bearer: Option<&'a str>,
    body: Option<Value>,
    client: Option<&'a ClientIdentity>,
}

impl<'a> Call<'a> {
    fn new(method: Method, path: &'a str) -> Self {
        Call {
            method,
            path,
            bearer: None,
            body: None,
            client: None,
        }
    }

    fn bearer(mut self, token: &'a str) -> Self {
        self.bearer = Some(token);
        self
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn for_client(mut self, client: &'a ClientIdentity) -> Self {
        self.client = Some(client);
        self
    }
}

impl AuthClient {
    /// A client of a remote project at `base` (its `/auth/v1`), sending `apikey`.
    pub fn remote(base: Url, apikey: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .expect("a reqwest client builds");
        AuthClient {
            public_base: base.clone(),
            transport: Transport::Http { base, apikey, http },
            service_role_key: None,
        }
    }

    /// The same client, able to call the project's admin API with `key` (its service-role key).
    pub fn with_service_role_key(mut self, key: Option<String>) -> Self {
        self.service_role_key = key;
        self
    }

    /// A client of the embedded service's `router`, which browsers reach at `public_base`.
    pub fn in_process(router: axum::Router, public_base: Url) -> Self {
        AuthClient {
            transport: Transport::InProcess(router),
            public_base,
            service_role_key: None,
        }
    }

    /// Sends a call; `Ok(None)` for an empty (204) answer.
    async fn send(&self, call: Call<'_>) -> Result<Option<Value>, AuthApiError> {
        let (status, bytes) = match &self.transport {
            Transport::Http { base, apikey, http } => {
                let url = format!("{}{}", base.as_str().trim_end_matches('/'), call.path);
                let mut request = http.request(call.method, url);
                if let Some(apikey) = apikey {
                    request = request.header("apikey", apikey);
                }
                if let Some(token) = call.bearer {
                    request = request.bearer_auth(token);
                }
                if let Some(client) = call.client {
                    // GoTrue counts rate limits per the first address of the header it is
                    // configured to read (X-Forwarded-For on hosted projects), or per
                    // `Sb-Forwarded-For` where that is enabled.
                    if let Some(ip) = client.ip {
                        request = request
                            .header("x-forwarded-for", ip.to_string())
                            .header("sb-forwarded-for", ip.to_string());
                    }
                    if let Some(agent) = &client.user_agent {
                        request = request.header(header::USER_AGENT, agent);
                    }
                }
                if let Some(body) = &call.body {
                    request = request.json(body);
                }
                let response = request.send().await.map_err(|error| {
                    tracing::warn!(error = %error.without_url(), "auth service request failed");
                    AuthApiError::Unreachable
                })?;
                let status = response.status();
                let bytes = response.bytes().await.unwrap_or_default();
                (status, bytes)
            }
            Transport::InProcess(router) => {
                let mut request = Request::builder()
                    .method(call.method)
                    .uri(call.path)
                    .header(header::ACCEPT, "application/json");
                if let Some(token) = call.bearer {
                    request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
                }
                if let Some(agent) = call.client.and_then(|c| c.user_agent.as_deref()) {
                    if let Ok(agent) = HeaderValue::from_str(agent) {
                        request = request.header(header::USER_AGENT, agent);
                    }
                }
                let body = match &call.body {
                    Some(body) => {
                        request = request.header(header::CONTENT_TYPE, "application/json");
                        axum::body::Body::from(body.to_string())
                    }
                    None => axum::body::Body::empty(),
                };
                let mut request = request.body(body).map_err(|error| {
                    tracing::error!(%error, "cannot build an auth service request");
                    AuthApiError::Unreachable
                })?;
                // The browser's own address, as the edge resolved it: to the service, the client.
                if let Some(ip) = call.client.and_then(|c| c.ip) {
                    request
                        .extensions_mut()
                        .insert(ConnectInfo(SocketAddr::new(ip, 0)));
                }
                let response = match router.clone().oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                let status = response.status();
                let bytes = axum::body::to_bytes(response.into_body(), MAX_RESPONSE_BYTES)
                    .await
                    .unwrap_or_default();
                (status, bytes)
            }
        };
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(Some(body));
        }
        if status.is_server_error() {
            tracing::warn!(%status, "auth service error");
        }
        let text = |key: &str| body[key].as_str().map(str::to_owned);
        Err(AuthApiError::Api {
            status: status.as_u16(),
            code: text("error_code")
                .or_else(|| text("code"))
                .or_else(|| text("error"))
                .unwrap_or_else(|| "unknown".into()),
            msg: text("msg")
                .or_else(|| text("message"))
                .or_else(|| text("error_description"))
                .unwrap_or_else(|| "The sign-in service refused the request.".into()),
        })
    }

    async fn session(&self, call: Call<'_>) -> Result<SessionTokens, AuthApiError> {
        let value = self.send(call).await?;
        serde_json::from_value(value.unwrap_or_default()).map_err(|_| AuthApiError::Unreachable)
    }

    pub async fn sign_in_with_password(
        &self,
        client: &ClientIdentity,
        email: &str,
        password: &str,
    ) -> Result<SessionTokens, AuthApiError> {
        self.session(
            Call::new(Method::POST, "/token?grant_type=password")
                .json(json!({ "email": email, "password": password }))
                .for_client(client),
        )
        .await
    }

    /// Signs up; if the service sends a confirmation link instead of a session, the link comes
    /// back to `redirect_to` with a PKCE code for `code_challenge`.
    pub async fn sign_up(
        &self,
        client: &ClientIdentity,
        email: &str,
        password: &str,
        redirect_to: &str,
        code_challenge: &str,
    ) -> Result<SignUp, AuthApiError> {
        let path = format!("/signup?redirect_to={}", urlencode(redirect_to));
        let value = self
            .send(
                Call::new(Method::POST, &path)
                    .json(json!({
                        "email": email,
                        "password": password,
                        "code_challenge": code_challenge,
                        "code_challenge_method": "s256",
                    }))
                    .for_client(client),
            )
            .await?
            .unwrap_or_default();
        if value.get("access_token").is_some() {
            serde_json::from_value(value)
                .map(SignUp::Session)
                .map_err(|_| AuthApiError::Unreachable)
        } else {
            Ok(SignUp::ConfirmationSent)
        }
    }

    /// Signs in as a new anonymous user: `POST /signup` without credentials (GoTrue's
    /// `signInAnonymously`).
    pub async fn sign_in_anonymously(
        &self,
        client: &ClientIdentity,
    ) -> Result<SessionTokens, AuthApiError> {
        self.session(
            Call::new(Method::POST, "/signup")
                .json(json!({}))
                .for_client(client),
        )
        .await
    }

    pub async fn refresh(
        &self,
        client: &ClientIdentity,
        refresh_token: &str,
    ) -> Result<SessionTokens, AuthApiError> {
        self.session(
            Call::new(Method::POST, "/token?grant_type=refresh_token")
                .json(json!({ "refresh_token": refresh_token }))
                .for_client(client),
        )
        .await
    }

    pub async fn exchange_code(
        &self,
        client: &ClientIdentity,
        code: &str,
        verifier: &str,
    ) -> Result<SessionTokens, AuthApiError> {
        self.session(
            Call::new(Method::POST, "/token?grant_type=pkce")
                .json(json!({ "auth_code": code, "code_verifier": verifier }))
                .for_client(client),
        )
        .await
    }

    /// Sends a recovery link that comes back to `redirect_to` with a PKCE code.
    pub async fn recover(
        &self,
        client: &ClientIdentity,
        email: &str,
        redirect_to: &str,
        code_challenge: &str,
    ) -> Result<(), AuthApiError> {
        let path = format!("/recover?redirect_to={}", urlencode(redirect_to));
        let body = json!({ "email": email, "code_challenge": code_challenge, "code_challenge_method": "s256" });
        self.send(Call::new(Method::POST, &path).json(body).for_client(client))
            .await
            .map(drop)
    }

    /// `scope`: global, local or others.
    pub async fn sign_out(&self, access_token: &str, scope: &str) -> Result<(), AuthApiError> {
        let path = format!("/logout?scope={scope}");
        self.send(Call::new(Method::POST, &path).bearer(access_token))
            .await
            .map(drop)
    }

    pub async fn get_user(&self, access_token: &str) -> Result<Value, AuthApiError> {
        Ok(self
            .send(Call::new(Method::GET, "/user").bearer(access_token))
            .await?
            .unwrap_or_default())
    }

    pub async fn update_user(
        &self,
        client: &ClientIdentity,
        access_token: &str,
        changes: Value,
    ) -> Result<Value, AuthApiError> {
        Ok(self
            .send(
                Call::new(Method::PUT, "/user")
                    .bearer(access_token)
                    .json(changes)
                    .for_client(client),
            )
            .await?
            .unwrap_or_default())
    }

    /// Whether the service lets people sign in anonymously (`external.anonymous_users` of
    /// `/settings`).
    pub async fn anonymous_sign_ins(&self) -> Result<bool, AuthApiError> {
        let settings = self
            .send(Call::new(Method::GET, "/settings"))
            .await?
            .unwrap_or_default();
        Ok(settings["external"]["anonymous_users"].as_bool() == Some(true))
    }

    /// The OAuth providers switched on, from `/settings`.
    pub async fn enabled_providers(&self) -> Result<Vec<String>, AuthApiError> {
        let settings = self
            .send(Call::new(Method::GET, "/settings"))
            .await?
            .unwrap_or_default();
        let mut enabled: Vec<String> = settings["external"]
            .as_object()
            .map(|external| {
                external
                    .iter()
                    .filter(|(name, on)| {
                        on.as_bool() == Some(true)
                            && !matches!(name.as_str(), "email" | "phone" | "anonymous_users")
                    })
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default();
        enabled.sort();
        Ok(enabled)
    }

    /// The service's published signing keys (`/.well-known/jwks.json`).
    pub async fn jwks(&self) -> Result<Value, AuthApiError> {
        Ok(self
            .send(Call::new(Method::GET, "/.well-known/jwks.json"))
            .await?
            .unwrap_or_default())
    }

    /// The user's sessions (embedded service only).
    pub async fn sessions(&self, access_token: &str) -> Result<Vec<Value>, AuthApiError> {
        let value = self
            .send(Call::new(Method::GET, "/sessions").bearer(access_token))
            .await?;
        Ok(value
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default())
    }

    /// Ends one of the user's sessions (embedded service only).
    pub async fn revoke_session(
        &self,
        access_token: &str,
        session_id: &str,
    ) -> Result<(), AuthApiError> {
        let path = format!("/sessions/{}", urlencode(session_id));
        self.send(Call::new(Method::DELETE, &path).bearer(access_token))
            .await
            .map(drop)
    }

    /// Deletes the signed-in user's account (`user_id`, whose `access_token` this is): through
    /// the admin API when a service-role key is configured (GoTrue has no `DELETE /user`), else
    /// with the embedded service's own `DELETE /user`.
    pub async fn delete_user(&self, access_token: &str, user_id: &str) -> Result<(), AuthApiError> {
        match &self.service_role_key {
            Some(key) => {
                let path = format!("/admin/users/{}", urlencode(user_id));
                self.send(Call::new(Method::DELETE, &path).bearer(key))
                    .await
                    .map(drop)
            }
            None => self
                .send(Call::new(Method::DELETE, "/user").bearer(access_token))
                .await
                .map(drop),
        }
    }

    /// Starts a TOTP enrolment (`POST /factors`): the factor's id and its `totp` object (QR code
    /// as SVG, secret, `otpauth://` URI), which the service shows this once.
    pub async fn enroll_totp(
        &self,
        access_token: &str,
        friendly_name: &str,
    ) -> Result<Value, AuthApiError> {
        let body = json!({ "factor_type": "totp", "friendly_name": friendly_name });
        Ok(self
            .send(
                Call::new(Method::POST, "/factors")
                    .bearer(access_token)
                    .json(body),
            )
            .await?
            .unwrap_or_default())
    }

    /// Challenges a factor and answers the challenge with `code`, both from `client` (the
    /// service binds a challenge to its address): the session's new tokens, at `aal2`.
    pub async fn verify_totp(
        &self,
        client: &ClientIdentity,
        access_token: &str,
        factor_id: &str,
        code: &str,
    ) -> Result<SessionTokens, AuthApiError> {
        let factor = urlencode(factor_id);
        let challenge_path = format!("/factors/{factor}/challenge");
        let challenge = self
            .send(
                Call::new(Method::POST, &challenge_path)
                    .bearer(access_token)
                    .json(json!({}))
                    .for_client(client),
            )
            .await?
            .unwrap_or_default();
        let verify_path = format!("/factors/{factor}/verify");
        self.session(
            Call::new(Method::POST, &verify_path)
                .bearer(access_token)
                .json(json!({ "challenge_id": challenge["id"], "code": code }))
                .for_client(client),
        )
        .await
    }

    /// Removes a factor (`DELETE /factors/{id}`).
    pub async fn unenroll(&self, access_token: &str, factor_id: &str) -> Result<(), AuthApiError> {
        let path = format!("/factors/{}", urlencode(factor_id));
        self.send(Call::new(Method::DELETE, &path).bearer(access_token))
            .await
            .map(drop)
    }

    /// The URL that starts an OAuth sign-in with PKCE, where the browser reaches the service.
    pub fn authorize_url(&self, provider: &str, redirect_to: &str, code_challenge: &str) -> String {
        let mut url = Url::parse(&format!(
            "{}/authorize",
            self.public_base.as_str().trim_end_matches('/')
        ))
        .expect("the base is a URL");
        url.query_pairs_mut()
            .append_pair("provider", provider)
            .append_pair("redirect_to", redirect_to)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "s256");
        url.into()
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
