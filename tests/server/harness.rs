//! The one place that starts the app for tests.

use std::net::SocketAddr;

use ferrochat::{
    server::{self, AppState},
    settings::Settings,
    store::Store,
};
use tempfile::TempDir;

/// A running app with its own database, stopped when dropped.
pub struct TestApp {
    pub address: SocketAddr,
    pub store: Store,
    /// A client that does not follow redirects, so tests see them.
    pub client: reqwest::Client,
    _data_dir: TempDir,
}

impl TestApp {
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
}

/// Starts the real router on `127.0.0.1:0` with a database in a new temporary directory.
pub async fn spawn_app() -> TestApp {
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let data_path = data_dir
        .path()
        .to_str()
        .expect("UTF-8 temp path")
        .to_owned();
    let settings = Settings::from_lookup(|name| match name {
        "FERROCHAT_DATA_DIR" => Some(data_path.clone()),
        "LEPTOS_SITE_ADDR" => Some("127.0.0.1:0".into()),
        _ => None,
    })
    .expect("test settings are valid");
    let store = Store::open(&settings.database_url)
        .await
        .expect("database opens");
    let listener = server::bind(settings.leptos.site_addr)
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().unwrap();
    let state = AppState {
        leptos_options: settings.leptos,
        store: store.clone(),
    };
    tokio::spawn(server::serve(listener, state, std::future::pending()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        address,
        store,
        client,
        _data_dir: data_dir,
    }
}
