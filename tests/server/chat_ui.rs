//! The chat pages' markup for the composer, the drawer and their scripts (issue #11): the pages'
//! own scripts are inline with the response's nonce on the chat pages only, the drafts are keyed by
//! the signed-in person, and the drawer and counter are in the HTML before any script runs. How
//! they behave in a browser: end2end/tests/chat-ui.spec.ts.

use reqwest::{header, StatusCode};

use crate::harness::{cookies_from, spawn_app, unique_email};

const PASSWORD: &str = "password one";

/// One marker from each of the chat pages' scripts (stream.js, composer.js, follow.js, keys.js).
const SCRIPT_MARKERS: [&str; 4] = [
    "/api/sessions/",
    "ferrochat:draft:",
    "scrollRestoration",
    "chat-search",
];

/// The nonce of a response's CSP.
fn nonce_of(response: &reqwest::Response) -> String {
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    csp.split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the page CSP carries a nonce")
        .to_owned()
}

#[tokio::test]
async fn the_chat_pages_carry_their_scripts_with_the_nonce_and_the_drawer_without_them() {
    let app = spawn_app().await;
    let email = unique_email();
    let user = app.sign_up(&email, PASSWORD).await;
    let user_id = user["user"]["id"].as_str().or(user["id"].as_str()).unwrap();
    let cookies = cookies_from(&app.submit_login(&email, PASSWORD).await);

    let response = app.page_with_cookies("/chat", &cookies).await;
    assert_eq!(response.status(), StatusCode::OK);
    let nonce = nonce_of(&response);
    let html = response.text().await.unwrap();
    let scripts: Vec<&str> = html
        .split(&format!(r#"<script nonce="{nonce}">"#))
        .skip(1)
        .collect();
    for marker in SCRIPT_MARKERS {
        assert!(
            scripts.iter().any(|script| script.contains(marker)),
            "a script with {marker} carries the nonce"
        );
    }
    // Drafts are kept per person: the page names whose they are.
    assert!(
        html.contains(&format!(r#"data-user="{user_id}""#)),
        "{html}"
    );
    // The drawer and the counter are markup, there before (and without) any script.
    assert!(html.contains(r#"<input type="checkbox" id="chat-drawer" class="drawer-switch">"#));
    assert!(html.contains(r#"<label for="chat-drawer" class="drawer-open">"#));
    assert!(html.contains(r#"<span id="composer-count" class="composer-count muted" hidden>"#));
    assert!(html.contains(r#"aria-describedby="composer-count""#));
    assert!(html.contains(r#"<button type="button" id="jump-latest" class="jump-latest" hidden>"#));

    // Not on other pages: the 404 page of a chat that is not there, and the login page.
    let missing = app
        .page_with_cookies(&format!("/chat/{}", uuid::Uuid::new_v4()), &cookies)
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let missing = missing.text().await.unwrap();
    let login = app.get("/login").await.text().await.unwrap();
    for page in [missing, login] {
        for marker in SCRIPT_MARKERS.iter().chain(&["chat-drawer"]) {
            assert!(!page.contains(marker), "{marker} is only on the chat pages");
        }
    }
}
