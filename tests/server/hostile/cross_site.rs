//! A page on another site makes the victim's browser write here, with the victim's cookies: a
//! form post, a `fetch`, a sandboxed (`Origin: null`) page. Every state-changing route and every
//! server function must refuse it before its handler runs.
//!
//! The list is not written by hand: the HTTP routes are read from the router's source (every
//! `.route(…)` with a writing method, under the prefix its router is nested at) and the server
//! functions from Leptos' registry, so a route or server function added tomorrow is covered, and
//! a router nested somewhere this scan does not know fails the suite until it is taught.

use std::path::Path;

use reqwest::{header, Method, StatusCode};

use crate::harness::{cookies_from, spawn_app, unique_email, TestApp};

const REFUSAL: &str = "This request came from another site and was refused.";

/// Where each router's routes are mounted, by source folder: the embedded auth service's under
/// `/auth/v1`; everything else at the root. A router nested anywhere else must be added here.
const MOUNTS: [(&str, &str); 1] = [("src/auth_service", "/auth/v1")];
/// The nestings the scan knows (`.nest_service("/auth/v1", …)` in src/server.rs).
const KNOWN_NESTS: [&str; 1] = ["\"/auth/v1\""];

/// Every (method, path) of the app that changes state: HTTP routes and server functions.
pub(crate) fn writing_routes() -> Vec<(Method, String)> {
    let mut routes: Vec<(Method, String)> = http_routes()
        .into_iter()
        .filter(|(method, _)| *method != Method::GET)
        .collect();
    routes.extend(
        leptos::server_fn::axum::server_fn_paths()
            .filter(|(_, method)| *method != Method::GET)
            .map(|(path, method)| (method, path.to_owned())),
    );
    routes.sort_by(|a, b| (a.1.as_str(), a.0.as_str()).cmp(&(b.1.as_str(), b.0.as_str())));
    routes.dedup();
    routes
}

/// Every (method, path) of the app's HTTP routes, reads included, read from the router's source.
pub(crate) fn http_routes() -> Vec<(Method, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut routes = Vec::new();
    for file in rust_files(&root.join("src")) {
        let source = std::fs::read_to_string(&file).unwrap();
        let relative = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for nest in [".nest(", ".nest_service("] {
            for (at, _) in source.match_indices(nest) {
                let argument = source[at + nest.len()..].trim_start();
                assert!(
                    KNOWN_NESTS.iter().any(|known| argument.starts_with(known)),
                    "{relative}: a router nested at {:?} is unknown to this suite: add its \
                     mount to MOUNTS",
                    &argument[..argument.len().min(40)]
                );
            }
        }
        let prefix = MOUNTS
            .iter()
            .find(|(folder, _)| relative.starts_with(folder))
            .map_or("", |(_, prefix)| prefix);
        for (at, _) in source.match_indices(".route(") {
            let call = balanced_call(&source[at + ".route".len()..]);
            let path = call
                .split('"')
                .nth(1)
                .unwrap_or_else(|| panic!("{relative}: a route without a literal path"));
            for (name, method) in [
                ("get", Method::GET),
                ("post", Method::POST),
                ("put", Method::PUT),
                ("patch", Method::PATCH),
                ("delete", Method::DELETE),
            ] {
                let called = call.match_indices(&format!("{name}(")).any(|(i, _)| {
                    i == 0
                        || !call.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && call.as_bytes()[i - 1] != b'_'
                });
                if called {
                    routes.push((method, format!("{prefix}{path}")));
                }
            }
        }
    }
    routes
}

