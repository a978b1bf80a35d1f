//! Extractors for the auth API: JSON bodies with GoTrue errors, the client's IP, the bearer.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{rejection::JsonRejection, ConnectInfo, FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, StatusCode},
};
use serde::de::DeserializeOwned;

use super::{
    error::{AuthError, AuthResult},
    sessions::{self, ClientInfo},
    users::{self, User},
    AuthState,
};
use crate::auth::claims::AccessClaims;

/// `?redirect_to=`, where an emailed link or an OAuth flow should end (validated on use).
#[derive(serde::Deserialize)]
pub struct RedirectQuery {
    pub redirect_to: Option<String>,
}

/// A JSON body; anything unreadable is a GoTrue `bad_json` (400) or `validation_failed`.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = AuthError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AuthError::new(
                StatusCode::BAD_REQUEST,
                "bad_json",
                "Could not parse request body as JSON: expected Content-Type: application/json",
            )),
            Err(JsonRejection::JsonDataError(error)) => Err(AuthError::new(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                format!("Invalid request body: {}", error.body_text()),
            )),
            Err(JsonRejection::BytesRejection(_)) => Err(AuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                "Request body is too large",
            )),
            Err(error) => Err(AuthError::new(
                StatusCode::BAD_REQUEST,
                "bad_json",
                format!(
                    "Could not parse request body as JSON: {}",
                    error.body_text()
                ),
            )),
        }
    }
}

/// The client's IP: the TCP peer, or, when the peer is a trusted proxy, the last address in
/// `X-Forwarded-For` that is not itself a trusted proxy. An untrusted peer's `X-Forwarded-For`
/// is ignored, so spoofing it buys no extra attempts.
pub fn client_ip(parts: &Parts, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())?;
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| item.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted_proxies.contains(ip))
            .unwrap_or(peer),
    )
}

/// The client's IP and user agent, as recorded on its sessions.
pub struct Client {
    pub ip: Option<IpAddr>,
    pub info: ClientInfo,
}

impl FromRequestParts<AuthState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AuthState,
    ) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts, &state.config.trusted_proxies);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.chars().take(512).collect());
        Ok(Client {
            ip,
            info: ClientInfo {
                user_agent,
                ip: ip.map(|ip| ip.to_string()),
            },
        })
    }
}

impl Client {
    /// The rate-limit key of this client.
    pub fn key(&self) -> String {
        self.ip.map(|ip| ip.to_string()).unwrap_or_default()
    }
}

/// A request with a valid access token whose session still exists.
pub struct Authenticated {
    pub claims: AccessClaims,
    pub user: User,
}

impl FromRequestParts<AuthState> for Authenticated {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AuthState) -> AuthResult<Self> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(AuthError::no_authorization)?;
        let claims = state.keys.verify(token)?;
        if sessions::find(&state.pool, &claims.session_id)
            .await?
            .is_none()
        {
            return Err(AuthError::session_not_found());
        }
        let user = users::find_by_id(&state.pool, &claims.sub)
            .await?
            .ok_or_else(|| {
                AuthError::new(
                    StatusCode::FORBIDDEN,
                    "user_not_found",
                    "User from sub claim in JWT does not exist",
                )
            })?;
        Ok(Authenticated { claims, user })
    }
}
