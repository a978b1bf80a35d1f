//! Server-side helpers of the auth pages' server functions.

use std::{sync::Arc, time::Duration};

use axum::http::{header, HeaderValue};
use leptos::prelude::*;

use super::{
    client::AuthApiError,
    session::{AuthUser, SessionManager, SessionState},
};
use crate::{
    contract::{pkce, ClientIdentity, Email},
    error::AppError,
    local_path::local_path,
};

/// The public URL of the site (for redirect targets handed to the auth service).
#[derive(Clone, Debug)]
pub struct SiteUrl(pub url::Url);

/// The shortest password the auth service accepts: the embedded service's
/// `FERROCHAT_PASSWORD_MIN_LENGTH`. None with a remote project, whose rule the app cannot read:
/// there the project's own refusal is what the person reads.
#[derive(Clone, Copy, Debug)]
pub struct PasswordMinLength(pub Option<usize>);

/// This server's [`PasswordMinLength`], for the forms' `minlength` and their own check.
pub fn password_min_length() -> Option<usize> {
    use_context::<PasswordMinLength>().and_then(|rule| rule.0)
}

/// How long after signing in a person may change their password without giving the current one:
/// the embedded service's `reauth_after`. None with a remote project, whose rule the app cannot
/// read (GoTrue asks for nothing by default).
#[derive(Clone, Copy, Debug)]
pub struct ReauthWindow(pub Option<Duration>);

impl ReauthWindow {
    /// Whether the auth service will want `user`'s current password for a password change at
    /// `now`: their sign-in (the newest `amr` timestamp of the access token) is older than the
    /// window. A token without `amr` counts as old.
    pub fn needs_current_password(self, user: &AuthUser, now: i64) -> bool {
        let Some(window) = self.0 else {
            return false;
        };
        // A second factor given later does not make the sign-in younger: the service counts
        // from the sign-in.
        let signed_in_at = user
            .claims
            .amr
            .iter()
            .filter(|method| method.method != "totp")
            .map(|method| method.timestamp)
            .max();
        signed_in_at.is_none_or(|at| now - at > window.as_secs() as i64)
    }
}

pub fn sessions() -> Result<Arc<SessionManager>, AppError> {
    use_context::<Arc<SessionManager>>().ok_or(AppError::Internal)
}

/// The browser this server function runs for, to name to the auth service.
pub async fn client_identity() -> ClientIdentity {
    request_extension()
}

/// The request's session, as the session middleware resolved it.
pub async fn session_state() -> SessionState {
    request_extension()
}

/// A value the middleware put in the request's extensions, read where the request's parts are
/// kept: `leptos_axum::extract` would clone the parts whole (every header and extension, a
/// kilobyte of session cookie among them) to read one.
fn request_extension<T: Clone + Default + Send + Sync + 'static>() -> T {
    with_context::<axum::http::request::Parts, _>(|parts| parts.extensions.get::<T>().cloned())
        .flatten()
        .unwrap_or_default()
}

/// The signed-in user; a refusal if there is none, "try again" if it cannot be checked now.
pub async fn signed_in_user() -> Result<AuthUser, AppError> {
    match session_state().await {
        SessionState::SignedIn(user) => Ok(user),
        SessionState::SecondFactorDue(_) => Err(AppError::SecondFactorRequired),
        SessionState::Unknown => Err(AppError::Unavailable),
        SessionState::SignedOut => Err(AppError::Unauthorized),
    }
}

/// The user of a session that owes its second factor, for the "enter your code" page alone.
pub async fn user_owing_second_factor() -> Result<AuthUser, AppError> {
    match session_state().await {
        SessionState::SecondFactorDue(user) => Ok(user),
        SessionState::Unknown => Err(AppError::Unavailable),
        SessionState::SignedIn(_) | SessionState::SignedOut => Err(AppError::Unauthorized),
    }
}

/// Adds `Set-Cookie` headers to the server function's response.
pub fn set_cookies(cookies: Vec<String>) {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.append_header(header::SET_COOKIE, value);
        }
    }
}

