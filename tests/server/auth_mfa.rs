//! TOTP second factors at `/auth/v1/factors`: enrolment, challenge, verification, unenrolment,
//! `aal`/`amr` in the tokens, and the app's rule that an enrolled user's `aal1` session reaches
//! no chat data. Codes are computed here from the enrolment's secret (RFC 6238, written out
//! below, independent of the server's TOTP crate).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{claims_of, spawn_app, spawn_app_with, unique_email, TestApp};

const PASSWORD: &str = "correct horse battery staple";

/// RFC 6238 with SHA-1, 30-second steps and 6 digits: the code of `base32_secret` at `unix`.
pub fn totp_code(base32_secret: &str, unix: u64) -> String {
    let key = base32_decode(base32_secret);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key);
    let mac = ring::hmac::sign(&key, &(unix / 30).to_be_bytes());
    let mac = mac.as_ref();
    let offset = (mac[19] & 0x0f) as usize;
    let value = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", value % 1_000_000)
}

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut buffer, mut out) = (0u32, 0u64, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let value = ALPHABET.iter().position(|&a| a == c).expect("base32") as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A call to the auth service with a bearer token.
async fn auth_call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, app.url(&format!("/auth/v1{path}")))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A new user's session.
async fn new_user(app: &TestApp) -> (String, Value) {
    let email = unique_email();
    let session = app.sign_up(&email, PASSWORD).await;
    (email, session)
}

fn token(session: &Value) -> &str {
    session["access_token"].as_str().unwrap()
}

