//! The app's side of auth: session cookies, local verification, refresh, guards, remote mode.

use std::{sync::Arc, time::Instant};

use ferrochat::{
    auth::{
        client::AuthClient,
        verify::{KeySource, Verifier, VerifyError},
    },
    contract::SessionTokens,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::{
    harness::{claims_of, cookies_from, spawn_app, spawn_app_with, unique_email, TestApp},
    key_confusion,
};

#[tokio::test]
async fn signing_in_without_javascript_sets_httponly_session_cookies() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let response = app.submit_login(&email, "password one").await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()[header::LOCATION], "/chat");
    let set_cookie: Vec<&str> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session_cookie = set_cookie
        .iter()
        .find(|c| c.starts_with("sb-127-auth-token=base64-"))
        .unwrap();
    assert!(
        session_cookie.contains("HttpOnly")
            && session_cookie.contains("SameSite=Lax")
            && session_cookie.contains("Path=/")
    );
    let chat = app
        .page_with_cookies("/chat", &cookies_from(&response))
        .await;
    assert_eq!(chat.status(), StatusCode::OK);
    assert!(chat.text().await.unwrap().contains(&email));
}

#[tokio::test]
async fn a_wrong_password_comes_back_to_the_form_with_a_message_that_reveals_nothing() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let mut locations = Vec::new();
    for (email, password) in [
        (email.as_str(), "wrong password"),
        ("nobody@example.test", "wrong password"),
    ] {
        let response = app.submit_login(email, password).await;
        assert!(response.status().is_redirection());
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        let location = response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            location.starts_with(&app.url("/login")) || location.starts_with("/login"),
            "{location}"
        );
        locations.push(location);
    }
    assert_eq!(locations[0], locations[1], "the same answer for both");
    let page = app
        .get(locations[0].trim_start_matches(&app.url("")))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Invalid email or password."), "{page}");
}

#[tokio::test]
async fn a_crafted_refusal_in_a_link_never_puts_its_authors_words_in_the_page() {
    use base64::Engine as _;
    let app = spawn_app().await;
    let words = "Your account is locked. Call +1 555 0100 to unlock it.";
    let forged = base64::engine::general_purpose::URL_SAFE
        .encode(serde_json::to_string(&json!({ "Refused": words })).unwrap());
    for signature in ["", "&__sig=AAAA", "&__sig=not-base64!"] {
        let page = app
            .get(&format!(
                "/login?__path=/api/auth/login&__err={forged}{signature}"
            ))
            .await
            .text()
            .await
            .unwrap();
        assert!(!page.contains("Call +1 555"), "{signature}: {page}");
        assert!(
            page.contains("That did not work. Please check the form and try again."),
            "{signature}"
        );
    }
    // The server's own refusal of a real post carries its signature and is shown word for word.
    let response = app
        .submit_login("nobody@example.test", "wrong password")
        .await;
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(location.contains("__sig="), "{location}");
}

#[tokio::test]
async fn private_pages_send_signed_out_visitors_to_login_with_next() {
    let app = spawn_app().await;
    for (path, next) in [
        ("/chat", "%2Fchat"),
        ("/chat/42?tab=1", "%2Fchat%2F42%3Ftab%3D1"),
        ("/account", "%2Faccount"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            response.headers()[header::LOCATION],
            format!("/login?next={next}")
        );
    }
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let cookies = cookies_from(&app.submit_login(&email, "password one").await);
    let login = app.page_with_cookies("/login", &cookies).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(login.headers()[header::LOCATION], "/chat");
}

