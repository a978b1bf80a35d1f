//! Account hardening (issue #8): an address registered by someone else goes back to its owner
//! when they prove it; a password change ends stolen sessions and links; an old sign-in must
//! prove the person again for password and email changes; an email change tells the old
//! address; one emailed link gives one session however many clicks race; user metadata is
//! bounded; PKCE is required unless the implicit flow is switched on.

use ferrochat::contract::{
    pkce::{challenge, new_verifier},
    SessionTokens,
};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use url::Url;

use crate::{
    auth_github::{app_with_github, fake_github, github_dance, github_session},
    harness::{claims_of, cookies_from, spawn_app, spawn_app_with, unique_email, TestApp},
};

/// The status and GoTrue `error_code` of an answer.
async fn refusal(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    let code = body["error_code"].as_str().unwrap_or_default().to_owned();
    (status, code)
}

fn refused(status: u16, code: &str) -> (StatusCode, String) {
    (StatusCode::from_u16(status).unwrap(), code.to_owned())
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {value}"))
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

async fn refresh(app: &TestApp, refresh_token: &str) -> reqwest::Response {
    app.auth_post(
        "/token?grant_type=refresh_token",
        &json!({ "refresh_token": refresh_token }),
    )
    .await
}

async fn password_grant(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.auth_post(
        "/token?grant_type=password",
        &json!({ "email": email, "password": password }),
    )
    .await
}

/// Makes every session of the user look signed in an hour ago, beyond the re-auth window.
async fn age_sessions(app: &TestApp, user_id: &str) {
    sqlx::query("UPDATE sessions SET created_at = created_at - 3600 WHERE user_id = $1")
        .bind(user_id)
        .execute(app.store.pool())
        .await
        .unwrap();
}

async fn email_verified_at(app: &TestApp, user_id: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT email_verified_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

/// The JSON fields that send `verifier`'s PKCE challenge.
fn with_challenge(mut body: Value, verifier: &str) -> Value {
    body["code_challenge"] = json!(challenge(verifier));
    body["code_challenge_method"] = json!("s256");
    body
}

/// Follows the `n`-th mail's link as a browser would; returns where it sends the browser.
async fn follow_mail_link(app: &TestApp, n: usize) -> Url {
    let link = app.mail_link(n).await;
    let path = link.split_once(&app.address.to_string()).unwrap().1;
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    Url::parse(response.headers()[header::LOCATION].to_str().unwrap()).unwrap()
}

fn param(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Exchanges the PKCE `code` a redirect to `landing` carries; returns the session.
async fn exchange(app: &TestApp, landing: &Url, verifier: &str) -> Value {
    assert!(landing.fragment().is_none(), "no tokens in a fragment");
    let code = param(landing, "code").unwrap_or_else(|| panic!("a code in {landing}"));
    let response = app
        .auth_post(
            "/token?grant_type=pkce",
            &json!({ "auth_code": code, "code_verifier": verifier }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Proves `email` as its owner does when they forgot the password: a recovery link (PKCE).
/// Returns the session it signs in.
async fn recover(app: &TestApp, email: &str) -> Value {
    let n = app.mails().len();
    let verifier = new_verifier();
    let sent = app
        .auth_post(
            "/recover",
            &with_challenge(json!({ "email": email }), &verifier),
        )
        .await;
    assert_eq!(sent.status(), StatusCode::OK);
    let landing = follow_mail_link(app, n).await;
    exchange(app, &landing, &verifier).await
}

/// The providers of the user's identities, sorted.
fn providers(user: &Value) -> Vec<String> {
    let mut providers: Vec<String> = user["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|identity| str_of(identity, "provider").to_owned())
        .collect();
    providers.sort();
    providers
}

/// The code of a `/reauthenticate` mail (its subject: "<code> is your verification code").
async fn reauthentication_code(app: &TestApp, access_token: &str) -> String {
    let n = app.mails().len();
    let sent = app
        .client
        .get(app.url("/auth/v1/reauthenticate"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    let mail = app.mail(n).await;
    let subject = mail
        .lines()
        .find_map(|line| line.strip_prefix("Subject: "))
        .unwrap();
    let code = subject.strip_suffix(" is your verification code").unwrap();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
    assert!(
        mail.contains(&format!("\r\n{code}\r\n")),
        "the code in the body too"
    );
    code.to_owned()
}

// 1. Pre-registration takeover.

#[tokio::test]
async fn a_provider_sign_in_takes_the_address_back_from_whoever_registered_it_first() {
    let github = fake_github(true).await;
    let app = app_with_github(&github, &[]).await;
    // The attacker registers the victim's address (autoconfirm lets them in), names the account
    // and keeps the session.
    let attacker = app
        .auth_post(
            "/signup",
            &json!({
                "email": "octo@example.test",
                "password": "the attacker's password",
                "data": { "display_name": "Octo (support)" },
            }),
        )
        .await;
    assert_eq!(attacker.status(), StatusCode::OK);
    let attacker: Value = attacker.json().await.unwrap();
    let attacker_token = str_of(&attacker, "access_token");
    assert_eq!(app.get_user(attacker_token).await.status(), StatusCode::OK);

    // The owner signs in with GitHub, which vouches for the address.
    let victim = github_session(&app).await;
    assert_eq!(victim["user"]["id"], attacker["user"]["id"]);
    assert_eq!(providers(&victim["user"]), ["github"]);
    assert_eq!(
        victim["user"]["app_metadata"]["providers"],
        json!(["github"])
    );
    assert_eq!(victim["user"]["user_metadata"]["user_name"], "octo");
    assert!(victim["user"]["user_metadata"]["display_name"].is_null());

    assert_eq!(
        refusal(password_grant(&app, "octo@example.test", "the attacker's password").await).await,
        refused(400, "invalid_credentials")
    );
    assert_eq!(
        refusal(refresh(&app, str_of(&attacker, "refresh_token")).await).await,
        refused(400, "refresh_token_not_found")
    );
    assert_eq!(
        refusal(app.get_user(attacker_token).await).await,
        refused(403, "session_not_found")
    );
    let me = app.get_user(str_of(&victim, "access_token")).await;
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_magic_link_takes_the_address_back_from_whoever_registered_it_first() {
    let app = spawn_app().await;
    let email = unique_email();
    let attacker = app.sign_up(&email, "the attacker's password").await;

    // The owner asks for a magic link from their own browser and follows it.
    let verifier = new_verifier();
    let sent = app
        .client_from(2)
        .post(app.url("/auth/v1/otp"))
        .json(&with_challenge(json!({ "email": email }), &verifier))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    let landing = follow_mail_link(&app, 0).await;
    let victim = exchange(&app, &landing, &verifier).await;
    assert_eq!(victim["user"]["id"], attacker["user"]["id"]);
    assert_eq!(providers(&victim["user"]), ["email"]);

    assert_eq!(
        refusal(password_grant(&app, &email, "the attacker's password").await).await,
        refused(400, "invalid_credentials")
    );
    assert_eq!(
        refusal(refresh(&app, str_of(&attacker, "refresh_token")).await).await,
        refused(400, "refresh_token_not_found")
    );
    assert_eq!(
        refusal(app.get_user(str_of(&attacker, "access_token")).await).await,
        refused(403, "session_not_found")
    );
    assert_eq!(
        app.get_user(str_of(&victim, "access_token")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_account_with_a_proven_address_gains_the_provider_and_keeps_its_password() {
    let github = fake_github(true).await;
    let app = app_with_github(&github, &[]).await;
    let user_id = str_of(
        &app.sign_up("octo@example.test", "first password").await["user"],
        "id",
    )
    .to_owned();
    assert_eq!(email_verified_at(&app, &user_id).await, None);
    // The owner proves the address with a recovery link and sets a password in that session.
    // (Proving a never-verified address drops the sign-up's password: it may not be theirs.)
    let recovered = recover(&app, "octo@example.test").await;
    assert!(email_verified_at(&app, &user_id).await.is_some());
    assert_eq!(
        refusal(password_grant(&app, "octo@example.test", "first password").await).await,
        refused(400, "invalid_credentials")
    );
    let set = put_user(
        &app,
        str_of(&recovered, "access_token"),
        json!({ "password": "the owner's password" }),
    )
    .await;
    assert_eq!(set.status(), StatusCode::OK);

    let github = github_session(&app).await;
    assert_eq!(github["user"]["id"], json!(user_id));
    assert_eq!(providers(&github["user"]), ["email", "github"]);
    app.sign_in("octo@example.test", "the owner's password")
        .await;
    let kept = app.get_user(str_of(&recovered, "access_token")).await;
    assert_eq!(kept.status(), StatusCode::OK, "no session ended");
}

// 2. A stolen token must not become a permanent account.

#[tokio::test]
async fn a_password_change_ends_every_other_session_and_voids_pending_links() {
    let app = spawn_app().await;
    let email = unique_email();
    let current = app.sign_up(&email, "password one").await;
    let other = app.sign_in(&email, "password one").await;
    let user_id = str_of(&current["user"], "id").to_owned();
    // A recovery link is on its way, with its PKCE flow waiting.
    let verifier = new_verifier();
    let sent = app
        .auth_post(
            "/recover",
            &with_challenge(json!({ "email": email }), &verifier),
        )
        .await;
    assert_eq!(sent.status(), StatusCode::OK);
    let link = app.mail_link(0).await;

    let changed = put_user(
        &app,
        str_of(&current, "access_token"),
        json!({ "password": "password two" }),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);

    assert_eq!(
        refusal(refresh(&app, str_of(&other, "refresh_token")).await).await,
        refused(400, "refresh_token_not_found")
    );
    assert_eq!(
        refusal(app.get_user(str_of(&other, "access_token")).await).await,
        refused(403, "session_not_found")
    );
    assert_eq!(
        app.get_user(str_of(&current, "access_token"))
            .await
            .status(),
        StatusCode::OK,
        "the session that changed the password stays"
    );
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM flow_states WHERE user_id = $1")
        .bind(&user_id)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(pending, 0);
    let path = link.split_once(&app.address.to_string()).unwrap().1;
    let followed = app.get(path).await;
    let location = Url::parse(followed.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    assert!(
        location
            .fragment()
            .unwrap()
            .contains("error_code=otp_expired"),
        "{location}"
    );
    assert_eq!(param(&location, "code"), None);
    app.sign_in(&email, "password two").await;
}

#[tokio::test]
async fn an_old_sign_in_must_give_the_current_password_to_change_it() {
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email, "password one").await;
    let token = str_of(&session, "access_token");
    age_sessions(&app, str_of(&session["user"], "id")).await;

    let missing = put_user(&app, token, json!({ "password": "password two" })).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error_code"], "current_password_required");
    assert_eq!(
        body["msg"],
        "Current password required when setting new password."
    );
    assert_eq!(
        refusal(
            put_user(
                &app,
                token,
                json!({ "password": "password two", "current_password": "not the password" })
            )
            .await
        )
        .await,
        refused(400, "current_password_invalid")
    );
    // Nothing changed so far.
    app.sign_in(&email, "password one").await;

    let changed = put_user(
        &app,
        token,
        json!({ "password": "password two", "current_password": "password one" }),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);
    app.sign_in(&email, "password two").await;
}

#[tokio::test]
async fn a_mailed_code_proves_the_person_once() {
    let app = spawn_app().await;
    let email = unique_email();
    let session = app.sign_up(&email, "password one").await;
    let token = str_of(&session, "access_token");
    age_sessions(&app, str_of(&session["user"], "id")).await;

    let code = reauthentication_code(&app, token).await;
    let changed = put_user(
        &app,
        token,
        json!({ "password": "password two", "nonce": code }),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        refusal(
            put_user(
                &app,
                token,
                json!({ "password": "password three", "nonce": code })
            )
            .await
        )
        .await,
        refused(422, "reauthentication_not_valid")
    );

    // A wrong guess spends the code: six digits get one try per mail.
    let code = reauthentication_code(&app, token).await;
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for nonce in [wrong, code] {
        assert_eq!(
            refusal(
                put_user(
                    &app,
                    token,
                    json!({ "password": "password three", "nonce": nonce })
                )
                .await
            )
            .await,
            refused(422, "reauthentication_not_valid")
        );
    }
    app.sign_in(&email, "password two").await;
}

#[tokio::test]
async fn an_account_without_a_password_needs_a_code_to_set_one_after_an_old_sign_in() {
    let github = fake_github(true).await;
    let app = app_with_github(&github, &[]).await;
    let session = github_session(&app).await;
    let token = str_of(&session, "access_token");
    age_sessions(&app, str_of(&session["user"], "id")).await;

    assert_eq!(
        refusal(put_user(&app, token, json!({ "password": "a first password" })).await).await,
        refused(400, "reauthentication_needed")
    );
    let code = reauthentication_code(&app, token).await;
    let set = put_user(
        &app,
        token,
        json!({ "password": "a first password", "nonce": code }),
    )
    .await;
    assert_eq!(set.status(), StatusCode::OK);
    app.sign_in("octo@example.test", "a first password").await;
}

#[tokio::test]
async fn an_email_change_tells_the_old_address_and_needs_proof_after_an_old_sign_in() {
    let app = spawn_app().await;
    let (old, new, newer) = (unique_email(), unique_email(), unique_email());
    app.sign_up(&old, "password one").await;
    let session = recover(&app, &old).await;
    let user_id = str_of(&session["user"], "id").to_owned();
    let token = str_of(&session, "access_token");
    let set = put_user(&app, token, json!({ "password": "password two" })).await;
    assert_eq!(set.status(), StatusCode::OK);
    assert!(email_verified_at(&app, &user_id).await.is_some());
    let mails = app.mails().len();

    let changed = put_user(&app, token, json!({ "email": new })).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        changed.json::<Value>().await.unwrap()["email"],
        new.as_str()
    );
    let notice = app.mail(mails).await;
    assert!(notice.starts_with(&format!("To: {old}\r\n")), "{notice}");
    assert!(
        notice.contains("Subject: Your email address was changed"),
        "{notice}"
    );
    assert!(notice.contains(&new), "{notice}");
    // Nobody proved the new address: the account must prove it again before a provider links.
    assert_eq!(email_verified_at(&app, &user_id).await, None);

    age_sessions(&app, &user_id).await;
    assert_eq!(
        refusal(put_user(&app, token, json!({ "email": newer })).await).await,
        refused(400, "current_password_required")
    );
    let me: Value = app.get_user(token).await.json().await.unwrap();
    assert_eq!(me["email"], new.as_str(), "nothing changed");
    assert_eq!(app.mails().len(), mails + 1, "and nobody was told");
    let changed = put_user(
        &app,
        token,
        json!({ "email": newer, "current_password": "password two" }),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let notice = app.mail(mails + 1).await;
    assert!(notice.starts_with(&format!("To: {new}\r\n")), "{notice}");
    assert!(notice.contains(&newer), "{notice}");
}

#[tokio::test]
async fn without_autoconfirm_an_email_change_mails_a_link_to_the_new_address_and_a_notice_to_the_old(
) {
    let app = spawn_app_with(&[("FERROCHAT_AUTH_AUTOCONFIRM", "false")]).await;
    let (old, new) = (unique_email(), unique_email());
    let signed_up = app
        .auth_post(
            "/signup",
            &json!({ "email": old, "password": "password one" }),
        )
        .await;
    assert_eq!(signed_up.status(), StatusCode::OK);
    // Without PKCE and without the implicit flow, the link confirms and asks to sign in.
    let landing = follow_mail_link(&app, 0).await;
    assert_eq!(param(&landing, "verified").as_deref(), Some("signup"));
    assert!(landing.fragment().is_none() && param(&landing, "code").is_none());
    let session = app.sign_in(&old, "password one").await;

    let requested = put_user(
        &app,
        str_of(&session, "access_token"),
        json!({ "email": new }),
    )
    .await;
    assert_eq!(requested.status(), StatusCode::OK);
    let user: Value = requested.json().await.unwrap();
    assert_eq!(user["email"], old.as_str());
    assert_eq!(user["new_email"], new.as_str());
    let (link, notice) = (app.mail(1).await, app.mail(2).await);
    assert!(link.starts_with(&format!("To: {new}\r\n")), "{link}");
    assert!(link.contains("type=email_change"), "{link}");
    assert!(notice.starts_with(&format!("To: {old}\r\n")), "{notice}");
    assert!(notice.contains(&new), "{notice}");
    assert!(
        !notice.contains("/verify?"),
        "the link goes to the new address only"
    );

    let landing = follow_mail_link(&app, 1).await;
    assert_eq!(param(&landing, "verified").as_deref(), Some("email_change"));
    let me: Value = app
        .get_user(str_of(&session, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], new.as_str());
}

// 3. One link, one session.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clicks_of_one_link_give_exactly_one_session() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    let sent = app.auth_post("/recover", &json!({ "email": email })).await;
    assert_eq!(sent.status(), StatusCode::OK);
    let link = Url::parse(&app.mail_link(0).await).unwrap();
    let token = param(&link, "token").unwrap();

    let clicks: Vec<_> = (0..8u8)
        .map(|n| {
            let request = app
                .client_from(20 + n)
                .post(app.url("/auth/v1/verify"))
                .json(&json!({ "type": "recovery", "token": token }));
            tokio::spawn(async move { refusal(request.send().await.unwrap()).await })
        })
        .collect();
    let mut answers = Vec::new();
    for click in clicks {
        answers.push(click.await.unwrap());
    }
    let sessions = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .count();
    assert_eq!(sessions, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(status, _)| *status != StatusCode::OK)
            .all(|answer| *answer == refused(403, "otp_expired")),
        "{answers:?}"
    );
}

// 4. Bounded user metadata.

#[tokio::test]
async fn user_metadata_is_bounded_when_written() {
    let app = spawn_app().await;
    let too_big = json!({ "bio": "x".repeat(3000) });
    let email = unique_email();
    let response = app
        .auth_post(
            "/signup",
            &json!({ "email": email, "password": "password one", "data": too_big }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], "validation_failed");
    assert!(
        str_of(&body, "msg").contains("User metadata is too large"),
        "{body}"
    );
    // Nothing was stored: the address has no account.
    assert_eq!(
        refusal(password_grant(&app, &email, "password one").await).await,
        refused(400, "invalid_credentials")
    );

    let signed_up = app
        .auth_post(
            "/signup",
            &json!({ "email": email, "password": "password one", "data": { "display_name": "Ada" } }),
        )
        .await;
    assert_eq!(signed_up.status(), StatusCode::OK);
    let session: Value = signed_up.json().await.unwrap();
    let token = str_of(&session, "access_token");
    assert_eq!(session["user"]["user_metadata"]["display_name"], "Ada");
    assert_eq!(
        refusal(put_user(&app, token, json!({ "data": too_big })).await).await,
        refused(400, "validation_failed")
    );
    let half = "y".repeat(1200);
    let first = put_user(&app, token, json!({ "data": { "a": half } })).await;
    assert_eq!(first.status(), StatusCode::OK);
    // Each part is small; merged, they are too much.
    assert_eq!(
        refusal(put_user(&app, token, json!({ "data": { "b": half } })).await).await,
        refused(400, "validation_failed")
    );
    let me: Value = app.get_user(token).await.json().await.unwrap();
    assert_eq!(
        me["user_metadata"],
        json!({ "display_name": "Ada", "a": half })
    );

    let verifier = new_verifier();
    let otp = app
        .auth_post(
            "/otp",
            &with_challenge(
                json!({ "email": unique_email(), "data": too_big }),
                &verifier,
            ),
        )
        .await;
    assert_eq!(refusal(otp).await, refused(400, "validation_failed"));
}

// 5. The implicit flow is a setting, off by default.

#[tokio::test]
async fn without_the_implicit_flow_no_session_travels_in_a_url() {
    let github = fake_github(true).await;
    let app = app_with_github(&github, &[]).await;
    let authorize = app.get("/auth/v1/authorize?provider=github").await;
    assert_eq!(authorize.status(), StatusCode::BAD_REQUEST);
    let body: Value = authorize.json().await.unwrap();
    assert_eq!(body["error_code"], "validation_failed");
    assert_eq!(
        body["msg"],
        "PKCE is required: send code_challenge and code_challenge_method=s256"
    );
    let email = unique_email();
    let session = app.sign_up(&email, "password one").await;
    let magic = app.auth_post("/otp", &json!({ "email": email })).await;
    assert_eq!(refusal(magic).await, refused(400, "validation_failed"));

    // A recovery link without PKCE is still sent; following it proves the address, and the
    // browser is asked to sign in instead of being handed tokens.
    let sent = app.auth_post("/recover", &json!({ "email": email })).await;
    assert_eq!(sent.status(), StatusCode::OK);
    let landing = follow_mail_link(&app, 0).await;
    assert_eq!(param(&landing, "verified").as_deref(), Some("recovery"));
    assert!(landing.fragment().is_none(), "{landing}");
    assert!(!landing.as_str().contains("access_token"), "{landing}");
    let user_id = str_of(&session["user"], "id");
    assert!(email_verified_at(&app, user_id).await.is_some());
    assert_eq!(app.mails().len(), 1, "no magic link was sent");
}

#[tokio::test]
async fn with_the_implicit_flow_on_links_and_providers_may_return_the_session_in_the_fragment() {
    let github = fake_github(true).await;
    let app = app_with_github(&github, &[("FERROCHAT_AUTH_IMPLICIT_FLOW", "true")]).await;
    let fragment_token = |landing: &str| {
        let fragment = Url::parse(landing).unwrap().fragment().unwrap().to_owned();
        url::form_urlencoded::parse(fragment.as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("a session in {landing}"))
    };
    let landing = github_dance(&app, "").await;
    let token = fragment_token(&landing);
    assert_eq!(app.get_user(&token).await.status(), StatusCode::OK);

    let magic = app
        .auth_post("/otp", &json!({ "email": unique_email() }))
        .await;
    assert_eq!(magic.status(), StatusCode::OK);
    let landing = follow_mail_link(&app, 0).await;
    let token = fragment_token(landing.as_str());
    assert_eq!(app.get_user(&token).await.status(), StatusCode::OK);
}

// The app's pages.

#[tokio::test]
async fn a_confirmation_link_without_a_session_lands_on_the_login_page_with_a_notice() {
    let app = spawn_app_with(&[("FERROCHAT_AUTH_AUTOCONFIRM", "false")]).await;
    let callback = app.url("/auth/callback?next=/chat");
    let signed_up = app
        .auth_post(
            &format!(
                "/signup?redirect_to={}",
                url::form_urlencoded::byte_serialize(callback.as_bytes()).collect::<String>()
            ),
            &json!({ "email": unique_email(), "password": "password one" }),
        )
        .await;
    assert_eq!(signed_up.status(), StatusCode::OK);
    let landing = follow_mail_link(&app, 0).await;
    assert!(
        landing.as_str().starts_with(&app.url("/auth/callback?")),
        "{landing}"
    );
    let callback = app
        .get(&format!("/auth/callback?{}", landing.query().unwrap()))
        .await;
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        callback.headers()[header::LOCATION],
        "/login?notice=email-verified"
    );
    let login = app
        .get("/login?notice=email-verified")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        login.contains("Your email address is verified. Please sign in."),
        "{login}"
    );
}

/// The app's password form posted as a browser without JavaScript does.
async fn submit_password_form(app: &TestApp, cookies: &str, fields: &[(&str, &str)]) -> String {
    let response = app
        .client
        .post(app.url("/api/auth/password"))
        .header("accept", "text/html")
        .header("sec-fetch-site", "same-origin")
        .header("referer", app.url("/reset-password"))
        .header(header::COOKIE, cookies)
        .form(fields)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_password_page_asks_for_the_current_password_after_an_old_sign_in() {
    let app = spawn_app().await;
    let email = unique_email();
    let user_id = str_of(&app.sign_up(&email, "password one").await["user"], "id").to_owned();
    let fresh = cookies_from(&app.submit_login(&email, "password one").await);
    let page = app.page_with_cookies("/reset-password", &fresh).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"password\""), "{html}");
    assert!(
        !html.contains("Current password"),
        "a fresh sign-in is proof enough"
    );

    // The same session, signed in an hour ago: so say its token's `amr` and its row.
    let tokens: SessionTokens = app.state.sessions.jar.load(&fresh).unwrap();
    let mut claims = claims_of(&tokens.access_token);
    let signed_in_at = claims["amr"][0]["timestamp"].as_i64().unwrap() - 3600;
    claims["amr"] = json!([{ "method": "password", "timestamp": signed_in_at }]);
    age_sessions(&app, &user_id).await;
    let old = SessionTokens {
        access_token: app.mint(&claims).await,
        ..tokens
    };
    let cookie = app.state.sessions.jar.store(&old)[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = app
        .page_with_cookies("/reset-password", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Current password"), "{html}");
    assert!(html.contains("name=\"current_password\""), "{html}");

    let new_password = [
        ("password", "password two"),
        ("confirm_password", "password two"),
    ];
    let back = submit_password_form(&app, &cookie, &new_password).await;
    let path = back.trim_start_matches(&app.url(""));
    let html = app
        .page_with_cookies(path, &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(
            "Please enter your current password (reload the page if the form does not ask for it)."
        ),
        "{html}"
    );
    app.sign_in(&email, "password one").await;

    let mut with_current = new_password.to_vec();
    with_current.push(("current_password", "password one"));
    let done = submit_password_form(&app, &cookie, &with_current).await;
    assert_eq!(done, "/account?notice=password-changed");
    app.sign_in(&email, "password two").await;
}
