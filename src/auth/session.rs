//! The signed-in user of a request: read from the session cookies (or a bearer token), verified
//! locally, refreshed when expired, and handed to handlers and server functions.
//!
//! Refreshing is single-flight per refresh token: concurrent requests that arrive with the same
//! expired session share one call to the auth service and all get the new session.
//!
//! A session is ended (its cookies cleared) only on a verdict about it: a token that does not
//! verify, a refresh token the service refuses. When the answer is "not now" (the service is
//! unreachable or rate-limits the refresh, the keys or the session store cannot be reached) the
//! cookies stay and the request is served as [`SessionState::Unknown`].

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    extract::{ConnectInfo, FromRequestParts, State},
    http::{header, request::Parts, HeaderValue, Request},
    middleware::Next,
    response::Response,
};
use tokio::sync::{Mutex, OnceCell};

use super::{
    client::{AuthApiError, AuthClient},
    memory::Memory,
    verify::{Verified, Verifier, VerifyError},
    UserInfo,
};
use crate::{
    contract::{
        claims::AccessClaims,
        client::bearer_token,
        cookies::{cookie_header, CookieJar, CookieTokens},
        ClientIdentity, SessionStatus, SessionTokens, Standing,
    },
    error::AppError,
};

/// A refresh in progress or just done, shared by the requests that need it.
type SharedRefresh = Arc<OnceCell<Result<SessionTokens, AuthApiError>>>;

/// How long a finished refresh is remembered for requests that were already on their way.
const REFRESH_MEMORY: Duration = Duration::from_secs(30);

/// How many session cookies are remembered at most (about 4 kB each).
const KNOWN_COOKIES: usize = 4096;

/// Everything the app needs to know who is signed in.
pub struct SessionManager {
    pub client: AuthClient,
    pub verifier: Verifier,
    pub jar: CookieJar,
    /// Proxies whose `X-Forwarded-For` names the client.
    trusted_proxies: Vec<std::net::IpAddr>,
    inflight: Mutex<HashMap<String, (Instant, SharedRefresh)>>,
    /// Session cookies whose access token verified, by their exact value: a browser sends the
    /// same cookie with every request for up to an hour, and one lookup of it replaces reading it
    /// (base64, then JSON), looking its token up in the verifier's memory and copying the token
    /// out, which were most of a signed-in request's own work (bench/RESULTS.md, "Auth
    /// overhead"). Each use still asks the verifier whether the verdict stands (expiry, key set)
    /// and the session's standing is asked on every request. When full, the entries whose verdict
    /// no longer stands go, then all.
    known_cookies: Memory<Arc<KnownCookie>>,
    refreshes: AtomicU64,
    /// Whether a verified token's session was signed out or owes a second factor: what a
    /// signature cannot say (the embedded service's database, or the remote project now and then).
    revocations: Option<Arc<dyn SessionStatus>>,
}

/// A verified user, with the token to act for them at the auth service. Both are shared: a
/// request's user is copied into its extensions and out again into each handler that asks.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub claims: Arc<AccessClaims>,
    pub access_token: Arc<str>,
}

impl AuthUser {
    pub fn id(&self) -> &str {
        &self.claims.sub
    }

    pub fn info(&self) -> UserInfo {
        UserInfo {
            id: self.claims.sub.clone(),
            email: self.claims.email.clone(),
            guest: self.claims.is_anonymous,
        }
    }
}

/// A session cookie whose access token verified: the token, its verdict (claims and how long
/// it stands), and the refresh token for when it no longer does.
struct KnownCookie {
    access_token: Arc<str>,
    verified: Verified,
    refresh_token: String,
}

impl KnownCookie {
    fn user(&self) -> AuthUser {
        AuthUser {
            claims: self.verified.claims.clone(),
            access_token: self.access_token.clone(),
        }
    }
}

/// Who the request comes from; put in the request extensions by [`resolve_session`].
#[derive(Clone, Debug, Default)]
pub enum SessionState {
    /// No session, or one that was refused.
    #[default]
    SignedOut,
    SignedIn(AuthUser),
    /// Signed in with the first factor only (`aal1`) by a user who has a verified second factor:
    /// nothing but the "enter your code" page and signing out until the code is given.
    SecondFactorDue(AuthUser),
    /// A session that cannot be checked right now (auth service, keys or database briefly out
    /// of reach). Its cookies are kept; private data is not served until it can be checked.
    Unknown,
}

