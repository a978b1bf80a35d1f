use reqwest::{header, StatusCode};

use crate::harness::{spawn_app, TestApp};

async fn post_theme(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url("/theme"))
        .header("sec-fetch-site", "same-origin")
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn choosing_a_theme_remembers_it_and_returns_to_the_page() {
    let app = spawn_app().await;
    let response = post_theme(&app, &[("theme", "dark"), ("return_to", "/some/page?x=1")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/some/page?x=1");
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("theme=dark;"), "{cookie}");
    assert!(cookie.contains("Max-Age=31536000"));
}

#[tokio::test]
async fn the_server_renders_the_remembered_theme_before_any_script_runs() {
    let app = spawn_app().await;
    let html = app
        .client
        .get(app.url("/"))
        .header(header::COOKIE, "theme=dark")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<html lang="en" data-theme="dark""#),
        "{html}"
    );
    assert!(
        html.contains(r#"aria-label="Dark theme" aria-pressed="true""#),
        "{html}"
    );
}

#[tokio::test]
async fn a_foreign_return_address_goes_home_instead() {
    let app = spawn_app().await;
    for target in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let response = post_theme(&app, &[("theme", "light"), ("return_to", target)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/", "{target}");
    }
}

#[tokio::test]
async fn an_unknown_theme_is_refused_with_a_reason() {
    let app = spawn_app().await;
    let response = post_theme(&app, &[("theme", "purple")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("choose system, light or dark"));
    assert!(post_theme(&app, &[]).await.status().is_client_error());
}

#[tokio::test]
async fn a_cross_site_form_post_is_refused() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/theme"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("theme", "dark")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let response = app
        .client
        .post(app.url("/theme"))
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("theme", "dark")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
