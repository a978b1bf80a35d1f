//! Resource bounds of the embedded service: rate limits counted in the database (shared by every
//! instance), bounded password hashing, session lifetimes, the background upkeep, and the limit
//! on `/authorize`.

use std::time::Duration;

use ferrochat::auth_service::{keys, maintenance, now, AuthState};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::harness::{
    claims_of, cookies_from, sign_in_from, spawn_app, spawn_app_in, spawn_app_with, unique_email,
    TestApp,
};

const DAY: i64 = 24 * 3600;

/// Status, `error_code` and `Retry-After` of a refusal.
async fn refusal(response: reqwest::Response) -> (StatusCode, String, Option<u64>) {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|value| value.to_str().unwrap().parse().unwrap());
    let body: Value = response.json().await.unwrap();
    let code = body["error_code"].as_str().unwrap_or_default().to_owned();
    (status, code, retry_after)
}

fn auth(app: &TestApp) -> &AuthState {
    app.state.auth.as_ref().expect("the embedded service")
}

async fn count(app: &TestApp, query: &str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

/// A sign-in-like request that costs the server nothing but a lookup: a forged email link.
async fn redeem_forged_link(app: &TestApp, client: &reqwest::Client) -> reqwest::Response {
    client
        .post(app.url("/auth/v1/verify"))
        .json(&json!({ "type": "magiclink", "token": "forged" }))
        .send()
        .await
        .unwrap()
}

// 1. Rate limits in the database.

#[tokio::test]
async fn the_sign_in_limit_holds_across_instances_sharing_the_database() {
    let first = spawn_app().await;
    let second = spawn_app_in(first.data_dir.clone(), &[]).await;
    let attacker = first.client_from(77);
    for attempt in 1..=30 {
        let (status, code, _) = refusal(redeem_forged_link(&first, &attacker).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "otp_expired"),
            "attempt {attempt}"
        );
    }
    // The 31st goes to the other instance: it counts in the same table.
    let (status, code, retry_after) = refusal(redeem_forged_link(&second, &attacker).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "over_request_rate_limit")
    );
    let retry_after = retry_after.expect("Retry-After");
    assert!((1..=300).contains(&retry_after), "{retry_after}");
    assert_eq!(
        refusal(redeem_forged_link(&first, &attacker).await).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Someone else is not affected, on either instance.
    let bystander = first.client_from(78);
    assert_eq!(
        refusal(redeem_forged_link(&second, &bystander).await)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_counter_starts_afresh_once_its_window_has_passed() {
    let app = spawn_app().await;
    let client = app.client_from(79);
    for _ in 0..30 {
        redeem_forged_link(&app, &client).await;
    }
    assert_eq!(
        refusal(redeem_forged_link(&app, &client).await).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Five minutes later (the window moved back instead):
    sqlx::query(
        "UPDATE rate_limits SET window_start = window_start - 300 WHERE bucket = 'sign_in'",
    )
    .execute(app.store.pool())
    .await
    .unwrap();
    assert_eq!(
        refusal(redeem_forged_link(&app, &client).await).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        count(
            &app,
            "SELECT hits FROM rate_limits WHERE bucket = 'sign_in'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn ten_thousand_fake_emails_do_not_reset_a_real_clients_counter() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;
    // Nine wrong guesses from one client use nine of the ten it has on this address.
    let guesser = app.client_from(60);
    for _ in 0..9 {
        let response = sign_in_from(&app, &guesser, &email, "wrong password").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    // A flood of made-up addresses: 10,000 counters written straight into the table ...
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
         INSERT INTO rate_limits (bucket, key, window_start, hits)
         SELECT 'sign_in_email', 'flood-' || i, $1, 1 FROM n",
    )
    .bind(now())
    .execute(app.store.pool())
    .await
    .unwrap();
    // ... and 50 real sign-ins with made-up addresses from 50 addresses, one after another (so
    // that no hash waits for a slot and every answer is the same).
    for n in 0..50u8 {
        let response = sign_in_from(
            &app,
            &app.client_from(100 + n),
            &unique_email(),
            "anything at all",
        )
        .await;
        assert_eq!(
            refusal(response).await.1,
            "invalid_credentials",
            "a made-up address is refused like a wrong password"
        );
    }

    // The guesser's counter went on where it was: its tenth try is allowed, the 11th not.
    let tenth = sign_in_from(&app, &guesser, &email, "wrong password").await;
    assert_eq!(refusal(tenth).await.1, "invalid_credentials");
    let eleventh = sign_in_from(&app, &guesser, &email, "password one").await;
    let (status, code, retry_after) = refusal(eleventh).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "over_request_rate_limit")
    );
    assert!(retry_after.is_some_and(|secs| (1..=300).contains(&secs)));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM rate_limits WHERE bucket = 'sign_in_email'"
        )
        .await,
        // The flood, the 50, and the real address from two clients (sign-up, guesser).
        10_000 + 50 + 2,
        "one counter per address and client, none evicted"
    );
}

#[tokio::test]
async fn guesses_at_an_address_from_elsewhere_never_lock_its_owner_out() {
    let app = spawn_app().await;
    let email = unique_email();
    app.client_from(70)
        .post(app.url("/auth/v1/signup"))
        .json(&json!({ "email": email, "password": "the owner's password" }))
        .send()
        .await
        .unwrap();
    // The guesser spends the budget one client has on one address (10 per 5 minutes) ...
    let guesser = app.client_from(71);
    for _ in 0..10 {
        let wrong = sign_in_from(&app, &guesser, &email, "a guess").await;
        assert_eq!(refusal(wrong).await.1, "invalid_credentials");
    }
    let (status, code, _) =
        refusal(sign_in_from(&app, &guesser, &email, "another guess").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "over_request_rate_limit")
    );
    // ... and the owner, from their own address, signs in at once.
    let owner = sign_in_from(&app, &app.client_from(72), &email, "the owner's password").await;
    assert_eq!(owner.status(), StatusCode::OK);
}

