//! PKCE codes (single use, expiry, verifier binding), email confirmation and OAuth edge cases.
//! The full dance against a real OpenID provider runs in end2end/tests/oauth.spec.ts.

use std::time::Duration;

use ferrochat::contract::pkce::{challenge as pkce_challenge, new_verifier as random_token};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::harness::{spawn_app_with, unique_email, TestApp};

/// Signs up with confirmation on and a PKCE challenge, follows the emailed link, and returns
/// the `code` it redirects with, and the verifier.
async fn code_from_confirmation(app: &TestApp) -> (String, String) {
    let verifier = random_token();
    let response = app
        .auth_post(
            "/signup",
            &json!({
                "email": unique_email(),
                "password": "password one",
                "code_challenge": pkce_challenge(&verifier),
                "code_challenge_method": "s256",
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let user: Value = response.json().await.unwrap();
    assert!(
        user.get("access_token").is_none(),
        "no session before confirmation"
    );
    assert!(user["confirmation_sent_at"].is_string());
    let n = app.mails().len().saturating_sub(1);
    let link = app.mail_link(n).await;
    let path = link
        .split_once(&app.address.to_string())
        .unwrap()
        .1
        .to_owned();
    let redirect = app.get(&path).await;
    assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
    let location = url::Url::parse(redirect.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(key, _)| key == "code")
        .expect("a PKCE code in the query")
        .1
        .into_owned();
    (code, verifier)
}

async fn exchange(app: &TestApp, code: &str, verifier: &str) -> reqwest::Response {
    app.auth_post(
        "/token?grant_type=pkce",
        &json!({ "auth_code": code, "code_verifier": verifier }),
    )
    .await
}

async fn error_code(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error_code"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn a_pkce_code_is_single_use_and_bound_to_its_verifier() {
    let app = spawn_app_with(&[("FERROCHAT_AUTH_AUTOCONFIRM", "false")]).await;
    let (code, verifier) = code_from_confirmation(&app).await;
    assert_eq!(
        error_code(exchange(&app, &code, &random_token()).await).await,
        (StatusCode::BAD_REQUEST, "bad_code_verifier".into())
    );
    let session = exchange(&app, &code, &verifier).await;
    assert_eq!(session.status(), StatusCode::OK);
    let session: Value = session.json().await.unwrap();
    assert!(session["user"]["email_confirmed_at"].is_string());
    assert_eq!(
        error_code(exchange(&app, &code, &verifier).await).await,
        (StatusCode::NOT_FOUND, "flow_state_not_found".into())
    );
}

#[tokio::test]
async fn a_pkce_code_expires() {
    let app = spawn_app_with(&[
        ("FERROCHAT_AUTH_AUTOCONFIRM", "false"),
        ("FERROCHAT_PKCE_CODE_EXPIRY_SECS", "1"),
    ])
    .await;
    let (code, verifier) = code_from_confirmation(&app).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        error_code(exchange(&app, &code, &verifier).await).await,
        (StatusCode::BAD_REQUEST, "flow_state_expired".into())
    );
}

#[tokio::test]
async fn the_plain_challenge_method_is_refused() {
    let app = spawn_app_with(&[("FERROCHAT_AUTH_AUTOCONFIRM", "false")]).await;
    let verifier = random_token();
    let response = app
        .auth_post(
            "/signup",
            &json!({
                "email": unique_email(),
                "password": "password one",
                "code_challenge": verifier,
                "code_challenge_method": "plain",
            }),
        )
        .await;
    assert_eq!(
        error_code(response).await,
        (StatusCode::BAD_REQUEST, "validation_failed".into())
    );
}

#[tokio::test]
async fn with_confirmation_on_sign_up_does_not_reveal_existing_accounts() {
    let app = spawn_app_with(&[("FERROCHAT_AUTH_AUTOCONFIRM", "false")]).await;
    let email = unique_email();
    let first = app
        .auth_post(
            "/signup",
            &json!({ "email": email, "password": "password one" }),
        )
        .await;
    let second = app
        .auth_post(
            "/signup",
            &json!({ "email": email, "password": "password two" }),
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    let (first, second): (Value, Value) =
        (first.json().await.unwrap(), second.json().await.unwrap());
    let keys = |user: &Value| {
        let mut keys: Vec<String> = user.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(first["email"], second["email"]);
    assert!(
        keys(&second).iter().all(|key| keys(&first).contains(key)),
        "{first} vs {second}"
    );
    // Unconfirmed, the account cannot sign in yet.
    let sign_in = app
        .auth_post(
            "/token?grant_type=password",
            &json!({ "email": email, "password": "password one" }),
        )
        .await;
    assert_eq!(
        error_code(sign_in).await,
        (StatusCode::BAD_REQUEST, "email_not_confirmed".into())
    );
}

#[tokio::test]
async fn authorize_refuses_unknown_providers_and_callback_refuses_unknown_state() {
    let app = spawn_app_with(&[]).await;
    let response = app.get("/auth/v1/authorize?provider=myspace").await;
    assert_eq!(
        error_code(response).await,
        (StatusCode::BAD_REQUEST, "validation_failed".into())
    );
    let settings: Value = app.get("/auth/v1/settings").await.json().await.unwrap();
    assert_eq!(settings["external"]["email"], true);
    assert_eq!(settings["external"]["google"], false);
    assert_eq!(settings["mailer_autoconfirm"], true);

    let callback = app.get("/auth/v1/callback?code=abc&state=forged").await;
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    let location = callback.headers()[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with(&app.url("/")), "{location}");
    assert!(
        location.contains("error_code=bad_oauth_state"),
        "{location}"
    );
    assert!(!location.contains("code=abc"));
}
