//! GoTrue's admin API: who may call it (only this instance's service-role key), what it does, and
//! what its changes do to the people whose accounts it touches. Also the JSON answers for the
//! GoTrue paths this service does not offer.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{
    harness::{cookies_from, spawn_app, spawn_app_with, unique_email, TestApp},
    key_confusion,
};

/// An admin request with `token` as the bearer (and `apikey`, as supabase-js sends it).
async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = app
        .client
        .request(method, app.url(&format!("/auth/v1{path}")))
        .header("x-supabase-api-version", "2024-01-01");
    if let Some(token) = token {
        request = request.bearer_auth(token).header("apikey", token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{path}: not JSON ({status}): {text:?}"));
    (status, headers, body)
}

async fn list_with(app: &TestApp, token: Option<&str>) -> (StatusCode, Value) {
    let (status, _, body) = admin(app, Method::GET, "/admin/users", token, None).await;
    (status, body)
}

fn assert_refused(outcome: (StatusCode, Value), status: StatusCode, code: &str, what: &str) {
    assert_eq!(outcome.0, status, "{what}: {}", outcome.1);
    assert_eq!(outcome.1["code"], code, "{what}: {}", outcome.1);
}

#[tokio::test]
async fn only_this_instances_service_role_key_opens_the_admin_api() {
    let app = spawn_app().await;
    let other = spawn_app().await;
    let service_key = app.api_key("service_role");
    let user = app.sign_up(&unique_email(), "password one").await;
    let user_token = user["access_token"].as_str().unwrap();

    let (status, body) = list_with(&app, Some(&service_key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["users"][0]["id"], user["user"]["id"]);

    assert_refused(
        list_with(&app, None).await,
        StatusCode::UNAUTHORIZED,
        "no_authorization",
        "no bearer",
    );
    for (what, token) in [
        ("the anon key", app.api_key("anon")),
        ("a user's access token", user_token.to_owned()),
    ] {
        let refused = list_with(&app, Some(&token)).await;
        assert_refused(refused.clone(), StatusCode::FORBIDDEN, "not_admin", what);
        assert_eq!(refused.1["message"], "User not allowed");
    }

    // Signed by us, but expired; signed by another instance; an access token of ours claiming
    // the role; the public key turned into an HMAC secret.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let issuer = app.url("/auth/v1");
    let expired = app
        .mint(
            &json!({ "iss": issuer, "role": "service_role", "iat": now - 7200, "exp": now - 3600 }),
        )
        .await;
    let foreign = other.api_key("service_role");
    let wrong_issuer = app
        .mint(&json!({ "iss": "https://evil.example/auth/v1", "role": "service_role", "iat": now, "exp": now + 3600 }))
        .await;
    let jwks: Value = app
        .get("/auth/v1/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let claims = json!({ "iss": issuer, "role": "service_role", "iat": now, "exp": now + 3600 });
    let forgeries = key_confusion::hs256_forgeries(&jwks["keys"][0], &claims, &service_key);
    for (what, token) in [
        ("an expired service key", expired),
        ("another instance's service key", foreign),
        ("a service key of another issuer", wrong_issuer),
    ]
    .into_iter()
    .chain(forgeries)
    {
        assert_refused(
            list_with(&app, Some(&token)).await,
            StatusCode::FORBIDDEN,
            "bad_jwt",
            what,
        );
    }
    // And the service key is no user: it does not open the user's own endpoints.
    let (status, _, body) = admin(&app, Method::GET, "/user", Some(&service_key), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("bad_jwt"))
    );
}

#[tokio::test]
async fn in_hs256_mode_the_service_key_is_signed_with_the_secret_and_no_other() {
    let secret = "a-legacy-supabase-jwt-secret-of-32+chars";
    let app = spawn_app_with(&[
        ("FERROCHAT_JWT_ALGORITHM", "HS256"),
        ("FERROCHAT_JWT_SECRET", secret),
    ])
    .await;
    let service_key = app.api_key("service_role");
    assert_eq!(list_with(&app, Some(&service_key)).await.0, StatusCode::OK);
    let claims = jsonwebtoken::decode::<Value>(
        &service_key,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &{
            let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
            validation.validate_aud = false;
            validation
        },
    )
    .unwrap()
    .claims;
    assert_eq!(claims["role"], "service_role");
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"another project's secret of 32+ chars"),
    )
    .unwrap();
    assert_refused(
        list_with(&app, Some(&forged)).await,
        StatusCode::FORBIDDEN,
        "bad_jwt",
        "signed with another secret",
    );
}

