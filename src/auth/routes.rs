//! Plain HTTP routes of the app's auth: the OAuth/email-link callback, and the guard that keeps
//! signed-out people out of private pages (and signed-in people off the sign-in pages).

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue, Method, Request},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    actions::next_path,
    session::{SessionManager, SessionState},
    SignInError,
};
use crate::contract::{
    cookies::{cookie_header, cookie_value},
    ClientIdentity,
};

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    next: Option<String>,
    error: Option<String>,
    error_code: Option<String>,
    /// Set by the embedded service when a link without PKCE proved the address but (the
    /// implicit flow being off) brought no session.
    verified: Option<String>,
}

/// `GET /auth/callback?code=…&next=…`: exchanges the code with the verifier kept in the PKCE
/// cookie, stores the session in cookies and goes on to `next` (a path on this site only).
/// `?verified=…` without a code: an emailed link proved the address but brought no session, so
/// the person is asked to sign in.
pub async fn callback(
    State(sessions): State<Arc<SessionManager>>,
    Query(query): Query<CallbackQuery>,
    client: ClientIdentity,
    headers: HeaderMap,
) -> Response {
    let jar = &sessions.jar;
    // The login page shows its own words for these codes (`SignInError`), never text from the
    // URL, which anyone can write.
    let fail = |error: SignInError| {
        with_cookies(
            Redirect::to(&format!("/login?error={}", error.code())).into_response(),
            [jar.clear_verifier()],
        )
    };
    if query.error.is_some() {
        tracing::info!(code = ?query.error_code, "sign-in came back with an error");
        return fail(match query.error_code.as_deref() {
            Some("otp_expired") => SignInError::LinkExpired,
            Some("email_exists") => SignInError::EmailExists,
            _ => SignInError::Incomplete,
        });
    }
    let Some(code) = query.code.filter(|code| !code.is_empty()) else {
        if query.verified.is_some() {
            return Redirect::to("/login?notice=email-verified").into_response();
        }
        return fail(SignInError::Incomplete);
    };
    let cookie_header = cookie_header(&headers);
    let Some(verifier) = cookie_value(&cookie_header, &jar.verifier_name()) else {
        return fail(SignInError::OtherBrowser);
    };
    match sessions
        .client
        .exchange_code(&client, &code, verifier)
        .await
    {
        Ok(session) => {
            let mut cookies = jar.store(&session);
            cookies.push(jar.clear_verifier());
            with_cookies(
                Redirect::to(&next_path(query.next.as_deref().unwrap_or(""))).into_response(),
                cookies,
            )
        }
        Err(error) if error.is_transient() => {
            tracing::info!(code = error.code(), "code exchange failed for now");
            fail(SignInError::Unavailable)
        }
        Err(error) => {
            tracing::info!(code = error.code(), "code exchange failed");
            fail(SignInError::LinkExpired)
        }
    }
}

fn with_cookies(mut response: Response, cookies: impl IntoIterator<Item = String>) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Pages only a signed-in user may see.
fn is_private(path: &str) -> bool {
    path == "/chat"
        || path.starts_with("/chat/")
        || path == "/account"
        || path.starts_with("/account/")
        || path == "/reset-password"
}

/// The "enter your code" step of signing in.
const SECOND_FACTOR_PAGE: &str = "/login/code";

/// Middleware, after the session is resolved: as the seed's Next.js middleware did, sends
/// signed-out visitors of private pages to `/login?next=…`, and signed-in visitors of the
/// sign-in pages to `/chat`.
pub async fn guard_pages(request: Request<Body>, next: Next) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let state = request
        .extensions()
        .get::<SessionState>()
        .cloned()
        .unwrap_or_default();
    let signed_in = state.user().is_some();
    let uri = request.uri();
    let path = uri.path();
    if is_private(path) && matches!(state, SessionState::Unknown) {
        return session_unavailable();
    }
    // Half signed in (a second factor is due): the code page comes before any other page.
    let second_factor_due = matches!(state, SessionState::SecondFactorDue(_));
    if second_factor_due && (is_private(path) || matches!(path, "/" | "/login" | "/signup")) {
        let here = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or(path);
        let next = if is_private(path) { here } else { "/chat" };
        let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        return Redirect::to(&format!("{SECOND_FACTOR_PAGE}?next={next}")).into_response();
    }
    if path == SECOND_FACTOR_PAGE && !second_factor_due && !matches!(state, SessionState::Unknown) {
        return Redirect::to(if signed_in { "/chat" } else { "/login" }).into_response();
    }
    if is_private(path) && !signed_in {
        let here = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or(path);
        let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
        return Redirect::to(&format!("/login?next={next}")).into_response();
    }
    if matches!(path, "/login" | "/signup") && signed_in {
        return Redirect::to("/chat").into_response();
    }
    next.run(request).await
}

/// A private page whose visitor's session cannot be checked right now (the auth service, its
/// keys or the database briefly out of reach): nothing private is shown, nothing is signed out.
fn session_unavailable() -> Response {
    let page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
        <title>Try again in a moment · ferrochat</title></head><body><main>\
        <h1>We could not check your sign-in just now</h1>\
        <p>You are still signed in. Please try again in a moment.</p>\
        <p><a href=\"\">Try again</a></p></main></body></html>";
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::RETRY_AFTER, "5"),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}