/// The text of a call's parentheses, `(` to its matching `)`.
fn balanced_call(text: &str) -> &str {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..=i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced call: {}", &text[..text.len().min(80)])
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// A route's path with each `{param}` filled in by `id`.
pub(crate) fn concrete(path: &str, id: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                id.to_owned()
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A signed-in victim with a chat: the browser's cookies and the chat's id.
async fn victim(app: &TestApp) -> (String, String) {
    let email = unique_email();
    let session = app.sign_up(&email, "password one").await;
    let chat = uuid::Uuid::new_v4().to_string();
    let sent = app
        .client
        .post(app.url(&format!("/api/sessions/{chat}")))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(&serde_json::json!({
            "sessionId": chat,
            "messages": [{ "role": "user", "content": "hi" }],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    sent.text().await.unwrap();
    (
        cookies_from(&app.submit_login(&email, "password one").await),
        chat,
    )
}

/// Sends the cross-site request `shape` to every writing route with the victim's cookies and
/// asserts each is the guard's refusal; then checks the victim's session and chat are intact.
async fn every_route_refuses(shape: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder) {
    let app = spawn_app().await;
    let (cookies, chat) = victim(&app).await;
    let routes = writing_routes();
    for (method, path) in &routes {
        // Routes with an id aim at the victim's chat, as the attack would.
        let path = concrete(path, &chat);
        let request = app
            .client
            .request(method.clone(), app.url(&path))
            .header(header::COOKIE, &cookies);
        let response = shape(request).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::FORBIDDEN, REFUSAL),
            "{method} {path}"
        );
    }
    let page = app
        .page_with_cookies(&format!("/chat/{chat}"), &cookies)
        .await;
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the victim's session and chat are intact"
    );
}

/// The form a hostile page auto-submits: fetch metadata says cross-site.
#[tokio::test]
async fn a_cross_site_form_post_to_every_writing_route_is_refused() {
    every_route_refuses(|request| {
        request
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "navigate")
            .header(header::ORIGIN, "https://evil.example")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("title=pwned&scope=global&content=pwned")
    })
    .await;
}

/// A `fetch` from a browser that sends `Origin` but no fetch metadata.
#[tokio::test]
async fn a_cross_site_fetch_to_every_writing_route_is_refused() {
    every_route_refuses(|request| {
        request
            .header(header::ORIGIN, "https://evil.example")
            .header(header::CONTENT_TYPE, "text/plain")
            .body(r#"{"title":"pwned"}"#)
    })
    .await;
}

/// A sandboxed iframe or a `data:` page: `Origin: null`, and a same-site sibling (another
/// port or subdomain of the site is still another origin).
#[tokio::test]
async fn a_null_or_sibling_origin_to_every_writing_route_is_refused() {
    every_route_refuses(|request| {
        request
            .header("sec-fetch-site", "same-site")
            .header(header::ORIGIN, "null")
            .body("x=1")
    })
    .await;
}

/// The scan finds what is known to exist, and the guard (not the handler) is what refuses: the
/// same requests from the site's own page reach their handlers.
#[tokio::test]
async fn the_writing_routes_are_found_and_the_sites_own_requests_pass_the_guard() {
    let routes = writing_routes();
    for known in [
        (Method::POST, "/auth/v1/token"),
        (Method::PUT, "/auth/v1/user"),
        (Method::DELETE, "/auth/v1/sessions/{id}"),
        (Method::POST, "/theme"),
        (Method::POST, "/api/sessions/{id}"),
        (Method::PATCH, "/api/sessions/{id}/title"),
        (Method::DELETE, "/api/empty-sessions"),
        (Method::POST, "/api/auth/login"),
        (Method::POST, "/api/chat/send"),
    ] {
        assert!(
            routes
                .iter()
                .any(|(m, p)| (m, p.as_str()) == (&known.0, known.1)),
            "{known:?} not found in {routes:?}"
        );
    }
    assert!(routes.len() >= 30, "{routes:?}");
    let app = spawn_app().await;
    for (method, path) in &routes {
        let response = app
            .client
            .request(
                method.clone(),
                app.url(&concrete(path, &uuid::Uuid::new_v4().to_string())),
            )
            .header("sec-fetch-site", "same-origin")
            .header(header::ORIGIN, app.base_url.as_str())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("x=1")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_ne!(body, REFUSAL, "{method} {path}: {status}");
        assert!(
            !status.is_server_error(),
            "{method} {path}: {status} {body}"
        );
    }
}
