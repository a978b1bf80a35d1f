//! The enabled providers: their endpoints (OIDC discovery, fixed for GitHub and Facebook), the
//! HTTP client that talks to them, and the authorization-code exchange.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use axum::http::{header, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{facebook::facebook_user, github::github_user, nonce_for, oidc};
use crate::auth_service::{
    config::{ProviderConfig, ProviderKind},
    error::{AuthError, AuthResult},
    AuthState,
};

/// The enabled providers and what was learnt about them.
pub struct Providers {
    list: Vec<ProviderConfig>,
    pub(super) http: reqwest::Client,
    discovered: Mutex<HashMap<&'static str, OidcMetadata>>,
    /// The OIDC providers' id-token keys.
    pub(super) keys: oidc::ProviderKeys,
}

#[derive(Clone, Deserialize)]
struct OidcMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// Endpoints of one provider for one login.
pub(super) struct Endpoints {
    pub authorize: String,
    pub token: String,
    /// OIDC: where the id token's keys are, and the issuer it must name.
    pub oidc: Option<(String, String)>,
}

/// Who the provider says the user is.
pub(super) struct ProviderUser {
    pub id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub data: Value,
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
            keys: oidc::ProviderKeys::default(),
        })
    }

    pub(super) fn get(&self, name: &str) -> Option<&ProviderConfig> {
        self.list.iter().find(|provider| provider.name == name)
    }

    pub(super) async fn endpoints(&self, provider: &ProviderConfig) -> AuthResult<Endpoints> {
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

    pub(super) async fn get_json(&self, url: &str, bearer: Option<&str>) -> AuthResult<Value> {
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

pub(super) fn provider_error(detail: impl std::fmt::Display) -> AuthError {
    tracing::warn!(%detail, "OAuth provider error");
    AuthError::new(
        StatusCode::BAD_GATEWAY,
        "bad_oauth_callback",
        "The sign-in provider could not be reached or gave an unusable answer",
    )
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    id_token: Option<String>,
}

pub(super) async fn fetch_provider_user(
    state: &AuthState,
    provider: &ProviderConfig,
    code: &str,
    verifier: &str,
) -> AuthResult<ProviderUser> {
    let providers = &state.providers;
    let endpoints = providers.endpoints(provider).await?;
    let redirect_uri = super::callback_url(state);
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
            oidc::verify_id_token(
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