#[tokio::test]
async fn a_cross_site_sign_in_post_is_refused() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("email", email.as_str()),
            ("password", "password one"),
            ("next", "/chat"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn a_session_larger_than_a_cookie_is_chunked_and_still_signs_in() {
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email, "password one").await;
    // Metadata travels in the access token (the cookie leaves out the user object, which would
    // carry it again): with as much as the service allows (2 KB of JSON), about 4 KB of session.
    let bio = "a long biography ".repeat(118);
    let updated = app
        .client
        .put(app.url("/auth/v1/user"))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(&json!({ "data": { "bio": bio } }))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    let response = app.submit_login(&email, "password one").await;
    let cookies = cookies_from(&response);
    assert!(cookies.contains("sb-127-auth-token.0=base64-"), "{cookies}");
    assert!(
        cookies.contains("sb-127-auth-token.1="),
        "two chunks: {cookies}"
    );
    assert!(
        !cookies.contains("sb-127-auth-token.2="),
        "two chunks: {cookies}"
    );
    let chat = app.page_with_cookies("/chat", &cookies).await;
    assert_eq!(chat.status(), StatusCode::OK);
}

#[tokio::test]
async fn concurrent_requests_with_one_expired_session_share_one_refresh() {
    let app = spawn_app().await;
    let email = unique_email();
    let fresh = app.sign_up(&email, "password one").await;
    // The same session, but its access token expired a minute ago.
    let mut claims = claims_of(fresh["access_token"].as_str().unwrap());
    let now = claims["iat"].as_i64().unwrap();
    claims["iat"] = json!(now - 3660);
    claims["exp"] = json!(now - 60);
    let session: SessionTokens = serde_json::from_value(json!({
        "access_token": app.mint(&claims).await,
        "token_type": "bearer",
        "expires_in": 3600,
        "expires_at": now - 60,
        "refresh_token": fresh["refresh_token"],
        "user": fresh["user"],
    }))
    .unwrap();
    let cookie: String = app.state.sessions.jar.store(&session)[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let before = app.state.sessions.refresh_count();
    let requests: Vec<_> = (0..10)
        .map(|_| {
            tokio::spawn(
                app.client
                    .get(app.url("/chat"))
                    .header(header::COOKIE, cookie.clone())
                    .send(),
            )
        })
        .collect();
    for request in requests {
        let response = request.await.unwrap().unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "signed in after a transparent refresh"
        );
        let renewed = cookies_from(&response);
        assert!(renewed.starts_with("sb-127-auth-token=base64-") && renewed != cookie);
    }
    assert_eq!(
        app.state.sessions.refresh_count() - before,
        1,
        "one refresh for ten requests"
    );
}

#[tokio::test]
async fn a_session_whose_refresh_fails_is_signed_out_and_its_cookies_cleared() {
    let app = spawn_app().await;
    let fresh = app.sign_up(&unique_email(), "password one").await;
    let mut claims = claims_of(fresh["access_token"].as_str().unwrap());
    claims["exp"] = json!(claims["iat"].as_i64().unwrap() - 60);
    let session: SessionTokens = serde_json::from_value(json!({
        "access_token": app.mint(&claims).await,
        "expires_in": 3600,
        "expires_at": 0,
        "refresh_token": "not-a-refresh-token",
    }))
    .unwrap();
    let cookie = app.state.sessions.jar.store(&session)[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let response = app.page_with_cookies("/chat", &cookie).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cleared = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|c| {
            c.to_str().unwrap().starts_with("sb-127-auth-token=;")
                && c.to_str().unwrap().contains("Max-Age=0")
        });
    assert!(cleared);
}

