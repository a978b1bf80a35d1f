//! The app where users live: behind a reverse proxy, at a public host name that is not the
//! address it listens on, with default settings (rate limits included), and several people at
//! once, each from their own address. Tests that run with the public URL equal to the listen
//! address and one client cannot see a browser sent to `127.0.0.1`, or one person locking
//! everyone out.

use ferrochat::contract::SessionTokens;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::{
    auth_github::{fake_github, github_settings},
    harness::{
        claims_of, cookies_from, sign_in_from, spawn_public_app, unique_email, TestApp, PUBLIC_HOST,
    },
};

/// What the sign-in page says to someone over the sign-in limit.
const RATE_LIMIT_MESSAGE: &str = "Too many attempts. Please wait a few minutes and try again.";
/// What it says to a wrong password, or an address without an account.
const WRONG_PASSWORD_MESSAGE: &str = "Invalid email or password.";
/// Sign-in attempts one address may make per five minutes by default.
const SIGN_IN_LIMIT: usize = 30;

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The page a refused no-JS form submission sends the browser back to, as that browser sees it.
async fn page_after(app: &TestApp, client: &reqwest::Client, refusal: reqwest::Response) -> String {
    assert_eq!(refusal.status(), StatusCode::FOUND, "back to the form");
    assert!(refusal.headers().get(header::SET_COOKIE).is_none());
    let back = location(&refusal);
    assert!(back.starts_with(&app.url("/login")), "{back}");
    client.get(back).send().await.unwrap().text().await.unwrap()
}

async fn get_with_cookies(client: &reqwest::Client, url: &str, cookies: &str) -> reqwest::Response {
    client
        .get(url)
        .header(header::COOKIE, cookies)
        .send()
        .await
        .unwrap()
}

/// The session a browser holds in these cookies.
fn session_in(app: &TestApp, cookies: &str) -> SessionTokens {
    app.state
        .sessions
        .jar
        .load(cookies)
        .expect("a session cookie")
}

#[tokio::test]
async fn a_person_signs_up_in_and_out_and_is_refreshed_through_the_pages_behind_the_proxy() {
    let app = spawn_public_app(&[]).await;
    let browser = app.client_from(2);
    let email = unique_email();
    let chat = app.url("/chat");

    let signed_up = app
        .submit_form_from(
            &browser,
            "/api/auth/signup",
            "/signup",
            &[
                ("email", &email),
                ("password", "password one"),
                ("confirm_password", "password one"),
                ("next", "/chat"),
            ],
        )
        .await;
    assert_eq!(signed_up.status(), StatusCode::FOUND);
    assert_eq!(location(&signed_up), "/chat");
    let cookies = cookies_from(&signed_up);
    // The cookie is named after the public host, not the listen address.
    assert!(
        cookies.starts_with("sb-ferrochat-auth-token=base64-"),
        "{cookies}"
    );
    let page = get_with_cookies(&browser, &chat, &cookies).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains(&email));

    let signed_out = browser
        .post(app.url("/api/auth/logout"))
        .header("accept", "text/html")
        .header("sec-fetch-site", "same-origin")
        .header("referer", &chat)
        .header(header::COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), StatusCode::FOUND);
    assert_eq!(location(&signed_out), "/login");
    assert!(signed_out
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("sb-ferrochat-auth-token=;")));
    let stale = get_with_cookies(&browser, &chat, &cookies).await;
    assert_eq!(
        stale.status(),
        StatusCode::SEE_OTHER,
        "the old cookies are dead"
    );
    assert_eq!(location(&stale), "/login?next=%2Fchat");

    let signed_in = app
        .submit_login_from(&browser, &email, "password one")
        .await;
    assert_eq!(signed_in.status(), StatusCode::FOUND);
    assert_eq!(location(&signed_in), "/chat");
    let cookies = cookies_from(&signed_in);

    // An hour later: the same session, its access token expired. The page refreshes it.
    let mut session = session_in(&app, &cookies);
    let mut claims = claims_of(&session.access_token);
    let issued = claims["iat"].as_i64().unwrap();
    claims["iat"] = json!(issued - 3660);
    claims["exp"] = json!(issued - 60);
    session.access_token = app.mint(&claims).await;
    let expired = app.state.sessions.jar.store(&session)[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = get_with_cookies(&browser, &chat, &expired).await;
    assert_eq!(page.status(), StatusCode::OK, "signed in after a refresh");
    let renewed = session_in(&app, &cookies_from(&page));
    assert_ne!(renewed.refresh_token, session.refresh_token);
    assert_eq!(claims_of(&renewed.access_token)["sub"], claims["sub"]);
    assert!(page.text().await.unwrap().contains(&email));
}

