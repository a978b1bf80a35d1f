//! Sign-in pages and their server functions: login, signup, OAuth buttons, password reset,
//! account, one file each; this file holds what they share.
//!
//! The pages are rendered on the server only; each form is a [`ServerForm`] island: a plain POST
//! without JavaScript (refusals come back in the redirect and are rendered by the server), an
//! in-place call with it (inline errors, pending state).

mod account;
mod guest;
mod login;
mod oauth;
mod password;
mod signup;
mod two_factor;

pub use account::AccountPage;
pub use login::LoginPage;
pub use password::{ForgotPasswordPage, ResetPasswordPage};
pub use signup::SignupPage;
pub use two_factor::{SecondFactorPage, TwoFactorSetupPage};

use leptos::{
    prelude::*,
    server::ServerActionError,
    server_fn::{error::ServerFnUrlError, ServerFn},
};
use leptos_router::{
    components::{Redirect, A},
    hooks::{use_location, use_query_map},
};

use super::{context::use_auth, SignInError, UserInfo};
use crate::{error::AppError, server_form::ServerForm};

/// The signed-in user of this request, verified on the server.
#[server(endpoint = "auth/current_user")]
pub async fn current_user() -> Result<Option<UserInfo>, AppError> {
    use crate::auth::{actions, session::SessionState};
    match actions::session_state().await {
        SessionState::SignedIn(user) => Ok(Some(user.info())),
        // Half signed in: the pages treat them as signed out until the code is given.
        SessionState::SignedOut | SessionState::SecondFactorDue(_) => Ok(None),
        SessionState::Unknown => Err(AppError::Unavailable),
    }
}

#[server(endpoint = "auth/logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::auth::{actions, session::SessionState};
    let sessions = actions::sessions()?;
    if let SessionState::SignedIn(user) | SessionState::SecondFactorDue(user) =
        actions::session_state().await
    {
        // Signing out locally must work even if the service cannot be reached.
        if let Err(error) = sessions.client.sign_out(&user.access_token, "local").await {
            tracing::info!(code = error.code(), "sign-out at the auth service failed");
        }
    }
    actions::set_cookies(sessions.jar.clear());
    leptos_axum::redirect("/login");
    Ok(())
}

/// The refusal a form post of `S` without JavaScript came back with (`?__err=` in the URL the
/// server function redirected to), for the server to hand to the form's island as a prop: the
/// browser's copy of the island cannot read the URL through the router.
///
/// Only refusals this server signed are shown (see `form_errors`): a crafted URL gets a plain
/// "did not work" instead of its author's words.
pub(crate) fn returned_error<S: ServerFn<Error = AppError>>() -> Option<AppError> {
    let error = use_context::<ServerActionError>()?;
    if error.path() != S::PATH {
        return None;
    }
    #[cfg(feature = "ssr")]
    {
        let signature = use_query_map().read_untracked().get("__sig");
        let signed = use_context::<crate::form_errors::FormErrorKey>()
            .zip(signature)
            .is_some_and(|(key, signature)| key.verify(error.path(), error.err(), &signature));
        if !signed {
            return Some(AppError::Refused(
                "That did not work. Please check the form and try again.".into(),
            ));
        }
    }
    Some(ServerFnUrlError::<AppError>::decode_err(error.err()))
}

/// A message from the query string (`?notice=` or `?error=`), in words a person understands.
#[component]
pub fn Banner() -> impl IntoView {
    let query = use_query_map();
    let query = query.read_untracked();
    if let Some(code) = query.get("error") {
        let message = SignInError::from_code(&code).message();
        return Some(view! { <p class="form-error" role="alert">{message}</p> }.into_any());
    }
    let text = match query.get("notice").as_deref() {
        Some("check-email") => "Check your email for a link to continue.",
        Some("email-verified") => "Your email address is verified. Please sign in.",
        Some("password-changed") => "Your password has been changed.",
        Some("email-added") => {
            "Your email address and password are saved. Your chats are yours to keep."
        }
        Some("account-deleted") => "Your account and all its data have been deleted.",
        Some("signed-out") => "You have been signed out.",
        Some("two-factor-on") => "Two-factor authentication is on.",
        _ => return None,
    };
    Some(view! { <p class="form-notice" role="status">{text}</p> }.into_any())
}

/// `next` from the query, for links and hidden fields.
pub(crate) fn next_from_query() -> String {
    use_query_map()
        .read_untracked()
        .get("next")
        .unwrap_or_default()
}

pub(crate) fn with_next(path: &str, next: &str) -> String {
    if next.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?next={}", urlencoding(next))
    }
}

/// Percent-encodes a query value (`/` is allowed there and kept).
pub(crate) fn urlencoding(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Renders its children for a signed-in user; sends anyone else to the login page. (The guard
/// middleware redirects signed-out visitors of private pages before rendering; this keeps a page
/// that forgot to be listed there private all the same.)
#[component]
pub fn RequireUser(children: Children) -> impl IntoView {
    if use_auth().signed_in_user().is_some() {
        return children().into_any();
    }
    view! { <Redirect path=with_next("/login", &current_path())/> }.into_any()
}

/// The path and query of the page being rendered, e.g. `/chat?x=1`.
pub fn current_path() -> String {
    let location = use_location();
    let path = location.pathname.get_untracked();
    // The router keeps the query without its `?`.
    match location.search.get_untracked().trim_start_matches('?') {
        "" => path,
        query => format!("{path}?{query}"),
    }
}

/// The navbar's part: the user menu, or the sign-in and sign-up links.
#[component]
pub fn UserMenu() -> impl IntoView {
    match use_auth().signed_in_user() {
        Some(user) => view! {
            <div class="user-menu">
                <A href="/chat">"Chats"</A>
                <A href="/account" attr:class="user-email">
                    {if user.guest { "Guest".to_owned() } else { user.email }}
                </A>
                <SignOutButton/>
            </div>
        }
        .into_any(),
        None => view! {
            <div class="user-menu">
                <A href="/login">"Sign in"</A>
                <A href="/signup" attr:class="button">"Sign up"</A>
            </div>
        }
        .into_any(),
    }
}

/// The navbar's "Sign out" (its redirect tells the other tabs).
#[component]
fn SignOutButton() -> impl IntoView {
    view! {
        <ServerForm
            action=Logout::url()
            class="inline-form"
            label="Sign out"
                button_class="link-button"
            returned_error={returned_error::<Logout>()}
        >
            // No fields: the session is in the cookies.
            ""
        </ServerForm>
    }
}