/// A session cookie whose access token expired a minute ago, with a real refresh token.
async fn expired_session_cookie(app: &TestApp) -> String {
    let fresh = app.sign_up(&unique_email(), "password one").await;
    let mut claims = claims_of(fresh["access_token"].as_str().unwrap());
    let now = claims["iat"].as_i64().unwrap();
    claims["iat"] = json!(now - 3660);
    claims["exp"] = json!(now - 60);
    let session: SessionTokens = serde_json::from_value(json!({
        "access_token": app.mint(&claims).await,
        "expires_in": 3600,
        "expires_at": now - 60,
        "refresh_token": fresh["refresh_token"],
        "user": fresh["user"],
    }))
    .unwrap();
    app.state.sessions.jar.store(&session)[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Whether a response tells the browser to drop its session cookie.
fn clears_session(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("sb-127-auth-token=;"))
}

#[tokio::test]
async fn a_refresh_refused_for_now_keeps_the_session_and_its_cookies() {
    let app = spawn_app().await;
    let cookie = expired_session_cookie(&app).await;
    // The browser's address has used up its refresh budget (150 per 5 minutes by default).
    for _ in 0..150 {
        let refused = app
            .auth_post(
                "/token?grant_type=refresh_token",
                &json!({ "refresh_token": "spent" }),
            )
            .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    }
    let response = app.page_with_cookies("/chat", &cookie).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    assert!(!clears_session(&response), "the session is kept");
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("You are still signed in"));
    // The same browser on another network a moment later: the kept session refreshes.
    let elsewhere = app
        .client_from(200)
        .get(app.url("/chat"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::OK);
    assert!(cookies_from(&elsewhere).starts_with("sb-127-auth-token=base64-"));
}

#[tokio::test]
async fn a_session_store_out_of_reach_keeps_the_session_and_shows_no_private_data() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let cookie = cookies_from(&app.submit_login(&email, "password one").await);
    assert_eq!(
        app.page_with_cookies("/chat", &cookie).await.status(),
        StatusCode::OK
    );
    // The database goes away: the session cannot be checked for a sign-out, once the instance's
    // memory of having checked it (FERROCHAT_SESSION_STATUS_CACHE_MS, 1 s) has lapsed.
    app.store.close().await;
    crate::harness::after_session_status_memory().await;
    let response = app.page_with_cookies("/chat", &cookie).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!clears_session(&response));
    assert!(!response.text().await.unwrap().contains(&email));
    let user = app
        .client
        .post(app.url("/api/auth/current_user"))
        .header(header::COOKIE, &cookie)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!clears_session(&user));
    assert_eq!(user.json::<Value>().await.unwrap(), json!("Unavailable"));
}

#[tokio::test]
async fn keys_out_of_reach_make_a_token_unverifiable_for_now_not_invalid() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email(), "password one").await;
    // Nothing listens there: the JWKS cannot be fetched.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}/auth/v1", closed.local_addr().unwrap());
    drop(closed);
    let verifier = Verifier::new(
        KeySource::Jwks(AuthClient::remote(nowhere.parse().unwrap(), None)),
        app.url("/auth/v1"),
    );
    let error = verifier
        .verify(session["access_token"].as_str().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, VerifyError::KeysUnavailable), "{error}");
    assert!(error.is_transient());
}

#[tokio::test]
async fn refreshed_cookies_survive_a_handler_that_sets_the_pkce_verifier() {
    let app = spawn_app_with(&[
        ("FERROCHAT_GITHUB_CLIENT_ID", "gh-client"),
        ("FERROCHAT_GITHUB_CLIENT_SECRET", "gh-secret"),
        ("FERROCHAT_GITHUB_URL", "http://127.0.0.1:9"),
        ("FERROCHAT_GITHUB_API_URL", "http://127.0.0.1:9"),
    ])
    .await;
    let cookie = expired_session_cookie(&app).await;
    let response = app
        .client
        .post(app.url("/api/auth/oauth"))
        .header(header::COOKIE, &cookie)
        .header("sec-fetch-site", "same-origin")
        .header("accept", "text/html")
        .form(&[("provider", "github"), ("next", "/chat")])
        .send()
        .await
        .unwrap();
    let set: Vec<String> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    assert!(
        set.iter()
            .any(|c| c.starts_with("sb-127-auth-token-code-verifier=")),
        "{set:?}"
    );
    assert!(
        set.iter()
            .any(|c| c.starts_with("sb-127-auth-token=base64-")),
        "the refreshed session is stored too: {set:?}"
    );
}