#[tokio::test]
async fn rate_limit_keys_are_stored_hashed() {
    let app = spawn_app().await;
    let email = unique_email();
    let response = sign_in_from(&app, &app.client_from(61), &email, "wrong password").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let keys: Vec<(String, String)> = sqlx::query_as("SELECT bucket, key FROM rate_limits")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    let buckets: Vec<&str> = keys.iter().map(|(bucket, _)| bucket.as_str()).collect();
    assert!(buckets.contains(&"sign_in") && buckets.contains(&"sign_in_email"));
    for (_, key) in &keys {
        assert!(!key.contains('@') && !key.contains("127.0.0."), "{key}");
        assert_eq!(key.len(), 43, "a base64url SHA-256: {key}");
    }
}

// 2. Bounded password hashing.

#[tokio::test]
async fn a_burst_of_sign_ins_runs_one_hash_at_a_time_and_the_overflow_gets_503() {
    let app = spawn_app_with(&[("FERROCHAT_PASSWORD_HASH_CONCURRENCY", "1")]).await;
    // Enough that, however fast one hash is, the queue is longer than the 2 s a request waits.
    // Each from its own address and with its own email, so no rate limit interferes.
    let burst: Vec<_> = (0..200u8)
        .map(|n| {
            let body = json!({ "email": unique_email(), "password": "password one" });
            // Sign-ups hash, sign-ins of unknown addresses verify against the dummy hash.
            let path = if n % 4 == 0 {
                "/auth/v1/signup"
            } else {
                "/auth/v1/token?grant_type=password"
            };
            let request = app.client_from(2 + n).post(app.url(path)).json(&body);
            tokio::spawn(request.send())
        })
        .collect();
    let (mut done, mut busy) = (0, 0);
    for request in burst {
        let response = request.await.unwrap().unwrap();
        let status = response.status();
        let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
        let body: Value = response.json().await.unwrap();
        match status {
            StatusCode::OK => done += 1,
            StatusCode::BAD_REQUEST => {
                assert_eq!(body["error_code"], "invalid_credentials");
                done += 1;
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(retry_after.unwrap(), "1");
                assert_eq!(body["error_code"], "service_busy");
                assert_eq!(
                    body["msg"],
                    "The server is busy, please try again in a moment."
                );
                busy += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(done > 0, "some requests were served");
    assert!(busy > 0, "the overflow was told to come back");
    assert_eq!(auth(&app).passwords.peak_concurrency(), 1);
}

#[tokio::test]
async fn when_the_service_is_busy_the_sign_in_page_says_so() {
    let app = spawn_app_with(&[("FERROCHAT_PASSWORD_HASH_CONCURRENCY", "1")]).await;
    let burst: Vec<_> = (0..200u8)
        .map(|n| {
            let request = app
                .client_from(2 + n)
                .post(app.url("/api/auth/login"))
                .header("accept", "text/html")
                .header("sec-fetch-site", "same-origin")
                .header("referer", app.url("/login"))
                .form(&[
                    ("email", unique_email().as_str()),
                    ("password", "password one"),
                    ("next", "/chat"),
                ]);
            tokio::spawn(request.send())
        })
        .collect();
    let mut locations = Vec::new();
    for request in burst {
        let response = request.await.unwrap().unwrap();
        assert!(response.status().is_redirection(), "{}", response.status());
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        locations.push(location.trim_start_matches(&app.url("")).to_owned());
    }
    locations.sort();
    locations.dedup();
    let mut pages = Vec::new();
    for location in &locations {
        pages.push(app.get(location).await.text().await.unwrap());
    }
    assert!(
        pages.iter().any(|page| page
            .contains("Something we rely on is busy or out of reach just now. Please try again")),
        "{locations:?}"
    );
    assert!(
        pages
            .iter()
            .all(|page| page.contains("busy or out of reach")
                || page.contains("Invalid email or password.")),
        "{locations:?}"
    );
}

// 3. Session lifetimes.

/// Moves a session `secs` into the past: its sign-in (`created_at`) or its last refresh
/// (`refreshed_at`).
async fn age_sessions(app: &TestApp, session_id: &str, column: &str, secs: i64) {
    sqlx::query(&format!(
        "UPDATE sessions SET {column} = {column} - $1 WHERE id = $2"
    ))
    .bind(secs)
    .bind(session_id)
    .execute(app.store.pool())
    .await
    .unwrap();
}

fn session_id(session: &Value) -> String {
    claims_of(session["access_token"].as_str().unwrap())["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn refresh(app: &TestApp, session: &Value) -> reqwest::Response {
    app.auth_post(
        "/token?grant_type=refresh_token",
        &json!({ "refresh_token": session["refresh_token"] }),
    )
    .await
}

async fn session_exists(app: &TestApp, id: &str) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions WHERE id = $1")
        .bind(id)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        == 1
}

#[tokio::test]
async fn a_session_past_its_timebox_cannot_refresh_and_is_deleted() {
    let app = spawn_app_with(&[("FERROCHAT_SESSION_TIMEBOX_SECS", "3600")]).await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let id = session_id(&session);
    // Inside the timebox, however old: it refreshes.
    age_sessions(&app, &id, "created_at", 3500).await;
    let response = refresh(&app, &session).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.unwrap();

    age_sessions(&app, &id, "created_at", 200).await;
    let response = refresh(&app, &session).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], "session_expired");
    assert_eq!(body["msg"], "Invalid Refresh Token: Session Expired");
    assert!(
        !session_exists(&app, &id).await,
        "the expired session is deleted"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM refresh_tokens").await,
        0,
        "with its refresh tokens"
    );
}

#[tokio::test]
async fn a_session_unused_past_the_inactivity_timeout_cannot_refresh() {
    let app = spawn_app_with(&[("FERROCHAT_SESSION_INACTIVITY_TIMEOUT_SECS", "7200")]).await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let id = session_id(&session);
    // Signed in long ago but refreshed recently: active, it refreshes.
    age_sessions(&app, &id, "created_at", 30 * DAY).await;
    age_sessions(&app, &id, "refreshed_at", 7100).await;
    let response = refresh(&app, &session).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.unwrap();

    age_sessions(&app, &id, "refreshed_at", 7201).await;
    let response = refresh(&app, &session).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], "session_expired");
    assert_eq!(
        body["msg"],
        "Invalid Refresh Token: Session Expired (Inactivity)"
    );
    assert!(!session_exists(&app, &id).await);
}

