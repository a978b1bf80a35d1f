//! GoTrue's smaller endpoints and messages: `POST /resend`, the configurable minimum password
//! length, and the errors of `POST /verify`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{spawn_app, spawn_app_with, unique_email, TestApp};

async fn post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url(&format!("/auth/v1{path}")))
        .header("x-supabase-api-version", "2024-01-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn resend_mails_a_new_confirmation_link_only_to_an_unconfirmed_address() {
    let app = spawn_app_with(&[("FERROCHAT_AUTH_AUTOCONFIRM", "false")]).await;
    let email = unique_email();
    let signed_up = app
        .auth_post(
            "/signup",
            &json!({ "email": email, "password": "password one" }),
        )
        .await;
    assert_eq!(signed_up.status(), StatusCode::OK);
    let first = app.mail_link(0).await;

    let (status, body) = post(&app, "/resend", json!({ "type": "signup", "email": email })).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let second = app.mail_link(1).await;
    assert_ne!(first, second);
    assert!(second.contains("type=signup"), "{second}");

    // An unknown address gets the same answer, and no mail.
    let (status, body) = post(
        &app,
        "/resend",
        json!({ "type": "signup", "email": unique_email() }),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.mails().len(), 2);

    for (body, code, message) in [
        (
            json!({ "type": "recovery", "email": email }),
            "validation_failed",
            "Missing one of these types: signup, email_change, sms, phone_change",
        ),
        (
            json!({ "type": "signup" }),
            "validation_failed",
            "Type provided requires an email address",
        ),
        (
            json!({ "type": "sms", "phone": "+15555550100" }),
            "phone_provider_disabled",
            "Phone logins are disabled",
        ),
    ] {
        let (status, answer) = post(&app, "/resend", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            answer,
            json!({ "code": code, "message": message }),
            "{body}"
        );
    }
}

#[tokio::test]
async fn resend_of_an_email_change_mails_the_new_address_again() {
    let app = spawn_app_with(&[("FERROCHAT_AUTH_AUTOCONFIRM", "false")]).await;
    let email = unique_email();
    let new_email = unique_email();
    // An account an administrator confirmed, so it can sign in and ask for a change.
    let key = app.api_key("service_role");
    let created = app
        .client
        .post(app.url("/auth/v1/admin/users"))
        .bearer_auth(&key)
        .json(&json!({ "email": email, "password": "password one", "email_confirm": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let session = app.sign_in(&email, "password one").await;
    let changed = app
        .client
        .put(app.url("/auth/v1/user"))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(&json!({ "email": new_email }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let before = app.mails().len();

    let (status, _) = post(
        &app,
        "/resend",
        json!({ "type": "email_change", "email": email }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mail = app.mail(before).await;
    assert!(mail.contains(&new_email), "{mail}");
    assert!(mail.contains("type=email_change"), "{mail}");
}

#[tokio::test]
async fn the_minimum_password_length_is_a_setting_with_gotrues_message() {
    let app = spawn_app_with(&[("FERROCHAT_PASSWORD_MIN_LENGTH", "12")]).await;
    let (status, body) = post(
        &app,
        "/signup",
        json!({ "email": unique_email(), "password": "elevenchars" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({
            "code": "weak_password",
            "message": "Password should be at least 12 characters.",
            "weak_password": {
                "message": "Password should be at least 12 characters.",
                "reasons": ["length"],
            },
        })
    );
    let (status, _) = post(
        &app,
        "/signup",
        json!({ "email": unique_email(), "password": "twelve chars" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn verify_refuses_with_gotrues_otp_messages() {
    let app = spawn_app().await;
    for (body, status, code, message) in [
        (
            json!({ "type": "magiclink", "token": "123456", "email": unique_email() }),
            StatusCode::FORBIDDEN,
            "otp_expired",
            "Token has expired or is invalid",
        ),
        (
            json!({ "type": "magiclink", "token_hash": "forged" }),
            StatusCode::FORBIDDEN,
            "otp_expired",
            "Email link is invalid or has expired",
        ),
        (
            json!({ "token_hash": "forged" }),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "Verify requires a verification type",
        ),
        (
            json!({ "type": "magiclink", "token": "1", "token_hash": "2" }),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "Verify requires either a token or a token hash",
        ),
        (
            json!({ "type": "magiclink", "token_hash": "2", "email": unique_email() }),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "Only the token_hash and type should be provided",
        ),
        (
            json!({ "type": "magiclink", "token": "1", "email": "not an address" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Invalid email format",
        ),
        (
            json!({ "type": "teleport", "token_hash": "2" }),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "Unsupported verification type",
        ),
        (
            json!({ "type": "sms", "token": "123456", "phone": "+15555550100" }),
            StatusCode::BAD_REQUEST,
            "phone_provider_disabled",
            "Phone logins are disabled",
        ),
    ] {
        let (got, answer) = post(&app, "/verify", body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(
            answer,
            json!({ "code": code, "message": message }),
            "{body}"
        );
    }
}
