//! One client for the Supabase Auth API, used for the embedded service and for a remote
//! Supabase project alike: typed requests and responses, GoTrue errors mapped to one type.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

/// A session as GoTrue returns it and as the cookies store it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub access_token: String,
    #[serde(default = "bearer")]
    pub token_type: String,
    pub expires_in: i64,
    pub expires_at: i64,
    pub refresh_token: String,
    #[serde(default)]
    pub user: Value,
}

fn bearer() -> String {
    "bearer".into()
}

/// A failed call: GoTrue's error, or the service being unreachable.
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
}

/// What sign-up led to.
pub enum SignUp {
    /// Signed in at once (autoconfirm).
    Session(Session),
    /// A confirmation link was sent.
    ConfirmationSent,
}

/// A client of one auth service.
#[derive(Clone, Debug)]
pub struct AuthClient {
    base: Url,
    apikey: Option<String>,
    http: reqwest::Client,
}

impl AuthClient {
    /// `base` is the API root, e.g. `https://<ref>.supabase.co/auth/v1`.
    pub fn new(base: Url, apikey: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .expect("a reqwest client builds");
        AuthClient { base, apikey, http }
    }

    /// The API root.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Result<Option<Value>, AuthApiError> {
        let mut request = self.http.request(method, self.url(path));
        if let Some(apikey) = &self.apikey {
            request = request.header("apikey", apikey);
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|error| {
            tracing::warn!(error = %error.without_url(), "auth service request failed");
            AuthApiError::Unreachable
        })?;
        let status = response.status();
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(Some(body));
        }
        if status.is_server_error() {
            tracing::warn!(%status, "auth service error");
            return Err(AuthApiError::Unreachable);
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

    async fn session(&self, path: &str, body: Value) -> Result<Session, AuthApiError> {
        let value = self.call(Method::POST, path, None, Some(body)).await?;
        serde_json::from_value(value.unwrap_or_default()).map_err(|_| AuthApiError::Unreachable)
    }

    pub async fn sign_in_with_password(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Session, AuthApiError> {
        self.session(
            "/token?grant_type=password",
            json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Signs up; if the service sends a confirmation link instead of a session, the link comes
    /// back to `redirect_to` with a PKCE code for `code_challenge`.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        redirect_to: &str,
        code_challenge: &str,
    ) -> Result<SignUp, AuthApiError> {
        let path = format!("/signup?redirect_to={}", urlencode(redirect_to));
        let body = json!({
            "email": email,
            "password": password,
            "code_challenge": code_challenge,
            "code_challenge_method": "s256",
        });
        let value = self
            .call(Method::POST, &path, None, Some(body))
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

    pub async fn refresh(&self, refresh_token: &str) -> Result<Session, AuthApiError> {
        self.session(
            "/token?grant_type=refresh_token",
            json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    pub async fn exchange_code(&self, code: &str, verifier: &str) -> Result<Session, AuthApiError> {
        self.session(
            "/token?grant_type=pkce",
            json!({ "auth_code": code, "code_verifier": verifier }),
        )
        .await
    }

    /// Redeems an emailed link's token (`type` signup, recovery, magiclink, email_change).
    pub async fn verify(&self, kind: &str, token: &str) -> Result<Session, AuthApiError> {
        self.session("/verify", json!({ "type": kind, "token_hash": token }))
            .await
    }

    /// Sends a recovery link that comes back to `redirect_to` with a PKCE code.
    pub async fn recover(
        &self,
        email: &str,
        redirect_to: &str,
        code_challenge: &str,
    ) -> Result<(), AuthApiError> {
        let path = format!("/recover?redirect_to={}", urlencode(redirect_to));
        let body = json!({ "email": email, "code_challenge": code_challenge, "code_challenge_method": "s256" });
        self.call(Method::POST, &path, None, Some(body))
            .await
            .map(drop)
    }

    /// `scope`: global, local or others.
    pub async fn sign_out(&self, access_token: &str, scope: &str) -> Result<(), AuthApiError> {
        self.call(
            Method::POST,
            &format!("/logout?scope={scope}"),
            Some(access_token),
            None,
        )
        .await
        .map(drop)
    }

    pub async fn get_user(&self, access_token: &str) -> Result<Value, AuthApiError> {
        Ok(self
            .call(Method::GET, "/user", Some(access_token), None)
            .await?
            .unwrap_or_default())
    }

    pub async fn update_user(
        &self,
        access_token: &str,
        changes: Value,
    ) -> Result<Value, AuthApiError> {
        Ok(self
            .call(Method::PUT, "/user", Some(access_token), Some(changes))
            .await?
            .unwrap_or_default())
    }

    /// The providers switched on, from `/settings`.
    pub async fn enabled_providers(&self) -> Result<Vec<String>, AuthApiError> {
        let settings = self
            .call(Method::GET, "/settings", None, None)
            .await?
            .unwrap_or_default();
        let mut enabled: Vec<String> = settings["external"]
            .as_object()
            .map(|external| {
                external
                    .iter()
                    .filter(|(name, on)| {
                        on.as_bool() == Some(true) && !matches!(name.as_str(), "email" | "phone")
                    })
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default();
        enabled.sort();
        Ok(enabled)
    }

    /// The user's sessions (embedded service only).
    pub async fn sessions(&self, access_token: &str) -> Result<Vec<Value>, AuthApiError> {
        let value = self
            .call(Method::GET, "/sessions", Some(access_token), None)
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
        self.call(
            Method::DELETE,
            &format!("/sessions/{}", urlencode(session_id)),
            Some(access_token),
            None,
        )
        .await
        .map(drop)
    }

    /// Deletes the signed-in user's account (embedded service only).
    pub async fn delete_user(&self, access_token: &str) -> Result<(), AuthApiError> {
        self.call(Method::DELETE, "/user", Some(access_token), None)
            .await
            .map(drop)
    }

    /// The URL that starts an OAuth sign-in with PKCE.
    pub fn authorize_url(&self, provider: &str, redirect_to: &str, code_challenge: &str) -> String {
        let mut url = Url::parse(&self.url("/authorize")).expect("the base is a URL");
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
