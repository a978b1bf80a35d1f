//! The server's own log lines, captured from the real binary while a person signs up, signs in,
//! refreshes, chats and makes mistakes: no password, token, cookie or stack trace may appear.

use reqwest::header;
use serde_json::{json, Value};

use crate::process::{server_log, start_binary, stop};

#[tokio::test]
async fn the_logs_of_a_session_carry_no_password_token_or_stack_trace() {
    let data = tempfile::tempdir().unwrap();
    let (child, base) = start_binary(data.path(), &[]);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{base}{path}");
    let email = format!("logged-{}@example.test", std::process::id());
    let password = "a very secret passphrase 42";
    let mut secrets: Vec<String> = vec![password.to_owned()];

    let signed_up: Value = client
        .post(url("/auth/v1/signup"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signed_in: Value = client
        .post(url("/auth/v1/token?grant_type=password"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refreshed: Value = client
        .post(url("/auth/v1/token?grant_type=refresh_token"))
        .json(&json!({ "refresh_token": signed_in["refresh_token"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for session in [&signed_up, &signed_in, &refreshed] {
        for field in ["access_token", "refresh_token"] {
            let secret = session[field]
                .as_str()
                .unwrap_or_else(|| panic!("{session}"));
            secrets.push(secret.to_owned());
        }
    }
    let token = refreshed["access_token"].as_str().unwrap();

    // The browser's way: the sign-in form, a page with the cookies, a chat.
    let form = client
        .post(url("/api/auth/login"))
        .header("accept", "text/html")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("email", email.as_str()),
            ("password", password),
            ("next", "/chat"),
        ])
        .send()
        .await
        .unwrap();
    assert!(form.status().is_redirection(), "{}", form.status());
    let cookies: Vec<String> = form
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .filter(|c| !c.ends_with('='))
        .collect();
    for cookie in &cookies {
        let value = cookie.split_once('=').unwrap().1;
        // A cookie value's long tail is enough to recognise it in a log line.
        secrets.push(value[value.len().saturating_sub(40)..].to_owned());
    }
    let page = client
        .get(url("/chat"))
        .header(header::COOKIE, cookies.join("; "))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let chat = uuid::Uuid::new_v4().to_string();
    let sent = client
        .post(url(&format!("/api/sessions/{chat}")))
        .bearer_auth(token)
        .json(&json!({ "sessionId": chat, "messages": [{ "role": "user", "content": "hello" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    sent.text().await.unwrap();

    // Mistakes: a wrong password, a forged token, a made-up refresh token, bad JSON.
    for (path, body) in [
        (
            "/auth/v1/token?grant_type=password",
            json!({ "email": email, "password": format!("{password}?") }).to_string(),
        ),
        (
            "/auth/v1/token?grant_type=refresh_token",
            json!({ "refresh_token": "not-a-refresh-token" }).to_string(),
        ),
        ("/auth/v1/signup", "{\"email\": ".to_owned()),
    ] {
        let response = client
            .post(url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
    }
    secrets.push(format!("{password}?"));
    // One character of the signature changed. Not its last: of a 64-byte ES256 signature that
    // one carries 2 bits, and "…A" was the same token one time in four.
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{signed}.{first}{}", &signature[1..]);
    for (path, refused) in [("/auth/v1/user", 403), ("/api/sessions", 401)] {
        let response = client
            .get(url(path))
            .bearer_auth(&forged)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), refused, "{path}");
    }
    // The forged token's signature is its only part not already in the real token.
    secrets.push(forged.rsplit('.').next().unwrap().to_owned());

    stop(child);
    let logs = server_log(data.path());
    assert!(logs.lines().count() > 10, "the logs were captured: {logs}");
    assert!(
        logs.contains("/auth/v1/token"),
        "requests are logged: {logs}"
    );
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret ({}…) is in the logs:\n{logs}",
            &secret[..8.min(secret.len())]
        );
    }
    for marker in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!logs.contains(marker), "{marker}:\n{logs}");
    }
}
