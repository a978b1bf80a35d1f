//! Guest chat in the app: "Try it without an account" (an anonymous sign-in through the login
//! page's form), the guest's message quota (counted in the database, so exact across instances,
//! refused with 403 in the starter API and with words in the pages), and adding an email address
//! and a password, which keeps the chats.

use ferrochat::{
    chat::store::{ChatStore, ChatStoreError, UserId},
    store::Store,
};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::harness::{
    claims_of, cookies_from, spawn_app, spawn_app_in, spawn_app_with, unique_email, TestApp,
};

const PASSWORD: &str = "password one";
/// The default quota.
const GUEST_MESSAGES: usize = 10;
const SPENT: &str = "Guests can send 10 messages. Add an email address and a password on your \
                     account page to keep chatting: your chats stay yours.";

/// A guest in a browser without JavaScript: the cookies of their session.
struct Guest {
    cookies: String,
}

impl Guest {
    /// The access token in the guest's session cookie, for the starter API.
    fn token(&self, app: &TestApp) -> String {
        app.state
            .sessions
            .jar
            .load::<ferrochat::contract::cookies::CookieTokens>(&self.cookies)
            .expect("a session cookie")
            .access_token
    }
}

/// POSTs a page's form to a server function as a browser without JavaScript, with `cookies`.
async fn submit(
    app: &TestApp,
    cookies: &str,
    action: &str,
    page: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    app.client
        .post(app.url(action))
        .header(header::ACCEPT, "text/html")
        .header("sec-fetch-site", "same-origin")
        .header(header::REFERER, app.url(page))
        .header(header::COOKIE, cookies)
        .form(fields)
        .send()
        .await
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Presses "Try it without an account" on the login page.
async fn start_as_guest(app: &TestApp) -> Guest {
    let response = submit(app, "", "/api/auth/guest", "/login", &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "/chat");
    let cookies = cookies_from(&response);
    assert!(!cookies.is_empty());
    Guest { cookies }
}

async fn page(app: &TestApp, path: &str, cookies: &str) -> (StatusCode, String) {
    let response = app.page_with_cookies(path, cookies).await;
    (response.status(), response.text().await.unwrap())
}

/// `POST /api/sessions/{session}` with one message, read to its end.
async fn send(app: &TestApp, token: &str, session: &str, content: &str) -> (StatusCode, String) {
    let response = app
        .client
        .post(app.url(&format!("/api/sessions/{session}")))
        .bearer_auth(token)
        .json(&json!({
            "sessionId": session,
            "messages": [{ "role": "user", "content": content }],
        }))
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn count(app: &TestApp, query: &str, id: &str) -> i64 {
    sqlx::query_scalar(query)
        .bind(id)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

const CHATS: &str = "SELECT COUNT(*) FROM chat_sessions WHERE user_id = $1";
const QUESTIONS: &str = "SELECT COUNT(*) FROM messages m JOIN chat_sessions s
    ON s.id = m.chat_session_id WHERE s.user_id = $1 AND m.role = 'user'";

#[tokio::test]
async fn try_it_without_an_account_opens_the_chat_as_a_guest_with_the_quota_shown() {
    let app = spawn_app().await;
    let (status, login) = page(&app, "/login", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(login.contains("Try it without an account"), "{login}");
    assert!(login.contains("/api/auth/guest"), "a plain form post");
    assert!(
        !login.contains("anonymous_users"),
        "not offered as an OAuth provider: {login}"
    );

    let guest = start_as_guest(&app).await;
    let claims = claims_of(&guest.token(&app));
    assert_eq!(claims["is_anonymous"], true);
    let (status, chat) = page(&app, "/chat", &guest.cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        chat.contains("Guest — 10 messages left. Add an email to keep your chats."),
        "{chat}"
    );
    assert!(chat.contains("href=\"/account#add-email\""));
    let (_, account) = page(&app, "/account", &guest.cookies).await;
    assert!(account.contains("Keep your chats"), "{account}");
    assert!(account.contains("/api/auth/add_email"));

    // A person with an account sees neither.
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let member = cookies_from(&app.submit_login(&email, PASSWORD).await);
    let (_, chat) = page(&app, "/chat", &member).await;
    assert!(!chat.contains("guest-banner"), "{chat}");
    let (_, account) = page(&app, "/account", &member).await;
    assert!(!account.contains("Keep your chats"));
}

#[tokio::test]
async fn with_anonymous_sign_ins_off_there_is_no_guest_button_and_its_post_is_refused() {
    let app = spawn_app_with(&[("FERROCHAT_AUTH_ANONYMOUS", "false")]).await;
    let (_, login) = page(&app, "/login", "").await;
    assert!(!login.contains("Try it without an account"));
    let response = submit(&app, "", "/api/auth/guest", "/login", &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(cookies_from(&response).is_empty(), "no session");
    let back = location(&response);
    assert!(
        back.starts_with(&app.url("/login")) && back.contains("__err="),
        "{back}"
    );
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn a_guest_sends_exactly_the_quota_across_instances_then_gets_a_clear_refusal() {
    // Two instances of one site on the same database: the count is the database's.
    let site = [("FERROCHAT_SITE_URL", "http://chat.example.test")];
    let first = spawn_app_with(&site).await;
    let second = spawn_app_in(first.data_dir.clone(), &site).await;
    let guest = start_as_guest(&first).await;
    let token = guest.token(&first);
    let id = claims_of(&token)["sub"].as_str().unwrap().to_owned();
    let session = new_id();
    for n in 1..=GUEST_MESSAGES {
        let app = if n % 2 == 0 { &second } else { &first };
        let (status, body) = send(app, &token, &session, &format!("message {n}")).await;
        assert_eq!(status, StatusCode::OK, "message {n}: {body}");
    }
    assert_eq!(count(&first, QUESTIONS, &id).await, GUEST_MESSAGES as i64);

    for app in [&first, &second] {
        // In the chat that exists, and in a new one, which is then not created.
        for session in [session.clone(), new_id()] {
            let (status, body) = send(app, &token, &session, "one more").await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body, json!({ "detail": SPENT }));
        }
    }
    assert_eq!(count(&first, QUESTIONS, &id).await, GUEST_MESSAGES as i64);
    assert_eq!(count(&first, CHATS, &id).await, 1);

    // Deleting a chat gives no messages back.
    let deleted = first
        .client
        .delete(first.url(&format!("/api/sessions/{session}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let (status, _) = send(&first, &token, &new_id(), "and now?").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The pages say so too: the banner, and the form without JavaScript.
    let (_, chat) = page(&first, "/chat", &guest.cookies).await;
    assert!(
        chat.contains("Guest — you have sent all 10 messages a guest can send."),
        "{chat}"
    );
    let refused = submit(
        &first,
        &guest.cookies,
        "/api/chat/start",
        "/chat",
        &[("content", "from the form"), ("model", "")],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FOUND);
    let back = location(&refused);
    assert!(back.contains("__err="), "{back}");
    let path = back.split_once(&first.address.to_string()).unwrap().1;
    let (_, shown) = page(&first, path, &guest.cookies).await;
    assert!(shown.contains("Guests can send 10 messages."), "{shown}");
    assert_eq!(count(&first, CHATS, &id).await, 0, "no chat was created");
}

#[tokio::test]
async fn adding_an_email_and_password_keeps_the_chats_and_lifts_the_quota() {
    let app = spawn_app().await;
    let guest = start_as_guest(&app).await;
    let token = guest.token(&app);
    let id = claims_of(&token)["sub"].as_str().unwrap().to_owned();
    let session = new_id();
    let (status, _) = send(&app, &token, &session, "Remember the guest days").await;
    assert_eq!(status, StatusCode::OK);

    // Refusals first: passwords that differ, an address that has an account.
    let taken = unique_email();
    app.sign_up(&taken, PASSWORD).await;
    let email = unique_email();
    for (fields, message) in [
        (
            [
                ("email", email.as_str()),
                ("password", PASSWORD),
                ("confirm", "other"),
            ],
            "Passwords do not match.",
        ),
        (
            [
                ("email", taken.as_str()),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
            "An account with this email address already exists.",
        ),
    ] {
        let refused = submit(
            &app,
            &guest.cookies,
            "/api/auth/add_email",
            "/account",
            &fields,
        )
        .await;
        assert_eq!(refused.status(), StatusCode::FOUND);
        let back = location(&refused);
        let path = back.split_once(&app.address.to_string()).unwrap().1;
        let (_, shown) = page(&app, path, &guest.cookies).await;
        assert!(shown.contains(message), "{message}: {shown}");
    }
    assert_eq!(
        count(&app, "SELECT is_anonymous FROM users WHERE id = $1", &id).await,
        1
    );

    let added = submit(
        &app,
        &guest.cookies,
        "/api/auth/add_email",
        "/account",
        &[
            ("email", &email),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
    )
    .await;
    assert_eq!(added.status(), StatusCode::FOUND);
    assert_eq!(location(&added), "/account?notice=email-added");
    // The session was refreshed at once: its token is no longer a guest's.
    let cookies = cookies_from(&added);
    let session_now = app
        .state
        .sessions
        .jar
        .load::<ferrochat::contract::cookies::CookieTokens>(&cookies)
        .expect("new session cookies");
    let claims = claims_of(&session_now.access_token);
    assert_eq!(claims["is_anonymous"], false);
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["email"], email.as_str());

    let (_, chat) = page(&app, "/chat", &cookies).await;
    assert!(!chat.contains("guest-banner"), "{chat}");
    assert!(
        chat.contains("Remember the guest days"),
        "the chat is still listed: {chat}"
    );
    // No quota any more.
    for n in 0..GUEST_MESSAGES {
        let (status, _) = send(&app, &session_now.access_token, &session, &format!("{n}")).await;
        assert_eq!(status, StatusCode::OK);
    }

    // Signing in later with the new address shows the same chats.
    let later = cookies_from(&app.submit_login(&email, PASSWORD).await);
    let (_, chat) = page(&app, "/chat", &later).await;
    assert!(chat.contains("Remember the guest days"), "{chat}");
    let (_, account) = page(&app, "/account", &later).await;
    assert!(!account.contains("Keep your chats"));
    // And the form refuses a person who has an address already.
    let refused = submit(
        &app,
        &later,
        "/api/auth/add_email",
        "/account",
        &[
            ("email", &unique_email()),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
    )
    .await;
    assert!(location(&refused).contains("__err="));
}

// The count itself, on both databases: racing sends cannot get past it.

on_both_databases!(racing_guest_messages_are_counted_exactly_to_the_limit);

async fn racing_guest_messages_are_counted_exactly_to_the_limit(store: Store) {
    let chats = ChatStore::new(store.pool().clone()).with_guest_messages(4);
    let guest = UserId::verified_guest(uuid::Uuid::new_v4().to_string());
    let mut sessions = Vec::new();
    for _ in 0..10 {
        sessions.push(chats.create_session(&guest, None, "t").await.unwrap().id);
    }
    let sends = sessions.iter().map(|session| {
        let (chats, guest) = (chats.clone(), guest.clone());
        async move { chats.begin_exchange(&guest, session, "hi", "m").await }
    });
    let results = futures_util::future::join_all(sends).await;
    let sent = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(sent, 4);
    for refused in results.iter().filter_map(|result| result.as_ref().err()) {
        assert!(
            matches!(refused, ChatStoreError::GuestQuotaReached(4)),
            "{refused:?}"
        );
    }
    assert_eq!(chats.guest_messages_left(&guest).await.unwrap(), Some(0));
    // The same person with an account (the next token after adding an email) has no quota.
    let member = UserId::verified(guest.as_str());
    assert_eq!(chats.guest_messages_left(&member).await.unwrap(), None);
    let fresh = chats.create_session(&member, None, "t").await.unwrap().id;
    chats
        .begin_exchange(&member, &fresh, "now with an account", "m")
        .await
        .unwrap_or_else(|error| panic!("{error:?}"));
}

#[tokio::test]
async fn regenerating_or_editing_spends_the_guests_quota_like_a_new_message() {
    let app = spawn_app().await;
    let guest = start_as_guest(&app).await;
    let token = guest.token(&app);
    let session = new_id();
    for n in 1..GUEST_MESSAGES {
        let (status, body) = send(&app, &token, &session, &format!("message {n}")).await;
        assert_eq!(status, StatusCode::OK, "message {n}: {body}");
    }
    let regenerate = |body: Value| {
        app.client
            .post(app.url(&format!("/api/sessions/{session}/regenerate")))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    // The last message a guest may send: spent on a new answer to the last question.
    let again = regenerate(json!({})).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    again.text().await.unwrap();
    // Then neither another answer nor an edit gets past the quota.
    for body in [json!({}), json!({ "content": "edited" })] {
        let refused = regenerate(body).await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let refused: Value = refused.json().await.unwrap();
        assert_eq!(refused, json!({ "detail": SPENT }));
    }
    let (status, _) = send(&app, &token, &session, "one more").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