#[tokio::test]
async fn a_client_of_the_api_signs_up_in_refreshes_and_out_behind_the_proxy() {
    let app = spawn_public_app(&[]).await;
    let client = app.client_from(3);
    let email = unique_email();
    let post = |path: &str, body: Value| client.post(app.url(path)).json(&body).send();

    let signed_up = post(
        "/auth/v1/signup",
        json!({ "email": email, "password": "password one" }),
    )
    .await
    .unwrap();
    assert_eq!(signed_up.status(), StatusCode::OK);
    let signed_in = sign_in_from(&app, &client, &email, "password one").await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let session: Value = signed_in.json().await.unwrap();
    // Tokens name the public issuer, which is what other services verify against.
    assert_eq!(
        claims_of(session["access_token"].as_str().unwrap())["iss"],
        app.url("/auth/v1")
    );

    let refreshed = post(
        "/auth/v1/token?grant_type=refresh_token",
        json!({ "refresh_token": session["refresh_token"] }),
    )
    .await
    .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_ne!(refreshed["refresh_token"], session["refresh_token"]);

    let access_token = refreshed["access_token"].as_str().unwrap();
    let user = client
        .get(app.url("/auth/v1/user"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), StatusCode::OK);
    assert_eq!(user.json::<Value>().await.unwrap()["email"], email.as_str());

    let signed_out = client
        .post(app.url("/auth/v1/logout"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), StatusCode::NO_CONTENT);
    let after = post(
        "/auth/v1/token?grant_type=refresh_token",
        json!({ "refresh_token": refreshed["refresh_token"] }),
    )
    .await
    .unwrap();
    assert_eq!(after.status(), StatusCode::BAD_REQUEST);
    let body: Value = after.json().await.unwrap();
    assert_eq!(body["error_code"], "refresh_token_not_found");
}

