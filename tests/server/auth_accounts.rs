//! Sign-up, password rules, bad input, enumeration and rate limits of the auth service.

use ferrochat::contract::pkce::{challenge, new_verifier};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::harness::{spawn_app, spawn_app_with, unique_email};

#[tokio::test]
async fn sign_up_returns_a_session_for_a_new_address() {
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email, "a good password").await;
    assert_eq!(session["token_type"], "bearer");
    assert_eq!(session["expires_in"], 3600);
    assert_eq!(session["user"]["email"], email.as_str());
    assert_eq!(session["user"]["app_metadata"]["provider"], "email");
    assert_eq!(session["user"]["identities"][0]["provider"], "email");
    assert!(session["refresh_token"].as_str().unwrap().len() >= 43);
    let me: Value = app
        .get_user(session["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], session["user"]["id"]);
}

#[tokio::test]
async fn signing_up_twice_is_refused_as_user_already_exists() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "a good password").await;
    let again = app
        .auth_post(
            "/signup",
            &json!({ "email": email.to_uppercase(), "password": "another one" }),
        )
        .await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error_code"], "user_already_exists");
    assert_eq!(body["code"], 422);
}

#[tokio::test]
async fn a_seven_character_password_is_weak() {
    let app = spawn_app().await;
    let response = app
        .auth_post(
            "/signup",
            &json!({ "email": unique_email(), "password": "1234567" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], "weak_password");
    assert_eq!(body["weak_password"]["reasons"], json!(["length"]));
    assert_eq!(body["msg"], "Password should be at least 8 characters.");
}

#[tokio::test]
async fn passphrases_are_unicode_normalised_and_never_truncated() {
    let app = spawn_app().await;
    // Full-width letters and a ligature: NFKC makes them plain ASCII.
    let email = unique_email();
    app.sign_up(&email, "ｐａｓｓｐｈｒａｓｅ ﬁsh 日本語").await;
    app.sign_in(&email, "passphrase fish 日本語").await;

    let email = unique_email();
    let long = format!("{}!", "correct horse battery staple ".repeat(30));
    app.sign_up(&email, &long).await;
    let prefix = &long[..long.len() - 1];
    let response = app
        .auth_post(
            "/token?grant_type=password",
            &json!({ "email": email, "password": prefix }),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "a prefix is not the password"
    );

    let too_long = "x".repeat(1025);
    let response = app
        .auth_post(
            "/signup",
            &json!({ "email": unique_email(), "password": too_long }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], "validation_failed");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "the right password").await;
    let mut answers = Vec::new();
    for (email, password) in [
        (email.as_str(), "the wrong password"),
        ("nobody@example.test", "whatever1"),
    ] {
        let response = app
            .auth_post(
                "/token?grant_type=password",
                &json!({ "email": email, "password": password }),
            )
            .await;
        answers.push((response.status(), response.text().await.unwrap()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&answers[0].1).unwrap();
    assert_eq!(body["error_code"], "invalid_credentials");
    assert_eq!(body["msg"], "Invalid login credentials");
}

#[tokio::test]
async fn bad_input_gets_gotrue_errors_never_a_500() {
    let app = spawn_app().await;
    let url = app.url("/auth/v1/signup");
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            app.client
                .post(&url)
                .header(header::CONTENT_TYPE, "application/json")
                .body("{\"email\": "),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            app.client.post(&url).body("email=a@b.c"),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            app.client
                .post(&url)
                .json(&json!({ "email": 42, "password": [] })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        // (Neither email nor phone is an anonymous sign-up: see auth_anonymous.rs.)
        (
            app.client.post(&url).json(&json!({ "phone": "+15550100" })),
            StatusCode::BAD_REQUEST,
            "phone_provider_disabled",
        ),
        (
            app.client
                .post(&url)
                .json(&json!({ "email": "not an email", "password": "12345678" })),
            StatusCode::BAD_REQUEST,
            "email_address_invalid",
        ),
        (
            app.client
                .post(&url)
                .json(&json!({ "email": "x@example.test", "password": "y".repeat(200_000) })),
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
        ),
        (
            app.client
                .post(app.url("/auth/v1/token?grant_type=magic"))
                .json(&json!({})),
            StatusCode::BAD_REQUEST,
            "invalid_credentials",
        ),
        (
            app.client.post(app.url("/auth/v1/token")).json(&json!({})),
            StatusCode::BAD_REQUEST,
            "invalid_credentials",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{code}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error_code"], code);
        assert!(body["msg"].as_str().is_some_and(|msg| !msg.is_empty()));
    }
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_ip_and_a_spoofed_forwarded_for_buys_nothing() {
    let app = spawn_app_with(&[("FERROCHAT_RATE_LIMIT_SIGN_IN", "3")]).await;
    let attempt = |forwarded: &'static str| {
        app.client
            .post(app.url("/auth/v1/token?grant_type=password"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({ "email": unique_email(), "password": "wrong password" }))
            .send()
    };
    for forwarded in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        assert_eq!(
            attempt(forwarded).await.unwrap().status(),
            StatusCode::BAD_REQUEST
        );
    }
    let refused = attempt("10.0.0.4").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry_after));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error_code"], "over_request_rate_limit");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let app = spawn_app_with(&[
        ("FERROCHAT_RATE_LIMIT_SIGN_IN", "1"),
        ("FERROCHAT_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    // The proxy connects from 127.0.0.1 and names each client in X-Forwarded-For.
    let proxy = app.client_from(1);
    let attempt = |forwarded: &'static str| {
        proxy
            .post(app.url("/auth/v1/token?grant_type=password"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({ "email": unique_email(), "password": "wrong password" }))
            .send()
    };
    assert_eq!(
        attempt("203.0.113.1").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        attempt("203.0.113.2").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        attempt("203.0.113.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn recovery_answers_alike_for_known_and_unknown_addresses() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "forgotten password").await;
    let verifier = new_verifier();
    let request = |email: &str| {
        json!({
            "email": email,
            "code_challenge": challenge(&verifier),
            "code_challenge_method": "s256",
        })
    };
    let known = app.auth_post("/recover", &request(&email)).await;
    let unknown = app
        .auth_post("/recover", &request("ghost@example.test"))
        .await;
    assert_eq!(known.status(), StatusCode::OK);
    assert_eq!(unknown.status(), StatusCode::OK);
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());

    // Only the real account got mail; its link signs in and lets the password change.
    let link = app.mail_link(0).await;
    assert!(link.contains("type=recovery"), "{link}");
    let path = link
        .split_once(&app.address.to_string())
        .unwrap()
        .1
        .to_owned();
    let redirect = app.get(&path).await;
    assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
    let location = url::Url::parse(redirect.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    assert!(location.fragment().is_none(), "no tokens in a fragment");
    let code = location
        .query_pairs()
        .find(|(key, _)| key == "code")
        .expect("a PKCE code in the query")
        .1
        .into_owned();
    let session: Value = app
        .auth_post(
            "/token?grant_type=pkce",
            &json!({ "auth_code": code, "code_verifier": verifier }),
        )
        .await
        .json()
        .await
        .unwrap();
    let changed = app
        .client
        .put(app.url("/auth/v1/user"))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(&json!({ "password": "a brand new password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    app.sign_in(&email, "a brand new password").await;
    // The link is single use.
    let again = app.get(&path).await;
    assert!(again.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .contains("error_code=otp_expired"));
    assert_eq!(app.mails().len(), 1);
}

#[tokio::test]
async fn clients_of_the_2024_api_get_its_error_shape() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/auth/v1/signup"))
        .header("x-supabase-api-version", "2024-01-01")
        .json(&json!({ "email": unique_email(), "password": "short" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.headers()["x-supabase-api-version"], "2024-01-01");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "weak_password");
    assert_eq!(body["message"], "Password should be at least 8 characters.");
    assert_eq!(body["weak_password"]["reasons"], json!(["length"]));
    assert!(body.get("error_code").is_none());
}
