//! Hostile data in chats: NUL bytes, invalid UTF-8, SQL, huge inputs, malformed server-function
//! payloads, and another person's ids on every chat server function (read from Leptos' registry,
//! so a new one is covered the day it is added).

use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{spawn_app, unique_email, TestApp};

/// A signed-up person's access token, with one finished exchange in a chat whose id is returned.
async fn person_with_chat(app: &TestApp) -> (String, String) {
    let session = app.sign_up(&unique_email(), "password one").await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let chat = uuid::Uuid::new_v4().to_string();
    let sent = send(app, &token, &chat, json!("A first question")).await;
    assert_eq!(sent.status(), StatusCode::OK);
    sent.text().await.unwrap();
    (token, chat)
}

/// `POST /api/sessions/{chat}` with one message whose content is `content` (any JSON).
async fn send(app: &TestApp, token: &str, chat: &str, content: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/sessions/{chat}")))
        .bearer_auth(token)
        .json(&json!({ "sessionId": chat, "messages": [{ "role": "user", "content": content }] }))
        .send()
        .await
        .unwrap()
}

/// Every row of one chat: its title and its messages' role, content and status.
async fn chat_rows(app: &TestApp, chat: &str) -> Vec<String> {
    let title: Option<String> = sqlx::query_scalar("SELECT title FROM chat_sessions WHERE id = $1")
        .bind(chat)
        .fetch_optional(app.store.pool())
        .await
        .unwrap();
    let messages: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT role, content, status FROM messages WHERE chat_session_id = $1 ORDER BY created_at, id",
    )
    .bind(chat)
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    title
        .into_iter()
        .chain(messages.into_iter().map(|m| format!("{m:?}")))
        .collect()
}

async fn rename(app: &TestApp, token: &str, chat: &str, body: reqwest::Body) -> reqwest::Response {
    app.client
        .patch(app.url(&format!("/api/sessions/{chat}/title")))
        .bearer_auth(token)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_nul_byte_in_a_message_is_refused_and_stores_nothing() {
    let app = spawn_app().await;
    let (token, chat) = person_with_chat(&app).await;
    let before = chat_rows(&app, &chat).await;
    let response = send(&app, &token, &chat, json!("before\u{0}after")).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(chat_rows(&app, &chat).await, before);
    let fresh = uuid::Uuid::new_v4().to_string();
    let response = send(&app, &token, &fresh, json!("\u{0}")).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        chat_rows(&app, &fresh).await.is_empty(),
        "no chat left behind"
    );
}