/// Enrols a TOTP factor: its id and base32 secret.
async fn enroll(app: &TestApp, access_token: &str) -> (String, String) {
    let (status, body) = auth_call(
        app,
        Method::POST,
        "/factors",
        access_token,
        Some(json!({ "factor_type": "totp", "friendly_name": "phone" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["totp"]["secret"].as_str().unwrap().to_owned(),
    )
}

async fn challenge(app: &TestApp, access_token: &str, factor: &str) -> String {
    let (status, body) = auth_call(
        app,
        Method::POST,
        &format!("/factors/{factor}/challenge"),
        access_token,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn verify(
    app: &TestApp,
    access_token: &str,
    factor: &str,
    challenge_id: &str,
    code: &str,
) -> (StatusCode, Value) {
    auth_call(
        app,
        Method::POST,
        &format!("/factors/{factor}/verify"),
        access_token,
        Some(json!({ "challenge_id": challenge_id, "code": code })),
    )
    .await
}

/// A user with a verified factor.
struct Enrolled {
    email: String,
    factor: String,
    secret: String,
    /// The session the factor was verified in, now aal2.
    aal2: Value,
    /// When the code that verified it was computed.
    verified_at: u64,
}

async fn enrolled_user(app: &TestApp) -> Enrolled {
    let (email, session) = new_user(app).await;
    let (factor, secret) = enroll(app, token(&session)).await;
    let challenge_id = challenge(app, token(&session), &factor).await;
    let verified_at = now();
    let code = totp_code(&secret, verified_at);
    let (status, aal2) = verify(app, token(&session), &factor, &challenge_id, &code).await;
    assert_eq!(status, 200, "{aal2}");
    Enrolled {
        email,
        factor,
        secret,
        aal2,
        verified_at,
    }
}

/// GoTrue's error shape: status, `error_code`, `msg`.
fn assert_error(reply: &(StatusCode, Value), status: u16, code: &str, msg: &str) {
    assert_eq!(reply.0, status, "{}", reply.1);
    assert_eq!(reply.1["error_code"], code, "{}", reply.1);
    assert_eq!(reply.1["msg"], msg, "{}", reply.1);
}

#[tokio::test]
async fn enrolment_then_a_right_code_verifies_the_factor_and_raises_the_session_to_aal2() {
    let app = spawn_app().await;
    let (email, session) = new_user(&app).await;
    let first = claims_of(token(&session));
    assert_eq!(first["aal"], "aal1");
    assert_eq!(first["amr"][0]["method"], "password");

    let (status, enrolled) = auth_call(
        &app,
        Method::POST,
        "/factors",
        token(&session),
        Some(json!({ "factor_type": "totp", "friendly_name": "phone", "issuer": "ferrochat" })),
    )
    .await;
    assert_eq!(status, 200, "{enrolled}");
    assert_eq!(enrolled["type"], "totp");
    assert_eq!(enrolled["friendly_name"], "phone");
    let secret = enrolled["totp"]["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    assert_eq!(
        enrolled["totp"]["uri"],
        format!(
            "otpauth://totp/ferrochat:{}?secret={secret}&issuer=ferrochat",
            email.replace('@', "%40")
        )
    );
    let qr = enrolled["totp"]["qr_code"].as_str().unwrap();
    assert!(qr.contains("<svg") && qr.ends_with("</svg>"), "{qr:.80}");
    let factor = enrolled["id"].as_str().unwrap();

    // Listed on the user as unverified, and its secret is never shown again.
    let user: Value = app.get_user(token(&session)).await.json().await.unwrap();
    assert_eq!(user["factors"][0]["id"], factor);
    assert_eq!(user["factors"][0]["status"], "unverified");
    assert_eq!(user["factors"][0]["factor_type"], "totp");
    assert!(!user.to_string().contains(secret));
    // Nor is it stored as such.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret FROM mfa_factors WHERE id = $1")
        .bind(factor)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(secret));
    assert!(!stored
        .windows(20)
        .any(|window| window == base32_decode(secret).as_slice()));

    let (status, challenged) = auth_call(
        &app,
        Method::POST,
        &format!("/factors/{factor}/challenge"),
        token(&session),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{challenged}");
    assert_eq!(challenged["type"], "totp");
    let expires_at = challenged["expires_at"].as_i64().unwrap();
    assert!((expires_at - now() as i64 - 300).abs() <= 2);

    let (status, upgraded) = verify(
        &app,
        token(&session),
        factor,
        challenged["id"].as_str().unwrap(),
        &totp_code(secret, now()),
    )
    .await;
    assert_eq!(status, 200, "{upgraded}");
    let claims = claims_of(token(&upgraded));
    assert_eq!(claims["aal"], "aal2");
    assert_eq!(
        claims["session_id"], first["session_id"],
        "the same session"
    );
    assert_eq!(claims["amr"][0]["method"], "totp");
    assert_eq!(claims["amr"][1]["method"], "password");
    assert_eq!(upgraded["user"]["factors"][0]["status"], "verified");

    // A refresh keeps the session's level; the refresh token of the aal1 session is void.
    let refreshed = app
        .auth_post(
            "/token?grant_type=refresh_token",
            &json!({ "refresh_token": upgraded["refresh_token"] }),
        )
        .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(claims_of(token(&refreshed))["aal"], "aal2");
    let stale = app
        .auth_post(
            "/token?grant_type=refresh_token",
            &json!({ "refresh_token": session["refresh_token"] }),
        )
        .await;
    assert_eq!(stale.status(), 400);
}

#[tokio::test]
async fn a_wrong_code_is_refused_with_gotrues_error_and_changes_nothing() {
    let app = spawn_app().await;
    let (_, session) = new_user(&app).await;
    let (factor, secret) = enroll(&app, token(&session)).await;
    let challenge_id = challenge(&app, token(&session), &factor).await;
    let right = totp_code(&secret, now());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let reply = verify(&app, token(&session), &factor, &challenge_id, &wrong).await;
    assert_error(
        &reply,
        422,
        "mfa_verification_failed",
        "Invalid TOTP code entered",
    );
    let user: Value = app.get_user(token(&session)).await.json().await.unwrap();
    assert_eq!(user["factors"][0]["status"], "unverified");
    // The same challenge still takes the right code.
    let (status, _) = verify(&app, token(&session), &factor, &challenge_id, &right).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_code_is_accepted_once() {
    let app = spawn_app().await;
    let Enrolled {
        email,
        factor,
        secret,
        verified_at,
        ..
    } = enrolled_user(&app).await;
    // The same code, and the one before it, on a new session and a new challenge: refused.
    let again = app.sign_in(&email, PASSWORD).await;
    let challenge_id = challenge(&app, token(&again), &factor).await;
    let used = totp_code(&secret, verified_at);
    let previous = totp_code(&secret, verified_at - 30);
    for code in [used, previous] {
        let reply = verify(&app, token(&again), &factor, &challenge_id, &code).await;
        assert_error(
            &reply,
            422,
            "mfa_verification_failed",
            "Invalid TOTP code entered",
        );
    }
    assert_eq!(claims_of(token(&again))["aal"], "aal1");
}

#[tokio::test]
async fn an_expired_challenge_is_refused_and_removed() {
    let app = spawn_app().await;
    let (_, session) = new_user(&app).await;
    let (factor, secret) = enroll(&app, token(&session)).await;
    let challenge_id = challenge(&app, token(&session), &factor).await;
    sqlx::query("UPDATE mfa_challenges SET created_at = created_at - 301 WHERE id = $1")
        .bind(&challenge_id)
        .execute(app.store.pool())
        .await
        .unwrap();
    let reply = verify(
        &app,
        token(&session),
        &factor,
        &challenge_id,
        &totp_code(&secret, now()),
    )
    .await;
    assert_error(
        &reply,
        422,
        "mfa_challenge_expired",
        &format!(
            "MFA challenge {challenge_id} has expired, verify against another challenge or create a new challenge."
        ),
    );
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mfa_challenges WHERE id = $1")
        .bind(&challenge_id)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_challenge_answered_from_another_address_is_refused() {
    let app = spawn_app().await;
    let (_, session) = new_user(&app).await;
    let (factor, secret) = enroll(&app, token(&session)).await;
    let challenge_id = challenge(&app, token(&session), &factor).await;
    let response = app
        .client_from(7)
        .post(app.url(&format!("/auth/v1/factors/{factor}/verify")))
        .bearer_auth(token(&session))
        .json(&json!({ "challenge_id": challenge_id, "code": totp_code(&secret, now()) }))
        .send()
        .await
        .unwrap();
    let reply = (response.status(), response.json().await.unwrap());
    assert_error(
        &reply,
        422,
        "mfa_ip_address_mismatch",
        "Challenge and verify IP addresses mismatch.",
    );
}

#[tokio::test]
async fn a_verified_factor_is_removed_only_from_an_aal2_session() {
    let app = spawn_app().await;
    let Enrolled {
        email,
        factor,
        aal2,
        ..
    } = enrolled_user(&app).await;
    let aal1 = app.sign_in(&email, PASSWORD).await;
    let path = format!("/factors/{factor}");
    let refused = auth_call(&app, Method::DELETE, &path, token(&aal1), None).await;
    assert_error(
        &refused,
        422,
        "insufficient_aal",
        "AAL2 required to unenroll verified factor",
    );
    let (status, body) = auth_call(&app, Method::DELETE, &path, token(&aal2), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "id": factor }));
    let user: Value = app.get_user(token(&aal2)).await.json().await.unwrap();
    assert!(user.get("factors").is_none(), "{user}");
    // With no factor left, the sessions are aal1 again.
    let refreshed: Value = app
        .auth_post(
            "/token?grant_type=refresh_token",
            &json!({ "refresh_token": aal2["refresh_token"] }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(claims_of(token(&refreshed))["aal"], "aal1");
}

#[tokio::test]
async fn another_users_factor_is_not_found() {
    let app = spawn_app().await;
    let (_, owner) = new_user(&app).await;
    let (factor, secret) = enroll(&app, token(&owner)).await;
    let owner_challenge = challenge(&app, token(&owner), &factor).await;
    let (_, stranger) = new_user(&app).await;
    let not_found = |reply: (StatusCode, Value)| {
        assert_error(&reply, 404, "mfa_factor_not_found", "Factor not found")
    };
    let path = format!("/factors/{factor}");
    not_found(
        auth_call(
            &app,
            Method::POST,
            &format!("{path}/challenge"),
            token(&stranger),
            Some(json!({})),
        )
        .await,
    );
    not_found(
        verify(
            &app,
            token(&stranger),
            &factor,
            &owner_challenge,
            &totp_code(&secret, now()),
        )
        .await,
    );
    not_found(auth_call(&app, Method::DELETE, &path, token(&stranger), None).await);
    let user: Value = app.get_user(token(&owner)).await.json().await.unwrap();
    assert_eq!(user["factors"][0]["id"], factor.as_str());
    assert_eq!(claims_of(token(&stranger))["aal"], "aal1");
}

#[tokio::test]
async fn an_enrolled_user_needs_aal2_for_a_second_factor_and_for_a_password_change() {
    let app = spawn_app().await;
    let Enrolled { email, .. } = enrolled_user(&app).await;
    let aal1 = app.sign_in(&email, PASSWORD).await;
    let reply = auth_call(
        &app,
        Method::POST,
        "/factors",
        token(&aal1),
        Some(json!({ "factor_type": "totp", "friendly_name": "laptop" })),
    )
    .await;
    assert_error(
        &reply,
        403,
        "insufficient_aal",
        "AAL2 required to enroll a new factor",
    );
    let reply = auth_call(
        &app,
        Method::PUT,
        "/user",
        token(&aal1),
        Some(json!({ "password": "a brand new passphrase", "current_password": PASSWORD })),
    )
    .await;
    assert_error(
        &reply,
        401,
        "insufficient_aal",
        "AAL2 session is required to update email or password when MFA is enabled.",
    );
}

#[tokio::test]
async fn enrolment_answers_other_factor_types_and_names_as_gotrue() {
    let app = spawn_app().await;
    let (_, session) = new_user(&app).await;
    let enroll_as =
        |body: Value| auth_call(&app, Method::POST, "/factors", token(&session), Some(body));
    assert_error(
        &enroll_as(json!({ "factor_type": "phone", "phone": "+15550100" })).await,
        422,
        "mfa_phone_enroll_not_enabled",
        "MFA enroll is disabled for Phone",
    );
    assert_error(
        &enroll_as(json!({ "factor_type": "sms" })).await,
        400,
        "validation_failed",
        "factor_type needs to be totp, phone, or webauthn",
    );
    enroll(&app, token(&session)).await;
    assert_error(
        &enroll_as(json!({ "factor_type": "totp", "friendly_name": "phone" })).await,
        422,
        "mfa_factor_name_conflict",
        "A factor with the friendly name \"phone\" for this user already exists",
    );
}

/// `GET /api/sessions` of the starter's API with a bearer token.
async fn chat_list(app: &TestApp, access_token: &str) -> (StatusCode, String) {
    let response = app.list_chats(access_token).await;
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn an_enrolled_users_aal1_token_reaches_no_chat_data_while_a_never_enrolled_users_does() {
    let app = spawn_app().await;
    let enrolled = enrolled_user(&app).await;
    assert_the_aal2_rule(&app, &app, &enrolled).await;
}

/// At `app`, whose auth service is `service`: the password alone (an `aal1` token) of a user with
/// a verified factor reaches no chat data, their `aal2` token does, and a never-enrolled user's
/// `aal1` token does.
async fn assert_the_aal2_rule(app: &TestApp, service: &TestApp, enrolled: &Enrolled) {
    let aal1 = service.sign_in(&enrolled.email, PASSWORD).await;
    let (status, body) = chat_list(app, token(&aal1)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body,
        r#"{"detail":"Enter the code from your authenticator app to continue."}"#
    );
    let (status, _) = chat_list(app, token(&enrolled.aal2)).await;
    assert_eq!(status, 200);

    let (_, plain) = new_user(service).await;
    assert_eq!(claims_of(token(&plain))["aal"], "aal1");
    let (status, body) = chat_list(app, token(&plain)).await;
    assert_eq!(status, 200, "{body}");
}

/// The app's session cookies after a response that set them, merged over `cookies`.
fn cookies_after(response: &reqwest::Response) -> String {
    crate::harness::cookies_from(response)
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn signing_in_with_a_verified_factor_asks_for_the_code_before_anything_else() {
    let app = spawn_app().await;
    let Enrolled {
        email,
        secret,
        verified_at,
        ..
    } = enrolled_user(&app).await;
    let browser = app.client_from(9);
    let login = app.submit_login_from(&browser, &email, PASSWORD).await;
    assert_eq!(location(&login), "/chat");
    let half = cookies_after(&login);

    // Every private page, and the home and sign-in pages, lead to the code page.
    let page = |path: &'static str, cookies: String| {
        let browser = browser.clone();
        let url = app.url(path);
        async move {
            browser
                .get(url)
                .header(reqwest::header::COOKIE, cookies)
                .send()
                .await
                .unwrap()
        }
    };
    for (path, next) in [
        ("/chat", "%2Fchat"),
        ("/account", "%2Faccount"),
        ("/", "%2Fchat"),
        ("/login", "%2Fchat"),
    ] {
        let response = page(path, half.clone()).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), format!("/login/code?next={next}"));
    }
    let code_page = page("/login/code?next=%2Fchat", half.clone()).await;
    assert_eq!(code_page.status(), 200);
    assert!(code_page.text().await.unwrap().contains("Enter your code"));

    // The chat's server functions refuse the half session with words, not data.
    let listed = browser
        .post(app.url("/api/chat/list"))
        .header(reqwest::header::COOKIE, half.clone())
        .form(&[("cursor", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::FORBIDDEN);
    let refusal: ferrochat::error::AppError =
        serde_json::from_str(&listed.text().await.unwrap()).unwrap();
    assert_eq!(refusal, ferrochat::error::AppError::SecondFactorRequired);

    // A wrong code comes back to the page with the reason; nothing is signed in.
    let submit = |code: String| {
        let browser = browser.clone();
        let url = app.url("/api/auth/second_factor");
        let referer = app.url("/login/code?next=%2Fchat");
        let half = half.clone();
        async move {
            browser
                .post(url)
                .header("accept", "text/html")
                .header("sec-fetch-site", "same-origin")
                .header("referer", referer)
                .header(reqwest::header::COOKIE, half)
                .form(&[("code", code.as_str()), ("next", "/chat")])
                .send()
                .await
                .unwrap()
        }
    };
    let right = totp_code(&secret, verified_at + 30);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = submit(wrong).await;
    assert!(refused.status().is_redirection());
    assert!(
        location(&refused).contains("/login/code"),
        "{}",
        location(&refused)
    );
    assert!(cookies_after(&refused).is_empty());

    // The right code (of the next step: the enrolment spent this one) lets in.
    let accepted = submit(right).await;
    assert_eq!(location(&accepted), "/chat");
    let full = cookies_after(&accepted);
    assert!(!full.is_empty());
    let chat = page("/chat", full.clone()).await;
    assert_eq!(chat.status(), 200);
    let code_page = page("/login/code", full).await;
    assert_eq!(location(&code_page), "/chat");
}

#[tokio::test]
async fn a_never_enrolled_users_session_reaches_its_chats_and_the_code_page_is_not_for_it() {
    let app = spawn_app().await;
    let (email, _) = new_user(&app).await;
    let cookies = cookies_after(&app.submit_login(&email, PASSWORD).await);
    assert_eq!(app.page_with_cookies("/chat", &cookies).await.status(), 200);
    let code_page = app.page_with_cookies("/login/code", &cookies).await;
    assert_eq!(location(&code_page), "/chat");
    let signed_out = app.get("/login/code").await;
    assert_eq!(location(&signed_out), "/login");
}

#[tokio::test]
async fn in_remote_mode_an_enrolled_users_aal1_session_owes_the_code_too() {
    // The "Supabase project" is another instance; its factors are read through its API.
    let project = spawn_app().await;
    let project_url = project.url("");
    let app = spawn_app_with(&[
        ("SUPABASE_URL", project_url.as_str()),
        ("SUPABASE_ANON_KEY", "anon-key"),
    ])
    .await;
    let enrolled = enrolled_user(&project).await;
    // The attacker's request is the password alone.
    assert_the_aal2_rule(&app, &project, &enrolled).await;
    let Enrolled {
        email,
        secret,
        verified_at,
        ..
    } = enrolled;

    // In a browser: the sign-in leads to the code page, and the right code to the chat.
    let login = app.submit_login(&email, PASSWORD).await;
    assert_eq!(location(&login), "/chat");
    let half = cookies_after(&login);
    let chat = app.page_with_cookies("/chat", &half).await;
    assert_eq!(chat.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&chat), "/login/code?next=%2Fchat");
    let accepted = app
        .client
        .post(app.url("/api/auth/second_factor"))
        .header("accept", "text/html")
        .header("sec-fetch-site", "same-origin")
        .header("referer", app.url("/login/code?next=%2Fchat"))
        .header(reqwest::header::COOKIE, half)
        .form(&[
            ("code", totp_code(&secret, verified_at + 30).as_str()),
            ("next", "/chat"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&accepted), "/chat");
    let full = cookies_after(&accepted);
    assert_eq!(app.page_with_cookies("/chat", &full).await.status(), 200);
}

#[tokio::test]
async fn an_administrator_removes_a_lost_factor_and_the_password_alone_signs_in_again() {
    let app = spawn_app().await;
    let enrolled = enrolled_user(&app).await;
    let user_id = enrolled.aal2["user"]["id"].as_str().unwrap().to_owned();
    let path = format!("/admin/users/{user_id}/factors/{}", enrolled.factor);
    let service_key = app.api_key("service_role");
    let owes_the_code = |(status, body): (StatusCode, String)| {
        assert_eq!(status, 403, "{body}");
        assert_eq!(
            body,
            r#"{"detail":"Enter the code from your authenticator app to continue."}"#
        );
    };
    owes_the_code(chat_list(&app, token(&app.sign_in(&enrolled.email, PASSWORD).await)).await);

    // The user cannot remove their factor through the admin API, not even at aal2.
    let refused = auth_call(&app, Method::DELETE, &path, token(&enrolled.aal2), None).await;
    assert_eq!(refused.0, StatusCode::FORBIDDEN, "{}", refused.1);
    assert_eq!(refused.1["error_code"], "not_admin");
    // Nor does the factor's id open another user's account.
    let (_, other) = new_user(&app).await;
    let elsewhere = format!(
        "/admin/users/{}/factors/{}",
        other["user"]["id"].as_str().unwrap(),
        enrolled.factor
    );
    let (status, body) = auth_call(&app, Method::DELETE, &elsewhere, &service_key, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error_code"], "mfa_factor_not_found");
    owes_the_code(chat_list(&app, token(&app.sign_in(&enrolled.email, PASSWORD).await)).await);

    let listed = format!("/admin/users/{user_id}/factors");
    let (status, factors) = auth_call(&app, Method::GET, &listed, &service_key, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(factors.as_array().unwrap().len(), 1, "{factors}");
    assert_eq!(factors[0]["id"], enrolled.factor.as_str());
    assert_eq!(factors[0]["status"], "verified");

    let (status, removed) = auth_call(&app, Method::DELETE, &path, &service_key, None).await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed["id"], enrolled.factor.as_str());
    let (status, factors) = auth_call(&app, Method::GET, &listed, &service_key, None).await;
    assert_eq!((status, factors), (StatusCode::OK, json!([])));
    // The password alone reaches the chats again; the removed factor is gone for good.
    let (status, body) =
        chat_list(&app, token(&app.sign_in(&enrolled.email, PASSWORD).await)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = auth_call(&app, Method::DELETE, &path, &service_key, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
