//! Whether a token's session still stands, as the app asks on every signed-in request, answered
//! from a short memory of recent database answers.
//!
//! Asking the database on every request made a signed-in request 2.7–3.6 times as expensive as
//! a signed-out one (bench/RESULTS.md, "Auth overhead"): the lookup, not the signature check, was
//! the cost. So a "still signed in" answer is remembered for [`AuthConfig::session_status_cache`]
//! (1 s by default), and forgotten at once — every remembered answer — as soon as this instance
//! handles anything that may end a session: any write to `/auth/v1` (sign-out, password change,
//! account deletion, a refresh token's reuse, …) and the maintenance prune. So a sign-out ends
//! the session at once on the instance that performed it, and within the memory's lifetime on
//! the others, which learn of it only through the shared database. "Signed out" answers are never
//! remembered: they are final anyway.
//!
//! [`AuthConfig::session_status_cache`]: super::config::AuthConfig::session_status_cache

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant},
};

use axum::{body::Body, extract::State, http::Request, middleware::Next, response::Response};

use super::{sessions, AuthState};
use crate::contract::{claims::AccessClaims, session::StatusUnknown, Standing};

/// More remembered answers of one kind than this and they start over: a bound on the size.
const MAX_REMEMBERED: usize = 100_000;

/// Recent "still signed in" (and "no second factor") answers, each tagged with the generation
/// it was read in.
pub struct SessionStatusCache {
    lifetime: Duration,
    /// Bumped whenever this instance may have ended a session; older answers no longer count.
    generation: AtomicU64,
    active: RwLock<Answers>,
}

/// When each answer was read, and in which generation, by session id or user id: one map per
/// kind of answer ([`Answer`] indexes them), so that a lookup (every signed-in request makes one
/// or two) builds no key.
type Answers = [HashMap<String, (Instant, u64), foldhash::fast::RandomState>; 2];

/// Which answer: a session is still signed in, or a user has no verified second factor.
#[derive(Clone, Copy)]
enum Answer {
    SignedIn = 0,
    Factorless = 1,
}

impl SessionStatusCache {
    /// A memory of `lifetime`; zero asks the database every time.
    pub fn new(lifetime: Duration) -> Self {
        SessionStatusCache {
            lifetime,
            generation: AtomicU64::new(0),
            active: RwLock::new(Answers::default()),
        }
    }

