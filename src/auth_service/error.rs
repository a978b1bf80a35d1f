//! GoTrue's error responses: `{"code": <status>, "error_code": "...", "msg": "..."}`.
//!
//! The codes and messages are the ones supabase/auth sends, so that auth-js maps them to the same
//! error classes (`AuthWeakPasswordError`, `AuthSessionMissingError`, `AuthApiError`, ...).

use std::borrow::Cow;

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

/// An error of the auth API, ready to be sent.
#[derive(Debug)]
pub struct AuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub msg: Cow<'static, str>,
    weak_password_reasons: &'static [&'static str],
    retry_after_secs: Option<u64>,
}

pub type AuthResult<T> = Result<T, AuthError>;

impl AuthError {
    pub fn new(status: StatusCode, code: &'static str, msg: impl Into<Cow<'static, str>>) -> Self {
        AuthError {
            status,
            code,
            msg: msg.into(),
            weak_password_reasons: &[],
            retry_after_secs: None,
        }
    }

    /// 400 `validation_failed`: a field is missing or malformed.
    pub fn validation(msg: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation_failed", msg)
    }

    /// 400 `invalid_credentials`, the same for an unknown email and a wrong password.
    pub fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_credentials",
            "Invalid login credentials",
        )
    }

    /// 422 `weak_password` with the reasons auth-js exposes on `AuthWeakPasswordError`.
    pub fn weak_password(
        msg: impl Into<Cow<'static, str>>,
        reasons: &'static [&'static str],
    ) -> Self {
        AuthError {
            weak_password_reasons: reasons,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "weak_password", msg)
        }
    }

    /// 429 `over_request_rate_limit` with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        AuthError {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "over_request_rate_limit",
                "Request rate limit reached",
            )
        }
    }

    /// 503 `service_busy` with `Retry-After: 1`: every password hashing slot stayed taken for
    /// as long as a request may wait. Not the client's fault, hence not a 429.
    pub fn service_busy() -> Self {
        AuthError {
            retry_after_secs: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_busy",
                "The server is busy, please try again in a moment.",
            )
        }
    }

    /// 401 `no_authorization`: the endpoint needs a bearer token.
    pub fn no_authorization() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "no_authorization",
            "This endpoint requires a valid Bearer token",
        )
    }

    /// 403 `bad_jwt`: the bearer token is not one of ours or has expired.
    pub fn bad_jwt(reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "bad_jwt",
            format!("invalid JWT: unable to parse or verify signature, {reason}"),
        )
    }

    /// 403 `session_not_found`: the token's session was signed out.
    pub fn session_not_found() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "session_not_found",
            "Session from session_id claim in JWT does not exist",
        )
    }

    /// 500 with the cause logged and kept from the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "auth service failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_failure",
            "Unexpected failure, please check server logs for more information",
        )
    }
}

impl From<crate::contract::email::InvalidEmail> for AuthError {
    fn from(error: crate::contract::email::InvalidEmail) -> Self {
        AuthError::new(
            StatusCode::BAD_REQUEST,
            "email_address_invalid",
            error.to_string(),
        )
    }
}

impl From<sqlx::Error> for AuthError {
    fn from(error: sqlx::Error) -> Self {
        AuthError::internal(error)
    }
}

/// The API version auth-js asks for; from it on, errors are `{"code": "<error_code>", "message"}`.
pub const API_VERSION_2024: &str = "2024-01-01";
pub const API_VERSION_HEADER: &str = "x-supabase-api-version";

tokio::task_local! {
    /// Whether the request being answered asked for the 2024-01-01 API (set by [`api_version`]).
    static API_2024: bool;
}

/// Middleware: notes the requested API version for the error responses, and echoes it, as
/// GoTrue does (auth-js reads `code` as the error code only when the response carries it).
pub async fn api_version(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let requested = request
        .headers()
        .get(API_VERSION_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|version| version >= API_VERSION_2024);
    let mut response = API_2024.scope(requested, next.run(request)).await;
    if requested {
        response.headers_mut().insert(
            API_VERSION_HEADER,
            HeaderValue::from_static(API_VERSION_2024),
        );
    }
    response
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut body = if API_2024.try_with(|v| *v).unwrap_or(false) {
            json!({ "code": self.code, "message": self.msg })
        } else {
            json!({ "code": self.status.as_u16(), "error_code": self.code, "msg": self.msg })
        };
        if !self.weak_password_reasons.is_empty() {
            body["weak_password"] =
                json!({ "message": self.msg, "reasons": self.weak_password_reasons });
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
