//! Extractors for the auth API: JSON bodies with GoTrue errors, the client, the bearer.

use std::net::SocketAddr;

use axum::{
    extract::{rejection::JsonRejection, ConnectInfo, FromRequest, FromRequestParts, Request},
    http::{request::Parts, StatusCode},
};
use serde::de::DeserializeOwned;

use super::{
    error::{AuthError, AuthResult},
    sessions,
    users::{self, User},
    AuthState,
};
use crate::contract::{claims::AccessClaims, client::bearer_token, ClientIdentity};

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

/// The client of a request to the service: the TCP peer, or the client a trusted proxy names.
/// When the app calls the service in-process on a browser's behalf, the peer it sets is the
/// browser's own address, already resolved.
pub struct Client(pub ClientIdentity);

impl std::ops::Deref for Client {
    type Target = ClientIdentity;
    fn deref(&self) -> &ClientIdentity {
        &self.0
    }
}

impl FromRequestParts<AuthState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AuthState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(Client(ClientIdentity::resolve(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

/// A request with a valid access token whose session still exists and has not expired.
pub struct Authenticated {
    pub claims: AccessClaims,
    pub user: User,
    /// The token's session, for when its sign-in happened.
    pub session: sessions::SessionRecord,
}

impl FromRequestParts<AuthState> for Authenticated {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AuthState) -> AuthResult<Self> {
        let token = bearer_token(&parts.headers).ok_or_else(AuthError::no_authorization)?;
        let claims = state.keys.verify(token).await?;
        // A session past its timebox or inactivity timeout is ended here too, so its access
        // token stops working before it expires.
        let session = sessions::find_live(state, &claims.session_id)
            .await?
            .ok_or_else(AuthError::session_not_found)?;
        let user = users::find_by_id(&state.pool, &claims.sub)
            .await?
            .ok_or_else(|| {
                AuthError::new(
                    StatusCode::FORBIDDEN,
                    "user_not_found",
                    "User from sub claim in JWT does not exist",
                )
            })?;
        Ok(Authenticated {
            claims,
            user,
            session,
        })
    }
}