    /// Forgets every remembered answer. Called after the write that may end a session has
    /// committed, so an answer read before it carries an older generation and no longer counts.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether each `(answer, key)` was read less than the memory's lifetime before `now`, in
    /// the current generation: under one lock, as a request asks for one or two.
    fn remembered(&self, asked: &[(Answer, &str)], now: Instant) -> bool {
        if self.lifetime.is_zero() {
            return false;
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let active = self
            .active
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        asked.iter().all(|(answer, key)| {
            active[*answer as usize]
                .get(*key)
                .is_some_and(|(read_at, read_in)| {
                    *read_in == generation
                        && now.saturating_duration_since(*read_at) < self.lifetime
                })
        })
    }

    fn remember(&self, answer: Answer, key: &str, read_at: Instant, read_in: u64) {
        let mut answers = self
            .active
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let active = &mut answers[answer as usize];
        if active.len() >= MAX_REMEMBERED {
            let generation = self.generation.load(Ordering::SeqCst);
            active.retain(|_, (at, read)| *read == generation && at.elapsed() < self.lifetime);
            if active.len() >= MAX_REMEMBERED {
                active.clear();
            }
        }
        active.insert(key.to_owned(), (read_at, read_in));
    }
}

/// [`Standing::Active`] if the answers it takes are remembered: the session is signed in and,
/// for an `aal1` token, its user has no verified second factor.
pub fn remembered(state: &AuthState, claims: &AccessClaims, now: Instant) -> Option<Standing> {
    let session = (Answer::SignedIn, claims.session_id.as_str());
    let factorless = (Answer::Factorless, claims.sub.as_str());
    let asked: &[_] = if claims.aal == "aal2" {
        &[session]
    } else {
        &[session, factorless]
    };
    state
        .session_status
        .remembered(asked, now)
        .then_some(Standing::Active)
}

/// Where a verified token's session stands: signed out, or signed in and owing a second factor
/// or not.
pub async fn standing(state: &AuthState, claims: &AccessClaims) -> Result<Standing, StatusUnknown> {
    // One clock read for both answers: on a virtual machine it is not free.
    let now = Instant::now();
    Ok(if !active_at(state, &claims.session_id, now).await? {
        Standing::SignedOut
    } else if claims.aal != "aal2" && has_second_factor(state, &claims.sub, now).await? {
        Standing::SecondFactorDue
    } else {
        Standing::Active
    })
}

/// Whether the session exists and is within its lifetimes: remembered, or one indexed read.
pub async fn is_active(state: &AuthState, session_id: &str) -> Result<bool, StatusUnknown> {
    active_at(state, session_id, Instant::now()).await
}

async fn active_at(
    state: &AuthState,
    session_id: &str,
    now: Instant,
) -> Result<bool, StatusUnknown> {
    let read = read(state, session_id);
    remembered_or_read(state, Answer::SignedIn, session_id, true, now, read).await
}

/// Whether the user has a verified second factor, asked on every `aal1` request (nearly all of
/// them): remembered like a session's status, or the read would undo the memory's saving. Only
/// "none" is remembered; verifying a factor is a write to `/auth/v1`, which forgets it here at
/// once (elsewhere within the memory's lifetime, as a sign-out).
async fn has_second_factor(
    state: &AuthState,
    user_id: &str,
    now: Instant,
) -> Result<bool, StatusUnknown> {
    let read = async {
        super::mfa::has_verified_factor(&state.pool, user_id)
            .await
            .map_err(|_| StatusUnknown)
    };
    remembered_or_read(state, Answer::Factorless, user_id, false, now, read).await
}

/// `read`'s answer, or `permissive` if that is what it answered for `key` within the memory's
/// lifetime (before `now`) and generation. Only the permissive answer is remembered: the other
/// one is final (signed out) or must take effect at once (a second factor).
async fn remembered_or_read(
    state: &AuthState,
    kind: Answer,
    key: &str,
    permissive: bool,
    now: Instant,
    read: impl std::future::Future<Output = Result<bool, StatusUnknown>>,
) -> Result<bool, StatusUnknown> {
    let cache = &state.session_status;
    if cache.lifetime.is_zero() {
        return read.await;
    }
    if cache.remembered(&[(kind, key)], now) {
        return Ok(permissive);
    }
    // Taken before the read: a sign-out that commits meanwhile bumps the generation, and this
    // answer is then never used. (`now` too is from before the read.)
    let read_in = cache.generation.load(Ordering::SeqCst);
    let answer = read.await?;
    if answer == permissive {
        cache.remember(kind, key, now, read_in);
    }
    Ok(answer)
}

async fn read(state: &AuthState, session_id: &str) -> Result<bool, StatusUnknown> {
    sessions::find_live(state, session_id)
        .await
        .map(|session| session.is_some())
        .map_err(|_| StatusUnknown)
}

/// Middleware on `/auth/v1`: after any request that may write (every method but GET, HEAD and
/// OPTIONS) the remembered answers are forgotten. Coarse on purpose: a new route that ends
/// sessions is covered without remembering to say so.
pub async fn forget_after_writes(
    State(cache): State<Arc<SessionStatusCache>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let writes = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    // A guard rather than a call after the handler: a client that hangs up drops the handler's
    // future, possibly after its write committed.
    let _forget = writes.then_some(ForgetOnDrop(cache));
    next.run(request).await
}

/// Forgets the remembered answers when dropped.
struct ForgetOnDrop(Arc<SessionStatusCache>);

impl Drop for ForgetOnDrop {
    fn drop(&mut self) {
        self.0.forget_all();
    }
}