#[tokio::test]
async fn the_access_token_of_an_expired_session_stops_working_in_the_service_and_the_app() {
    let app = spawn_app_with(&[
        ("FERROCHAT_SESSION_TIMEBOX_SECS", "86400"),
        ("FERROCHAT_SESSION_INACTIVITY_TIMEOUT_SECS", "7200"),
    ])
    .await;
    let email = unique_email();
    app.sign_up(&email, "password one").await;

    // The service's own endpoints, for each limit.
    for (column, secs) in [("created_at", 86401), ("refreshed_at", 7201)] {
        let session = app.sign_in(&email, "password one").await;
        let token = session["access_token"].as_str().unwrap();
        assert_eq!(app.get_user(token).await.status(), StatusCode::OK);
        age_sessions(&app, &session_id(&session), column, secs).await;
        let (status, code, _) = refusal(app.get_user(token).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "session_not_found"),
            "{column}"
        );
        assert!(!session_exists(&app, &session_id(&session)).await);
    }

    // The app's pages: the session cookie's token is checked against the session's lifetimes.
    let session_ids = || async {
        sqlx::query_scalar::<_, String>("SELECT id FROM sessions")
            .fetch_all(app.store.pool())
            .await
            .unwrap()
    };
    for (column, secs) in [("created_at", 86401), ("refreshed_at", 7201)] {
        let before = session_ids().await;
        let cookies = cookies_from(&app.submit_login(&email, "password one").await);
        assert_eq!(
            app.page_with_cookies("/chat", &cookies).await.status(),
            StatusCode::OK
        );
        let id = session_ids()
            .await
            .into_iter()
            .find(|id| !before.contains(id))
            .expect("the browser's new session");
        age_sessions(&app, &id, column, secs).await;
        // The instance checked the session a moment ago: it asks again once that memory lapses.
        crate::harness::after_session_status_memory().await;
        let page = app.page_with_cookies("/chat", &cookies).await;
        assert_eq!(page.status(), StatusCode::SEE_OTHER, "{column}");
        assert!(!session_exists(&app, &id).await);
    }
}