#[tokio::test]
async fn the_session_list_records_each_clients_own_address_and_browser() {
    let app = spawn_public_app(&[]).await;
    let email = unique_email();
    let (laptop, phone, tablet) = (app.client_from(4), app.client_from(5), app.client_from(6));
    let signed_up = laptop
        .post(app.url("/auth/v1/signup"))
        .header(header::USER_AGENT, "Laptop Firefox/128.0")
        .json(&json!({ "email": email, "password": "password one" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), StatusCode::OK);
    let on_phone = phone
        .post(app.url("/auth/v1/token?grant_type=password"))
        .header(header::USER_AGENT, "Phone Safari/17.5")
        .json(&json!({ "email": email, "password": "password one" }))
        .send()
        .await
        .unwrap();
    let on_phone: Value = on_phone.json().await.unwrap();
    // The app's own page, which calls the service in-process with the browser's identity.
    let on_tablet = tablet
        .post(app.url("/api/auth/login"))
        .header("accept", "text/html")
        .header("sec-fetch-site", "same-origin")
        .header("referer", app.url("/login"))
        .header(header::USER_AGENT, "Tablet Chrome/126.0")
        .form(&[
            ("email", email.as_str()),
            ("password", "password one"),
            ("next", "/chat"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&on_tablet), "/chat");

    let list: Vec<Value> = phone
        .get(app.url("/auth/v1/sessions"))
        .bearer_auth(on_phone["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut seen: Vec<(String, String, bool)> = list
        .iter()
        .map(|session| {
            (
                session["ip"].as_str().unwrap().to_owned(),
                session["user_agent"].as_str().unwrap().to_owned(),
                session["current"].as_bool().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("127.0.0.4".into(), "Laptop Firefox/128.0".into(), false),
            ("127.0.0.5".into(), "Phone Safari/17.5".into(), true),
            ("127.0.0.6".into(), "Tablet Chrome/126.0".into(), false),
        ]
    );
}

/// One address tries 31 passwords through the sign-in page, one account each (no account's own
/// limit is reached): the 31st is refused for the address, and someone else signs in at once.
#[tokio::test]
async fn thirty_one_wrong_passwords_on_the_page_stop_the_guesser_and_nobody_else() {
    let app = spawn_public_app(&[]).await;
    let owner_email = unique_email();
    app.sign_up(&owner_email, "the owner's password").await;
    let guesser = app.client_from(7);
    for attempt in 1..=SIGN_IN_LIMIT {
        let email = format!("guess-{attempt}@example.test");
        let refused = app.submit_login_from(&guesser, &email, "password123").await;
        let page = page_after(&app, &guesser, refused).await;
        assert!(page.contains(WRONG_PASSWORD_MESSAGE), "attempt {attempt}");
    }
    let refused = app
        .submit_login_from(&guesser, "guess-31@example.test", "password123")
        .await;
    let page = page_after(&app, &guesser, refused).await;
    assert!(page.contains(RATE_LIMIT_MESSAGE), "{page}");
    assert!(!page.contains(WRONG_PASSWORD_MESSAGE));
    // The limit is on the address, whatever it sends: even the right password waits.
    let refused = app
        .submit_login_from(&guesser, &owner_email, "the owner's password")
        .await;
    assert!(page_after(&app, &guesser, refused)
        .await
        .contains(RATE_LIMIT_MESSAGE));

    let owner = app.client_from(8);
    let signed_in = app
        .submit_login_from(&owner, &owner_email, "the owner's password")
        .await;
    assert_eq!(signed_in.status(), StatusCode::FOUND);
    assert_eq!(location(&signed_in), "/chat");
    assert!(cookies_from(&signed_in).starts_with("sb-ferrochat-auth-token=base64-"));
}

/// Sends `SIGN_IN_LIMIT + 1` wrong passwords to the API from `client`, each for another account
/// and with the headers `with` adds; returns the last answer.
async fn guess_through_the_api(
    app: &TestApp,
    client: &reqwest::Client,
    with: impl Fn(usize, reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> reqwest::Response {
    for attempt in 1..=SIGN_IN_LIMIT {
        let request = client
            .post(app.url("/auth/v1/token?grant_type=password"))
            .json(&json!({ "email": format!("guess-{attempt}@example.test"), "password": "x" }));
        let response = with(attempt, request).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "attempt {attempt}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["error_code"], "invalid_credentials",
            "attempt {attempt}"
        );
    }
    let last = client
        .post(app.url("/auth/v1/token?grant_type=password"))
        .json(&json!({ "email": "guess-31@example.test", "password": "x" }));
    with(SIGN_IN_LIMIT + 1, last).send().await.unwrap()
}

async fn assert_rate_limited(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], "over_request_rate_limit");
    assert_eq!(body["msg"], "Request rate limit reached");
}

#[tokio::test]
async fn thirty_one_wrong_passwords_on_the_api_stop_the_guesser_and_nobody_else() {
    let app = spawn_public_app(&[]).await;
    let owner_email = unique_email();
    app.sign_up(&owner_email, "the owner's password").await;
    let guesser = app.client_from(9);
    assert_rate_limited(guess_through_the_api(&app, &guesser, |_, request| request).await).await;
    let owner = app.client_from(10);
    let signed_in = sign_in_from(&app, &owner, &owner_email, "the owner's password").await;
    assert_eq!(signed_in.status(), StatusCode::OK);
}

/// The proxy appends the real peer to `X-Forwarded-For` and the app takes the last hop it does
/// not trust: whatever a client writes in front of it, it stays itself.
#[tokio::test]
async fn a_forged_forwarded_for_buys_no_fresh_budget_and_no_false_address() {
    let app = spawn_public_app(&[]).await;
    let forger = app.client_from(11);
    let last = guess_through_the_api(&app, &forger, |attempt, request| {
        request.header("x-forwarded-for", format!("198.51.100.{attempt}"))
    })
    .await;
    assert_rate_limited(last).await;

    let email = unique_email();
    let session = app.sign_up(&email, "password one").await;
    let forged = app
        .client_from(12)
        .post(app.url("/auth/v1/token?grant_type=password"))
        .header("x-forwarded-for", "203.0.113.7, 127.0.0.1")
        .json(&json!({ "email": email, "password": "password one" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::OK);
    let list: Vec<Value> = app
        .client
        .get(app.url("/auth/v1/sessions"))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let forged_session = list.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(forged_session["ip"], "127.0.0.12");
}

#[tokio::test]
async fn oauth_links_and_tokens_use_the_public_url_never_the_listen_address() {
    let github = fake_github(true).await;
    let app = spawn_public_app(&github_settings(&github)).await;
    let site = app.url("");
    let port = app.proxy.unwrap().port();
    let browser = app.client_from(13);

    // The "Continue with GitHub" button, without JavaScript.
    let start = app
        .submit_form_from(
            &browser,
            "/api/auth/oauth",
            "/login",
            &[("provider", "github"), ("next", "/chat")],
        )
        .await;
    assert_eq!(start.status(), StatusCode::FOUND);
    let authorize = url::Url::parse(&location(&start)).unwrap();
    assert_eq!(authorize.scheme(), "http");
    assert_eq!(authorize.host_str(), Some(PUBLIC_HOST));
    assert_eq!(authorize.port(), Some(port));
    assert_eq!(authorize.path(), "/auth/v1/authorize");
    let verifier_cookie = cookies_from(&start);
    assert!(
        verifier_cookie.starts_with("sb-ferrochat-auth-token-code-verifier="),
        "{verifier_cookie}"
    );

    let to_provider = browser.get(authorize.as_str()).send().await.unwrap();
    assert_eq!(to_provider.status(), StatusCode::SEE_OTHER);
    let provider = url::Url::parse(&location(&to_provider)).unwrap();
    assert!(provider
        .as_str()
        .starts_with(&format!("{github}/login/oauth/authorize?")));
    let param = |url: &url::Url, name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    assert_eq!(
        param(&provider, "redirect_uri").as_deref(),
        Some(format!("http://{PUBLIC_HOST}:{port}/auth/v1/callback").as_str())
    );

    // The provider sends the browser back to the public callback.
    let state = param(&provider, "state").unwrap();
    let callback = get_with_cookies(
        &browser,
        &app.url(&format!("/auth/v1/callback?code=gh-code&state={state}")),
        &cookies_from(&to_provider),
    )
    .await;
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    let landing = location(&callback);
    assert!(
        landing.starts_with(&format!("{site}/auth/callback?")),
        "{landing}"
    );
    let signed_in = get_with_cookies(&browser, &landing, &verifier_cookie).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed_in), "/chat");
    let cookies = cookies_from(&signed_in);
    let session = session_in(&app, &cookies);
    assert_eq!(
        claims_of(&session.access_token)["iss"],
        format!("http://{PUBLIC_HOST}:{port}/auth/v1")
    );
    let chat = get_with_cookies(&browser, &app.url("/chat"), &cookies).await;
    assert_eq!(chat.status(), StatusCode::OK);
    assert!(chat.text().await.unwrap().contains("octo@example.test"));

    // An emailed link, from the app's "forgot password" page.
    let requested = app
        .submit_form_from(
            &browser,
            "/api/auth/recover",
            "/forgot-password",
            &[("email", "octo@example.test")],
        )
        .await;
    assert!(
        requested.status().is_redirection(),
        "{}",
        requested.status()
    );
    let link = url::Url::parse(&app.mail_link(0).await).unwrap();
    assert_eq!(
        (link.host_str(), link.port(), link.path()),
        (Some(PUBLIC_HOST), Some(port), "/auth/v1/verify")
    );
    let redirect_to = param(&link, "redirect_to").unwrap();
    assert!(
        redirect_to.starts_with(&format!("{site}/auth/callback?")),
        "{redirect_to}"
    );
}
