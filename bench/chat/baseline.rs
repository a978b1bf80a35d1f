//! The baseline: bench/baseline/app.py (the starter's protected routes on FastAPI + SQLAlchemy +
//! PyJWT) under uvicorn with one worker per core, on the same database as the ferrochat it is
//! compared with, and the protected reads of both, in turns, with the same tokens.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, COOKIE};
use tokio::process::{Child, Command};

use crate::{
    auth::{AuthApp, CONNECTIONS, HS256_SECRET, TURN, TURNS},
    load::{compare, Target, Throughput},
};

/// How long uvicorn may take to answer its first request.
const START_LIMIT: Duration = Duration::from_secs(60);
/// Chat sessions of the measured user, and messages in the one that is read.
pub const SESSIONS: usize = 20;
pub const MESSAGES: usize = 20;
/// Chat sessions of the user whose chat page is compared (issue #13: 200).
pub const PAGE_SESSIONS: usize = 200;

/// The baseline's virtualenv (scripts/bench.sh makes it): `FERROCHAT_BENCH_VENV`, or
/// `.tools/bench-venv`.
fn venv() -> PathBuf {
    std::env::var_os("FERROCHAT_BENCH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bench-venv"))
}

/// Whether the baseline can run here.
pub fn available() -> bool {
    venv().join("bin/uvicorn").exists()
}

/// A running uvicorn, stopped when dropped.
pub struct Baseline {
    server: Child,
    pub base_url: String,
}

impl Drop for Baseline {
    /// SIGTERM, not SIGKILL: uvicorn's main process then stops its workers (killed, it would leave
    /// them running); waited for at most 10 s.
    fn drop(&mut self) {
        let Some(pid) = self.server.id() else {
            return;
        };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        for _ in 0..100 {
            if self.server.try_wait().is_ok_and(|status| status.is_some()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.server.start_kill();
    }
}

/// ferrochat's database URL as SQLAlchemy spells it.
pub fn sqlalchemy_url(database_url: &str) -> String {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        format!("sqlite:///{path}")
    } else if let Some(rest) = database_url.strip_prefix("postgres://") {
        format!("postgresql+psycopg://{rest}")
    } else {
        panic!("an sqlite:// or postgres:// URL, not {database_url}")
    }
}

impl Baseline {
    /// Starts the baseline on `app`'s database, trusting its keys.
    pub async fn start(app: &AuthApp) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let workers = std::thread::available_parallelism().map_or(2, usize::from);
        let server = Command::new(venv().join("bin/python"))
            .args(["-m", "uvicorn", "app:app", "--app-dir"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/baseline"))
            .args([
                "--host",
                "127.0.0.1",
                "--log-level",
                "warning",
                "--no-access-log",
            ])
            .args([
                "--port",
                &port.to_string(),
                "--workers",
                &workers.to_string(),
            ])
            .env("BASELINE_DATABASE_URL", sqlalchemy_url(&app.database_url))
            .env("BASELINE_JWT_SECRET", HS256_SECRET)
            .env(
                "BASELINE_JWKS_URL",
                app.app.url("/auth/v1/.well-known/jwks.json"),
            )
            .stdin(Stdio::null())
            .spawn()
            .expect("uvicorn starts");
        let base_url = format!("http://127.0.0.1:{port}");
        let started = tokio::time::Instant::now();
        loop {
            let answered = reqwest::get(format!("{base_url}/openapi.json"))
                .await
                .is_ok_and(|response| response.status().is_success());
            if answered {
                break;
            }
            assert!(started.elapsed() < START_LIMIT, "uvicorn did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Baseline { server, base_url }
    }
}

/// Gives the measured user `sessions` more chats, the newest with [`MESSAGES`] messages, shaped
/// as the store writes them; the id of that newest one.
pub async fn seed(app: &AuthApp, sessions: usize) -> String {
    let pool = app.app.store.pool();
    let user = crate::harness::claims_of(&app.access_token)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let start_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let mut newest = String::new();
    for n in 0..sessions {
        newest = uuid::Uuid::new_v4().to_string();
        let at = start_ms + n as i64;
        sqlx::query(
            "INSERT INTO chat_sessions (id, user_id, title, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(&newest)
        .bind(&user)
        .bind(format!("Chat number {n}"))
        .bind(at)
        .execute(pool)
        .await
        .expect("a chat is seeded");
    }
    for n in 0..MESSAGES {
        let role = if n % 2 == 0 { "user" } else { "assistant" };
        sqlx::query(
            "INSERT INTO messages (id, chat_session_id, role, content, status, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 'complete', $5, $5)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&newest)
        .bind(role)
        .bind(format!(
            "Message {n}: a sentence or two of an ordinary conversation."
        ))
        .bind(start_ms + n as i64)
        .execute(pool)
        .await
        .expect("a message is seeded");
    }
    newest
}

/// One route on both servers.
pub struct Read {
    pub route: &'static str,
    pub ferrochat: Throughput,
    pub baseline: Throughput,
}

/// `GET /api/sessions` and `GET /api/sessions/{id}` on `app` and `baseline`, in turns.
pub async fn protected_reads(app: &AuthApp, baseline: &Baseline, chat: &str) -> Vec<Read> {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", app.access_token)).unwrap(),
    );
    let routes = [
        ("GET /api/sessions", "/api/sessions".to_owned()),
        ("GET /api/sessions/{id}", format!("/api/sessions/{chat}")),
    ];
    let targets: Vec<Target> = routes
        .iter()
        .flat_map(|(route, path)| {
            [
                Target::get(route, app.app.url(path), headers.clone()),
                Target::get(
                    route,
                    format!("{}{path}", baseline.base_url),
                    headers.clone(),
                ),
            ]
        })
        .collect();
    let mut results = compare(&targets, CONNECTIONS, TURN, TURNS)
        .await
        .into_iter();
    routes
        .iter()
        .map(|(route, _)| Read {
            route,
            ferrochat: results.next().unwrap(),
            baseline: results.next().unwrap(),
        })
        .collect()
}

/// One chat opened in a browser by a user with many chats: ferrochat's server-rendered
/// `GET /chat/{id}` (sidebar and history in the HTML, the session cookie) against the two
/// requests the starter's frontend makes for the same view (`GET /api/sessions`, then
/// `GET /api/sessions/{id}`, bearer token), one after the other; in turns.
pub async fn chat_page(app: &AuthApp, baseline: &Baseline, chat: &str) -> Read {
    let mut cookie = HeaderMap::new();
    cookie.insert(COOKIE, HeaderValue::from_str(&app.cookie).unwrap());
    let mut bearer = HeaderMap::new();
    bearer.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", app.access_token)).unwrap(),
    );
    let targets = [
        Target::get("chat page", app.app.url(&format!("/chat/{chat}")), cookie),
        Target::visit(
            "chat page",
            vec![
                format!("{}/api/sessions", baseline.base_url),
                format!("{}/api/sessions/{chat}", baseline.base_url),
            ],
            bearer,
        ),
    ];
    let mut results = compare(&targets, CONNECTIONS, TURN, TURNS)
        .await
        .into_iter();
    Read {
        route: "GET /chat/{id} vs GET /api/sessions + GET /api/sessions/{id}",
        ferrochat: results.next().unwrap(),
        baseline: results.next().unwrap(),
    }
}