/// A client of the app's embedded service over HTTP, as a remote app would have it.
pub(crate) fn auth_client(app: &TestApp) -> AuthClient {
    AuthClient::remote(app.url("/auth/v1").parse().unwrap(), None)
}

/// A verifier of the app's embedded service, as another app would build it.
pub(crate) fn jwks_verifier(app: &TestApp) -> Verifier {
    Verifier::new(KeySource::Jwks(auth_client(app)), app.url("/auth/v1"))
}

#[tokio::test]
async fn the_verifier_refuses_every_kind_of_bad_token() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let token = session["access_token"].as_str().unwrap();
    let verifier = jwks_verifier(&app);
    assert!(verifier.verify(token).await.is_ok(), "the control");

    let claims = claims_of(token);
    let changed = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        c
    };
    let jwk = app
        .get("/auth/v1/.well-known/jwks.json")
        .await
        .json::<Value>()
        .await
        .unwrap()["keys"][0]
        .clone();
    let kid = jwk["kid"].as_str().unwrap().to_owned();
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let parts: Vec<&str> = token.split('.').collect();
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!("{}.{}.", b64(&json!({"alg": "none", "kid": kid})), parts[1]),
        ),
        (
            "wrong audience",
            app.mint(&changed("aud", json!("anon"))).await,
        ),
        (
            "wrong issuer",
            app.mint(&changed("iss", json!("http://evil.example/auth/v1")))
                .await,
        ),
        (
            "expired",
            app.mint(&changed("exp", json!(claims["iat"].as_i64().unwrap() - 60)))
                .await,
        ),
        (
            "tampered",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(&changed("sub", json!("someone-else"))),
                parts[2]
            ),
        ),
        (
            "not a user",
            app.mint(&changed("role", json!("service_role"))).await,
        ),
        (
            "oversized",
            format!("{}.{}.{}", parts[0], "e".repeat(9000), parts[2]),
        ),
        (
            "not yet valid",
            app.mint(&changed(
                "nbf",
                json!(claims["iat"].as_i64().unwrap() + 600),
            ))
            .await,
        ),
    ];
    for (what, forged) in cases {
        let result = verifier.verify(&forged).await;
        assert!(result.is_err(), "{what} was accepted");
        match what {
            "expired" => assert!(matches!(result, Err(VerifyError::Expired))),
            "oversized" => assert!(matches!(result, Err(VerifyError::TooLarge))),
            "not a user" => assert!(matches!(result, Err(VerifyError::WrongRole))),
            "not yet valid" => assert!(
                matches!(&result, Err(VerifyError::Invalid(e)) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ImmatureSignature)),
                "{result:?}"
            ),
            _ => {}
        }
    }
    // Algorithm confusion: refused for its algorithm, before any key could be misused as a secret.
    for (what, forged) in key_confusion::hs256_forgeries(&jwk, &claims, token) {
        match verifier.verify(&forged).await {
            Err(VerifyError::Invalid(error)) => assert_eq!(
                *error.kind(),
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm,
                "{what}"
            ),
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_token_is_checked_in_full_once_and_its_expiry_on_every_use() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let token = session["access_token"].as_str().unwrap();
    let verifier = jwks_verifier(&app);
    for _ in 0..20 {
        verifier.verify(token).await.unwrap();
    }
    assert_eq!(verifier.signature_checks(), 1);

    // Another text is another token: one character of the signature changed is checked in
    // full, and refused.
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{signed}.{first}{}", &signature[1..]);
    assert!(matches!(
        verifier.verify(&forged).await,
        Err(VerifyError::Invalid(_))
    ));
    assert_eq!(verifier.signature_checks(), 2);

    // A remembered token whose expiry passes is refused as expired. Expiry has a leeway of
    // `LEEWAY_SECS`: this one expires for good 3 s from now.
    let mut claims = claims_of(token);
    let leeway = ferrochat::contract::claims::LEEWAY_SECS as i64;
    claims["exp"] = json!(ferrochat::auth_service::now() - leeway + 3);
    let expiring = app.mint(&claims).await;
    verifier.verify(&expiring).await.unwrap();
    verifier.verify(&expiring).await.unwrap();
    assert_eq!(verifier.signature_checks(), 3);
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(matches!(
        verifier.verify(&expiring).await,
        Err(VerifyError::Expired)
    ));
    verifier.verify(token).await.unwrap();
    assert_eq!(
        verifier.signature_checks(),
        4,
        "the full check of the expired one"
    );
}

/// A token with `claims`, signed with the service's own key but naming a `kid` its JWKS does not
/// list.
async fn signed_under_unknown_kid(app: &TestApp, claims: &Value, kid: &str) -> String {
    let der: Vec<u8> = sqlx::query_scalar("SELECT private_der FROM signing_keys")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&der)).unwrap()
}