impl SessionState {
    pub fn user(&self) -> Option<&AuthUser> {
        match self {
            SessionState::SignedIn(user) => Some(user),
            _ => None,
        }
    }
}

/// What resolving a request's session decided.
struct Resolved {
    state: SessionState,
    set_cookies: Vec<String>,
}

impl Resolved {
    fn signed_out(set_cookies: Vec<String>) -> Self {
        Resolved {
            state: SessionState::SignedOut,
            set_cookies,
        }
    }

    fn unknown(set_cookies: Vec<String>) -> Self {
        Resolved {
            state: SessionState::Unknown,
            set_cookies,
        }
    }
}

impl SessionManager {
    pub fn new(
        client: AuthClient,
        verifier: Verifier,
        jar: CookieJar,
        trusted_proxies: Vec<std::net::IpAddr>,
    ) -> Self {
        SessionManager {
            client,
            verifier,
            jar,
            trusted_proxies,
            inflight: Mutex::new(HashMap::new()),
            known_cookies: Memory::new(KNOWN_COOKIES),
            refreshes: AtomicU64::new(0),
            revocations: None,
        }
    }

    /// Checks every verified token's session with `status`.
    pub fn with_revocation_check(mut self, status: Arc<dyn SessionStatus>) -> Self {
        self.revocations = Some(status);
        self
    }

    /// The client of a request, as the edge sees it.
    pub fn client_identity(&self, parts: &Parts) -> ClientIdentity {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        ClientIdentity::resolve(peer, &parts.headers, &self.trusted_proxies)
    }

    /// Verifies a token and, where the session store is at hand, that its session still exists
    /// and whether it still owes a second factor. This is the one place where a request's
    /// identity is established, so the second-factor rule lives here: every page, server
    /// function and API route gets it without asking.
    async fn verify(&self, token: &str) -> Result<SessionState, VerifyError> {
        let claims = self.verifier.verify(token).await?;
        let user = AuthUser {
            claims,
            access_token: token.into(),
        };
        self.standing_of(user, Instant::now()).await
    }

    /// The state of a verified user's request at `now`: their session's standing.
    async fn standing_of(&self, user: AuthUser, now: Instant) -> Result<SessionState, VerifyError> {
        let standing = match &self.revocations {
            Some(status) => match status.remembered(&user.claims, now) {
                Some(standing) => standing,
                None => status
                    .standing(&user.claims, &user.access_token)
                    .await
                    .map_err(|unknown| {
                        tracing::warn!(%unknown, "cannot check the session");
                        VerifyError::RevocationUnknown
                    })?,
            },
            None => Standing::Active,
        };
        match standing {
            Standing::Active => Ok(SessionState::SignedIn(user)),
            Standing::SecondFactorDue => Ok(SessionState::SecondFactorDue(user)),
            Standing::SignedOut => Err(VerifyError::Revoked),
        }
    }

    /// Refresh calls made to the auth service so far (for tests of single-flight).
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    async fn resolve(
        &self,
        client: &ClientIdentity,
        cookie_header: Option<&[u8]>,
        bearer: Option<&str>,
    ) -> Resolved {
        if let Some(token) = bearer {
            return match self.verify(token).await {
                Ok(state) => Resolved {
                    state,
                    set_cookies: Vec::new(),
                },
                Err(error) if error.is_transient() => {
                    tracing::info!(%error, "bearer token cannot be checked now");
                    Resolved::unknown(Vec::new())
                }
                Err(error) => {
                    tracing::debug!(%error, "bearer token refused");
                    Resolved::signed_out(Vec::new())
                }
            };
        }
        let Some(value) = cookie_header.and_then(|header| self.jar.session_value(header)) else {
            return Resolved::signed_out(Vec::new());
        };
        // One clock read for the verdict and the session's standing.
        let now = Instant::now();
        let known = self.known_cookies.get(&value);
        let state = match &known {
            Some(known) if self.verifier.stands(&known.verified, now) => {
                self.standing_of(known.user(), now).await
            }
            _ => {
                // New, or its verdict no longer stands (expired, keys fetched again): read and
                // verify it again.
                let (access_token, refresh_token): (Arc<str>, String) = match known {
                    Some(known) => (known.access_token.clone(), known.refresh_token.clone()),
                    None => match CookieJar::read::<CookieTokens>(&value) {
                        Some(tokens) => (tokens.access_token.into(), tokens.refresh_token),
                        None => return Resolved::signed_out(Vec::new()),
                    },
                };
                match self.verifier.verified(&access_token).await {
                    Ok(verified) => {
                        let known = KnownCookie {
                            access_token,
                            verified,
                            refresh_token,
                        };
                        let user = known.user();
                        self.known_cookies.insert(&value, Arc::new(known), |kept| {
                            self.verifier.stands(&kept.verified, now)
                        });
                        // The clock again: verifying may have waited for the keys.
                        self.standing_of(user, Instant::now()).await
                    }
                    Err(VerifyError::Expired) => {
                        return self.refreshed(client, &refresh_token).await
                    }
                    Err(error) => Err(error),
                }
            }
        };
        match state {
            Ok(state) => Resolved {
                state,
                set_cookies: Vec::new(),
            },
            Err(error) if error.is_transient() => {
                tracing::info!(%error, "session cannot be checked now: keeping it");
                Resolved::unknown(Vec::new())
            }
            Err(error) => {
                tracing::info!(%error, "session cookie refused");
                Resolved::signed_out(self.jar.clear())
            }
        }
    }

