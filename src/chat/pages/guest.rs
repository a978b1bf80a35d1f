//! The guest's banner: how many messages are left, and where to add an email address to keep
//! the chats. Nothing for a person with an account.

use leptos::prelude::*;

use crate::chat::functions::{guest_allowance, GuestQuota};

/// "Guest — N messages left", above the composer.
#[component]
pub(super) fn GuestBanner() -> impl IntoView {
    let allowance = Resource::new(|| (), |_| guest_allowance());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                allowance.await.ok().flatten().map(|allowance| view! { <Banner allowance/> })
            })}
        </Suspense>
    }
}

#[component]
fn Banner(allowance: GuestQuota) -> impl IntoView {
    let GuestQuota { left, limit } = allowance;
    let (class, text) = match left {
        0 => (
            "guest-banner guest-banner-spent",
            format!(
                "Guest — you have sent all {limit} messages a guest can send. Add an email \
                 address and a password to keep chatting and keep your chats."
            ),
        ),
        1 => (
            "guest-banner",
            "Guest — 1 message left. Add an email to keep your chats.".to_owned(),
        ),
        left => (
            "guest-banner",
            format!("Guest — {left} messages left. Add an email to keep your chats."),
        ),
    };
    view! {
        <p class=class role="status" data-testid="guest-banner" data-left=left>
            {text} " " <a href="/account#add-email">"Add an email and password"</a>
        </p>
    }
}
