//! The one place that starts the app for tests.

use std::{net::SocketAddr, sync::Arc};

use ferrochat::{
    config::Config,
    server::{self, AppState},
    store::Store,
};
use serde_json::{json, Value};
use tempfile::TempDir;

/// A running app with its own database, stopped when the test's runtime ends.
pub struct TestApp {
    /// Where the app listens.
    pub address: SocketAddr,
    /// Where clients reach it: the listen address, or the public URL in front of the proxy.
    pub base_url: String,
    /// The reverse proxy clients go through, for an app started with [`spawn_public_app`].
    pub proxy: Option<SocketAddr>,
    pub store: Store,
    /// A client that does not follow redirects, so tests see them.
    pub client: reqwest::Client,
    pub data_dir: Arc<TempDir>,
    /// The state the app serves: its session handling (to observe refreshes), the embedded auth
    /// service (unless the app uses a remote project), its router for the bench.
    pub state: AppState,
}

impl TestApp {
    /// The key `ferrochat keys` prints for `role` (`anon`, `service_role`), from the embedded
    /// service's current signing key.
    pub fn api_key(&self, role: &str) -> String {
        self.state
            .auth
            .as_ref()
            .unwrap()
            .keys
            .sign_api_key(role)
            .unwrap()
    }

    /// Reads the embedded service's signing keys again from the database: how an instance picks
    /// up a rotation made elsewhere, without waiting for it.
    pub async fn reload_keys(&self) {
        self.state
            .auth
            .as_ref()
            .unwrap()
            .keys
            .reload()
            .await
            .unwrap();
    }

    /// A client that connects from `127.0.0.<n>`: another person, as far as the app can tell.
    /// Behind the proxy it reaches the public host name, as a browser would.
    pub fn client_from(&self, n: u8) -> reqwest::Client {
        self.client_at([127, 0, 0, n].into())
    }

    /// An absolute URL for `path` on this app, as clients reach it.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A client that does not follow redirects (so tests see them), connecting from `ip`.
    fn client_at(&self, ip: std::net::IpAddr) -> reqwest::Client {
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(ip);
        match self.proxy {
            Some(proxy) => builder.resolve(PUBLIC_HOST, proxy),
            None => builder,
        }
        .build()
        .unwrap()
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
        self.submit_login_from(&self.client, email, password).await
    }

    /// [`Self::submit_login`] from another person's `client`.
    pub async fn submit_login_from(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        self.submit_form_from(
            client,
            "/api/auth/login",
            "/login",
            &[("email", email), ("password", password), ("next", "/chat")],
        )
        .await
    }