#[tokio::test]
async fn unknown_key_ids_cannot_make_the_verifier_fetch_without_bound() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let verifier = Arc::new(jwks_verifier(&app));
    verifier
        .verify(session["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(verifier.jwks_fetches(), 1);
    let claims = claims_of(session["access_token"].as_str().unwrap());
    for n in 0..50 {
        let forged = signed_under_unknown_kid(&app, &claims, &format!("forged-{n}")).await;
        assert!(matches!(
            verifier.verify(&forged).await,
            Err(VerifyError::UnknownKey)
        ));
    }
    assert_eq!(
        verifier.jwks_fetches(),
        1,
        "no refetch storm within the interval"
    );
}

#[tokio::test]
async fn a_verdict_stops_standing_when_the_keys_are_fetched_again() {
    // A verdict remembered elsewhere (the session cookie memory) must not outlive the key set
    // it was reached with: a key may have left it.
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let token = session["access_token"].as_str().unwrap();
    let verifier = jwks_verifier(&app).refetch_interval(std::time::Duration::ZERO);
    let verdict = verifier.verified(token).await.unwrap();
    assert!(verifier.stands(&verdict, Instant::now()));
    assert_eq!(verifier.signature_checks(), 1);

    let unknown = signed_under_unknown_kid(&app, &claims_of(token), "not-in-the-jwks").await;
    assert!(matches!(
        verifier.verify(&unknown).await,
        Err(VerifyError::UnknownKey)
    ));
    assert_eq!(
        verifier.jwks_fetches(),
        2,
        "the unknown kid fetched the keys"
    );
    assert!(
        !verifier.stands(&verdict, Instant::now()),
        "reached with the previous keys"
    );

    let again = verifier.verified(token).await.unwrap();
    assert_eq!(verifier.signature_checks(), 3, "checked in full again");
    assert!(verifier.stands(&again, Instant::now()));
}

#[tokio::test]
async fn a_remembered_session_cookie_whose_token_expires_is_refreshed_not_served_from_memory() {
    let app = spawn_app().await;
    let fresh = app.sign_up(&unique_email(), "password one").await;
    // A token that expires for good (leeway included) 2 s from now, with a real refresh token.
    let mut claims = claims_of(fresh["access_token"].as_str().unwrap());
    let leeway = ferrochat::contract::claims::LEEWAY_SECS as i64;
    claims["exp"] = json!(ferrochat::auth_service::now() - leeway + 2);
    let session: SessionTokens = serde_json::from_value(json!({
        "access_token": app.mint(&claims).await,
        "expires_in": 3600,
        "expires_at": claims["exp"],
        "refresh_token": fresh["refresh_token"],
    }))
    .unwrap();
    let cookie = app.state.sessions.jar.store(&session)[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let verifier = &app.state.sessions.verifier;
    let checks = verifier.signature_checks();
    for _ in 0..2 {
        let page = app.page_with_cookies("/chat", &cookie).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(cookies_from(&page).is_empty(), "nothing to renew yet");
    }
    assert_eq!(
        verifier.signature_checks() - checks,
        1,
        "the second request was served from the memory"
    );

    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let refreshes = app.state.sessions.refresh_count();
    let page = app.page_with_cookies("/chat", &cookie).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(app.state.sessions.refresh_count() - refreshes, 1);
    let renewed = cookies_from(&page);
    assert!(renewed.starts_with("sb-127-auth-token=base64-") && renewed != cookie);
}

#[tokio::test]
async fn a_key_rotated_in_by_another_instance_verifies_everywhere_without_a_restart() {
    // Two instances on one database, as behind a load balancer.
    let first = spawn_app().await;
    let site = first.url("");
    let second =
        crate::harness::spawn_app_in(first.data_dir.clone(), &[("FERROCHAT_SITE_URL", &site)])
            .await;
    let email = unique_email();
    let before = first.sign_up(&email, "password one").await;
    // A verifier elsewhere (another app, a backend) that fetched the JWKS before the rotation.
    let verifier = jwks_verifier(&first).refetch_interval(std::time::Duration::ZERO);
    verifier
        .verify(before["access_token"].as_str().unwrap())
        .await
        .unwrap();

    ferrochat::auth_service::keys::rotate(first.store.pool(), std::time::Duration::ZERO)
        .await
        .unwrap();
    second.reload_keys().await;
    let after = second.sign_in(&email, "password one").await;
    let token = after["access_token"].as_str().unwrap();

    // The first instance, which never restarted, accepts the new key's token at its own API, in
    // its app session middleware, and publishes the key to the outside verifier.
    assert_eq!(first.get_user(token).await.status(), StatusCode::OK);
    assert!(
        first.state.sessions.verifier.verify(token).await.is_ok(),
        "the app's own verifier"
    );
    verifier.verify(token).await.unwrap();
    verifier
        .verify(before["access_token"].as_str().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn remote_mode_uses_another_instance_as_its_supabase_project() {
    // The "Supabase project": an instance whose embedded service is on.
    let project = spawn_app().await;
    let project_url = project.url("");
    let app = spawn_app_with(&[
        ("SUPABASE_URL", &project_url),
        ("SUPABASE_ANON_KEY", "anon-key"),
    ])
    .await;
    assert_eq!(
        app.get("/auth/v1/health").await.status(),
        StatusCode::NOT_FOUND,
        "embedded service off"
    );

    let email = unique_email();
    project.sign_up(&email, "password one").await;
    let response = app.submit_login(&email, "password one").await;
    assert_eq!(response.headers()[header::LOCATION], "/chat");
    let chat = app
        .page_with_cookies("/chat", &cookies_from(&response))
        .await;
    assert_eq!(chat.status(), StatusCode::OK);
    assert!(chat.text().await.unwrap().contains(&email));
}

#[tokio::test]
async fn remote_mode_verifies_hs256_projects_with_their_jwt_secret() {
    let secret = "a-supabase-project-jwt-secret-0123456789";
    let project = spawn_app_with(&[
        ("FERROCHAT_JWT_ALGORITHM", "HS256"),
        ("FERROCHAT_JWT_SECRET", secret),
    ])
    .await;
    let project_url = project.url("");
    let app = spawn_app_with(&[
        ("SUPABASE_URL", &project_url),
        ("SUPABASE_ANON_KEY", "anon-key"),
        ("SUPABASE_JWT_SECRET", secret),
    ])
    .await;
    let email = unique_email();
    project.sign_up(&email, "password one").await;
    let response = app.submit_login(&email, "password one").await;
    let chat = app
        .page_with_cookies("/chat", &cookies_from(&response))
        .await;
    assert_eq!(chat.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_session_signed_out_elsewhere_ends_at_once_not_when_its_token_expires() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let browser_a = cookies_from(&app.submit_login(&email, "password one").await);
    let other = app.sign_in(&email, "password one").await;
    assert_eq!(
        app.page_with_cookies("/chat", &browser_a).await.status(),
        StatusCode::OK
    );
    let logout = app
        .sign_out(other["access_token"].as_str().unwrap(), "global")
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let after = app.page_with_cookies("/chat", &browser_a).await;
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "signed out everywhere means here too"
    );
}

/// An app whose "Supabase project" is `project` (another instance, its embedded service on),
/// with `settings` on top.
async fn app_of_project(project: &TestApp, settings: &[(&str, &str)]) -> TestApp {
    let project_url = project.url("");
    let mut all = vec![
        ("SUPABASE_URL", project_url.as_str()),
        ("SUPABASE_ANON_KEY", "anon-key"),
    ];
    all.extend_from_slice(settings);
    spawn_app_with(&all).await
}

#[tokio::test]
async fn remote_mode_refuses_a_token_whose_session_the_project_has_signed_out() {
    // Default settings: the app has never seen this session, so it asks the project.
    let project = spawn_app().await;
    let app = app_of_project(&project, &[]).await;
    let email = unique_email();
    project.sign_up(&email, "password one").await;
    let kept = project.sign_in(&email, "password one").await;
    let ended = project.sign_in(&email, "password one").await;
    let logout = project
        .sign_out(ended["access_token"].as_str().unwrap(), "local")
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    let ended_token = ended["access_token"].as_str().unwrap();
    assert!(
        app.state
            .sessions
            .verifier
            .verify(ended_token)
            .await
            .is_ok(),
        "its signature alone still verifies"
    );
    assert_eq!(
        app.list_chats(ended_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.list_chats(kept["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK,
        "the user's other session stands"
    );
}

#[tokio::test]
async fn remote_mode_ends_a_browser_session_signed_out_at_the_project_within_the_check_interval() {
    // The interval is 30 s by default; one second here, so the test need not wait out 30.
    let project = spawn_app().await;
    let app = app_of_project(&project, &[("FERROCHAT_REMOTE_SESSION_CHECK_SECS", "1")]).await;
    let email = unique_email();
    project.sign_up(&email, "password one").await;
    let browser = cookies_from(&app.submit_login(&email, "password one").await);
    assert_eq!(
        app.page_with_cookies("/chat", &browser).await.status(),
        StatusCode::OK
    );
    // Another device signs out everywhere, at the project: the app is not told.
    let other = project.sign_in(&email, "password one").await;
    let logout = project
        .sign_out(other["access_token"].as_str().unwrap(), "global")
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let after = app.page_with_cookies("/chat", &browser).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(after.headers()[header::LOCATION], "/login?next=%2Fchat");
    let cleared: Vec<&str> = after
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    assert!(
        !cleared.is_empty() && cleared.iter().all(|cookie| cookie.contains("Max-Age=0")),
        "{cleared:?}"
    );
}

#[tokio::test]
async fn a_refused_server_function_answers_400_not_a_server_error() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("email", "nobody@example.test"),
            ("password", "wrong password"),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("Invalid email or password."));
    let unauthorized = app
        .client
        .post(app.url("/api/auth/account"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_user_menu_is_in_the_html_itself_for_browsers_without_javascript() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let cookies = cookies_from(&app.submit_login(&email, "password one").await);
    let html = app
        .page_with_cookies("/chat", &cookies)
        .await
        .text()
        .await
        .unwrap();
    let menu = html.find("class=\"user-menu\"").expect("a user menu");
    let end = html.find("</main>").unwrap();
    assert!(
        menu < end,
        "rendered in place, not streamed after the document"
    );
    assert!(html[menu..end].contains("Sign out"));
    let signed_out = app.get("/").await.text().await.unwrap();
    let menu = signed_out.find("class=\"user-menu\"").expect("a user menu");
    assert!(menu < signed_out.find("</main>").unwrap());
    assert!(signed_out[menu..].contains("Sign up"));
}

#[tokio::test]
async fn the_page_hands_the_browser_its_user_but_never_a_token() {
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email, "password one").await;
    let user_id = session["user"]["id"].as_str().unwrap().to_owned();
    let cookies = cookies_from(&app.submit_login(&email, "password one").await);
    let html = app
        .page_with_cookies("/chat", &cookies)
        .await
        .text()
        .await
        .unwrap();
    // The auth provider island gets the signed-in user as its props, to tell later whether the
    // session changed behind the page.
    let island = html
        .find(r#"<leptos-island data-component="AuthProvider_"#)
        .expect("the auth provider island");
    let props_start = island + html[island..].find(r#"data-props=""#).unwrap();
    let props_end = props_start + html[props_start..].find('>').unwrap();
    let props = html[props_start..props_end].replace("&quot;", "\"");
    assert!(
        props.contains(&format!(
            r#""user":{{"id":"{user_id}","email":"{email}","guest":false}}"#
        )),
        "{props}"
    );
    // Tokens stay in HttpOnly cookies: no JWT (base64 of `{"`) anywhere in the page.
    assert!(!html.contains("eyJ"), "a token in the page");
    assert!(!html.contains("refresh_token"));
    assert!(!html.contains("access_token"));

    let signed_out = app.get("/").await.text().await.unwrap();
    assert!(signed_out.contains(r#"data-props="{&quot;user&quot;:null}""#));
}

/// The sign-up form posted without JavaScript with `password` twice; the response as it came.
async fn sign_up_in_form(app: &TestApp, password: &str) -> reqwest::Response {
    app.submit_form_from(
        &app.client,
        "/api/auth/signup",
        "/signup",
        &[
            ("email", &unique_email()),
            ("password", password),
            ("confirm_password", password),
            ("next", "/chat"),
        ],
    )
    .await
}

/// The page a refused form post was sent back to, as the browser shows it.
async fn refusal_page(app: &TestApp, refused: &reqwest::Response) -> String {
    assert_eq!(refused.status(), StatusCode::FOUND);
    let back = refused.headers()[header::LOCATION].to_str().unwrap();
    assert!(back.contains("__err="), "{back}");
    let path = back
        .split_once(&app.address.to_string())
        .map_or(back, |(_, path)| path);
    app.get(path).await.text().await.unwrap()
}

#[tokio::test]
async fn the_signup_form_asks_for_the_password_length_the_service_is_set_to() {
    let short_ok = spawn_app_with(&[("FERROCHAT_PASSWORD_MIN_LENGTH", "6")]).await;
    let page = short_ok.get("/signup").await.text().await.unwrap();
    assert!(page.contains(r#"minlength="6""#), "{page}");
    // Six characters are enough there, for the form as for the service.
    let signed_up = sign_up_in_form(&short_ok, "sixsix").await;
    assert_eq!(signed_up.status(), StatusCode::FOUND);
    assert_eq!(signed_up.headers()[header::LOCATION], "/chat");
    let shown = refusal_page(&short_ok, &sign_up_in_form(&short_ok, "five5").await).await;
    assert!(
        shown.contains("Password must be at least 6 characters."),
        "{shown}"
    );

    let long = spawn_app_with(&[("FERROCHAT_PASSWORD_MIN_LENGTH", "12")]).await;
    let page = long.get("/signup").await.text().await.unwrap();
    assert!(page.contains(r#"minlength="12""#), "{page}");
    let shown = refusal_page(&long, &sign_up_in_form(&long, "eleven char").await).await;
    assert!(
        shown.contains("Password must be at least 12 characters."),
        "{shown}"
    );

    // A remote project's rule is its own: no hint, and its refusal is what the person reads.
    let project = spawn_app().await;
    let remote = app_of_project(&project, &[]).await;
    let page = remote.get("/signup").await.text().await.unwrap();
    assert!(page.contains(r#"name="password""#), "{page}");
    assert!(!page.contains("minlength"), "{page}");
    let shown = refusal_page(&remote, &sign_up_in_form(&remote, "five5").await).await;
    assert!(
        shown.contains("Password should be at least 8 characters."),
        "{shown}"
    );
}
