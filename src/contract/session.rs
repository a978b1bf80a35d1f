//! A session as the auth service hands it out, and how the app asks whether it still stands.

use std::{future::Future, pin::Pin};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A session as GoTrue returns it and as the session cookies store it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SessionTokens {
    pub access_token: String,
    #[serde(default = "bearer")]
    pub token_type: String,
    pub expires_in: i64,
    pub expires_at: i64,
    pub refresh_token: String,
    #[serde(default)]
    pub user: Value,
}

fn bearer() -> String {
    "bearer".into()
}

/// The session store could not answer; the session may well be alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the session store could not be reached")]
pub struct StatusUnknown;

/// Answers whether a session (the `session_id` claim) has been signed out.
///
/// The embedded service implements it with a lookup in its own database, so "sign out
/// everywhere" ends other browsers' sessions on their next request instead of when their access
/// tokens expire. Against a remote project there is no local answer and no implementation.
pub trait SessionStatus: Send + Sync {
    fn is_active<'a>(
        &'a self,
        session_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<bool, StatusUnknown>> + Send + 'a>>;

    /// Whether the user has a verified second factor, so that an `aal1` session of theirs is only
    /// half a sign-in. Asked for `aal1` tokens only.
    fn has_second_factor<'a>(
        &'a self,
        user_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<bool, StatusUnknown>> + Send + 'a>>;
}