// 4. Background upkeep.

#[tokio::test]
async fn maintenance_prunes_sessions_a_day_past_their_lifetimes_and_keeps_the_rest() {
    let app = spawn_app_with(&[
        ("FERROCHAT_SESSION_TIMEBOX_SECS", "86400"),
        ("FERROCHAT_SESSION_INACTIVITY_TIMEOUT_SECS", "7200"),
    ])
    .await;
    let email = unique_email();
    let mut ids = vec![session_id(&app.sign_up(&email, "password one").await)];
    for _ in 0..3 {
        ids.push(session_id(&app.sign_in(&email, "password one").await));
    }
    age_sessions(&app, &ids[0], "created_at", 86400 + DAY + 60).await;
    age_sessions(&app, &ids[1], "refreshed_at", 7200 + DAY + 60).await;
    // Expired, but within the day of grace in which a refresh is told why.
    age_sessions(&app, &ids[2], "created_at", 86400 + 60).await;
    // ids[3] is live.

    maintenance::run_once(auth(&app)).await.unwrap();
    let alive: Vec<bool> = {
        let mut alive = Vec::new();
        for id in &ids {
            alive.push(session_exists(&app, id).await);
        }
        alive
    };
    assert_eq!(alive, [false, false, true, true]);
}

#[tokio::test]
async fn maintenance_prunes_old_rotated_refresh_tokens_and_the_session_still_refreshes() {
    let app = spawn_app().await;
    let email = unique_email();
    let first = app.sign_up(&email, "password one").await;
    let id = session_id(&first);
    let second: Value = refresh(&app, &first).await.json().await.unwrap();
    let third: Value = refresh(&app, &second).await.json().await.unwrap();
    // Another session rotated a moment ago: its old token is kept to recognise a reuse.
    let other = app.sign_in(&email, "password one").await;
    let other_id = session_id(&other);
    assert_eq!(refresh(&app, &other).await.status(), StatusCode::OK);

    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = revoked_at - $1
         WHERE session_id = $2 AND revoked_at IS NOT NULL",
    )
    .bind(DAY + 60)
    .bind(&id)
    .execute(app.store.pool())
    .await
    .unwrap();
    // Without lifetimes configured, age alone ends nothing.
    age_sessions(&app, &id, "created_at", 400 * DAY).await;

    maintenance::run_once(auth(&app)).await.unwrap();
    let tokens = |session: &str| {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM refresh_tokens WHERE session_id = $1")
            .bind(session.to_owned())
            .fetch_one(app.store.pool())
    };
    assert_eq!(tokens(&id).await.unwrap(), 1, "only the live token is left");
    assert_eq!(tokens(&other_id).await.unwrap(), 2);
    // The live token's parent is gone; the session goes on.
    let response = refresh(&app, &third).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn maintenance_prunes_abandoned_flow_states_and_expired_auth_codes() {
    let app = spawn_app().await;
    let at = now();
    // (id, created_at, auth code issued at): the default code lifetime is 300 s.
    let flows = [
        ("abandoned", at - DAY - 60, None),
        ("code-expired", at - 400, Some(at - 301)),
        ("code-fresh", at - 100, Some(at - 10)),
        ("link-pending", at - 3600, None),
    ];
    for (id, created_at, issued_at) in flows {
        sqlx::query(
            "INSERT INTO flow_states (id, code_challenge, provider, authentication_method,
                                      redirect_to, auth_code, auth_code_issued_at, created_at)
             VALUES ($1, 'challenge', 'email', 'magiclink', 'http://localhost/', $2, $3, $4)",
        )
        .bind(id)
        .bind(issued_at.map(|_| id.as_bytes().to_vec()))
        .bind(issued_at)
        .bind(created_at)
        .execute(app.store.pool())
        .await
        .unwrap();
    }

    maintenance::run_once(auth(&app)).await.unwrap();
    let mut left: Vec<String> = sqlx::query_scalar("SELECT id FROM flow_states")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    left.sort();
    assert_eq!(left, ["code-fresh", "link-pending"]);
}

