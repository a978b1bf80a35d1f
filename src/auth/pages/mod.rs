//! Sign-in pages and their server functions: login, signup, OAuth buttons, password reset,
//! account, one file each; this file holds what they share. Every form is an `ActionForm`: a
//! plain POST without JavaScript (errors come back in the redirect), an in-place call with it
//! (inline errors, pending state).

mod account;
mod login;
mod oauth;
mod password;
mod signup;

pub use account::AccountPage;
pub use login::LoginPage;
pub use password::{ForgotPasswordPage, ResetPasswordPage};
pub use signup::SignupPage;

use leptos::prelude::*;
use leptos_router::{
    components::{Redirect, A},
    hooks::{use_location, use_query_map},
};

use super::{context::use_auth, SignInError, UserInfo};
use crate::error::AppError;

/// The signed-in user of this request, verified on the server.
#[server(endpoint = "auth/current_user")]
pub async fn current_user() -> Result<Option<UserInfo>, AppError> {
    use crate::auth::{actions, session::SessionState};
    match actions::session_state().await {
        SessionState::SignedIn(user) => Ok(Some(user.info())),
        SessionState::SignedOut => Ok(None),
        SessionState::Unknown => Err(AppError::Unavailable),
    }
}

#[server(endpoint = "auth/logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    if let Ok(user) = actions::signed_in_user().await {
        // Signing out locally must work even if the service cannot be reached.
        if let Err(error) = sessions.client.sign_out(&user.access_token, "local").await {
            tracing::info!(code = error.code(), "sign-out at the auth service failed");
        }
    }
    actions::set_cookies(sessions.jar.clear());
    leptos_axum::redirect("/login");
    Ok(())
}

/// Shows an action's error, if its last call failed.
#[component]
pub(crate) fn ActionError<T, S>(value: S) -> impl IntoView
where
    T: Send + Sync + Clone + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    move || {
        value.get().and_then(Result::err).map(|error| {
            view! { <p class="form-error" role="alert">{error.to_string()}</p> }
        })
    }
}

/// A message from the query string (`?notice=` or `?error=`), in words a person understands.
#[component]
pub fn Banner() -> impl IntoView {
    let query = use_query_map();
    move || {
        let query = query.read();
        if let Some(code) = query.get("error") {
            let message = SignInError::from_code(&code).message();
            return Some(view! { <p class="form-error" role="alert">{message}</p> }.into_any());
        }
        let text = match query.get("notice").as_deref() {
            Some("check-email") => "Check your email for a link to continue.",
            Some("email-verified") => "Your email address is verified. Please sign in.",
            Some("password-changed") => "Your password has been changed.",
            Some("account-deleted") => "Your account and all its data have been deleted.",
            Some("signed-out") => "You have been signed out.",
            _ => return None,
        };
        Some(view! { <p class="form-notice" role="status">{text}</p> }.into_any())
    }
}

/// `next` from the query, for links and hidden fields.
pub(crate) fn next_from_query() -> impl Fn() -> String + Copy {
    let query = use_query_map();
    move || query.read().get("next").unwrap_or_default()
}

pub(crate) fn with_next(path: &str, next: &str) -> String {
    if next.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?next={}", urlencoding(next))
    }
}

fn urlencoding(value: &str) -> String {
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

/// Renders its children for a signed-in user; sends anyone else to the login page. (The server
/// redirects before rendering too; this covers navigation inside the hydrated app.)
#[component]
pub fn RequireUser(children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    let location = use_location();
    view! {
        <Transition fallback=|| ()>
            {move || {
                let children = children.clone();
                auth.user.get().map(move |result| match result {
                    Ok(Some(_)) => children().into_any(),
                    _ => {
                        let here = format!("{}{}", location.pathname.get_untracked(), location.search.get_untracked());
                        view! { <Redirect path=with_next("/login", &here)/> }.into_any()
                    }
                })
            }}
        </Transition>
    }
}

/// The navbar's part: the user menu, or the sign-in and sign-up links.
#[component]
pub fn UserMenu() -> impl IntoView {
    let auth = use_auth();
    let logout = ServerAction::<Logout>::new();
    view! {
        <Transition fallback=|| ()>
            {move || match auth.signed_in_user() {
                Some(user) => view! {
                    <div class="user-menu">
                        <A href="/chat">"Chats"</A>
                        <A href="/account" attr:class="user-email">{user.email}</A>
                        <ActionForm action=logout attr:class="inline-form">
                            <button type="submit" class="link-button">"Sign out"</button>
                        </ActionForm>
                    </div>
                }.into_any(),
                None => view! {
                    <div class="user-menu">
                        <A href="/login">"Sign in"</A>
                        <A href="/signup" attr:class="button">"Sign up"</A>
                    </div>
                }.into_any(),
            }}
        </Transition>
    }
}
