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
    cookies::{cookie_header, cookie_value},
    session::{MaybeAuthUser, Sessions},
};

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    next: Option<String>,
    error: Option<String>,
    error_code: Option<String>,
}

/// `GET /auth/callback?code=…&next=…`: exchanges the code with the verifier kept in the PKCE
/// cookie, stores the session in cookies and goes on to `next` (a path on this site only).
pub async fn callback(
    State(sessions): State<Arc<Sessions>>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let jar = &sessions.jar;
    let fail = |message: &str| {
        let location = format!(
            "/login?error={}",
            url::form_urlencoded::byte_serialize(message.as_bytes()).collect::<String>()
        );
        with_cookies(
            Redirect::to(&location).into_response(),
            [jar.clear_verifier()],
        )
    };
    if query.error.is_some() {
        // The provider's own text is not shown: it could say anything.
        tracing::info!(code = ?query.error_code, "sign-in came back with an error");
        return fail(match query.error_code.as_deref() {
            Some("otp_expired") => "That link is invalid or has expired. Please request a new one.",
            Some("email_exists") => {
                "An account with this email already exists. Sign in with your password first."
            }
            _ => "Sign-in did not complete. Please try again.",
        });
    }
    let Some(code) = query.code.filter(|code| !code.is_empty()) else {
        return fail("Sign-in did not complete. Please try again.");
    };
    let cookie_header = cookie_header(&headers);
    let Some(verifier) = cookie_value(&cookie_header, &jar.verifier_name()) else {
        return fail(
            "This sign-in was started in another browser or has expired. Please try again.",
        );
    };
    match sessions.client.exchange_code(&code, verifier).await {
        Ok(session) => {
            let mut cookies = jar.store(&session);
            cookies.push(jar.clear_verifier());
            with_cookies(
                Redirect::to(&next_path(query.next.as_deref().unwrap_or(""))).into_response(),
                cookies,
            )
        }
        Err(error) => {
            tracing::info!(code = error.code(), "code exchange failed");
            fail("That sign-in link is invalid or has expired. Please try again.")
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
    path == "/chat" || path.starts_with("/chat/") || path == "/account" || path == "/reset-password"
}

/// Middleware, after the session is resolved: as the seed's Next.js middleware did, sends
/// signed-out visitors of private pages to `/login?next=…`, and signed-in visitors of the
/// sign-in pages to `/chat`.
pub async fn guard_pages(request: Request<Body>, next: Next) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let signed_in = request
        .extensions()
        .get::<MaybeAuthUser>()
        .is_some_and(|MaybeAuthUser(user)| user.is_some());
    let uri = request.uri();
    let path = uri.path();
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