crate::apps_on_both_databases!(an_administrator_manages_users_from_creation_to_deletion);

async fn an_administrator_manages_users_from_creation_to_deletion(database_url: Option<String>) {
    let vars: Vec<(&str, &str)> = database_url
        .as_deref()
        .map(|url| vec![("DATABASE_URL", url)])
        .unwrap_or_default();
    let app = spawn_app_with(&vars).await;
    let key = app.api_key("service_role");
    let key = Some(key.as_str());
    let email = unique_email();

    let (status, _, created) = admin(
        &app,
        Method::POST,
        "/admin/users",
        key,
        Some(json!({
            "email": email, "password": "password one", "email_confirm": true,
            "user_metadata": { "name": "Ada" }, "app_metadata": { "plan": "pro" },
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["email"], email);
    assert_eq!(created["user_metadata"]["name"], "Ada");
    assert_eq!(created["app_metadata"]["plan"], "pro");
    assert_eq!(created["app_metadata"]["provider"], "email");
    assert!(created["email_confirmed_at"].is_string(), "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // The password works: the administrator confirmed the address.
    let session = app.sign_in(&email, "password one").await;

    let (status, _, again) = admin(
        &app,
        Method::POST,
        "/admin/users",
        key,
        Some(json!({ "email": email })),
    )
    .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("email_exists"))
    );
    let (status, _, weak) = admin(
        &app,
        Method::POST,
        "/admin/users",
        key,
        Some(json!({ "email": unique_email(), "password": "short" })),
    )
    .await;
    assert_eq!(
        (status, weak["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password"))
    );

    let path = format!("/admin/users/{id}");
    let (status, _, fetched) = admin(&app, Method::GET, &path, key, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["identities"][0]["provider"], "email");
    let (status, _, missing) = admin(
        &app,
        Method::GET,
        "/admin/users/00000000-0000-4000-8000-000000000000",
        key,
        None,
    )
    .await;
    assert_eq!(
        (status, missing["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("user_not_found"))
    );
    let (status, _, factors) =
        admin(&app, Method::GET, &format!("{path}/factors"), key, None).await;
    assert_eq!((status, factors), (StatusCode::OK, json!([])));

    // Metadata merges (null removes a key); the ban ends the session at once and blocks sign-in.
    let (status, _, updated) = admin(
        &app,
        Method::PUT,
        &path,
        key,
        Some(json!({
            "user_metadata": { "name": null, "theme": "dark" },
            "app_metadata": { "plan": "free" },
            "ban_duration": "24h",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["user_metadata"].get("name"), None);
    assert_eq!(updated["user_metadata"]["theme"], "dark");
    assert_eq!(updated["app_metadata"]["plan"], "free");
    assert!(updated["banned_until"].is_string(), "{updated}");
    let signed_in = app
        .auth_post(
            "/token?grant_type=password",
            &json!({ "email": email, "password": "password one" }),
        )
        .await;
    assert_eq!(signed_in.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        signed_in.json::<Value>().await.unwrap()["error_code"],
        "user_banned"
    );
    let refreshed = app
        .auth_post(
            "/token?grant_type=refresh_token",
            &json!({ "refresh_token": session["refresh_token"] }),
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);
    let access = session["access_token"].as_str().unwrap();
    assert_eq!(app.get_user(access).await.status(), StatusCode::FORBIDDEN);

    let (status, _, unbanned) = admin(
        &app,
        Method::PUT,
        &path,
        key,
        Some(json!({ "ban_duration": "none", "password": "password two" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unbanned.get("banned_until"), None, "{unbanned}");
    let session = app.sign_in(&email, "password two").await;
    let (status, _, bad_ban) = admin(
        &app,
        Method::PUT,
        &path,
        key,
        Some(json!({ "ban_duration": "forever" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_ban["message"],
        "invalid format for ban duration: time: invalid duration \"forever\""
    );

    // Soft delete: the row stays, the address and the sessions go.
    let (status, _, soft) = admin(
        &app,
        Method::DELETE,
        &path,
        key,
        Some(json!({ "should_soft_delete": true })),
    )
    .await;
    assert_eq!((status, soft), (StatusCode::OK, json!({})));
    let (_, _, kept) = admin(&app, Method::GET, &path, key, None).await;
    assert!(kept["deleted_at"].is_string(), "{kept}");
    assert_ne!(kept["email"], email);
    assert_eq!(kept["identities"], json!([]));
    assert_eq!(
        app.get_user(session["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // The address is free again; a hard delete removes the row.
    app.sign_up(&email, "password three").await;
    let (status, _, _) = admin(&app, Method::DELETE, &path, key, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = admin(&app, Method::GET, &path, key, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_user_list_is_paginated_with_gotrues_headers() {
    let app = spawn_app().await;
    let key = app.api_key("service_role");
    for _ in 0..3 {
        app.sign_up(&unique_email(), "password one").await;
    }
    let (status, headers, body) = admin(
        &app,
        Method::GET,
        "/admin/users?per_page=2&page=1",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["users"].as_array().unwrap().len(), 2);
    assert_eq!(body["aud"], "authenticated");
    assert_eq!(headers["x-total-count"], "3");
    assert_eq!(
        headers["link"],
        "</auth/v1/admin/users?page=2&per_page=2>; rel=\"next\", \
         </auth/v1/admin/users?page=2&per_page=2>; rel=\"last\""
    );
    let (_, headers, last) = admin(
        &app,
        Method::GET,
        "/admin/users?per_page=2&page=2",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(last["users"].as_array().unwrap().len(), 1);
    assert_eq!(
        headers["link"],
        "</auth/v1/admin/users?page=2&per_page=2>; rel=\"last\""
    );
    let (status, _, bad) = admin(
        &app,
        Method::GET,
        "/admin/users?per_page=0",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("validation_failed"))
    );
}

#[tokio::test]
async fn generated_links_and_invitations_verify_into_sessions() {
    let app = spawn_app().await;
    let key = app.api_key("service_role");
    let key = Some(key.as_str());

    // An invitation: an unconfirmed account without a password, mailed a link.
    let invited = unique_email();
    let (status, _, user) = admin(
        &app,
        Method::POST,
        "/invite",
        key,
        Some(json!({ "email": invited, "data": { "team": "a" } })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert!(user["invited_at"].is_string(), "{user}");
    assert!(user["email_confirmed_at"].is_null(), "{user}");
    let link = app.mail_link(0).await;
    assert!(link.contains("type=invite"), "{link}");
    let token = url::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    let verified = app
        .auth_post("/verify", &json!({ "type": "invite", "token_hash": token }))
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    let session: Value = verified.json().await.unwrap();
    assert_eq!(session["user"]["email"], invited);
    assert!(session["user"]["email_confirmed_at"].is_string());
    // Inviting a confirmed address is refused.
    let (status, _, again) = admin(
        &app,
        Method::POST,
        "/invite",
        key,
        Some(json!({ "email": invited })),
    )
    .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("email_exists"))
    );

    // A recovery link, not mailed: its token signs the person in once.
    let (status, _, generated) = admin(
        &app,
        Method::POST,
        "/admin/generate_link",
        key,
        Some(json!({ "type": "recovery", "email": invited })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{generated}");
    assert_eq!(generated["verification_type"], "recovery");
    assert_eq!(generated["email"], invited);
    assert!(generated["action_link"]
        .as_str()
        .unwrap()
        .starts_with(&app.url("/auth/v1/verify?token=")));
    let hashed = generated["hashed_token"].as_str().unwrap();
    let body = json!({ "type": "recovery", "token_hash": hashed });
    assert_eq!(
        app.auth_post("/verify", &body).await.status(),
        StatusCode::OK
    );
    let replay = app.auth_post("/verify", &body).await;
    assert_eq!(replay.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.mails().len(), 1, "generate_link sends nothing");
    // GoTrue's `email` type redeems a magic link's token too.
    let (_, _, magic) = admin(
        &app,
        Method::POST,
        "/admin/generate_link",
        key,
        Some(json!({ "type": "magiclink", "email": invited })),
    )
    .await;
    let body = json!({ "type": "email", "token": magic["email_otp"], "email": invited });
    let signed_in: Value = app.auth_post("/verify", &body).await.json().await.unwrap();
    assert_eq!(signed_in["user"]["email"], invited, "{signed_in}");

    // A sign-up link makes the account; a magic link for an unknown address is a sign-up.
    let (status, _, signup) = admin(
        &app,
        Method::POST,
        "/admin/generate_link",
        key,
        Some(json!({ "type": "magiclink", "email": unique_email() })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(signup["action_link"]
        .as_str()
        .unwrap()
        .contains("type=signup"));
    let (status, _, unknown) = admin(
        &app,
        Method::POST,
        "/admin/generate_link",
        key,
        Some(json!({ "type": "recovery", "email": unique_email() })),
    )
    .await;
    assert_eq!(
        (status, unknown["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("user_not_found"))
    );

    // An email change confirmed by the new address.
    let new_email = unique_email();
    let (status, _, change) = admin(
        &app,
        Method::POST,
        "/admin/generate_link",
        key,
        Some(json!({ "type": "email_change_new", "email": invited, "new_email": new_email })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{change}");
    let body = json!({ "type": "email_change", "token_hash": change["hashed_token"] });
    let changed: Value = app.auth_post("/verify", &body).await.json().await.unwrap();
    assert_eq!(changed["user"]["email"], new_email);
}

/// A request (method, path, bearer, body) and GoTrue's answer (status, code, message).
type DisabledCase<'a> = (
    Method,
    &'a str,
    Option<&'a str>,
    Option<Value>,
    StatusCode,
    &'a str,
    &'a str,
);

#[tokio::test]
async fn gotrue_features_that_are_off_answer_with_gotrues_json_errors() {
    let app = spawn_app().await;
    let service_key = app.api_key("service_role");
    let user = app.sign_up(&unique_email(), "password one").await;
    let token = user["access_token"].as_str().unwrap();
    let cases: [DisabledCase; 10] = [
        (
            Method::POST,
            "/sso",
            None,
            Some(json!({ "domain": "example.com" })),
            StatusCode::NOT_FOUND,
            "saml_provider_disabled",
            "SAML 2.0 is disabled",
        ),
        (
            Method::GET,
            "/sso/saml/metadata",
            None,
            None,
            StatusCode::NOT_FOUND,
            "saml_provider_disabled",
            "SAML 2.0 is disabled",
        ),
        (
            Method::GET,
            "/user/identities/authorize?provider=github",
            Some(token),
            None,
            StatusCode::NOT_FOUND,
            "manual_linking_disabled",
            "Manual linking is disabled",
        ),
        (
            Method::POST,
            "/passkeys/authentication/options",
            None,
            Some(json!({})),
            StatusCode::NOT_FOUND,
            "passkey_disabled",
            "Passkeys are disabled",
        ),
        (
            Method::GET,
            "/oauth/authorize",
            None,
            None,
            StatusCode::NOT_FOUND,
            "feature_disabled",
            "OAuth server is disabled",
        ),
        (
            Method::POST,
            "/signup",
            None,
            Some(json!({ "phone": "+15555550100", "password": "password one" })),
            StatusCode::BAD_REQUEST,
            "phone_provider_disabled",
            "Phone signups are disabled",
        ),
        (
            Method::POST,
            "/token?grant_type=password",
            None,
            Some(json!({ "phone": "+15555550100", "password": "password one" })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "phone_provider_disabled",
            "Phone logins are disabled",
        ),
        (
            Method::POST,
            "/otp",
            None,
            Some(json!({ "phone": "+15555550100" })),
            StatusCode::BAD_REQUEST,
            "phone_provider_disabled",
            "Unsupported phone provider",
        ),
        (
            Method::POST,
            "/token?grant_type=web3",
            None,
            Some(json!({ "chain": "solana" })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "web3_provider_disabled",
            "Web3 provider is disabled",
        ),
        (
            Method::GET,
            "/admin/sso/providers",
            Some(&service_key),
            None,
            StatusCode::NOT_FOUND,
            "saml_provider_disabled",
            "SAML 2.0 is disabled",
        ),
    ];
    for (method, path, bearer, body, status, code, message) in cases {
        let (got, headers, json) = admin(&app, method, path, bearer, body).await;
        assert_eq!(got, status, "{path}: {json}");
        assert_eq!(json, json!({ "code": code, "message": message }), "{path}");
        assert_eq!(headers["x-supabase-api-version"], "2024-01-01", "{path}");
    }
    // The admin paths of switched-off features are still behind the service key.
    let (status, _, json) =
        admin(&app, Method::GET, "/admin/sso/providers", Some(token), None).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_admin"))
    );
    // Paths GoTrue does not have, and methods a path does not take: JSON too.
    let (status, _, json) = admin(&app, Method::GET, "/no/such/path", None, None).await;
    assert_eq!(
        (status, json),
        (
            StatusCode::NOT_FOUND,
            json!({ "code": "not_found", "message": "Not found" })
        )
    );
    let (status, _, json) = admin(&app, Method::DELETE, "/signup", None, None).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
}

/// The account page's "delete my account", as a browser without JavaScript submits it.
async fn delete_account_in_app(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let cookies = cookies_from(&app.submit_login(email, password).await);
    app.client
        .post(app.url("/api/auth/delete_account"))
        .header(reqwest::header::ACCEPT, "text/html")
        .header("sec-fetch-site", "same-origin")
        .header(reqwest::header::COOKIE, cookies)
        .form(&[("confirm_email", email)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn remote_mode_deletes_accounts_through_the_projects_admin_api() {
    // The "Supabase project": another instance. With its service-role key, the app deletes
    // through DELETE /admin/users/{id}; with another project's key the project refuses, which
    // shows the admin API (not DELETE /user) is what the app called.
    let project = spawn_app().await;
    let stranger = spawn_app().await;
    let project_url = project.url("");
    let right_key = project.api_key("service_role");
    let wrong_key = stranger.api_key("service_role");
    let key = Some(right_key.as_str());
    for (service_key, deleted) in [(wrong_key.as_str(), false), (right_key.as_str(), true)] {
        let app = spawn_app_with(&[
            ("SUPABASE_URL", &project_url),
            ("SUPABASE_ANON_KEY", "anon-key"),
            ("SUPABASE_SERVICE_ROLE_KEY", service_key),
        ])
        .await;
        let email = unique_email();
        let user = project.sign_up(&email, "password one").await;
        let path = format!("/admin/users/{}", user["user"]["id"].as_str().unwrap());
        let response = delete_account_in_app(&app, &email, "password one").await;
        let (status, _, _) = admin(&project, Method::GET, &path, key, None).await;
        if deleted {
            assert_eq!(response.status(), StatusCode::FOUND);
            assert_eq!(
                response.headers()[reqwest::header::LOCATION],
                "/?notice=account-deleted"
            );
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "the project deleted the user"
            );
        } else {
            assert_ne!(
                response.headers().get(reqwest::header::LOCATION),
                Some(&reqwest::header::HeaderValue::from_static(
                    "/?notice=account-deleted"
                ))
            );
            assert_eq!(status, StatusCode::OK, "the account is still there");
        }
    }
}

/// Ada's chat, written through the starter's API with her token; the number of her chats.
async fn chat_of(app: &TestApp, token: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let answer = app
        .client
        .post(app.url(&format!("/api/sessions/{id}")))
        .bearer_auth(token)
        .json(&json!({ "messages": [{ "role": "user", "content": "Keep this" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.text().await.unwrap();
    id
}

async fn chats_of(app: &TestApp, user_id: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM chat_sessions WHERE user_id = $1
         UNION ALL SELECT COUNT(*) FROM messages m JOIN chat_sessions s
             ON s.id = m.chat_session_id WHERE s.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(app.store.pool())
    .await
    .unwrap()
    .into_iter()
    .sum()
}

#[tokio::test]
async fn deleting_a_user_deletes_their_chats_and_only_theirs() {
    let app = spawn_app().await;
    let key = app.api_key("service_role");
    let mut people = Vec::new();
    for _ in 0..3 {
        let session = app.sign_up(&unique_email(), "password one").await;
        let token = session["access_token"].as_str().unwrap().to_owned();
        let id = session["user"]["id"].as_str().unwrap().to_owned();
        chat_of(&app, &token).await;
        assert_eq!(
            chats_of(&app, &id).await,
            3,
            "a chat, a question, an answer"
        );
        people.push((id, token));
    }
    let [(ada, _), (bob, bob_token), (cy, _)] = people.try_into().unwrap();
    // An administrator's hard delete, and Bob deleting his own account (`DELETE /user`).
    let (status, _, _) = admin(
        &app,
        Method::DELETE,
        &format!("/admin/users/{ada}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let own = app
        .client
        .delete(app.url("/auth/v1/user"))
        .bearer_auth(&bob_token)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        chats_of(&app, &ada).await,
        0,
        "nothing of Ada's is left without an owner"
    );
    assert_eq!(chats_of(&app, &bob).await, 0, "nor of Bob's");
    assert_eq!(chats_of(&app, &cy).await, 3, "Cy's chat is untouched");
}
