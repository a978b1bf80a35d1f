//! Who the user is, for the app: the session in cookies, verified locally, and the pages and
//! context that sign people in and out.
//!
//! Server-only parts talk to the Supabase Auth API (the embedded service or a real project)
//! through one client and verify access tokens without a network call per request.

pub mod context;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod actions;
#[cfg(feature = "ssr")]
pub mod claims;
#[cfg(feature = "ssr")]
pub mod client;
#[cfg(feature = "ssr")]
pub mod cookies;
#[cfg(feature = "ssr")]
pub mod routes;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod verify;

use serde::{Deserialize, Serialize};

/// What the browser may know about the signed-in user (never a token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: String,
    pub email: String,
}