    /// POSTs a form of the page at `page` to the server function at `action`, as a browser
    /// without JavaScript does (its `Referer` is where a refusal sends it back).
    pub async fn submit_form_from(
        &self,
        client: &reqwest::Client,
        action: &str,
        page: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(self.url(action))
            .header("accept", "text/html")
            .header("sec-fetch-site", "same-origin")
            .header("referer", self.url(page))
            .form(fields)
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

    /// `GET /api/sessions` (the starter's chat list) with a bearer token.
    pub async fn list_chats(&self, access_token: &str) -> reqwest::Response {
        self.client
            .get(self.url("/api/sessions"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }

    /// `POST /auth/v1/logout?scope=…` (global, local or others) with a bearer token.
    pub async fn sign_out(&self, access_token: &str, scope: &str) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/auth/v1/logout?scope={scope}")))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
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

    /// Mints a token with the app's own signing key (read from its database), with `claims`:
    /// what an attacker holding the key could do, or the app's own token an hour later.
    pub async fn mint(&self, claims: &Value) -> String {
        use jsonwebtoken::{Algorithm, EncodingKey, Header};
        let (kid, der): (String, Vec<u8>) =
            sqlx::query_as("SELECT kid, private_der FROM signing_keys WHERE retired_at IS NULL")
                .fetch_one(self.store.pool())
                .await
                .unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&der)).unwrap()
    }

    /// The messages in the dev mailbox (its `.eml` files: a message being written has another
    /// name until it is whole), oldest first.
    pub fn mails(&self) -> Vec<String> {
        let dir = self.data_dir.path().join("mail");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| entries.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        paths.retain(|path| path.extension().is_some_and(|ext| ext == "eml"));
        paths.sort();
        paths
            .into_iter()
            .map(|path| std::fs::read_to_string(path).unwrap())
            .collect()
    }

    /// Waits for the `n`-th mail (background tasks send some) and returns it.
    pub async fn mail(&self, n: usize) -> String {
        for _ in 0..100 {
            if let Some(mail) = self.mails().get(n) {
                return mail.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no mail number {n} arrived");
    }

    /// Waits for the `n`-th mail and returns its link.
    pub async fn mail_link(&self, n: usize) -> String {
        let mail = self.mail(n).await;
        let link = mail.lines().find(|line| line.starts_with("http"));
        link.unwrap_or_else(|| panic!("no link in {mail}"))
            .to_owned()
    }

    /// A page fetched with a browser's `Cookie` header.
    pub async fn page_with_cookies(&self, path: &str, cookies: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header(reqwest::header::COOKIE, cookies)
            .send()
            .await
            .unwrap()
    }
}

/// The `Cookie` header a browser would send back after this response's `Set-Cookie`s.
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

/// The claims of a JWT, read without verifying it (tests check verification elsewhere).
/// `POST /auth/v1/token?grant_type=password` through `client` (a client of its own address, see
/// [`TestApp::client_from`]); the response as it came.
pub async fn sign_in_from(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(app.url("/auth/v1/token?grant_type=password"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

pub fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
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

/// The public host name of an app behind the proxy: not the address it listens on.
pub const PUBLIC_HOST: &str = "ferrochat.test";

/// Starts the app behind a reverse proxy, as it runs where users live: its public URL is
/// `http://ferrochat.test:<proxy port>`, it trusts the proxy's `X-Forwarded-For` (the proxy
/// connects from `127.0.0.1`), and every client of the returned app goes through the proxy.
pub async fn spawn_public_app(vars: &[(&str, &str)]) -> TestApp {
    let proxy_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = proxy_listener.local_addr().unwrap();
    let site_url = format!("http://{PUBLIC_HOST}:{}", proxy.port());
    let mut all_vars = vec![
        ("FERROCHAT_SITE_URL", site_url.as_str()),
        ("FERROCHAT_TRUSTED_PROXIES", "127.0.0.1"),
    ];
    all_vars.extend_from_slice(vars);
    let data_dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
    let mut app = spawn_app_in(data_dir, &all_vars).await;
    crate::proxy::start(proxy_listener, app.address);
    app.base_url = site_url;
    app.proxy = Some(proxy);
    app.client = app.client_at(next_client_ip());
    app
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
    let postgres = match vars.iter().any(|(key, _)| *key == "DATABASE_URL") {
        false if on_postgres() => Some(postgres_of(&data_dir).await),
        _ => None,
    };
    let config = Config::from_lookup(|name| {
        if let Some((_, value)) = vars.iter().find(|(key, _)| *key == name) {
            return Some((*value).to_owned());
        }
        match name {
            "DATABASE_URL" => postgres.clone(),
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
    tokio::spawn(server::serve(
        listener,
        state.clone(),
        std::future::pending(),
    ));
    let mut app = TestApp {
        address,
        base_url: format!("http://{address}"),
        proxy: None,
        store,
        client: reqwest::Client::new(),
        data_dir,
        state,
    };
    app.client = app.client_at(next_client_ip());
    app
}

/// Waits until an instance no longer trusts its memory that a session was signed in
/// (`FERROCHAT_SESSION_STATUS_CACHE_MS`, 1 s by default): for changes made straight in the
/// database, as another instance (or a lifetime running out) makes them.
pub async fn after_session_status_memory() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

/// Whether the apps of this test run use Postgres instead of their SQLite file:
/// `FERROCHAT_TEST_DATABASE=postgres` runs the whole suite on Postgres (scripts/test.sh does, as a
/// second run). Tests that choose a `DATABASE_URL` themselves keep theirs.
pub fn on_postgres() -> bool {
    std::env::var("FERROCHAT_TEST_DATABASE").is_ok_and(|backend| backend == "postgres")
}

/// The Postgres database of a data directory: a new one on the shared test server the first
/// time, the same one when an app is started again on the directory ("the same server").
async fn postgres_of(data_dir: &TempDir) -> String {
    let file = data_dir.path().join("postgres-url");
    if let Ok(url) = std::fs::read_to_string(&file) {
        return url;
    }
    let url = crate::databases::postgres_url().await;
    std::fs::write(&file, &url).expect("the data directory is writable");
    url
}

/// A loopback address for the next app's default client, so that apps started in one test are
/// not all talked to from one address (`127.0.0.1` stays the proxies' and the app's own).
fn next_client_ip() -> std::net::IpAddr {
    use std::sync::atomic::{AtomicU8, Ordering};
    static NEXT: AtomicU8 = AtomicU8::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 200;
    [127, 0, 0, 10 + n].into()
}
