//! Other sites' pages: CORS for allow-listed origins on the auth API, and the cross-site guard
//! measured against the public site URL, not the `Host` a proxy forwards.

use reqwest::{header, StatusCode};
use serde_json::json;

use crate::harness::{spawn_app, spawn_app_with, unique_email};

const APP_ORIGIN: &str = "https://app.example.org";

#[tokio::test]
async fn an_allow_listed_origin_may_call_the_auth_api_from_a_browser_and_others_may_not() {
    let app = spawn_app_with(&[("FERROCHAT_CORS_ALLOWED_ORIGINS", APP_ORIGIN)]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                app.url("/auth/v1/token?grant_type=password"),
            )
            .header(header::ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, apikey, x-client-info",
            )
            .send()
    };
    let allowed = preflight(APP_ORIGIN).await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        APP_ORIGIN
    );
    let methods = allowed.headers()[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap();
    assert!(methods.contains("POST"), "{methods}");
    assert!(
        !allowed
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
        "bearer tokens, not cookies"
    );
    let foreign = preflight("https://evil.example").await.unwrap();
    assert!(!foreign
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));

    // The allow-listed page's sign-up goes through, cross-site as browsers label it.
    let signup = app
        .client
        .post(app.url("/auth/v1/signup"))
        .header(header::ORIGIN, APP_ORIGIN)
        .header("sec-fetch-site", "cross-site")
        .json(&json!({ "email": unique_email(), "password": "password one" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::OK);
    assert_eq!(
        signup.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        APP_ORIGIN
    );
    let forged = app
        .client
        .post(app.url("/auth/v1/signup"))
        .header(header::ORIGIN, "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({ "email": unique_email(), "password": "password one" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn without_an_allow_list_no_origin_gets_cors() {
    let app = spawn_app().await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/auth/v1/signup"))
        .header(header::ORIGIN, APP_ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(!preflight
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn a_form_from_the_public_site_passes_the_guard_behind_a_proxy_that_rewrites_host() {
    let app = spawn_app_with(&[("FERROCHAT_SITE_URL", "https://chat.example.com")]).await;
    let post = |origin: &'static str| {
        app.client
            .post(app.url("/api/auth/login"))
            .header(header::ORIGIN, origin)
            .header("accept", "text/html")
            .form(&[
                ("email", "nobody@example.test"),
                ("password", "x"),
                ("next", "/chat"),
            ])
            .send()
    };
    // An old browser without fetch metadata: Origin is the public site, Host is the backend.
    let from_site = post("https://chat.example.com").await.unwrap();
    assert_ne!(from_site.status(), StatusCode::FORBIDDEN);
    let from_backend_address = post("http://127.0.0.1:3000").await.unwrap();
    assert_eq!(from_backend_address.status(), StatusCode::FORBIDDEN);
}
