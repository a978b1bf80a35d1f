//! The app's error type: what server functions return and pages show.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// An error a person can read; internals are logged on the server, never sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    /// The request needs a signed-in user.
    #[error("Please sign in to continue.")]
    Unauthorized,
    /// The user has a second factor and this session has not given it yet.
    #[error("Enter the code from your authenticator app to continue.")]
    SecondFactorRequired,
    /// What was asked for does not exist for this user (whether it exists for another is not
    /// said).
    #[error("There is no such chat. It may have been deleted.")]
    NotFound,
    /// The input or the request was refused, with the reason to show.
    #[error("{0}")]
    Refused(String),
    /// A service we depend on is briefly out of reach (or busy); nothing was lost.
    #[error(
        "Something we rely on is busy or out of reach just now. Please try again in a moment."
    )]
    Unavailable,
    /// Something failed on our side.
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The call itself failed (network, encoding).
    #[error("Could not reach the server: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(error: ServerFnErrorErr) -> Self {
        // On the server these mean the request could not be decoded: the client's mistake (a
        // 400 with plain words), not ours, and the decoder's detail is not for the client.
        #[cfg(feature = "ssr")]
        if matches!(
            error,
            ServerFnErrorErr::Args(_)
                | ServerFnErrorErr::MissingArg(_)
                | ServerFnErrorErr::Deserialization(_)
                | ServerFnErrorErr::UnsupportedRequestMethod(_)
        ) {
            tracing::debug!(%error, "a server function request could not be decoded");
            return AppError::Refused(
                "This request could not be read. Please reload the page and try again.".into(),
            );
        }
        AppError::Transport(error.to_string())
    }
}

/// For axum handlers that take an `AuthUser`: a refusal with its status.
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::StatusCode;
        let status = match self {
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::SecondFactorRequired => StatusCode::FORBIDDEN,
            AppError::Refused(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal | AppError::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, self.to_string()).into_response()
    }
}

/// Middleware: server functions answer every error with 500; give refusals their real status
/// (400 for a refused input, 401 for a missing session, 503 for a dependency out of reach), so that only our own failures count as
/// server errors in logs and monitoring. The body, which the client decodes, is unchanged.
#[cfg(feature = "ssr")]
pub async fn server_fn_status(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::{body::Body, http::StatusCode};
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return axum::response::Response::from_parts(parts, Body::empty());
    };
    parts.status = match serde_json::from_slice::<AppError>(&bytes) {
        Ok(AppError::Refused(_)) => StatusCode::BAD_REQUEST,
        Ok(AppError::Unauthorized) => StatusCode::UNAUTHORIZED,
        Ok(AppError::SecondFactorRequired) => StatusCode::FORBIDDEN,
        Ok(AppError::NotFound) => StatusCode::NOT_FOUND,
        Ok(AppError::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    axum::response::Response::from_parts(parts, Body::from(bytes))
}
