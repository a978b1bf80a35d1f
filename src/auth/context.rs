//! The auth context: who is signed in, for every component on the server and every island in the
//! browser.
//!
//! The server knows the user before it renders (the session middleware resolved the HttpOnly
//! cookie), so pages render signed-in with no flash and work without JavaScript. [`AuthProvider`],
//! an island around the whole page, hands that user to the browser as a prop and provides the
//! same [`AuthContext`] to the islands inside it. In the browser it asks the server again when the
//! window regains focus and when another tab announces a sign-in or sign-out on a
//! `BroadcastChannel`; if the answer is not the user the page was rendered for, the page loads
//! again in full, so that the server renders it (or redirects) for the new session.

use leptos::prelude::*;

use super::UserInfo;

/// Name of the channel tabs use to tell each other about sign-ins and sign-outs.
pub const AUTH_CHANNEL: &str = "ferrochat-auth";

/// Who the page was rendered for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthContext {
    user: Option<UserInfo>,
}

impl AuthContext {
    /// The signed-in user, if any.
    pub fn signed_in_user(&self) -> Option<UserInfo> {
        self.user.clone()
    }
}

/// Provides the [`AuthContext`] of `user` to its children (server components and islands alike)
/// and, in the browser, reloads the page when the session changes behind it.
#[island]
pub fn AuthProvider(user: Option<UserInfo>, children: Children) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    reload_when_session_changes(user.clone());
    provide_context(AuthContext { user });
    children()
}

/// The user of the request being rendered, as the session middleware resolved it (None when it
/// cannot be checked just now: private pages are not served then). Server only: the browser
/// learns it from [`AuthProvider`]'s prop.
pub fn request_user() -> Option<UserInfo> {
    #[cfg(feature = "ssr")]
    {
        use super::session::{AuthUser, SessionState};
        // Read in place: `use_context` would clone the request's parts whole.
        with_context::<axum::http::request::Parts, _>(|parts| {
            parts
                .extensions
                .get::<SessionState>()
                .and_then(SessionState::user)
                .map(AuthUser::info)
        })
        .flatten()
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// The auth context; panics outside [`AuthProvider`], which is a programming error.
pub fn use_auth() -> AuthContext {
    expect_context::<AuthContext>()
}

/// Loads `location` in full after a server function changed the session (so the server renders
/// it for the new session), and tells the other tabs.
#[cfg(feature = "hydrate")]
pub fn leave_after_session_change(location: &str) {
    browser::LEAVING.set(true);
    browser::CHANNEL.with(|channel| {
        if let Some(channel) = channel {
            let _ = channel.post_message(&wasm_bindgen::JsValue::from_str("changed"));
        }
    });
    let _ = window().location().set_href(location);
}

/// Asks the server who is signed in on focus and on other tabs' announcements; loads the page
/// again if that is no longer `rendered_for`.
#[cfg(feature = "hydrate")]
fn reload_when_session_changes(rendered_for: Option<UserInfo>) {
    use wasm_bindgen::{closure::Closure, JsCast};

    let check = move || {
        if browser::LEAVING.get() {
            return;
        }
        let rendered_for = rendered_for.clone();
        leptos::task::spawn_local(async move {
            use crate::server_form::browser::{post, reload, Reply};
            use leptos::server_fn::ServerFn;
            let url = super::pages::CurrentUser::url();
            // An error means the session cannot be checked just now: keep the page as it is.
            if let Ok(Reply::Done(body)) = post(url, &"".into()).await {
                match serde_json::from_str::<Option<UserInfo>>(&body) {
                    Ok(user) if user != rendered_for && !browser::LEAVING.get() => reload(),
                    _ => {}
                }
            }
        });
    };
    let on_focus = Closure::<dyn Fn()>::new(check.clone());
    let _ = window().add_event_listener_with_callback("focus", on_focus.as_ref().unchecked_ref());
    on_focus.forget();
    browser::CHANNEL.with(|channel| {
        if let Some(channel) = channel {
            let on_message = Closure::<dyn Fn()>::new(check);
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            on_message.forget();
        }
    });
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::Cell;

    thread_local! {
        /// The page's one channel, kept open for its lifetime. A message is not delivered to
        /// the object that posted it, so the page does not hear its own announcements.
        pub(super) static CHANNEL: Option<web_sys::BroadcastChannel> =
            web_sys::BroadcastChannel::new(super::AUTH_CHANNEL).ok();
        /// Set once the page is on its way to another: nothing reloads it then.
        pub(super) static LEAVING: Cell<bool> = const { Cell::new(false) };
    }
}
