//! The toast region of the chat pages and the script that enhances working with conversations
//! (`conversations.js`: delete with undo, copy, import from a file).

use leptos::prelude::*;

/// Where toasts appear (`id="toasts"`): a polite live region, so a screen reader announces
/// confirmations and errors without moving focus. Any script of the chat pages may use it
/// through `window.ferrochatToast(text, action?)`.
#[component]
pub fn ToastRegion() -> impl IntoView {
    view! { <div id="toasts" class="toasts" role="status" aria-live="polite"></div> }
}

/// `conversations.js`, inline with the response's CSP nonce (see composer.rs for why the chat
/// pages use inline scripts rather than WASM islands).
#[component]
pub fn ConversationsScript() -> impl IntoView {
    #[cfg(feature = "ssr")]
    let script = include_str!("conversations.js");
    #[cfg(not(feature = "ssr"))]
    let script = "";
    let nonce = leptos::nonce::use_nonce().map(|nonce| nonce.to_string());
    view! { <script nonce=nonce inner_html=script></script> }
}
