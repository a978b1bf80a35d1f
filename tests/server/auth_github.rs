//! The GitHub preset against a stand-in that speaks GitHub's wire format (GitHub itself cannot
//! run offline): the token endpoint, `GET /user` and `GET /user/emails`.

use axum::{
    extract::Form,
    http::HeaderMap,
    routing::{get, post},
    Json, Router,
};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use ferrochat::contract::pkce::{challenge, new_verifier};

use crate::harness::{spawn_app_with, TestApp};

/// Starts the stand-in: one user, id 4242, whose primary email `octo@example.test` is verified
/// if `primary_verified`.
pub(crate) async fn fake_github(primary_verified: bool) -> String {
    let app = Router::new()
        .route(
            "/login/oauth/access_token",
            post(|headers: HeaderMap, Form(form): Form<Vec<(String, String)>>| async move {
                // GitHub answers JSON only when asked to.
                assert_eq!(headers[header::ACCEPT], "application/json");
                let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                assert_eq!(field("client_id").as_deref(), Some("gh-client"));
                assert_eq!(field("client_secret").as_deref(), Some("gh-secret"));
                assert_eq!(field("code").as_deref(), Some("gh-code"));
                Json(json!({ "access_token": "gho_test", "token_type": "bearer", "scope": "user:email" }))
            }),
        )
        .route(
            "/user",
            get(|headers: HeaderMap| async move {
                assert_eq!(headers[header::AUTHORIZATION], "Bearer gho_test");
                Json(json!({ "id": 4242, "login": "octo", "name": "Octo Cat", "avatar_url": "https://avatars.example/octo" }))
            }),
        )
        .route(
            "/user/emails",
            get(move || async move {
                Json(json!([
                    { "email": "old@example.test", "primary": false, "verified": true },
                    { "email": "octo@example.test", "primary": true, "verified": primary_verified },
                ]))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Runs `/authorize` (with `extra_query`, e.g. a PKCE challenge) → (provider) → `/callback` and
/// returns where the browser is sent.
pub(crate) async fn github_dance(app: &TestApp, extra_query: &str) -> String {
    let authorize = app
        .get(&format!(
            "/auth/v1/authorize?provider=github&redirect_to=/ignored{extra_query}"
        ))
        .await;
    assert_eq!(authorize.status(), StatusCode::SEE_OTHER);
    let provider_url =
        url::Url::parse(authorize.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    assert_eq!(provider_url.path(), "/login/oauth/authorize");
    let state = provider_url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let cookie = authorize.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let callback = app
        .client
        .get(app.url(&format!("/auth/v1/callback?code=gh-code&state={state}")))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    callback.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// An app with GitHub sign-in against the stand-in at `github`, and `extra` settings.
pub(crate) async fn app_with_github(github: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = github_settings(github).to_vec();
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// The settings that switch GitHub sign-in on, against the stand-in at `github`.
pub(crate) fn github_settings(github: &str) -> [(&'static str, &str); 4] {
    [
        ("FERROCHAT_GITHUB_CLIENT_ID", "gh-client"),
        ("FERROCHAT_GITHUB_CLIENT_SECRET", "gh-secret"),
        ("FERROCHAT_GITHUB_URL", github),
        ("FERROCHAT_GITHUB_API_URL", github),
    ]
}

/// Signs in with GitHub as a PKCE client does: the callback's `?code=` exchanged with the
/// verifier. Returns the session.
pub(crate) async fn github_session(app: &TestApp) -> Value {
    let verifier = new_verifier();
    let landing = github_dance(
        app,
        &format!(
            "&code_challenge={}&code_challenge_method=s256",
            challenge(&verifier)
        ),
    )
    .await;
    let landing = url::Url::parse(&landing).unwrap();
    assert!(landing.fragment().is_none(), "no tokens in a fragment");
    let code = landing
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap_or_else(|| panic!("a code in {landing}"))
        .1
        .into_owned();
    let session = app
        .auth_post(
            "/token?grant_type=pkce",
            &json!({ "auth_code": code, "code_verifier": verifier }),
        )
        .await;
    assert_eq!(session.status(), StatusCode::OK);
    session.json().await.unwrap()
}

#[tokio::test]
async fn github_sign_in_creates_a_user_from_the_primary_verified_email() {
    let github = fake_github(true).await;
    let app = app_with_github(&github, &[]).await;
    let settings: Value = app.get("/auth/v1/settings").await.json().await.unwrap();
    assert_eq!(settings["external"]["github"], true);

    let session = github_session(&app).await;
    let access_token = session["access_token"].as_str().unwrap();
    let user: Value = app.get_user(access_token).await.json().await.unwrap();
    assert_eq!(user["email"], "octo@example.test");
    assert_eq!(user["app_metadata"]["provider"], "github");
    assert_eq!(user["identities"][0]["id"], "4242");
    assert_eq!(user["user_metadata"]["user_name"], "octo");
    // A second sign-in finds the same user through the identity.
    let again = github_session(&app).await;
    assert_eq!(again["user"]["id"], user["id"]);
}

#[tokio::test]
async fn an_unverified_github_email_does_not_take_over_an_existing_account() {
    let github = fake_github(false).await;
    let app = app_with_github(&github, &[]).await;
    // The owner of octo@example.test has an account; GitHub lists that address unverified.
    app.sign_up("octo@example.test", "the owner's password")
        .await;
    let session = github_session(&app).await;
    // The only verified address is old@example.test, a new account; the owner's is untouched.
    let user = &session["user"];
    assert_eq!(user["email"], "old@example.test");
    let owner = app
        .sign_in("octo@example.test", "the owner's password")
        .await;
    assert_ne!(owner["user"]["id"], user["id"]);
    assert_eq!(
        owner["user"]["identities"].as_array().unwrap().len(),
        1,
        "no GitHub identity linked to the owner"
    );
}