/// Where to go after signing in: `next` if it is a path on this site, else the chats.
pub fn next_path(next: &str) -> String {
    local_path(next).unwrap_or("/chat").to_owned()
}

/// `<site>/auth/callback?next=…`, where the auth service sends the browser back with a code.
pub fn callback_url(next: &str) -> String {
    let site = use_context::<SiteUrl>()
        .map(|site| site.0)
        .expect("SiteUrl is provided");
    let mut url = site.join("/auth/callback").expect("a path joins");
    url.query_pairs_mut().append_pair("next", next);
    url.into()
}

/// A new PKCE pair: the S256 challenge, and the cookie that keeps the verifier (10 minutes for
/// an OAuth dance, an hour for an emailed link).
pub fn pkce(sessions: &SessionManager, oauth: bool) -> (String, String) {
    let verifier = pkce::new_verifier();
    let challenge = pkce::challenge(&verifier);
    let lifetime = if oauth { 600 } else { 3600 };
    (challenge, sessions.jar.store_verifier(&verifier, lifetime))
}

/// The seed's email rule, with its message.
pub fn valid_email(email: &str) -> Result<String, AppError> {
    // The auth service's own rule, so the form never accepts what the service would refuse.
    Email::parse(email)
        .map(|email| email.as_str().to_owned())
        .map_err(|_| AppError::Refused("Please enter a valid email address.".into()))
}

/// The seed's password rules, with its messages, at the length the auth service asks for
/// (`PasswordMinLength`; a remote project's rule is its own, and its refusal says what it wants).
pub fn valid_new_password(password: &str, confirm: &str) -> Result<(), AppError> {
    new_password_rules(password, confirm, password_min_length())
}

fn new_password_rules(password: &str, confirm: &str, min: Option<usize>) -> Result<(), AppError> {
    if let Some(min) = min.filter(|&min| password.chars().count() < min) {
        return Err(AppError::Refused(format!(
            "Password must be at least {min} characters."
        )));
    }
    if password != confirm {
        return Err(AppError::Refused("Passwords do not match.".into()));
    }
    Ok(())
}

