//! Session cookies: their flags and size, and that a sign-in replaces whatever session cookie
//! the browser brought (no fixation, no sign-in as the attacker).

use reqwest::{header, StatusCode};

use crate::harness::{cookies_from, spawn_app, spawn_app_with, unique_email, TestApp};

/// The `Set-Cookie` headers of a sign-in through the app's form.
async fn sign_in_cookies(app: &TestApp) -> Vec<String> {
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let response = app.submit_login(&email, "password one").await;
    assert!(response.status().is_redirection());
    let set: Vec<String> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .filter(|cookie| !cookie.contains("Max-Age=0"))
        .collect();
    assert!(!set.is_empty(), "a sign-in sets its session");
    set
}

#[tokio::test]
async fn session_cookies_are_httponly_samesite_lax_and_under_4096_bytes() {
    let app = spawn_app().await;
    for cookie in sign_in_cookies(&app).await {
        let attributes: Vec<&str> = cookie.split("; ").collect();
        assert!(attributes.contains(&"HttpOnly"), "{cookie}");
        assert!(attributes.contains(&"SameSite=Lax"), "{cookie}");
        assert!(attributes.contains(&"Path=/"), "{cookie}");
        assert!(!attributes.contains(&"Secure"), "plain http: {cookie}");
        assert!(cookie.len() < 4096, "{} bytes", cookie.len());
    }
}

#[tokio::test]
async fn on_an_https_site_session_cookies_are_secure() {
    // Behind a TLS proxy: the public URL is https, the app itself listens on loopback http.
    let app = spawn_app_with(&[("FERROCHAT_SITE_URL", "https://chat.example.test")]).await;
    for cookie in sign_in_cookies(&app).await {
        let attributes: Vec<&str> = cookie.split("; ").collect();
        assert!(attributes.contains(&"Secure"), "{cookie}");
        assert!(attributes.contains(&"HttpOnly"), "{cookie}");
        assert!(cookie.len() < 4096, "{} bytes", cookie.len());
    }
}

#[tokio::test]
async fn a_sign_in_replaces_a_session_cookie_planted_by_an_attacker() {
    let app = spawn_app().await;
    // The attacker's own session, planted in the victim's browser.
    let attacker = unique_email();
    app.sign_up(&attacker, "password one").await;
    let planted = cookies_from(&app.submit_login(&attacker, "password one").await);
    let victim = unique_email();
    app.sign_up(&victim, "password two").await;
    let signed_in = app
        .client
        .post(app.url("/api/auth/login"))
        .header("accept", "text/html")
        .header("sec-fetch-site", "same-origin")
        .header(header::COOKIE, &planted)
        .form(&[
            ("email", victim.as_str()),
            ("password", "password two"),
            ("next", "/chat"),
        ])
        .send()
        .await
        .unwrap();
    assert!(signed_in.status().is_redirection());
    let fresh = cookies_from(&signed_in);
    assert!(!fresh.is_empty());
    for pair in fresh.split("; ") {
        assert!(!planted.contains(pair), "a planted value survived: {pair}");
    }
    let page = app.page_with_cookies("/chat", &fresh).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(&victim) && !html.contains(&attacker));
}
