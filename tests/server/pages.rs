use reqwest::{header, StatusCode};

use crate::harness::{cookies_from, spawn_app, unique_email};

#[tokio::test]
async fn the_landing_page_is_rendered_on_the_server() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(html.contains("Chat with language models, in Rust from end to end."));
    assert!(html.contains("<title>ferrochat</title>"), "{html}");
    assert!(html.contains(r#"data-theme="system""#));
}

#[tokio::test]
async fn pages_admit_only_their_own_nonce_for_inline_scripts() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the page CSP carries a nonce");
    assert!(nonce.len() >= 16);
    assert!(
        html.contains(&format!(r#"nonce="{nonce}""#)),
        "the hydration script carries it"
    );
    assert!(!csp.contains("unsafe-inline"));
    assert!(csp.contains("frame-ancestors 'none'"));
    // A fresh nonce per response, or it protects nothing.
    let again = app.get("/").await;
    assert!(!again.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains(nonce));
}

/// The nonce a page's CSP admits, and the nonces its scripts carry.
fn nonces(csp: &str, html: &str) -> (String, Vec<String>) {
    let admitted = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_default()
        .to_owned();
    let carried = html
        .split(r#"nonce=""#)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect();
    (admitted, carried)
}

#[tokio::test]
async fn under_concurrent_loads_every_page_admits_exactly_the_nonce_its_scripts_carry() {
    // Every kind of page (streamed in order, rendered whole, the 404), signed in and out, 16 at
    // a time: the CSP of each response must admit the scripts of that same response.
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email, "password one").await;
    let chat = uuid::Uuid::new_v4().to_string();
    let sent = app
        .client
        .post(app.url(&format!("/api/sessions/{chat}")))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(&serde_json::json!({ "messages": [{ "role": "user", "content": "hello" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    sent.text().await.unwrap();
    let cookies = cookies_from(&app.submit_login(&email, "password one").await);
    let chat_page = format!("/chat/{chat}");
    let pages: Vec<(&str, bool)> = vec![
        ("/", false),
        ("/login", false),
        ("/no-such-page", false),
        ("/chat", true),
        (chat_page.as_str(), true),
        ("/account", true),
        ("/chat?prompt=Hello", true),
        ("/", true),
    ];
    let load = |path: &str, signed_in: bool| {
        let mut request = app.client.get(app.url(path));
        if signed_in {
            request = request.header(header::COOKIE, cookies.as_str());
        }
        let path = path.to_owned();
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .to_owned();
            (path, status, csp, response.text().await.unwrap())
        }
    };
    let mut seen = std::collections::HashSet::new();
    for _round in 0..12 {
        let loads = pages
            .iter()
            .chain(pages.iter())
            .map(|(path, signed_in)| load(path, *signed_in));
        for (path, status, csp, html) in futures_util::future::join_all(loads).await {
            let expected = if path == "/no-such-page" { 404 } else { 200 };
            assert_eq!(status, expected, "{path}");
            let (admitted, carried) = nonces(&csp, &html);
            assert!(admitted.len() >= 16, "{path}: {csp}");
            assert!(!carried.is_empty(), "{path}: no script carries a nonce");
            assert!(
                carried.iter().all(|nonce| *nonce == admitted),
                "{path}: the CSP admits {admitted}, the scripts carry {carried:?}"
            );
            assert!(seen.insert(admitted), "{path}: a nonce was used twice");
        }
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/healthz", "/no-such-page"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(
            headers[header::REFERRER_POLICY],
            "strict-origin-when-cross-origin"
        );
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
}

#[tokio::test]
async fn an_unknown_page_is_a_404_with_a_helpful_page() {
    let app = spawn_app().await;
    let response = app.get("/no-such-page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(html.contains("Back to the start page"));
}

#[tokio::test]
async fn pages_are_compressed_for_clients_that_accept_it() {
    let app = spawn_app().await;
    for encoding in ["br", "gzip"] {
        let response = app
            .client
            .get(app.url("/"))
            .header(header::ACCEPT_ENCODING, encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_ENCODING], encoding);
    }
}

#[tokio::test]
async fn an_answer_that_fits_in_a_packet_is_sent_uncompressed() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let cookies = cookies_from(&app.submit_login(&email, "password one").await);
    let response = app
        .client
        .post(app.url("/api/auth/current_user"))
        .header("sec-fetch-site", "same-origin")
        .header(header::ACCEPT_ENCODING, "br, gzip")
        .header(header::COOKIE, cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get(header::CONTENT_ENCODING), None);
    let length: usize = response.headers()[header::CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(length < usize::from(ferrochat::server::MIN_COMPRESSED_BYTES));
    assert!(response.text().await.unwrap().contains(&email));

    // A larger answer of the same kind is compressed.
    let chat = uuid::Uuid::new_v4();
    let session = app.sign_in(&email, "password one").await;
    let sent = app
        .client
        .post(app.url(&format!("/api/sessions/{chat}")))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(
            &serde_json::json!({ "messages": [{ "role": "user", "content": "a ".repeat(2000) }] }),
        )
        .send()
        .await
        .unwrap();
    // The question is stored before the answer starts streaming; the answer is not awaited.
    assert_eq!(sent.status(), StatusCode::OK);
    let large = app
        .client
        .get(app.url(&format!("/api/sessions/{chat}")))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(large.status(), StatusCode::OK);
    assert_eq!(large.headers()[header::CONTENT_ENCODING], "gzip");
}
