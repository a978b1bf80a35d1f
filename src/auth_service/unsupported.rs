//! GoTrue's answers for the features this service does not offer (SAML SSO, phone, Web3, manual
//! identity linking, passkeys, the OAuth server), and a JSON 404 for any other path: Supabase's
//! clients parse every error body, and an empty 404 reaches their users as "Unexpected end of
//! JSON input" instead of an error they can handle.

use axum::{http::StatusCode, routing::any, Router};

use super::{error::AuthError, AuthState};

/// The paths of GoTrue features that are switched off here, each answered as GoTrue answers when
/// the feature is disabled in its configuration.
pub fn routes() -> Router<AuthState> {
    Router::new()
        .route("/sso", any(saml_disabled))
        .route("/sso/{*rest}", any(saml_disabled))
        .route("/user/identities/authorize", any(manual_linking_disabled))
        .route("/user/identities/{id}", any(manual_linking_disabled))
        .route("/passkeys", any(passkeys_disabled))
        .route("/passkeys/{*rest}", any(passkeys_disabled))
        .route("/oauth/{*rest}", any(oauth_server_disabled))
        .route("/user/oauth/grants", any(oauth_server_disabled))
        .route(
            "/.well-known/oauth-authorization-server",
            any(oauth_server_disabled),
        )
}

/// The answer for a path GoTrue does not have either: 404 in GoTrue's error shape.
pub async fn not_found() -> AuthError {
    AuthError::new(StatusCode::NOT_FOUND, "not_found", "Not found")
}

/// The answer for a known path asked with a method it does not take.
pub async fn method_not_allowed() -> AuthError {
    AuthError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
    )
}

/// 404 `saml_provider_disabled`, GoTrue's answer while SAML is off.
pub async fn saml_disabled() -> AuthError {
    AuthError::new(
        StatusCode::NOT_FOUND,
        "saml_provider_disabled",
        "SAML 2.0 is disabled",
    )
}

async fn manual_linking_disabled() -> AuthError {
    AuthError::new(
        StatusCode::NOT_FOUND,
        "manual_linking_disabled",
        "Manual linking is disabled",
    )
}

/// 404 `passkey_disabled`.
pub async fn passkeys_disabled() -> AuthError {
    AuthError::new(
        StatusCode::NOT_FOUND,
        "passkey_disabled",
        "Passkeys are disabled",
    )
}

/// 404 `feature_disabled` for GoTrue's own OAuth 2.1 server.
pub async fn oauth_server_disabled() -> AuthError {
    feature_disabled("OAuth server is disabled")
}

/// 404 `feature_disabled` with GoTrue's message for the feature.
pub fn feature_disabled(msg: &'static str) -> AuthError {
    AuthError::new(StatusCode::NOT_FOUND, "feature_disabled", msg)
}

/// `phone_provider_disabled` (GoTrue: 400 on sign-up and `/otp`, 422 on the password grant).
pub fn phone_disabled(status: StatusCode, msg: &'static str) -> AuthError {
    AuthError::new(status, "phone_provider_disabled", msg)
}

/// 422 `web3_provider_disabled` for `grant_type=web3` (Sign in with Solana or Ethereum).
pub fn web3_disabled() -> AuthError {
    AuthError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "web3_provider_disabled",
        "Web3 provider is disabled",
    )
}
