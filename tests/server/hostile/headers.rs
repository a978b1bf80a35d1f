//! Response headers and error bodies: a strict CSP on every page, signed in or out, and no
//! stack trace, SQL or secret in any error a client can provoke.

use reqwest::{header, Method};
use serde_json::json;

use crate::harness::{cookies_from, spawn_app, unique_email};

/// The app's page paths, read from its `<Route path=path!("…")>`s, with ids filled in.
fn page_paths() -> Vec<String> {
    let app = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/app.rs")).unwrap();
    let paths: Vec<String> = app
        .split("path!(\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .map(|path| {
            path.split('/')
                .map(|segment| match segment.starts_with(':') {
                    true => uuid::Uuid::new_v4().to_string(),
                    false => segment.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    assert!(paths.len() >= 8, "{paths:?}");
    paths
}

/// The CSP's source tokens, e.g. `'self'`, `'wasm-unsafe-eval'`.
fn csp_tokens(csp: &str) -> Vec<&str> {
    csp.split([';', ' ']).filter(|t| !t.is_empty()).collect()
}

#[tokio::test]
async fn every_page_has_a_csp_without_unsafe_inline_or_unsafe_eval() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let cookies = cookies_from(&app.submit_login(&email, "password one").await);
    let mut paths = page_paths();
    paths.extend([
        "/no-such-page".to_owned(),
        "/login?next=%3Cscript%3E".to_owned(),
    ]);
    for path in &paths {
        for cookie in ["", cookies.as_str()] {
            let response = app.page_with_cookies(path, cookie).await;
            let csp = response
                .headers()
                .get(header::CONTENT_SECURITY_POLICY)
                .unwrap_or_else(|| panic!("{path}: no CSP ({})", response.status()))
                .to_str()
                .unwrap()
                .to_owned();
            let tokens = csp_tokens(&csp);
            for forbidden in [
                "'unsafe-inline'",
                "'unsafe-eval'",
                "*",
                "data:",
                "http:",
                "https:",
            ] {
                let script_src: Vec<&str> = csp
                    .split(';')
                    .find(|d| d.trim().starts_with("script-src"))
                    .map(|d| csp_tokens(d))
                    .unwrap_or_default();
                assert!(!script_src.contains(&forbidden), "{path}: {csp}");
            }
            assert!(!tokens.contains(&"'unsafe-inline'"), "{path}: {csp}");
            assert!(!tokens.contains(&"'unsafe-eval'"), "{path}: {csp}");
            assert!(csp.contains("object-src 'none'"), "{path}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            // Every inline script of the page carries the response's nonce.
            let html = response.text().await.unwrap();
            let nonce = tokens
                .iter()
                .find_map(|t| t.strip_prefix("'nonce-"))
                .map(|t| t.trim_end_matches('\''));
            for script in html.split("<script").skip(1) {
                let tag = script.split('>').next().unwrap();
                if !tag.contains("src=") {
                    let nonce = nonce.unwrap_or_else(|| panic!("{path}: inline script, no nonce"));
                    assert!(
                        tag.contains(&format!("nonce=\"{nonce}\"")),
                        "{path}: <script{tag}>"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn no_error_body_carries_a_stack_trace_sql_or_secret() {
    let app = spawn_app().await;
    let email = unique_email();
    let password = "the password 0f ada";
    let session = app.sign_up(&email, password).await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let refresh = session["refresh_token"].as_str().unwrap().to_owned();
    let forged = format!("{}x", &token[..token.len() - 1]);
    let requests: Vec<(Method, String, Option<String>, String)> = vec![
        (
            Method::GET,
            "/auth/v1/user".into(),
            Some(forged.clone()),
            String::new(),
        ),
        (
            Method::GET,
            "/api/sessions".into(),
            Some(forged.clone()),
            String::new(),
        ),
        (
            Method::POST,
            "/auth/v1/token?grant_type=password".into(),
            None,
            json!({ "email": email, "password": format!("{password}!") }).to_string(),
        ),
        (
            Method::POST,
            "/auth/v1/token?grant_type=refresh_token".into(),
            None,
            json!({ "refresh_token": format!("{refresh}x") }).to_string(),
        ),
        (
            Method::POST,
            "/auth/v1/token?grant_type=password".into(),
            None,
            "{\"email\":".into(),
        ),
        (
            Method::POST,
            "/auth/v1/signup".into(),
            None,
            "x".repeat(70_000),
        ),
        (
            Method::POST,
            "/api/sessions/not-a-uuid".into(),
            Some(token.clone()),
            "{}".into(),
        ),
        (
            Method::POST,
            format!("/api/sessions/{}", uuid::Uuid::new_v4()),
            Some(token.clone()),
            "{\"messages\":[{\"role\":\"user\",\"content\":\"\\u0000\"}]}".into(),
        ),
        (
            Method::PATCH,
            format!("/api/sessions/{}/title", uuid::Uuid::new_v4()),
            Some(token.clone()),
            "{\"title\":1}".into(),
        ),
        (
            Method::POST,
            "/api/chat/open".into(),
            Some(token.clone()),
            "id=%27%20OR%201%3D1".into(),
        ),
        (
            Method::POST,
            "/api/auth/login".into(),
            None,
            format!("email={email}&password=x&next=/"),
        ),
        (
            Method::GET,
            "/auth/v1/verify?type=signup&token=%27".into(),
            None,
            String::new(),
        ),
        (
            Method::GET,
            "/auth/callback?code=%27%3B--&next=/".into(),
            None,
            String::new(),
        ),
        (Method::DELETE, "/healthz".into(), None, String::new()),
        (
            Method::GET,
            "/pkg/../../../../etc/passwd".into(),
            None,
            String::new(),
        ),
    ];
    for (method, path, bearer, body) in requests {
        let mut request = app
            .client
            .request(method.clone(), app.url(&path))
            .header(
                header::CONTENT_TYPE,
                if path.starts_with("/api/chat") || path.starts_with("/api/auth") {
                    "application/x-www-form-urlencoded"
                } else {
                    "application/json"
                },
            )
            .body(body);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        assert!(!status.is_server_error(), "{method} {path}: {status}");
        let text = response.text().await.unwrap_or_default();
        let lower = text.to_lowercase();
        for marker in [
            "panicked",
            "stack backtrace",
            ".rs:",
            "sqlx",
            "sqlite",
            "postgres",
            "select ",
            "insert into",
            "thread '",
            "argon2",
        ] {
            assert!(
                !lower.contains(marker),
                "{method} {path}: {marker:?} in {text}"
            );
        }
        for secret in [token.as_str(), refresh.as_str(), password] {
            assert!(!text.contains(secret), "{method} {path} echoes a secret");
        }
    }
}
