//! The HTTP server: the Axum router with its layers, health probes and graceful shutdown.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{FromRef, State},
    http::{Request, StatusCode},
    middleware,
    response::IntoResponse,
    routing::{get, post},
    Json, Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::{
    compression::{
        predicate::{DefaultPredicate, Predicate, SizeAbove},
        CompressionLayer,
    },
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};

use crate::{
    app::{shell, App},
    assets::{self, SiteAssets},
    auth::{
        self,
        actions::{PasswordMinLength, ReauthWindow, SiteUrl},
        client::AuthClient,
        remote_status::RemoteSessionStatus,
        session::SessionManager,
        verify::{KeySource, Verifier},
    },
    auth_service::{self, config::JwtSigning, AuthState},
    chat::{api as chat_api, llm::Models, relay::ChatRelay, store::ChatStore},
    config::{AuthMode, Config},
    contract::cookies::CookieJar,
    form_errors::{self, FormErrorKey},
    security,
    settings::{LogFormat, Settings},
    store::Store,
    theme,
};

/// State shared by every handler. Axum clones it for every request routed to a handler, so it is
/// one `Arc`: cloning the fields themselves was about 4 % of a small request's CPU.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Arc<SessionManager> {
    fn from_ref(state: &AppState) -> Self {
        state.sessions.clone()
    }
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
    }
}

/// What [`AppState`] holds.
pub struct AppParts {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    /// The embedded auth service, unless a remote Supabase project is used.
    pub auth: Option<AuthState>,
    /// Who is signed in: session cookies, local verification, refresh.
    pub sessions: Arc<SessionManager>,
    pub site_url: SiteUrl,
    /// Origins whose pages may write here from a browser: the site and the CORS allow-list.
    pub origins: Arc<security::TrustedOrigins>,
    /// The chat: its store, its models and the answers being written.
    pub chat: ChatRelay,
    /// When the auth service wants the current password for a password change.
    pub reauth_window: ReauthWindow,
    /// The bundle's file names and their cache policy.
    pub assets: Arc<SiteAssets>,
    /// Signs the refusals of forms posted without JavaScript.
    pub form_errors: FormErrorKey,
}

