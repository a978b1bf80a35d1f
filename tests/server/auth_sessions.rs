//! Refresh-token rotation, reuse detection, logout scopes, session lists, user updates.

use std::time::Duration;

use ferrochat::crypto::sha256;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{claims_of, spawn_app, spawn_app_with, unique_email, TestApp};

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.auth_post(
        "/token?grant_type=refresh_token",
        &json!({ "refresh_token": token }),
    )
    .await
}

async fn session_count(app: &TestApp, user_id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap()
}

#[tokio::test]
async fn refreshing_rotates_the_refresh_token() {
    let app = spawn_app().await;
    let first = app.sign_up(&unique_email(), "password one").await;
    let response = refresh(&app, str_of(&first, "refresh_token")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second: Value = response.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(second["user"]["id"], first["user"]["id"]);
    let third: Value = refresh(&app, str_of(&second, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(third["refresh_token"], second["refresh_token"]);
    // The server stores each token's SHA-256, never the token: a database leak yields no
    // usable refresh token. Compared hash with hash, so a stored plain token would fail this.
    let mut stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM refresh_tokens")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    let mut issued: Vec<Vec<u8>> = [&first, &second, &third]
        .iter()
        .map(|session| sha256(str_of(session, "refresh_token").as_bytes()))
        .collect();
    stored.sort();
    issued.sort();
    assert_eq!(stored, issued, "one row per issued token, holding its hash");
}

#[tokio::test]
async fn twenty_concurrent_refreshes_with_one_token_share_one_rotation() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let token = str_of(&session, "refresh_token");
    // Twenty requests in flight at once, as from twenty tabs waking up together.
    let racers: Vec<_> = (0..20)
        .map(|_| {
            let request = app
                .client
                .post(app.url("/auth/v1/token?grant_type=refresh_token"))
                .json(&json!({ "refresh_token": token }));
            tokio::spawn(request.send())
        })
        .collect();
    let mut responses = Vec::new();
    for racer in racers {
        responses.push(racer.await.unwrap().unwrap());
    }
    let mut new_tokens = Vec::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        new_tokens.push(body["refresh_token"].as_str().unwrap().to_owned());
    }
    new_tokens.sort();
    new_tokens.dedup();
    assert_eq!(new_tokens.len(), 1, "every racer got the same new token");
    assert_ne!(new_tokens[0], token);
    assert_eq!(session_count(&app, str_of(&session["user"], "id")).await, 1);
    // And the session goes on with it.
    assert_eq!(refresh(&app, &new_tokens[0]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn reusing_a_rotated_token_after_the_grace_window_revokes_the_session() {
    let app = spawn_app_with(&[("FERROCHAT_REFRESH_REUSE_INTERVAL_SECS", "1")]).await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let old = str_of(&session, "refresh_token");
    let rotated: Value = refresh(&app, old).await.json().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let reuse = refresh(&app, old).await;
    assert_eq!(reuse.status(), StatusCode::BAD_REQUEST);
    let body: Value = reuse.json().await.unwrap();
    assert_eq!(body["error_code"], "refresh_token_already_used");
    // The thief and the owner are both out: the new token and the access token are dead.
    let body: Value = refresh(&app, str_of(&rotated, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["error_code"], "refresh_token_not_found");
    let me = app.get_user(str_of(&rotated, "access_token")).await;
    assert_eq!(me.status(), StatusCode::FORBIDDEN);
    let body: Value = me.json().await.unwrap();
    assert_eq!(body["error_code"], "session_not_found");
}

async fn alive(app: &TestApp, session: &Value) -> bool {
    app.get_user(str_of(session, "access_token")).await.status() == StatusCode::OK
}

#[tokio::test]
async fn logout_scopes_end_the_right_sessions() {
    let app = spawn_app().await;
    let email = unique_email();
    let first = app.sign_up(&email, "password one").await;
    let second = app.sign_in(&email, "password one").await;
    let third = app.sign_in(&email, "password one").await;
    let logout = |session: &Value, scope: &str| {
        app.client
            .post(app.url(&format!("/auth/v1/logout?scope={scope}")))
            .bearer_auth(str_of(session, "access_token"))
            .send()
    };

    assert_eq!(
        logout(&first, "others").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert!(alive(&app, &first).await);
    assert!(!alive(&app, &second).await);
    assert!(!alive(&app, &third).await);

    assert_eq!(
        logout(&first, "local").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert!(!alive(&app, &first).await);

    let fourth = app.sign_in(&email, "password one").await;
    let fifth = app.sign_in(&email, "password one").await;
    assert_eq!(
        logout(&fourth, "global").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert!(!alive(&app, &fourth).await);
    assert!(!alive(&app, &fifth).await);
    assert_eq!(
        refresh(&app, str_of(&fifth, "refresh_token"))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let sixth = app.sign_in(&email, "password one").await;
    assert_eq!(
        logout(&sixth, "bogus").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert!(alive(&app, &sixth).await);
}

/// Every scope's statement, then an account deletion, on one Postgres connection: the
/// statements share its cache of prepared statements, as two requests landing on the same pooled
/// connection do. A global sign-out that bound an unused second value left the cached
/// `DELETE FROM sessions WHERE user_id = $1` expecting two, and the deletion failed with a 500.
#[tokio::test]
async fn sign_outs_leave_their_database_connection_fit_for_the_next_request() {
    use ferrochat::auth_service::{sessions, users};
    let url = crate::databases::postgres_url().await;
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    let email = unique_email();
    let session = app.sign_up(&email, "password one").await;
    let user_id = str_of(&session["user"], "id");
    let session_id = claims_of(str_of(&session, "access_token"))["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one_connection = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    for scope in ["local", "others", "global"] {
        let scope = sessions::LogoutScope::parse(Some(scope)).unwrap();
        sessions::logout(&one_connection, user_id, &session_id, scope)
            .await
            .unwrap();
    }
    let user = users::find_by_id(&one_connection, user_id)
        .await
        .unwrap()
        .unwrap();
    users::soft_delete(&one_connection, &user).await.unwrap();
    let deleted = users::find_by_id(&one_connection, user_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        deleted.email.starts_with("obfuscated-"),
        "{}",
        deleted.email
    );
}

#[tokio::test]
async fn sessions_can_be_listed_and_revoked_one_by_one() {
    let app = spawn_app().await;
    let email = unique_email();
    let mine = app.sign_up(&email, "password one").await;
    let other = app.sign_in(&email, "password one").await;
    let stranger = app.sign_up(&unique_email(), "password two").await;
    let token = str_of(&mine, "access_token");
    let list: Value = app
        .client
        .get(app.url("/auth/v1/sessions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let other_id = list.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another user's session id is "not found" to me, and stays alive.
    let stranger_session = claims_of(str_of(&stranger, "access_token"));
    let delete = |id: String| {
        app.client
            .delete(app.url(&format!("/auth/v1/sessions/{id}")))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        delete(stranger_session["session_id"].as_str().unwrap().to_owned())
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get_user(str_of(&stranger, "access_token"))
            .await
            .status(),
        StatusCode::OK
    );

    assert_eq!(
        delete(other_id).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_user(str_of(&other, "access_token")).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get_user(token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn users_update_their_metadata_and_password() {
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email, "password one").await;
    let update = |body: Value| {
        app.client
            .put(app.url("/auth/v1/user"))
            .bearer_auth(str_of(&session, "access_token"))
            .json(&body)
            .send()
    };
    let user: Value = update(json!({ "data": { "display_name": "Ada" } }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["user_metadata"]["display_name"], "Ada");
    let same = update(json!({ "password": "password one" })).await.unwrap();
    assert_eq!(same.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        same.json::<Value>().await.unwrap()["error_code"],
        "same_password"
    );
    assert_eq!(
        update(json!({ "password": "password two" }))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    app.sign_in(&email, "password two").await;
    let old = app
        .auth_post(
            "/token?grant_type=password",
            &json!({ "email": email, "password": "password one" }),
        )
        .await;
    assert_eq!(old.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_user_endpoint_needs_a_valid_bearer_token() {
    let app = spawn_app().await;
    let none = app
        .client
        .get(app.url("/auth/v1/user"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.json::<Value>().await.unwrap()["error_code"],
        "no_authorization"
    );
    let garbage = app.get_user("not.a.jwt").await;
    assert_eq!(garbage.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        garbage.json::<Value>().await.unwrap()["error_code"],
        "bad_jwt"
    );
}
