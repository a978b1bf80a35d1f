//! The auth context: who is signed in, for every component, on the server and in the browser.
//!
//! The user comes from the server (the session cookie is HttpOnly), so pages render signed-in
//! during SSR with no flash. It is fetched again after sign-in/out actions, when the window
//! regains focus, and when another tab announces a sign-out on a `BroadcastChannel`.

use leptos::prelude::*;

use super::{pages::current_user, UserInfo};
use crate::error::AppError;

/// Name of the channel tabs use to tell each other about sign-outs.
pub const AUTH_CHANNEL: &str = "ferrochat-auth";

/// Shared by every component below the app root.
#[derive(Clone, Copy)]
pub struct AuthContext {
    /// The signed-in user, or None.
    pub user: Resource<Result<Option<UserInfo>, AppError>>,
    /// Bump to fetch the user again.
    pub changed: RwSignal<u64>,
}

impl AuthContext {
    /// The user if known and signed in.
    pub fn signed_in_user(&self) -> Option<UserInfo> {
        self.user.get().and_then(|result| result.ok()).flatten()
    }
}

/// Tells the other tabs that the session changed (they fetch the user again).
#[cfg(feature = "hydrate")]
pub fn announce_auth_change() {
    if let Ok(channel) = web_sys::BroadcastChannel::new(AUTH_CHANNEL) {
        let _ = channel.post_message(&wasm_bindgen::JsValue::from_str("changed"));
        channel.close();
    }
}

/// Provides the [`AuthContext`] at the app root.
pub fn provide_auth_context() {
    let changed = RwSignal::new(0u64);
    // Blocking: the server waits for it before sending the page, so the signed-in state is in
    // the HTML itself (no flash, and the user menu works without JavaScript).
    let user = Resource::new_blocking(move || changed.get(), |_| current_user());
    let context = AuthContext { user, changed };
    provide_context(context);
    #[cfg(feature = "hydrate")]
    watch_other_tabs(context);
}

/// Refetches on focus and on other tabs' announcements.
#[cfg(feature = "hydrate")]
fn watch_other_tabs(context: AuthContext) {
    use wasm_bindgen::{closure::Closure, JsCast};
    let refetch = move || context.changed.update(|n| *n += 1);
    let on_focus = Closure::<dyn Fn()>::new(refetch);
    let _ = window().add_event_listener_with_callback("focus", on_focus.as_ref().unchecked_ref());
    on_focus.forget();
    if let Ok(channel) = web_sys::BroadcastChannel::new(AUTH_CHANNEL) {
        let on_message = Closure::<dyn Fn()>::new(refetch);
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        // Keep the channel open for the page's lifetime.
        std::mem::forget(channel);
    }
}

/// The auth context; panics outside the app root, which is a programming error.
pub fn use_auth() -> AuthContext {
    expect_context::<AuthContext>()
}
