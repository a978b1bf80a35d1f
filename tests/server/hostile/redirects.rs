//! Open-redirect attempts on the two places that send a browser on after a sign-in: the app's
//! `next` (the sign-in form's field) and the auth service's `redirect_to` (here on an email link
//! that fails, the one request that always redirects). Every attempt must end on the site: the
//! `Location`, resolved by a URL parser as a browser would, has the site's origin, and carries no
//! line break (no header injection).

use reqwest::{header, StatusCode};

use crate::harness::{spawn_app, unique_email, TestApp};

/// A signed-up person to sign in with, on a fresh app.
async fn site() -> (TestApp, String) {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    (app, email)
}

fn strings(attempts: &[&str]) -> Vec<String> {
    attempts.iter().map(|a| (*a).to_owned()).collect()
}

/// Where the browser goes, asserted to be on the site.
fn assert_on_site(app: &TestApp, response: &reqwest::Response, attempt: &str) {
    let location = response
        .headers()
        .get(header::LOCATION)
        .unwrap_or_else(|| panic!("{attempt:?}: no redirect ({})", response.status()))
        .to_str()
        .expect("an ASCII Location");
    assert!(
        !location.contains(['\r', '\n']),
        "{attempt:?}: {location:?}"
    );
    let site = url::Url::parse(&app.base_url).unwrap();
    let landing = site.join(location).expect("a URL a browser can follow");
    assert_eq!(
        landing.origin(),
        site.origin(),
        "{attempt:?} led to {landing}"
    );
    assert!(
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .all(|cookie| !cookie.to_str().unwrap_or("").starts_with("evil")),
        "{attempt:?} set a cookie of its own"
    );
}

/// Each attempt (made for the app: some name its host) as the sign-in form's `next`, then as a
/// link's `redirect_to`.
async fn stays_on_site(attempts: impl Fn(&TestApp) -> Vec<String>) {
    let (app, email) = site().await;
    for attempt in &attempts(&app) {
        let attempt = attempt.as_str();
        let signed_in = app
            .submit_form_from(
                &app.client,
                "/api/auth/login",
                "/login",
                &[
                    ("email", &email),
                    ("password", "password one"),
                    ("next", attempt),
                ],
            )
            .await;
        assert!(signed_in.status().is_redirection(), "{attempt:?}");
        assert_on_site(&app, &signed_in, attempt);

        let redirect_to: String =
            url::form_urlencoded::byte_serialize(attempt.as_bytes()).collect();
        let link = app
            .get(&format!(
                "/auth/v1/verify?type=magiclink&token=not-a-token&redirect_to={redirect_to}"
            ))
            .await;
        assert_eq!(link.status(), StatusCode::SEE_OTHER, "{attempt:?}");
        assert_on_site(&app, &link, attempt);
    }
}

#[tokio::test]
async fn a_protocol_relative_target_stays_on_the_site() {
    stays_on_site(|_| strings(&["//evil.example", "//evil.example/chat", "///evil.example"])).await;
}

#[tokio::test]
async fn a_backslash_target_stays_on_the_site() {
    stays_on_site(|_| {
        strings(&[
            "/\\evil.example",
            "\\\\evil.example",
            "\\/evil.example",
            "https:\\\\evil.example",
            "https:/\\evil.example",
        ])
    })
    .await;
}

#[tokio::test]
async fn a_scheme_without_slashes_stays_on_the_site() {
    stays_on_site(|_| {
        strings(&[
            "https:evil.example",
            "http:evil.example/chat",
            "https:/evil.example",
        ])
    })
    .await;
}

#[tokio::test]
async fn a_percent_encoded_target_stays_on_the_site() {
    stays_on_site(|_| {
        strings(&[
            "%2F%2Fevil.example",
            "/%2F%2Fevil.example",
            "https%3A%2F%2Fevil.example",
            "%5C%5Cevil.example",
        ])
    })
    .await;
}

#[tokio::test]
async fn a_double_encoded_target_stays_on_the_site() {
    stays_on_site(|_| {
        strings(&[
            "%252F%252Fevil.example",
            "/%252F%252Fevil.example",
            "https%253A%252F%252Fevil.example",
        ])
    })
    .await;
}

#[tokio::test]
async fn a_userinfo_target_stays_on_the_site() {
    stays_on_site(|app| {
        let host = app.address.to_string();
        vec![
            format!("http://{host}@evil.example/"),
            format!("http://{host}:x@evil.example/"),
            format!("//{host}@evil.example"),
            format!("http://evil.example@{host}/"),
            "@evil.example".to_owned(),
        ]
    })
    .await;
}

#[tokio::test]
async fn a_look_alike_host_stays_on_the_site() {
    stays_on_site(|app| {
        let host = app.address.ip().to_string();
        let port = app.address.port();
        vec![
            format!("http://{host}.evil.example:{port}/"),
            format!("http://{host}:{port}.evil.example/"),
            format!("http://{host}{port}/"),
            format!("https://{host}:{port}/"),
            "http://127.0.0.1.nip.io/".to_owned(),
            "http://localhost.evil.example/".to_owned(),
        ]
    })
    .await;
}

#[tokio::test]
async fn data_and_javascript_targets_stay_on_the_site() {
    stays_on_site(|_| {
        strings(&[
            "javascript:alert(document.cookie)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            "vbscript:msgbox(1)",
        ])
    })
    .await;
}

#[tokio::test]
async fn a_line_break_cannot_inject_a_header() {
    stays_on_site(|_| {
        strings(&[
            "/chat\r\nSet-Cookie: evil=1",
            "/chat\nLocation: https://evil.example",
            "/chat%0d%0aSet-Cookie:%20evil=1",
            "/\r\n/evil.example",
        ])
    })
    .await;
}
