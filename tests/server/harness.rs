//! The one place that starts the app for tests.

use std::{net::SocketAddr, sync::Arc};

use ferrochat::{
    auth::session::SessionManager,
    auth_service::AuthState,
    config::Config,
    server::{self, AppState},
    store::Store,
};
use serde_json::{json, Value};
use tempfile::TempDir;

/// A running app with its own database, stopped when the test's runtime ends.
pub struct TestApp {
    pub address: SocketAddr,
    pub store: Store,
    /// A client that does not follow redirects, so tests see them.
    pub client: reqwest::Client,
    pub data_dir: Arc<TempDir>,
    /// The app's session handling, to observe refreshes.
    pub sessions: Arc<SessionManager>,
    /// The embedded auth service, unless the app uses a remote project.
    pub auth: Option<AuthState>,
}

impl TestApp {
    /// A client that connects from `127.0.0.<n>`: another person, as far as the app can tell.
    pub fn client_from(&self, n: u8) -> reqwest::Client {
        client_at([127, 0, 0, n].into())
    }

    /// An absolute URL for `path` on this app.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    /// POSTs JSON to the auth service, e.g. `auth_post("/signup", ...)`.
    pub async fn auth_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/auth/v1{path}")))
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    /// Signs up a new user and returns the session JSON.
    pub async fn sign_up(&self, email: &str, password: &str) -> Value {
        let response = self
            .auth_post("/signup", &json!({ "email": email, "password": password }))
            .await;
        assert_eq!(response.status(), 200, "sign-up of {email}");
        response.json().await.unwrap()
    }

    /// Submits the app's sign-in form as a browser without JavaScript would, and returns the
    /// response (a redirect carrying the session cookies).
    pub async fn submit_login(&self, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/auth/login"))
            .header("accept", "text/html")
            .header("sec-fetch-site", "same-origin")
            .header("referer", self.url("/login"))
            .form(&[("email", email), ("password", password), ("next", "/chat")])
            .send()
            .await
            .unwrap()
    }

    /// Signs in with a password and returns the session JSON.
    pub async fn sign_in(&self, email: &str, password: &str) -> Value {
        let response = self
            .auth_post(
                "/token?grant_type=password",
                &json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(response.status(), 200, "sign-in of {email}");
        response.json().await.unwrap()
    }

    /// `GET /auth/v1/user` with a bearer token.
    pub async fn get_user(&self, access_token: &str) -> reqwest::Response {
        self.client
            .get(self.url("/auth/v1/user"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }

    /// The messages in the dev mailbox, oldest first.
    pub fn mails(&self) -> Vec<String> {
        let dir = self.data_dir.path().join("mail");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| entries.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .into_iter()
            .map(|path| std::fs::read_to_string(path).unwrap())
            .collect()
    }

    /// Waits for the `n`-th mail (background tasks send them) and returns its link.
    pub async fn mail_link(&self, n: usize) -> String {
        for _ in 0..100 {
            if let Some(mail) = self.mails().get(n) {
                let link = mail.lines().find(|line| line.starts_with("http")).unwrap();
                return link.to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no mail number {n} arrived");
    }
}

/// The claims of a JWT, read without verifying it (tests check verification elsewhere).
pub fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// The `Cookie` header a browser would send back after these responses' `Set-Cookie`s.
pub fn cookies_from(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap())
        .filter(|cookie| !cookie.contains("Max-Age=0"))
        .map(|cookie| cookie.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Mints a token with the app's own signing key (read from its database), with `claims`.
pub async fn mint(app: &TestApp, claims: &Value) -> String {
    let (kid, der): (String, Vec<u8>) =
        sqlx::query_as("SELECT kid, private_der FROM signing_keys WHERE retired_at IS NULL")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid);
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_ec_der(&der),
    )
    .unwrap()
}

/// The Python of the test tools' virtualenv (made by scripts/setup.sh).
pub fn venv_python() -> String {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/venv/bin/python");
    assert!(
        std::path::Path::new(python).exists(),
        "{python} is missing: run scripts/setup.sh"
    );
    python.to_owned()
}

/// A unique address for a test user.
pub fn unique_email() -> String {
    format!("user-{}@example.test", uuid_like())
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Starts the real router on `127.0.0.1:0` with a database in a new temporary directory.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`], with extra settings (environment variable names and values).
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    let data_dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
    spawn_app_in(data_dir, vars).await
}

/// Starts an app on an existing data directory, e.g. to restart "the same server". Every setting
/// not given keeps its default: rate limits are the ones people meet.
pub async fn spawn_app_in(data_dir: Arc<TempDir>, vars: &[(&str, &str)]) -> TestApp {
    let data_path = data_dir
        .path()
        .to_str()
        .expect("UTF-8 temp path")
        .to_owned();
    let config = Config::from_lookup(|name| {
        if let Some((_, value)) = vars.iter().find(|(key, _)| *key == name) {
            return Some((*value).to_owned());
        }
        match name {
            "FERROCHAT_DATA_DIR" => Some(data_path.clone()),
            "LEPTOS_SITE_ADDR" => Some("127.0.0.1:0".into()),
            _ => None,
        }
    })
    .expect("test settings are valid");
    let store = Store::open(&config.settings.database_url)
        .await
        .expect("database opens");
    let listener = server::bind(config.settings.leptos.site_addr)
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().unwrap();
    let state = AppState::new(config, store.clone(), address)
        .await
        .expect("app state builds");
    let sessions = state.sessions.clone();
    let auth = state.auth.clone();
    tokio::spawn(server::serve(listener, state, std::future::pending()));
    TestApp {
        address,
        store,
        client: client_at(next_client_ip()),
        data_dir,
        sessions,
        auth,
    }
}

/// A client that does not follow redirects (so tests see them), connecting from `ip`.
pub fn client_at(ip: std::net::IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip)
        .build()
        .unwrap()
}

/// A loopback address for the next app's default client, so that apps started in one test are
/// not all talked to from one address (`127.0.0.1` stays the proxies' and the app's own).
fn next_client_ip() -> std::net::IpAddr {
    use std::sync::atomic::{AtomicU8, Ordering};
    static NEXT: AtomicU8 = AtomicU8::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 200;
    [127, 0, 0, 10 + n].into()
}