#[tokio::test]
async fn a_nul_byte_in_a_title_is_refused_and_keeps_the_title() {
    let app = spawn_app().await;
    let (token, chat) = person_with_chat(&app).await;
    let before = chat_rows(&app, &chat).await;
    let response = rename(
        &app,
        &token,
        &chat,
        json!({ "title": "a\u{0}b" }).to_string().into(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(chat_rows(&app, &chat).await, before);
}

#[tokio::test]
async fn invalid_utf8_in_a_body_is_refused_and_stores_nothing() {
    let app = spawn_app().await;
    let (token, chat) = person_with_chat(&app).await;
    let before = chat_rows(&app, &chat).await;
    let mut title = br#"{"title":""#.to_vec();
    title.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    title.extend_from_slice(br#""}"#);
    let response = rename(&app, &token, &chat, title.into()).await;
    assert!(response.status().is_client_error(), "{}", response.status());
    let mut message =
        format!(r#"{{"sessionId":"{chat}","messages":[{{"role":"user","content":""#).into_bytes();
    message.extend_from_slice(&[0xed, 0xa0, 0x80, 0xff]);
    message.extend_from_slice(br#""}]}"#);
    let response = app
        .client
        .post(app.url(&format!("/api/sessions/{chat}")))
        .bearer_auth(&token)
        .header(header::CONTENT_TYPE, "application/json")
        .body(message)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    assert_eq!(chat_rows(&app, &chat).await, before);
    // A server function's form: percent-encoded bytes that are not UTF-8 are decoded as
    // replacement characters (what a browser shows for them) and stored as such.
    let response = app
        .client
        .post(app.url("/api/chat/rename"))
        .bearer_auth(&token)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("id={chat}&title=%FF%FE%C3"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut after = chat_rows(&app, &chat).await;
    assert_eq!(after.remove(0), "\u{fffd}\u{fffd}\u{fffd}");
    assert_eq!(after, before[1..]);
}

#[tokio::test]
async fn huge_titles_and_messages_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    let (token, chat) = person_with_chat(&app).await;
    let before = chat_rows(&app, &chat).await;
    let huge = "x".repeat(3 << 20);
    let response = rename(
        &app,
        &token,
        &chat,
        json!({ "title": huge }).to_string().into(),
    )
    .await;
    assert!(response.status().is_client_error(), "{}", response.status());
    let response = send(&app, &token, &chat, json!(huge)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let long_title = "t".repeat(100_000);
    let response = rename(
        &app,
        &token,
        &chat,
        json!({ "title": long_title }).to_string().into(),
    )
    .await;
    assert!(response.status().is_client_error(), "{}", response.status());
    assert_eq!(chat_rows(&app, &chat).await, before);
}

#[tokio::test]
async fn sql_in_titles_and_messages_is_stored_verbatim_never_run() {
    let app = spawn_app().await;
    let (token, chat) = person_with_chat(&app).await;
    let title = "x'); DROP TABLE chat_sessions; --";
    let response = rename(
        &app,
        &token,
        &chat,
        json!({ "title": title }).to_string().into(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let message = "'; DELETE FROM messages WHERE '1'='1";
    let response = send(&app, &token, &chat, json!(message)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap();
    let rows = chat_rows(&app, &chat).await;
    assert_eq!(rows[0], title);
    assert!(rows.iter().any(|row| row.contains(message)), "{rows:?}");
    assert_eq!(rows.len(), 5, "both exchanges kept: {rows:?}");
}

/// Bodies no client of ours sends.
fn malformed_bodies() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let form = "application/x-www-form-urlencoded";
    vec![
        ("empty", form, Vec::new()),
        (
            "bytes that are not text",
            form,
            vec![0xff, 0x00, 0xfe, 0x80],
        ),
        (
            "JSON sent as a form",
            form,
            br#"{"id":1,"title":[]}"#.to_vec(),
        ),
        (
            "form fields twice",
            form,
            b"id=1&id=2&title=a&title=b".to_vec(),
        ),
        (
            "nested form keys",
            form,
            "a[b][c][d][e][f][g]=1&id[]=x".repeat(50).into_bytes(),
        ),
        (
            "a wrong content type",
            "application/octet-stream",
            b"\x00\x01".to_vec(),
        ),
        (
            "JSON of the wrong shape",
            "application/json",
            br#"[1,{"id":null}]"#.to_vec(),
        ),
        ("truncated JSON", "application/json", br#"{"id":"#.to_vec()),
        (
            "three megabytes",
            form,
            format!("title={}", "a".repeat(3 << 20)).into_bytes(),
        ),
    ]
}

#[tokio::test]
async fn malformed_server_function_payloads_are_4xx_never_500() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let cookies = crate::harness::cookies_from(&app.submit_login(&email, "password one").await);
    let functions: Vec<(&str, Method)> = leptos::server_fn::axum::server_fn_paths().collect();
    assert!(functions.len() >= 20, "{functions:?}");
    for (path, method) in functions {
        for (what, content_type, body) in malformed_bodies() {
            let response = app
                .client
                .request(method.clone(), app.url(path))
                .header("sec-fetch-site", "same-origin")
                .header(header::COOKIE, &cookies)
                .header(header::CONTENT_TYPE, content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            assert!(
                !status.is_server_error(),
                "{path} with {what}: {status} {text}"
            );
        }
    }
}

#[tokio::test]
async fn malformed_chat_api_payloads_are_4xx_never_500() {
    let app = spawn_app().await;
    let (token, chat) = person_with_chat(&app).await;
    let before = chat_rows(&app, &chat).await;
    for (method, path) in [
        (Method::POST, format!("/api/sessions/{chat}")),
        (Method::PATCH, format!("/api/sessions/{chat}/title")),
        (
            Method::POST,
            "/auth/v1/token?grant_type=password".to_owned(),
        ),
        (Method::POST, "/auth/v1/signup".to_owned()),
        (Method::PUT, "/auth/v1/user".to_owned()),
    ] {
        for (what, _, body) in malformed_bodies() {
            let response = app
                .client
                .request(method.clone(), app.url(&path))
                .bearer_auth(&token)
                .header(header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            // The auth service ignores fields it does not know (as GoTrue does): an update
            // that names none is a 200 that changes nothing.
            if path.starts_with("/api/") {
                assert!(
                    status.is_client_error(),
                    "{method} {path} with {what}: {status}"
                );
            } else {
                assert!(
                    !status.is_server_error(),
                    "{method} {path} with {what}: {status}"
                );
            }
        }
    }
    assert_eq!(chat_rows(&app, &chat).await, before);
}

/// Replaces every UUID in `text` by a placeholder: two fresh chats differ only in their ids.
fn without_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(candidate) = rest.get(..36) {
        if uuid::Uuid::parse_str(candidate).is_ok() {
            out.push_str("<id>");
            rest = &rest[36..];
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out + rest
}

/// Every chat server function, called by Bob with Ada's chat and message ids, answers exactly
/// as with ids that exist nowhere, and changes nothing of Ada's.
#[tokio::test]
async fn every_chat_server_function_answers_anothers_ids_like_missing_ones() {
    let app = spawn_app().await;
    let (_, ada_chat) = person_with_chat(&app).await;
    let ada_message: String =
        sqlx::query_scalar("SELECT id FROM messages WHERE chat_session_id = $1 LIMIT 1")
            .bind(&ada_chat)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    let before = chat_rows(&app, &ada_chat).await;
    let functions: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path)
        .filter(|path| path.starts_with("/api/chat/"))
        .collect();
    assert!(functions.len() >= 8, "{functions:?}");
    let call = |bob_token: String, path: &str, chat: &str, message: &str| {
        let fields = [
            ("id", chat.to_owned()),
            ("session_id", chat.to_owned()),
            ("message_id", message.to_owned()),
            ("before", message.to_owned()),
            ("title", "Mine now".to_owned()),
            ("content", "Let me in".to_owned()),
            ("model", String::new()),
        ];
        app.client
            .post(app.url(path))
            .bearer_auth(bob_token)
            .form(&fields)
            .send()
    };
    for path in functions {
        // A fresh Bob for each function: what one call does to his own chats (a new one, the
        // empty ones deleted) must not colour the next answer.
        let bob = app.sign_up(&unique_email(), "password one").await;
        let bob_token = bob["access_token"].as_str().unwrap().to_owned();
        let theirs = call(bob_token.clone(), path, &ada_chat, &ada_message)
            .await
            .unwrap();
        let theirs = (theirs.status(), without_ids(&theirs.text().await.unwrap()));
        let missing = call(
            bob_token,
            path,
            &uuid::Uuid::new_v4().to_string(),
            &uuid::Uuid::new_v4().to_string(),
        )
        .await
        .unwrap();
        let missing = (
            missing.status(),
            without_ids(&missing.text().await.unwrap()),
        );
        assert_eq!(theirs, missing, "{path}");
        assert!(!theirs.1.contains("A first question"), "{path}: {theirs:?}");
    }
    assert_eq!(chat_rows(&app, &ada_chat).await, before);
}

/// Every HTTP route with an id in its path (read from the router's source), called by Bob with
/// Ada's ids: Ada's chat for the chat routes, her sign-in session for `/auth/v1/sessions/{id}`.
/// Each answers "not found", exactly as for an id that exists nowhere (except where the starter
/// creates a chat for an id it does not know: there Ada's id is still "not found"; and the admin
/// API, which refuses a person's token whatever the id), and nothing of Ada's changes.
#[tokio::test]
async fn every_http_route_answers_anothers_ids_like_missing_ones() {
    let app = spawn_app().await;
    let (ada_token, ada_chat) = person_with_chat(&app).await;
    let ada_session = crate::harness::claims_of(&ada_token)["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = chat_rows(&app, &ada_chat).await;
    let routes: Vec<(Method, String)> = super::cross_site::http_routes()
        .into_iter()
        .filter(|(_, path)| path.contains('{'))
        .collect();
    assert!(routes.len() >= 6, "{routes:?}");
    let ada_user = crate::harness::claims_of(&ada_token)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, route) in routes {
        // The admin API takes user ids and answers a person's token 403 `not_admin` whatever
        // the id: the same answer for Ada's id as for one that exists nowhere.
        let admin = route.starts_with("/auth/v1/admin/");
        let ada_id = if route.starts_with("/auth/v1/sessions/") {
            ada_session.clone()
        } else if admin {
            ada_user.clone()
        } else {
            ada_chat.clone()
        };
        let refused = match admin {
            true => StatusCode::FORBIDDEN,
            false => StatusCode::NOT_FOUND,
        };
        let bob = app.sign_up(&unique_email(), "password one").await;
        let bob_token = bob["access_token"].as_str().unwrap().to_owned();
        let call = |id: String| {
            let body = json!({
                "title": "Mine now",
                "sessionId": id,
                "messages": [{ "role": "user", "content": "Let me in" }],
            });
            app.client
                .request(
                    method.clone(),
                    app.url(&super::cross_site::concrete(&route, &id)),
                )
                .bearer_auth(&bob_token)
                .json(&body)
                .send()
        };
        let theirs = call(ada_id).await.unwrap();
        let theirs = (theirs.status(), theirs.text().await.unwrap());
        let missing = call(uuid::Uuid::new_v4().to_string()).await.unwrap();
        let missing = (missing.status(), missing.text().await.unwrap());
        assert_eq!(theirs.0, refused, "{method} {route}: {theirs:?}");
        if !missing.0.is_success() {
            assert_eq!(theirs, missing, "{method} {route}");
        }
        assert!(!theirs.1.contains("A first question"), "{method} {route}");
    }
    assert_eq!(chat_rows(&app, &ada_chat).await, before);
    assert_eq!(
        app.get_user(&ada_token).await.status(),
        StatusCode::OK,
        "Ada's sign-in session was not revoked"
    );
}