/// Inserts rate-limit counters `(bucket, key, window_start)`.
async fn insert_counters(app: &TestApp, counters: &[(&str, &str, i64)]) {
    for (bucket, key, window_start) in counters {
        sqlx::query(
            "INSERT INTO rate_limits (bucket, key, window_start, hits) VALUES ($1, $2, $3, 5)",
        )
        .bind(*bucket)
        .bind(*key)
        .bind(*window_start)
        .execute(app.store.pool())
        .await
        .unwrap();
    }
}

async fn counter_keys(app: &TestApp) -> Vec<String> {
    let mut keys: Vec<String> = sqlx::query_scalar("SELECT key FROM rate_limits")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    keys.sort();
    keys
}

#[tokio::test]
async fn maintenance_prunes_rate_limit_counters_an_hour_after_their_window() {
    let app = spawn_app().await;
    let at = now();
    insert_counters(
        &app,
        &[
            // Five-minute windows.
            ("sign_in", "a-ended-61-minutes-ago", at - 300 - 3660),
            ("sign_in", "b-ended-59-minutes-ago", at - 300 - 3540),
            // One-hour windows.
            ("email_address", "c-ended-59-minutes-ago", at - 3600 - 3540),
            ("email_address", "d-ended-61-minutes-ago", at - 3600 - 3660),
            ("authorize", "e-current", at - 10),
        ],
    )
    .await;
    maintenance::run_once(auth(&app)).await.unwrap();
    assert_eq!(
        counter_keys(&app).await,
        [
            "b-ended-59-minutes-ago",
            "c-ended-59-minutes-ago",
            "e-current"
        ]
    );
}

#[tokio::test]
async fn maintenance_picks_up_a_key_rotated_by_another_instance() {
    let app = spawn_app().await;
    // The key the app started with was made a minute ago; the new one signs from now on.
    sqlx::query(
        "UPDATE signing_keys SET created_at = created_at - 60, activates_at = activates_at - 60",
    )
    .execute(app.store.pool())
    .await
    .unwrap();
    let (kid, _) = keys::rotate(app.store.pool(), Duration::ZERO)
        .await
        .unwrap();
    maintenance::run_once(auth(&app)).await.unwrap();
    let session = app.sign_up(&unique_email(), "password one").await;
    let header = jsonwebtoken::decode_header(session["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
}

#[tokio::test]
async fn maintenance_runs_by_itself_when_a_server_starts() {
    let first = spawn_app().await;
    insert_counters(&first, &[("sign_in", "long-ended", 0)]).await;
    // Another instance starting on the same database prunes at once, unasked.
    let _second = spawn_app_in(first.data_dir.clone(), &[]).await;
    for _ in 0..100 {
        if counter_keys(&first).await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the counter was not pruned");
}

// 5. `/authorize`.

#[tokio::test]
async fn authorize_is_limited_per_client_and_a_refused_start_stores_nothing() {
    let app = spawn_app_with(&[
        ("FERROCHAT_GITHUB_CLIENT_ID", "gh-client"),
        ("FERROCHAT_GITHUB_CLIENT_SECRET", "gh-secret"),
        // Never contacted: starting a GitHub sign-in is a redirect.
        ("FERROCHAT_GITHUB_URL", "http://127.0.0.1:9"),
        ("FERROCHAT_GITHUB_API_URL", "http://127.0.0.1:9"),
    ])
    .await;
    let authorize = |client: reqwest::Client| {
        let challenge =
            ferrochat::contract::pkce::challenge(&ferrochat::contract::pkce::new_verifier());
        let url = app.url(&format!(
            "/auth/v1/authorize?provider=github&code_challenge={challenge}&code_challenge_method=s256"
        ));
        async move { client.get(url).send().await.unwrap() }
    };
    let flows = || count(&app, "SELECT COUNT(*) FROM flow_states");
    for attempt in 1..=30 {
        let response = authorize(app.client_from(90)).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "attempt {attempt}"
        );
    }
    assert_eq!(flows().await, 30);
    let (status, code, retry_after) = refusal(authorize(app.client_from(90)).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "over_request_rate_limit")
    );
    assert!(retry_after.is_some_and(|secs| (1..=300).contains(&secs)));
    assert_eq!(flows().await, 30, "a refused start stores nothing");
    let other = authorize(app.client_from(91)).await;
    assert_eq!(other.status(), StatusCode::SEE_OTHER);
    assert_eq!(flows().await, 31);
}