impl AppState {
    /// Builds the state for a server listening on `local_addr`: the embedded auth service (or the
    /// remote project) and the session handling that talks to it.
    pub async fn new(config: Config, store: Store, local_addr: SocketAddr) -> Result<Self, String> {
        let Config {
            mut settings,
            auth,
            chat,
        } = config;
        // Port 0 means "any free port": the site is where the listener actually is.
        if settings.site_url.port() == Some(0) {
            let _ = settings.site_url.set_port(Some(local_addr.port()));
        }
        let assets = Arc::new(SiteAssets::load(&mut settings.leptos)?);
        let site_url = SiteUrl(settings.site_url.clone());
        let origins = Arc::new(security::TrustedOrigins::new(
            &settings.site_url,
            &settings.cors_allowed_origins,
        ));
        let chat = ChatRelay::new(
            ChatStore::new(store.pool().clone())
                .with_streams_per_user(chat.streams_per_user)
                .with_guest_messages(chat.guest_messages),
            Arc::new(Models::new(&chat)),
            chat.history_budget_chars,
        );
        let secure = site_url.0.scheme() == "https";
        let (sessions, auth, reauth_window) = match auth {
            AuthMode::Remote(remote) => {
                let base = remote.url.join("/auth/v1").map_err(|e| e.to_string())?;
                let issuer = base.as_str().trim_end_matches('/').to_owned();
                let client = AuthClient::remote(base, Some(remote.api_key.0.clone()))
                    .with_service_role_key(remote.service_role_key.as_ref().map(|k| k.0.clone()));
                let source = match &remote.jwt_secret {
                    Some(secret) => KeySource::Secret(secret.0.clone().into_bytes()),
                    None => KeySource::Jwks(client.clone()),
                };
                let jar = CookieJar::new(remote.url.host_str().unwrap_or("supabase"), secure);
                let verifier = Verifier::new(source, issuer);
                let status = RemoteSessionStatus::new(client.clone(), remote.session_check);
                let sessions =
                    SessionManager::new(client, verifier, jar, settings.trusted_proxies.clone())
                        .with_revocation_check(Arc::new(status));
                (sessions, None, ReauthWindow(None))
            }
            AuthMode::Embedded(auth_config) => {
                let mut auth_config = *auth_config;
                auth_config.site_url = settings.site_url.clone();
                let reauth_window = ReauthWindow(Some(auth_config.reauth_after));
                let issuer = auth_config.issuer();
                let public_base = url::Url::parse(&issuer).map_err(|e| e.to_string())?;
                let signing = auth_config.signing.clone();
                let embedded = AuthState::new(
                    store.pool().clone(),
                    auth_config,
                    &settings.data_dir,
                    forget_chats(&chat),
                )
                .await
                .map_err(|error| format!("cannot start the auth service: {}", error.msg))?;
                // Called in-process, with each browser's identity: see auth/client.rs.
                let client =
                    AuthClient::in_process(auth_service::router(embedded.clone()), public_base);
                let source = match signing {
                    JwtSigning::Hs256 { secret } => KeySource::Secret(secret),
                    JwtSigning::Es256 | JwtSigning::Imported(_) => KeySource::Jwks(client.clone()),
                };
                let jar = CookieJar::new(site_url.0.host_str().unwrap_or("localhost"), secure);
                let verifier = Verifier::new(source, issuer);
                let sessions =
                    SessionManager::new(client, verifier, jar, settings.trusted_proxies.clone())
                        .with_revocation_check(Arc::new(embedded.clone()));
                (sessions, Some(embedded), reauth_window)
            }
        };
        let form_errors = FormErrorKey::new(
            crate::store::secret(store.pool(), "form_error_key")
                .await
                .map_err(|error| format!("cannot read the server secrets: {error}"))?,
        );
        Ok(AppState(Arc::new(AppParts {
            leptos_options: settings.leptos,
            store,
            auth,
            sessions: Arc::new(sessions),
            site_url,
            origins,
            chat,
            reauth_window,
            assets,
            form_errors,
        })))
    }

    /// What server functions and pages find in their context.
    fn provide_server_context(&self) {
        // The page's nonce is the one its CSP header admits (`security::PageNonce`), in place of
        // the one leptos_axum made up.
        // Read in place: cloning the request's parts to read one value was a cost of every call.
        if let Some(nonce) = with_context::<axum::http::request::Parts, _>(|parts| {
            parts.extensions.get::<security::PageNonce>().cloned()
        })
        .flatten()
        {
            provide_context(leptos::nonce::Nonce::from_value(nonce.0));
        }
        provide_context(self.sessions.clone());
        provide_context(self.site_url.clone());
        provide_context(self.chat.clone());
        provide_context(self.reauth_window);
        provide_context(PasswordMinLength(
            self.auth
                .as_ref()
                .map(|embedded| embedded.config.password_min_length),
        ));
        provide_context(self.assets.clone());
        provide_context(self.form_errors.clone());
    }
}

/// Responses shorter than this (by their `Content-Length`) are sent uncompressed.
pub const MIN_COMPRESSED_BYTES: u16 = 1400;

