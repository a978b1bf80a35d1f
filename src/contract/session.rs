//! A session as the auth service hands it out, and how the app asks whether it still stands.

use std::{future::Future, pin::Pin, time::Instant};

use serde::{Deserialize, Serialize};

use super::claims::AccessClaims;

/// A session as GoTrue returns it, without its user object, and as the session cookies store it.
///
/// The user object is left out (unknown fields are skipped when reading GoTrue's answer): the
/// layout supabase-js itself writes with its `userStorage` option ("split session storage", made
/// to shrink cookies) and reads back without it. It repeats what the access token says (id,
/// email, metadata) and made up about half the cookie: the browser sent those bytes with every
/// request, pages and scripts included, and they were most of what signing in added to a
/// request's cost (bench/RESULTS.md). Nothing in the app reads it; a Next.js server sharing the
/// cookie asks `getUser()` or `getClaims()`, as Supabase advises on servers anyway.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SessionTokens {
    pub access_token: String,
    #[serde(default = "bearer")]
    pub token_type: String,
    pub expires_in: i64,
    pub expires_at: i64,
    pub refresh_token: String,
}

fn bearer() -> String {
    "bearer".into()
}

/// The session store could not answer; the session may well be alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the session store could not be reached")]
pub struct StatusUnknown;

/// Where the session of a verified token stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Signed in, with every factor the user has.
    Active,
    /// Signed in with the first factor only (`aal1`) by a user who has a verified second factor.
    SecondFactorDue,
    /// Signed out (or past its lifetimes): the token no longer speaks for anyone.
    SignedOut,
}

/// Answers where a verified token's session stands: what a signature cannot say.
///
/// The embedded service answers from its own database, so "sign out everywhere" ends other
/// browsers' sessions on their next request instead of when their access tokens expire. A
/// remote project is asked now and then (`auth::remote_status`).
pub trait SessionStatus: Send + Sync {
    /// The standing an answer read lately gives, if it still counts at `now`; None sends the
    /// request to [`SessionStatus::standing`]. Asked first, without waiting: nearly every
    /// signed-in request is answered so, without the future the full question allocates.
    fn remembered(&self, claims: &AccessClaims, now: Instant) -> Option<Standing>;

    fn standing<'a>(
        &'a self,
        claims: &'a AccessClaims,
        access_token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Standing, StatusUnknown>> + Send + 'a>>;
}
