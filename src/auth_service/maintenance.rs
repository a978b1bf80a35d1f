//! Upkeep of the embedded service, in the background of every instance: reload the signing keys
//! (to learn of rotations made elsewhere) and delete rows nobody can use any more.
//!
//! What is kept, and how long (after GoTrue's cleanup):
//! - a session, until a day after it passed its timebox or inactivity timeout; meanwhile its
//!   refresh is told `session_expired`, not "not found";
//! - a rotated refresh token, a day; a reuse after that is "not found" rather than detected as
//!   reuse (its session is not revoked). Tokens do not cascade to their children, so pruning a
//!   rotated token leaves the live one of its session alone;
//! - a flow state, a day, or until its auth code expired unused;
//! - a rate-limit counter, an hour after its window ended;
//! - an anonymous user (a guest), until `FERROCHAT_AUTH_ANONYMOUS_PRUNE_AFTER_SECS` after it was
//!   last seen (its sign-up or its latest refresh), with what the app keeps of it (its chats,
//!   deleted first by the app's [`ForgetUser`], so nothing of it is left without an owner).
//!   A user that added an address is no longer anonymous and is never pruned.
//!
//! Every instance runs it; two instances deleting the same rows do no harm.

use std::{sync::Arc, time::Duration};

use futures_util::future::BoxFuture;

use super::{error::AuthResult, now, rate_limit::Bucket, AuthState};
use crate::{
    store::Pool,
    upkeep::{self, Upkeep},
};

/// How often the upkeep runs.
pub const INTERVAL: Duration = Duration::from_secs(60);
/// How long an expired session is kept, answering `session_expired` to a refresh.
const EXPIRED_SESSION_GRACE: Duration = Duration::from_secs(24 * 3600);
/// How long a rotated refresh token is kept, to recognise its reuse.
const ROTATED_TOKEN_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// How long a flow state is kept at most: a login or emailed link older than that is abandoned.
const FLOW_STATE_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// How long a second-factor challenge is kept: long past its 5 minutes, so that a late answer is
/// told "expired" rather than "not found".
const CHALLENGE_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// How long a rate-limit counter is kept after its window ended.
const RATE_LIMIT_RETENTION: Duration = Duration::from_secs(3600);

/// Anonymous users pruned per run at most: a backlog is worked off a batch a minute.
const ANONYMOUS_BATCH: i64 = 200;

/// Deletes what the rest of the app keeps of a user (their chats), before the user is deleted.
pub type ForgetUser = Arc<dyn Fn(String) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Rows one run deleted, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: u64,
    pub refresh_tokens: u64,
    pub flow_states: u64,
    pub rate_limits: u64,
    /// Second-factor challenges past their expiry.
    pub mfa_challenges: u64,
}

/// Reloads the keys and prunes once. Both are attempted; the first error is returned.
pub async fn run_once(state: &AuthState) -> AuthResult<Pruned> {
    let reloaded = state.keys.reload().await;
    let pruned = prune(state).await;
    // Sessions past their lifetimes may have gone: no remembered answer may outlive them.
    state.session_status.forget_all();
    reloaded?;
    pruned
}