/// Builds the whole app: pages, server functions, probes, static files and the layers around them.
pub fn router(state: AppState) -> Router {
    // Listed once per process: listing renders the app with resource loading switched off for
    // the whole process, so a page rendered meanwhile by another router (tests run many apps
    // in one process) would wait forever for its data (leptos-rs/leptos#4773).
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| generate_route_list(App)).clone();
    let cache_policy = state.assets.clone();
    let live_reload = state.leptos_options.env == leptos::config::Env::DEV;
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    let mut chat_routes = chat_api::router(state.chat.clone());
    if let Some(cors) = state.origins.cors() {
        chat_routes = chat_routes.layer(cors);
    }
    let mut router = Router::new()
        .merge(chat_routes)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/theme", post(theme::form::set_theme))
        .route("/auth/callback", get(auth::routes::callback));
    if let Some(embedded) = &state.auth {
        let mut service = auth_service::router(embedded.clone());
        if let Some(cors) = state.origins.cors() {
            service = service.layer(cors);
        }
        router = router.nest_service("/auth/v1", service);
    }
    let context = {
        let state = state.clone();
        move || state.provide_server_context()
    };
    router
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(middleware::from_fn(crate::error::server_fn_status))
        .layer(middleware::from_fn_with_state(
            state.form_errors.clone(),
            form_errors::sign_refusals,
        ))
        .layer(middleware::from_fn(auth::routes::guard_pages))
        .layer(middleware::from_fn_with_state(
            state.sessions.clone(),
            auth::session::resolve_session,
        ))
        .layer(middleware::from_fn_with_state(
            state.origins.clone(),
            security::refuse_cross_site,
        ))
        .with_state(state)
        // Layers run bottom-up on the way in: the id is set first so every log line carries it.
        .layer(middleware::from_fn_with_state(
            cache_policy,
            assets::cache_headers,
        ))
        .layer(middleware::from_fn_with_state(
            security::LiveReload(live_reload),
            security::security_headers,
        ))
        // Not below a packet's worth: a server function's small answer (who is signed in, a
        // chat's title) gains a few bytes from gzip and cost a signed-in request its largest
        // share of CPU (deflate's tables set up per response). Streamed pages have no length and
        // are always compressed.
        .layer(
            // The size first: most answers are small, and it is one comparison where the
            // default predicate compares the content type three times.
            CompressionLayer::new()
                .compress_when(SizeAbove::new(MIN_COMPRESSED_BYTES).and(DefaultPredicate::new())),
        )
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// The log span of one request. The query string is left out: it can carry auth codes.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        id,
        method = %request.method(),
        path = request.uri().path(),
    )
}

/// `GET /healthz`: the process is alive.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the server can do its work, i.e. the database answers.
async fn readyz(State(store): State<Store>) -> impl IntoResponse {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "reason": "The database is unreachable.",
                })),
            )
        }
    }
}

/// Installs the global log subscriber. The filter was validated with the other settings.
pub fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::new(&settings.log_filter);
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match settings.log_format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// What deleting a user (pruning an abandoned guest, an administrator's hard delete, the
/// person's own account deletion) deletes first: their chats (and quota count).
fn forget_chats(chat: &ChatRelay) -> auth_service::maintenance::ForgetUser {
    let chat = chat.clone();
    Arc::new(move |user_id| {
        let chat = chat.clone();
        Box::pin(async move {
            let user = crate::chat::store::UserId::verified(user_id);
            chat.delete_all(&user)
                .await
                .map(drop)
                .map_err(|error| error.to_string())
        })
    })
}

/// Binds the listen address, with an error that names it.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
/// The embedded auth service's background upkeep runs meanwhile.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    tracing::info!("ferrochat listening on http://{}", listener.local_addr()?);
    // Background upkeep runs exactly as long as the server does.
    let _maintenance = state.auth.clone().map(auth_service::maintenance::start);
    let _chat_upkeep = state.chat.start_upkeep();
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM (what service managers send). The handlers
/// are installed when this is called, not when the future is first polled, so a signal that
/// arrives during start-up is not lost (nor does it kill the process mid-start).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {},
                        _ = terminate.recv() => {},
                    }
                }
                _ => {
                    tracing::warn!("cannot listen for signals: stop the server by killing it");
                    std::future::pending::<()>().await;
                }
            }
            tracing::info!("shutting down: finishing in-flight requests");
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
