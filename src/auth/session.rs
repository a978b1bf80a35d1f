//! The signed-in user of a request: read from the session cookies (or a bearer token), verified
//! locally, refreshed when expired, and handed to handlers and server functions.
//!
//! Refreshing is single-flight per refresh token: concurrent requests that arrive with the same
//! expired session share one call to the auth service and all get the new session.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    extract::{FromRequestParts, State},
    http::{header, request::Parts, HeaderValue, Request},
    middleware::Next,
    response::Response,
};
use tokio::sync::{Mutex, OnceCell};

use super::{
    claims::AccessClaims,
    client::{AuthApiError, AuthClient, Session},
    cookies::{cookie_header, CookieJar},
    verify::{Verifier, VerifyError},
    UserInfo,
};
use crate::error::AppError;

/// A refresh in progress or just done, shared by the requests that need it.
type SharedRefresh = Arc<OnceCell<Result<Session, AuthApiError>>>;

/// How long a finished refresh is remembered for requests that were already on their way.
const REFRESH_MEMORY: Duration = Duration::from_secs(30);

/// Everything the app needs to know who is signed in.
pub struct Sessions {
    pub client: AuthClient,
    pub verifier: Verifier,
    pub jar: CookieJar,
    inflight: Mutex<HashMap<String, (Instant, SharedRefresh)>>,
    refreshes: AtomicU64,
    /// With the embedded service, its database: lets a signed-out session end at once instead
    /// of when its access token expires (a local lookup, not a network call).
    revocations: Option<sqlx::SqlitePool>,
}

/// A verified user, with the token to act for them at the auth service.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub claims: AccessClaims,
    pub access_token: String,
}

impl AuthUser {
    pub fn id(&self) -> &str {
        &self.claims.sub
    }

    pub fn info(&self) -> UserInfo {
        UserInfo {
            id: self.claims.sub.clone(),
            email: self.claims.email.clone(),
        }
    }
}

/// The request's user, if any; put in the request extensions by [`resolve_session`].
#[derive(Clone, Debug, Default)]
pub struct MaybeAuthUser(pub Option<AuthUser>);

/// What resolving a request's session decided.
struct Resolved {
    user: Option<AuthUser>,
    set_cookies: Vec<String>,
}

impl Sessions {
    pub fn new(client: AuthClient, verifier: Verifier, jar: CookieJar) -> Self {
        Sessions {
            client,
            verifier,
            jar,
            inflight: Mutex::new(HashMap::new()),
            refreshes: AtomicU64::new(0),
            revocations: None,
        }
    }

    /// Checks every verified token's session against the embedded service's database.
    pub fn with_revocation_check(mut self, pool: sqlx::SqlitePool) -> Self {
        self.revocations = Some(pool);
        self
    }

    /// Verifies a token and, where the sessions table is at hand, that its session still exists.
    async fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        let claims = self.verifier.verify(token).await?;
        if let Some(pool) = &self.revocations {
            let alive = sqlx::query_scalar::<_, i64>("SELECT 1 FROM sessions WHERE id = ?")
                .bind(&claims.session_id)
                .fetch_optional(pool)
                .await;
            match alive {
                Ok(Some(_)) => {}
                Ok(None) => return Err(VerifyError::Revoked),
                // The database is the app's own: if it fails, the request fails safe.
                Err(error) => {
                    tracing::warn!(%error, "cannot check the session");
                    return Err(VerifyError::Revoked);
                }
            }
        }
        Ok(claims)
    }

    /// Refresh calls made to the auth service so far (for tests of single-flight).
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    async fn resolve(&self, cookie_header: Option<&str>, bearer: Option<&str>) -> Resolved {
        let none = |set_cookies| Resolved {
            user: None,
            set_cookies,
        };
        if let Some(token) = bearer {
            return match self.verify(token).await {
                Ok(claims) => Resolved {
                    user: Some(AuthUser {
                        claims,
                        access_token: token.to_owned(),
                    }),
                    set_cookies: Vec::new(),
                },
                Err(error) => {
                    tracing::debug!(%error, "bearer token refused");
                    none(Vec::new())
                }
            };
        }
        let Some(session) = cookie_header.and_then(|header| self.jar.load(header)) else {
            return none(Vec::new());
        };
        match self.verify(&session.access_token).await {
            Ok(claims) => Resolved {
                user: Some(AuthUser {
                    claims,
                    access_token: session.access_token,
                }),
                set_cookies: Vec::new(),
            },
            Err(VerifyError::Expired) => match self.refresh(&session.refresh_token).await {
                Ok(fresh) => match self.verify(&fresh.access_token).await {
                    Ok(claims) => Resolved {
                        set_cookies: self.jar.store(&fresh),
                        user: Some(AuthUser {
                            claims,
                            access_token: fresh.access_token,
                        }),
                    },
                    Err(error) => {
                        tracing::warn!(%error, "refreshed token does not verify");
                        none(self.jar.clear())
                    }
                },
                // The service is down: keep the cookies, try again next request.
                Err(AuthApiError::Unreachable) => none(Vec::new()),
                Err(error) => {
                    tracing::info!(code = error.code(), "session refresh refused: signing out");
                    none(self.jar.clear())
                }
            },
            Err(error) => {
                tracing::info!(%error, "session cookie refused");
                none(self.jar.clear())
            }
        }
    }

    /// One refresh per refresh token, however many requests need it at once.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session, AuthApiError> {
        let shared = {
            let mut inflight = self.inflight.lock().await;
            inflight.retain(|_, (started, _)| started.elapsed() < REFRESH_MEMORY);
            inflight
                .entry(refresh_token.to_owned())
                .or_insert_with(|| (Instant::now(), Arc::new(OnceCell::new())))
                .1
                .clone()
        };
        shared
            .get_or_init(|| async {
                self.refreshes.fetch_add(1, Ordering::Relaxed);
                self.client.refresh(refresh_token).await
            })
            .await
            .clone()
    }
}

/// Middleware: resolves the session of every page, server function and API request, and sets
/// refreshed (or cleared) cookies on the response unless the handler set its own.
pub async fn resolve_session(
    State(sessions): State<Arc<Sessions>>,
    mut request: Request<Body>,
    next: Next,
) -> Response {
    // The auth API and static files have no use for the app's session.
    let path = request.uri().path();
    if path.starts_with("/auth/v1/") || path.starts_with("/pkg/") {
        return next.run(request).await;
    }
    let headers = request.headers();
    let cookie_header = cookie_header(headers);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    let resolved = sessions
        .resolve(
            Some(&cookie_header)
                .filter(|h| !h.is_empty())
                .map(String::as_str),
            bearer.as_deref(),
        )
        .await;
    request
        .extensions_mut()
        .insert(MaybeAuthUser(resolved.user));
    let mut response = next.run(request).await;
    let handler_set_session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|value| value.as_bytes().starts_with(sessions.jar.name.as_bytes()));
    if !handler_set_session {
        for cookie in resolved.set_cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuthUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<MaybeAuthUser>()
            .cloned()
            .unwrap_or_default())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let MaybeAuthUser(user) = MaybeAuthUser::from_request_parts(parts, state)
            .await
            .unwrap_or_default();
        user.ok_or(AppError::Unauthorized)
    }
}