    /// The outcome of refreshing an expired session.
    async fn refreshed(&self, client: &ClientIdentity, refresh_token: &str) -> Resolved {
        match self.refresh(client, refresh_token).await {
            Ok(fresh) => {
                // The old refresh token is spent: whatever happens next, the browser must keep
                // the new one, or its next request would present a rotated token.
                let set_cookies = self.jar.store(&fresh);
                match self.verify(&fresh.access_token).await {
                    Ok(state) => Resolved { state, set_cookies },
                    Err(error) if error.is_transient() => Resolved::unknown(set_cookies),
                    Err(error) => {
                        tracing::warn!(%error, "refreshed token does not verify");
                        Resolved::signed_out(self.jar.clear())
                    }
                }
            }
            Err(error) if error.is_transient() => {
                tracing::info!(
                    code = error.code(),
                    "session refresh failed for now: keeping it"
                );
                Resolved::unknown(Vec::new())
            }
            Err(error) => {
                tracing::info!(code = error.code(), "session refresh refused: signing out");
                Resolved::signed_out(self.jar.clear())
            }
        }
    }

    /// One refresh per refresh token, however many requests need it at once.
    pub async fn refresh(
        &self,
        client: &ClientIdentity,
        refresh_token: &str,
    ) -> Result<SessionTokens, AuthApiError> {
        let shared = {
            let mut inflight = self.inflight.lock().await;
            inflight.retain(|_, (started, _)| started.elapsed() < REFRESH_MEMORY);
            inflight
                .entry(refresh_token.to_owned())
                .or_insert_with(|| (Instant::now(), Arc::new(OnceCell::new())))
                .1
                .clone()
        };
        let result = shared
            .get_or_init(|| async {
                self.refreshes.fetch_add(1, Ordering::Relaxed);
                self.client.refresh(client, refresh_token).await
            })
            .await
            .clone();
        if result.as_ref().is_err_and(AuthApiError::is_transient) {
            // Not remembered: the next request may try again.
            self.inflight.lock().await.remove(refresh_token);
        }
        result
    }
}

/// Middleware: resolves the client and the session of every page, server function and API
/// request, and sets refreshed (or cleared) cookies on the response unless the handler set its
/// own.
pub async fn resolve_session(
    State(sessions): State<Arc<SessionManager>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    // The auth API and static files have no use for the app's session.
    let path = request.uri().path();
    if path.starts_with("/auth/v1/") || path.starts_with("/pkg/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let client = sessions.client_identity(&parts);
    let cookie_header = cookie_header(&parts.headers);
    let bearer = bearer_token(&parts.headers).map(str::to_owned);
    let resolved = sessions
        .resolve(
            &client,
            Some(&*cookie_header).filter(|h| !h.is_empty()),
            bearer.as_deref(),
        )
        .await;
    parts.extensions.insert(resolved.state);
    parts.extensions.insert(client);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let handler_set_session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|value| sessions.jar.sets_session(value.as_bytes()));
    if !handler_set_session {
        for cookie in resolved.set_cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for SessionState {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<SessionState>()
            .cloned()
            .unwrap_or_default())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIdentity {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIdentity>()
            .cloned()
            .unwrap_or_default())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match SessionState::from_request_parts(parts, state).await {
            Ok(SessionState::SignedIn(user)) => Ok(user),
            Ok(SessionState::Unknown) => Err(AppError::Unavailable),
            Ok(SessionState::SecondFactorDue(_)) => Err(AppError::SecondFactorRequired),
            _ => Err(AppError::Unauthorized),
        }
    }
}
