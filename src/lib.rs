//! ferrochat: a full-stack Rust chat app with Supabase-style auth.
//!
//! The crate builds twice: with `ssr` as the Axum server binary, with `hydrate` as the WASM bundle
//! that makes the server-rendered pages interactive. Modules without a `cfg` are shared by both.
//!
//! Pages are Leptos islands: the server renders everything, and only the `#[island]` components
//! (the forms, the theme switcher, the auth provider) are compiled into the bundle and hydrated.

pub mod app;
pub mod auth;
pub mod chat;
pub mod error;
pub mod local_path;
pub mod server_form;
pub mod theme;

#[cfg(feature = "ssr")]
pub mod assets;
#[cfg(feature = "ssr")]
pub mod auth_service;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod contract;
#[cfg(feature = "ssr")]
pub mod crypto;
#[cfg(feature = "ssr")]
pub mod form_errors;
#[cfg(feature = "ssr")]
pub mod security;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod settings;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod upkeep;

/// Entry point of the WASM bundle, called before the loader hydrates the islands of the page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // The loader hydrates every island right after this returns, without giving the event loop a
    // turn in between (islands are not lazy); a task queued now runs once they all are
    // interactive. The marker lets CSS and end-to-end tests tell a page that merely rendered from
    // one that is interactive.
    leptos::prelude::set_timeout(
        || {
            if let Some(root) = leptos::prelude::document().document_element() {
                let _ = root.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}