async fn prune(state: &AuthState) -> AuthResult<Pruned> {
    let pool = &state.pool;
    let config = &state.config;
    let at = now();
    let before = |age: Duration| at - age.as_secs() as i64;

    let mut sessions = 0;
    if let Some(timebox) = config.session_timebox {
        sessions += delete(
            pool,
            "DELETE FROM sessions WHERE created_at < $1",
            before(timebox + EXPIRED_SESSION_GRACE),
        )
        .await?;
    }
    if let Some(timeout) = config.session_inactivity_timeout {
        sessions += delete(
            pool,
            "DELETE FROM sessions WHERE refreshed_at < $1",
            before(timeout + EXPIRED_SESSION_GRACE),
        )
        .await?;
    }
    let refresh_tokens = delete(
        pool,
        "DELETE FROM refresh_tokens WHERE revoked_at < $1",
        before(ROTATED_TOKEN_RETENTION),
    )
    .await?;
    let flow_states =
        sqlx::query("DELETE FROM flow_states WHERE created_at < $1 OR auth_code_issued_at < $2")
            .bind(before(FLOW_STATE_RETENTION))
            .bind(before(config.pkce_code_expiry))
            .execute(pool)
            .await?
            .rows_affected();
    let mut rate_limits = 0;
    for bucket in Bucket::ALL {
        rate_limits +=
            sqlx::query("DELETE FROM rate_limits WHERE bucket = $1 AND window_start < $2")
                .bind(bucket.name())
                .bind(before(bucket.window() + RATE_LIMIT_RETENTION))
                .execute(pool)
                .await?
                .rows_affected();
    }
    let mfa_challenges = delete(
        pool,
        "DELETE FROM mfa_challenges WHERE created_at < $1",
        before(CHALLENGE_RETENTION),
    )
    .await?;
    Ok(Pruned {
        sessions,
        refresh_tokens,
        flow_states,
        rate_limits,
        mfa_challenges,
    })
}

/// Runs a `DELETE` with one timestamp bound; returns the rows deleted.
async fn delete(pool: &Pool, query: &str, before: i64) -> AuthResult<u64> {
    Ok(sqlx::query(query)
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected())
}

/// Deletes up to [`ANONYMOUS_BATCH`] anonymous users not seen (signed up, refreshed a session)
/// for `after` (the upkeep's is `FERROCHAT_AUTH_ANONYMOUS_PRUNE_AFTER_SECS`); `forget` deletes
/// each one's chats first. A user that `forget` fails for, or that was seen or upgraded
/// meanwhile, is kept. Returns how many users were deleted.
pub async fn prune_anonymous_users(
    state: &AuthState,
    after: Duration,
    forget: &ForgetUser,
) -> AuthResult<u64> {
    let pool = &state.pool;
    let before = now() - after.as_secs() as i64;
    // Seen: the sign-up (its only sign-in) or a refresh of any of its sessions since.
    const STALE: &str = "is_anonymous = 1 AND COALESCE(last_sign_in_at, created_at) < $1
        AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = users.id
                        AND s.refreshed_at >= $1)";
    let stale: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM users WHERE {STALE} ORDER BY created_at LIMIT $2"
    ))
    .bind(before)
    .bind(ANONYMOUS_BATCH)
    .fetch_all(pool)
    .await?;
    let mut deleted = 0;
    for id in stale {
        if let Err(error) = forget(id.clone()).await {
            tracing::warn!(%error, user_id = %id, "cannot delete an abandoned guest's chats");
            continue;
        }
        // Checked again: a guest who came back (or added an address) a moment ago stays.
        deleted += sqlx::query(&format!("DELETE FROM users WHERE id = $2 AND {STALE}"))
            .bind(before)
            .bind(&id)
            .execute(pool)
            .await?
            .rows_affected();
    }
    Ok(deleted)
}

/// One pass of the upkeep: expired rows, then, unless the setting turns it off, abandoned
/// guests (their chats deleted by the state's `forget_user`). Failures are logged; the next
/// pass tries again.
pub async fn run_upkeep(state: &AuthState) {
    match run_once(state).await {
        Ok(pruned) if pruned != Pruned::default() => {
            tracing::info!(?pruned, "auth maintenance pruned expired rows");
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(error = %error.msg, "auth maintenance failed"),
    }
    let Some(after) = state.config.anonymous_prune_after else {
        return;
    };
    match prune_anonymous_users(state, after, &state.forget_user).await {
        Ok(0) => {}
        Ok(guests) => tracing::info!(guests, "pruned abandoned anonymous users"),
        Err(error) => tracing::warn!(error = %error.msg, "pruning guests failed"),
    }
}

/// Starts the upkeep on the current runtime: [`run_upkeep`] once now (a server that was down
/// prunes at once), then every [`INTERVAL`].
pub fn start(state: AuthState) -> Upkeep {
    upkeep::every(INTERVAL, move || {
        let state = state.clone();
        async move { run_upkeep(&state).await }
    })
}
