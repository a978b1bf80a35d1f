//! Where a remote project's session stands, asked of the project now and then.
//!
//! A token's signature says whom it was issued to, not whether its session has been signed out
//! since, nor whether its user has enrolled a second factor since. The embedded service answers
//! both from its database. A remote Supabase project answers through its API: `GET /user` with
//! the token itself is refused with 403 `session_not_found` once the session is signed out, and
//! otherwise lists the user's factors (where supabase-js's `mfa.listFactors()` reads them).
//!
//! Asking on every request would put a round trip to the project into every request, so an answer
//! is remembered per session and assurance level for [`RemoteSupabase::session_check`] (30 s):
//! a sign-out elsewhere, or a factor enrolled elsewhere, takes up to that long to reach the app.
//! When the project cannot be reached, the last answer stands however old (the token itself
//! still verifies locally); a session never checked is then unknown, and served no private data,
//! as with the embedded service's database out of reach.
//!
//! [`RemoteSupabase::session_check`]: super::remote::RemoteSupabase::session_check

use std::{
    future::Future,
    pin::Pin,
    time::{Duration, Instant},
};

use serde_json::Value;

use super::{client::AuthClient, memory::Memory};
use crate::contract::{claims::AccessClaims, session::StatusUnknown, SessionStatus, Standing};

/// More remembered sessions than this and the memory starts over: a bound on its size.
const MAX_REMEMBERED: usize = 100_000;

/// The project's recent answers, per session and assurance level.
pub struct RemoteSessionStatus {
    client: AuthClient,
    lifetime: Duration,
    answers: Memory<(Instant, Standing)>,
}

impl RemoteSessionStatus {
    /// Asks the project behind `client`, trusting an answer for `lifetime`.
    pub fn new(client: AuthClient, lifetime: Duration) -> Self {
        RemoteSessionStatus {
            client,
            lifetime,
            answers: Memory::new(MAX_REMEMBERED),
        }
    }

    async fn standing(
        &self,
        claims: &AccessClaims,
        token: &str,
    ) -> Result<Standing, StatusUnknown> {
        let key = key(claims);
        let last = self.answers.get(key.as_bytes());
        let read_at = Instant::now();
        if let Some(standing) = last.and_then(|last| self.if_recent(last, read_at)) {
            return Ok(standing);
        }
        let standing = match self.client.get_user(token).await {
            Ok(user) => standing_of(&user, &claims.aal),
            Err(error) if error.is_transient() => {
                tracing::info!(
                    code = error.code(),
                    "cannot ask the project about a session"
                );
                return last.map(|(_, standing)| standing).ok_or(StatusUnknown);
            }
            Err(error)
                if matches!(
                    error.code(),
                    "session_not_found" | "user_not_found" | "user_banned"
                ) =>
            {
                Standing::SignedOut
            }
            Err(error) => {
                // A token that verifies here but not there (a clock apart, a key the project has
                // just retired): no verdict on the session.
                tracing::warn!(
                    code = error.code(),
                    "the project refused a token that verifies here"
                );
                return Err(StatusUnknown);
            }
        };
        self.answers
            .insert(key.as_bytes(), (read_at, standing), |&kept| {
                self.if_recent(kept, read_at).is_some()
            });
        Ok(standing)
    }

    /// An answer's standing if it was read less than the lifetime before `now`.
    fn if_recent(
        &self,
        (read_at, standing): (Instant, Standing),
        now: Instant,
    ) -> Option<Standing> {
        (now.saturating_duration_since(read_at) < self.lifetime).then_some(standing)
    }
}

/// The memory's key of a token's session. The assurance level is part of it: a session that
/// steps up to `aal2` keeps its id and must not keep its `aal1` answer.
fn key(claims: &AccessClaims) -> String {
    format!("{}:{}", claims.session_id, claims.aal)
}

/// The standing of a session whose user the project returned: owing a second factor if the token
/// is `aal1` and the user has a verified factor.
fn standing_of(user: &Value, aal: &str) -> Standing {
    let verified_factor = user["factors"]
        .as_array()
        .is_some_and(|factors| factors.iter().any(|factor| factor["status"] == "verified"));
    if aal != "aal2" && verified_factor {
        Standing::SecondFactorDue
    } else {
        Standing::Active
    }
}

impl SessionStatus for RemoteSessionStatus {
    fn remembered(&self, claims: &AccessClaims, now: Instant) -> Option<Standing> {
        self.if_recent(self.answers.get(key(claims).as_bytes())?, now)
    }

    fn standing<'a>(
        &'a self,
        claims: &'a AccessClaims,
        access_token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Standing, StatusUnknown>> + Send + 'a>> {
        Box::pin(self.standing(claims, access_token))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_aal1_session_of_a_user_with_a_verified_factor_owes_the_second_factor() {
        let verified = json!({"factors": [{"status": "unverified"}, {"status": "verified"}]});
        assert_eq!(standing_of(&verified, "aal1"), Standing::SecondFactorDue);
        assert_eq!(standing_of(&verified, "aal2"), Standing::Active);
        let unverified = json!({"factors": [{"status": "unverified"}]});
        assert_eq!(standing_of(&unverified, "aal1"), Standing::Active);
        assert_eq!(
            standing_of(&json!({"factors": null}), "aal1"),
            Standing::Active
        );
        assert_eq!(standing_of(&json!({}), "aal1"), Standing::Active);
    }
}