/// What to tell a person about a refusal of the auth service. Sign-in failures never say
/// whether the address has an account.
pub fn user_message(error: AuthApiError) -> AppError {
    // Busy, down or failing: nothing the person did; they may try again.
    if matches!(error, AuthApiError::Api { status, .. } if status >= 500) {
        return AppError::Unavailable;
    }
    let message = match error.code() {
        "invalid_credentials" => "Invalid email or password.",
        "email_not_confirmed" => "Please confirm your email address first: check your inbox.",
        "user_already_exists" | "email_exists" => {
            "An account with this email address already exists."
        }
        "over_request_rate_limit" | "over_email_send_rate_limit" => {
            "Too many attempts. Please wait a few minutes and try again."
        }
        "same_password" => "The new password must differ from the current one.",
        "current_password_required" => {
            "Please enter your current password (reload the page if the form does not ask for it)."
        }
        "current_password_invalid" => "Your current password is not correct.",
        "reauthentication_needed" => {
            "For your security, please sign in again, then change your password right away."
        }
        "reauthentication_not_valid" => {
            "That verification code is invalid or has expired. Please request a new one."
        }
        "signup_disabled" => "New sign-ups are closed.",
        "anonymous_provider_disabled" => {
            "Trying the chat without an account is switched off here. Please create an account."
        }
        "mfa_verification_failed" => {
            "That code is not right, or was already used. Enter the current code from your \
             authenticator app."
        }
        "mfa_challenge_expired" | "mfa_ip_address_mismatch" => {
            "That took too long. Please enter the current code again."
        }
        "mfa_factor_not_found" => "That authenticator is no longer set up. Please reload the page.",
        "insufficient_aal" => "Enter the code from your authenticator app first.",
        // Not the person's doing: the service is out of reach or all its password slots are
        // taken. Nothing was lost; trying again shortly works.
        "unreachable" => return AppError::Unavailable,
        "session_not_found" | "bad_jwt" | "no_authorization" => return AppError::Unauthorized,
        _ => match &error {
            AuthApiError::Api { msg, .. } => return AppError::Refused(msg.clone()),
            AuthApiError::Unreachable => return AppError::Unavailable,
        },
    };
    AppError::Refused(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_be_a_path_on_this_site() {
        assert_eq!(next_path("/chat/42"), "/chat/42");
        for foreign in [
            "",
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
        ] {
            assert_eq!(next_path(foreign), "/chat", "{foreign}");
        }
    }

    #[test]
    fn the_seed_rules_speak_plainly() {
        assert!(valid_email("ada@example.com").is_ok());
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
        ] {
            assert_eq!(
                valid_email(bad),
                Err(AppError::Refused(
                    "Please enter a valid email address.".into()
                ))
            );
        }
        assert_eq!(
            new_password_rules("1234567", "1234567", Some(8)),
            Err(AppError::Refused(
                "Password must be at least 8 characters.".into()
            ))
        );
        assert!(new_password_rules("123456", "123456", Some(6)).is_ok());
        // A remote project judges the length itself.
        assert!(new_password_rules("1", "1", None).is_ok());
        assert_eq!(
            new_password_rules("12345678", "12345679", Some(8)),
            Err(AppError::Refused("Passwords do not match.".into()))
        );
        assert!(new_password_rules("12345678", "12345678", Some(8)).is_ok());
    }

    fn user_signed_in_at(amr: &[i64]) -> AuthUser {
        let claims = serde_json::json!({
            "iss": "https://chat.example.com/auth/v1", "sub": "u", "aud": "authenticated",
            "exp": 0, "iat": 0, "role": "authenticated",
            "amr": amr.iter().map(|t| serde_json::json!({ "method": "password", "timestamp": t }))
                .collect::<Vec<_>>(),
        });
        AuthUser {
            claims: std::sync::Arc::new(serde_json::from_value(claims).unwrap()),
            access_token: "".into(),
        }
    }

    #[test]
    fn the_current_password_is_asked_for_once_the_sign_in_is_older_than_the_window() {
        let window = ReauthWindow(Some(Duration::from_secs(600)));
        assert!(!window.needs_current_password(&user_signed_in_at(&[1000]), 1600));
        assert!(window.needs_current_password(&user_signed_in_at(&[1000]), 1601));
        // The newest authentication counts.
        assert!(!window.needs_current_password(&user_signed_in_at(&[0, 1000]), 1600));
        assert!(window.needs_current_password(&user_signed_in_at(&[]), 1));
        assert!(!ReauthWindow(None).needs_current_password(&user_signed_in_at(&[]), 1));
    }

    #[test]
    fn a_second_factor_given_later_does_not_make_the_sign_in_younger() {
        let window = ReauthWindow(Some(Duration::from_secs(600)));
        let mut user = user_signed_in_at(&[1000]);
        std::sync::Arc::make_mut(&mut user.claims).amr.insert(
            0,
            crate::contract::claims::AuthMethod {
                method: "totp".into(),
                timestamp: 1500,
            },
        );
        assert!(window.needs_current_password(&user, 1601));
    }

    #[test]
    fn a_busy_service_asks_to_try_again() {
        let error = AuthApiError::Api {
            status: 503,
            code: "service_busy".into(),
            msg: "The server is busy, please try again in a moment.".into(),
        };
        let shown = user_message(error);
        assert_eq!(shown, AppError::Unavailable);
        assert!(shown.to_string().contains("busy"), "{shown}");
    }

    #[test]
    fn wrong_password_and_unknown_email_read_the_same() {
        let error = AuthApiError::Api {
            status: 400,
            code: "invalid_credentials".into(),
            msg: "Invalid login credentials".into(),
        };
        assert_eq!(
            user_message(error),
            AppError::Refused("Invalid email or password.".into())
        );
    }
}
