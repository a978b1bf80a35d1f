//! Anonymous sign-in (GoTrue's `signInAnonymously`): `POST /signup` without credentials, its
//! hourly per-IP limit and its switch, the upgrade to a permanent user by `PUT /user` (same id),
//! and the pruning of abandoned anonymous users with their chats.

use std::{sync::Arc, time::Duration};

use ferrochat::{
    auth_service::{maintenance, now, AuthState},
    chat::store::{ChatStore, UserId},
};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::harness::{claims_of, sign_in_from, spawn_app, spawn_app_with, unique_email, TestApp};

const PASSWORD: &str = "password one";

fn auth(app: &TestApp) -> &AuthState {
    app.state.auth.as_ref().expect("the embedded service")
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {value}"))
}

/// `POST /auth/v1/signup` with `body` from `client`.
async fn sign_up_from(app: &TestApp, client: &reqwest::Client, body: Value) -> reqwest::Response {
    client
        .post(app.url("/auth/v1/signup"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// An anonymous sign-up that must succeed: the session JSON.
async fn guest(app: &TestApp) -> Value {
    let response = app.auth_post("/signup", &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn put_user(app: &TestApp, access_token: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.url("/auth/v1/user"))
        .bearer_auth(access_token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Status, `error_code` and `msg` of a refusal.
async fn refusal(response: reqwest::Response) -> (StatusCode, String, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error_code"].as_str().unwrap_or_default().to_owned(),
        body["msg"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn count(app: &TestApp, query: &str, id: &str) -> i64 {
    sqlx::query_scalar(query)
        .bind(id)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

async fn is_anonymous_column(app: &TestApp, id: &str) -> i64 {
    count(app, "SELECT is_anonymous FROM users WHERE id = $1", id).await
}

// 1. Signing up without credentials.

#[tokio::test]
async fn a_sign_up_without_credentials_is_an_anonymous_user_with_a_session() {
    let app = spawn_app().await;
    let response = app
        .auth_post("/signup", &json!({ "data": { "nickname": "visitor" } }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.unwrap();
    let user = &session["user"];
    assert_eq!(user["is_anonymous"], true);
    assert_eq!(user["email"], "");
    assert_eq!(user["role"], "authenticated");
    assert_eq!(user["identities"], json!([]));
    assert_eq!(user["app_metadata"], json!({}));
    assert_eq!(user["user_metadata"], json!({ "nickname": "visitor" }));
    assert!(session["refresh_token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));

    let claims = claims_of(str_of(&session, "access_token"));
    assert_eq!(claims["is_anonymous"], true);
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["email"], "");
    assert_eq!(claims["amr"][0]["method"], "anonymous");
    assert_eq!(claims["amr"].as_array().unwrap().len(), 1);

    let me: Value = app
        .get_user(str_of(&session, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], user["id"]);
    assert_eq!(me["is_anonymous"], true);
    // A refreshed token is still anonymous.
    let refreshed: Value = app
        .auth_post(
            "/token?grant_type=refresh_token",
            &json!({ "refresh_token": session["refresh_token"] }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims_of(str_of(&refreshed, "access_token"))["is_anonymous"],
        true
    );

    let settings: Value = app.get("/auth/v1/settings").await.json().await.unwrap();
    assert_eq!(settings["external"]["anonymous_users"], true);
    // A password given alone is ignored, as by GoTrue: still an anonymous user without one.
    let with_password = guest_with(&app, json!({ "password": PASSWORD })).await;
    assert_eq!(with_password["user"]["is_anonymous"], true);
    let id = str_of(&with_password["user"], "id");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM users WHERE id = $1 AND encrypted_password IS NULL",
            id
        )
        .await,
        1
    );
}

async fn guest_with(app: &TestApp, body: Value) -> Value {
    let response = app.auth_post("/signup", &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn anonymous_sign_ins_switched_off_get_gotrues_error_and_create_nothing() {
    let app = spawn_app_with(&[("FERROCHAT_AUTH_ANONYMOUS", "false")]).await;
    let (status, code, msg) = refusal(app.auth_post("/signup", &json!({})).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code, "anonymous_provider_disabled");
    assert_eq!(msg, "Anonymous sign-ins are disabled");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(users, 0);
    let settings: Value = app.get("/auth/v1/settings").await.json().await.unwrap();
    assert_eq!(settings["external"]["anonymous_users"], false);
    // Sign-ups with an address are not affected.
    app.sign_up(&unique_email(), PASSWORD).await;
}

#[tokio::test]
async fn with_sign_ups_off_anonymous_sign_ins_are_refused_too() {
    let app = spawn_app_with(&[("FERROCHAT_AUTH_DISABLE_SIGNUP", "true")]).await;
    let (status, code, _) = refusal(app.auth_post("/signup", &json!({})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "signup_disabled")
    );
}

#[tokio::test]
async fn anonymous_sign_ins_are_limited_per_ip_per_hour_without_stopping_other_ips() {
    let app = spawn_app().await;
    let flooder = app.client_from(21);
    for attempt in 1..=30 {
        let response = sign_up_from(&app, &flooder, json!({})).await;
        assert_eq!(response.status(), StatusCode::OK, "attempt {attempt}");
    }
    let refused = sign_up_from(&app, &flooder, json!({})).await;
    let retry_after: u64 = refused.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // GoTrue's limit is hourly: the window has most of an hour left.
    assert!(retry_after > 3000 && retry_after <= 3600, "{retry_after}");
    let (status, code, _) = refusal(refused).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "over_request_rate_limit")
    );
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(users, 30, "the refused request created no user");

    // Another address is not stopped by the flood.
    let other = sign_up_from(&app, &app.client_from(22), json!({})).await;
    assert_eq!(other.status(), StatusCode::OK);
    // Nor is the flooder's own sign-up with an address: that is another limit, as in GoTrue.
    let email = unique_email();
    let with_address = sign_up_from(
        &app,
        &flooder,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    assert_eq!(with_address.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_anonymous_user_has_nothing_to_sign_in_or_reauthenticate_with() {
    let app = spawn_app().await;
    let session = guest(&app).await;
    let token = str_of(&session, "access_token");

    let (status, code, msg) =
        refusal(put_user(&app, token, json!({ "password": PASSWORD })).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code, "validation_failed");
    assert_eq!(
        msg,
        "Updating password of an anonymous user without an email or phone is not allowed"
    );
    let id = str_of(&session["user"], "id");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM users WHERE id = $1 AND encrypted_password IS NULL",
            id
        )
        .await,
        1,
        "no password was set"
    );

    let reauth = app
        .client
        .get(app.url("/auth/v1/reauthenticate"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, code, _) = refusal(reauth).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );
    assert!(app.mails().is_empty());

    // The placeholder in the email column is nobody's address: a sign-in with it finds no one.
    let (status, code, _) = refusal(sign_in_from(&app, &app.client, id, PASSWORD).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{code}");
}

// 2. The upgrade to a permanent user.

#[tokio::test]
async fn adding_an_email_and_password_makes_the_guest_permanent_with_the_same_id() {
    let app = spawn_app().await;
    let session = guest(&app).await;
    let id = str_of(&session["user"], "id").to_owned();
    let email = unique_email();

    let updated = put_user(
        &app,
        str_of(&session, "access_token"),
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    assert_eq!(updated.status(), StatusCode::OK);
    let user: Value = updated.json().await.unwrap();
    assert_eq!(user["id"], id.as_str());
    assert_eq!(user["email"], email.as_str());
    assert_eq!(user["is_anonymous"], false);
    assert!(
        user["email_confirmed_at"].is_string(),
        "autoconfirm: {user}"
    );
    assert_eq!(
        user["app_metadata"],
        json!({ "provider": "email", "providers": ["email"] })
    );
    assert_eq!(user["identities"].as_array().unwrap().len(), 1);
    assert_eq!(user["identities"][0]["provider"], "email");
    assert_eq!(is_anonymous_column(&app, &id).await, 0);
    // There was no old address to tell.
    assert!(app.mails().is_empty(), "{:?}", app.mails());

    // The next token says so.
    let refreshed: Value = app
        .auth_post(
            "/token?grant_type=refresh_token",
            &json!({ "refresh_token": session["refresh_token"] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let claims = claims_of(str_of(&refreshed, "access_token"));
    assert_eq!(claims["is_anonymous"], false);
    assert_eq!(claims["email"], email.as_str());
    assert_eq!(claims["sub"], id.as_str());

    // And the new credentials sign in as the same user.
    let signed_in = app.sign_in(&email, PASSWORD).await;
    assert_eq!(signed_in["user"]["id"], id.as_str());
    assert_eq!(
        claims_of(str_of(&signed_in, "access_token"))["is_anonymous"],
        false
    );
}

#[tokio::test]
async fn a_guest_cannot_take_an_address_that_has_an_account() {
    let app = spawn_app().await;
    let owner = unique_email();
    let owners = app.sign_up(&owner, PASSWORD).await;
    let session = guest(&app).await;
    let id = str_of(&session["user"], "id").to_owned();

    for body in [
        json!({ "email": owner, "password": "another password" }),
        json!({ "email": owner.to_uppercase() }),
    ] {
        let (status, code, msg) =
            refusal(put_user(&app, str_of(&session, "access_token"), body).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(code, "email_exists");
        assert_eq!(
            msg,
            "A user with this email address has already been registered"
        );
    }
    // Nothing changed on either side.
    assert_eq!(is_anonymous_column(&app, &id).await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM users WHERE id = $1 AND encrypted_password IS NULL",
            &id
        )
        .await,
        1,
        "the refused request set no password"
    );
    let signed_in = app.sign_in(&owner, PASSWORD).await;
    assert_eq!(signed_in["user"]["id"], owners["user"]["id"]);
    let refused = sign_in_from(&app, &app.client, &owner, "another password").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(app.mails().is_empty());
}

#[tokio::test]
async fn without_autoconfirm_the_guest_stays_anonymous_until_the_emailed_link_is_followed() {
    let app = spawn_app_with(&[("FERROCHAT_AUTH_AUTOCONFIRM", "false")]).await;
    let session = guest(&app).await;
    let id = str_of(&session["user"], "id").to_owned();
    let email = unique_email();
    let updated = put_user(
        &app,
        str_of(&session, "access_token"),
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    assert_eq!(updated.status(), StatusCode::OK);
    let user: Value = updated.json().await.unwrap();
    assert_eq!(user["is_anonymous"], true);
    assert_eq!(user["email"], "");
    assert_eq!(user["new_email"], email.as_str());
    // Until the address is proven, it does not sign in.
    let early = sign_in_from(&app, &app.client, &email, PASSWORD).await;
    assert_eq!(early.status(), StatusCode::BAD_REQUEST);

    let mail = app.mail(0).await;
    assert!(mail.starts_with(&format!("To: {email}\r\n")), "{mail}");
    assert_eq!(app.mails().len(), 1, "only the new address is mailed");
    let link = app.mail_link(0).await;
    let path = link.split_once(&app.address.to_string()).unwrap().1;
    let followed = app.get(path).await;
    assert_eq!(followed.status(), StatusCode::SEE_OTHER);

    assert_eq!(is_anonymous_column(&app, &id).await, 0);
    let signed_in = app.sign_in(&email, PASSWORD).await;
    assert_eq!(signed_in["user"]["id"], id.as_str());
    assert_eq!(signed_in["user"]["is_anonymous"], false);
    assert!(signed_in["user"]["email_confirmed_at"].is_string());
}

// 3. Pruning abandoned guests.

/// What pruning deletes besides the user, as the server wires it: the chats in the same
/// database.
fn forget_chats(app: &TestApp) -> maintenance::ForgetUser {
    let chats = ChatStore::new(app.store.pool().clone());
    Arc::new(move |user_id| {
        let chats = chats.clone();
        Box::pin(async move {
            chats
                .delete_all(&UserId::verified(user_id))
                .await
                .map(drop)
                .map_err(|error| error.to_string())
        })
    })
}

/// Makes the user look unseen for `days`: its sign-in and its sessions' refreshes.
async fn age(app: &TestApp, id: &str, days: i64) {
    let then = now() - days * 24 * 3600;
    for query in [
        "UPDATE users SET last_sign_in_at = $1, created_at = $1 WHERE id = $2",
        "UPDATE sessions SET refreshed_at = $1, created_at = $1 WHERE user_id = $2",
    ] {
        sqlx::query(query)
            .bind(then)
            .bind(id)
            .execute(app.store.pool())
            .await
            .unwrap();
    }
}

async fn chat_count(app: &TestApp, id: &str) -> i64 {
    count(
        app,
        "SELECT COUNT(*) FROM chat_sessions WHERE user_id = $1",
        id,
    )
    .await
}

async fn with_a_chat(app: &TestApp, id: &str) {
    ChatStore::new(app.store.pool().clone())
        .create_session(&UserId::verified(id), None, "a chat")
        .await
        .unwrap();
}

/// The default time after which an unseen guest is pruned.
const THIRTY_DAYS: Duration = Duration::from_secs(30 * 24 * 3600);

/// For tests that prune themselves: the app's own upkeep, which runs once as it starts, prunes
/// no guest, so it cannot race the test for them.
const OWN_PRUNING_OFF: (&str, &str) = ("FERROCHAT_AUTH_ANONYMOUS_PRUNE_AFTER_SECS", "0");

#[tokio::test]
async fn pruning_deletes_only_anonymous_users_unseen_for_the_set_time_with_their_chats() {
    assert_eq!(
        auth(&spawn_app().await).config.anonymous_prune_after,
        Some(THIRTY_DAYS),
        "the default"
    );
    let app = spawn_app_with(&[OWN_PRUNING_OFF]).await;
    let stale = str_of(&guest(&app).await["user"], "id").to_owned();
    let recent = str_of(&guest(&app).await["user"], "id").to_owned();
    let upgraded_session = guest(&app).await;
    let upgraded = str_of(&upgraded_session["user"], "id").to_owned();
    let upgrade = put_user(
        &app,
        str_of(&upgraded_session, "access_token"),
        json!({ "email": unique_email(), "password": PASSWORD }),
    )
    .await;
    assert_eq!(upgrade.status(), StatusCode::OK);
    let member = str_of(&app.sign_up(&unique_email(), PASSWORD).await["user"], "id").to_owned();
    // A guest who signed up long ago but refreshed a session lately is still around.
    let returning = str_of(&guest(&app).await["user"], "id").to_owned();
    for id in [&stale, &recent, &upgraded, &member, &returning] {
        with_a_chat(&app, id).await;
    }
    age(&app, &stale, 31).await;
    age(&app, &recent, 29).await;
    age(&app, &upgraded, 365).await;
    age(&app, &member, 365).await;
    age(&app, &returning, 40).await;
    sqlx::query("UPDATE sessions SET refreshed_at = $1 WHERE user_id = $2")
        .bind(now() - 3600)
        .bind(&returning)
        .execute(app.store.pool())
        .await
        .unwrap();

    let pruned = maintenance::prune_anonymous_users(auth(&app), THIRTY_DAYS, &forget_chats(&app))
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let users = "SELECT COUNT(*) FROM users WHERE id = $1";
    assert_eq!(count(&app, users, &stale).await, 0);
    assert_eq!(chat_count(&app, &stale).await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM sessions WHERE user_id = $1",
            &stale
        )
        .await,
        0
    );
    for kept in [&recent, &upgraded, &member, &returning] {
        assert_eq!(count(&app, users, kept).await, 1, "{kept}");
        assert_eq!(chat_count(&app, kept).await, 1, "{kept}");
    }
    // A second run finds nothing more.
    let again = maintenance::prune_anonymous_users(auth(&app), THIRTY_DAYS, &forget_chats(&app))
        .await
        .unwrap();
    assert_eq!(again, 0);
}

#[tokio::test]
async fn a_short_prune_setting_prunes_soon_and_zero_never_prunes() {
    // The upkeep's pass, as each instance runs it every minute (and once as it starts: then it
    // may prune the guest first, and the outcome is the same).
    let app = spawn_app_with(&[("FERROCHAT_AUTH_ANONYMOUS_PRUNE_AFTER_SECS", "60")]).await;
    let users = "SELECT COUNT(*) FROM users WHERE id = $1";
    let id = str_of(&guest(&app).await["user"], "id").to_owned();
    with_a_chat(&app, &id).await;
    maintenance::run_upkeep(auth(&app)).await;
    assert_eq!(count(&app, users, &id).await, 1, "seen just now");
    let two_minutes_ago = now() - 120;
    for query in [
        "UPDATE users SET last_sign_in_at = $1 WHERE id = $2",
        "UPDATE sessions SET refreshed_at = $1 WHERE user_id = $2",
    ] {
        sqlx::query(query)
            .bind(two_minutes_ago)
            .bind(&id)
            .execute(app.store.pool())
            .await
            .unwrap();
    }
    maintenance::run_upkeep(auth(&app)).await;
    assert_eq!(count(&app, users, &id).await, 0);
    assert_eq!(chat_count(&app, &id).await, 0);

    let never = spawn_app_with(&[OWN_PRUNING_OFF]).await;
    let id = str_of(&guest(&never).await["user"], "id").to_owned();
    with_a_chat(&never, &id).await;
    age(&never, &id, 3650).await;
    maintenance::run_upkeep(auth(&never)).await;
    assert_eq!(count(&never, users, &id).await, 1);
    assert_eq!(chat_count(&never, &id).await, 1);
}

#[tokio::test]
async fn a_guest_whose_chats_cannot_be_deleted_is_kept_for_the_next_run() {
    let app = spawn_app_with(&[OWN_PRUNING_OFF]).await;
    let id = str_of(&guest(&app).await["user"], "id").to_owned();
    with_a_chat(&app, &id).await;
    age(&app, &id, 31).await;
    let failing: maintenance::ForgetUser =
        Arc::new(|_| Box::pin(async { Err("the chat store is down".to_owned()) }));
    assert_eq!(
        maintenance::prune_anonymous_users(auth(&app), THIRTY_DAYS, &failing)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM users WHERE id = $1", &id).await,
        1
    );
    assert_eq!(
        maintenance::prune_anonymous_users(auth(&app), THIRTY_DAYS, &forget_chats(&app))
            .await
            .unwrap(),
        1
    );
}

// 4. The same on Postgres: the queries are one text for both databases.

apps_on_both_databases!(a_guest_signs_up_upgrades_and_an_abandoned_one_is_pruned);

async fn a_guest_signs_up_upgrades_and_an_abandoned_one_is_pruned(database_url: Option<String>) {
    let mut vars = vec![OWN_PRUNING_OFF];
    vars.extend(database_url.as_deref().map(|url| ("DATABASE_URL", url)));
    let app = spawn_app_with(&vars).await;
    let kept = guest(&app).await;
    let email = unique_email();
    let upgraded = put_user(
        &app,
        str_of(&kept, "access_token"),
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    assert_eq!(upgraded.status(), StatusCode::OK);
    let user: Value = upgraded.json().await.unwrap();
    assert_eq!(user["is_anonymous"], false);
    let signed_in = app.sign_in(&email, PASSWORD).await;
    assert_eq!(signed_in["user"]["id"], kept["user"]["id"]);

    let abandoned = str_of(&guest(&app).await["user"], "id").to_owned();
    with_a_chat(&app, &abandoned).await;
    let me = app
        .get_user(str_of(&guest(&app).await, "access_token"))
        .await;
    assert_eq!(me.json::<Value>().await.unwrap()["email"], "");
    age(&app, &abandoned, 31).await;
    age(&app, str_of(&kept["user"], "id"), 31).await;
    assert_eq!(
        maintenance::prune_anonymous_users(auth(&app), THIRTY_DAYS, &forget_chats(&app))
            .await
            .unwrap(),
        1
    );
    assert_eq!(chat_count(&app, &abandoned).await, 0);
    app.sign_in(&email, PASSWORD).await;
}
