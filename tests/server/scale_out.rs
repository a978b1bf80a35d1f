//! Two instances behind one site URL on one Postgres, as behind a load balancer: nothing that
//! correctness needs lives in only one of them. Sign-outs, rate limits, the refresh grace window
//! and signing keys are coordinated through the database; what each instance keeps for itself
//! (the session status memory, the JWKS cache, single-flight refreshes) only saves work.

use std::time::Duration;

use ferrochat::contract::SessionTokens;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::harness::{
    claims_of, cookies_from, sign_in_from, spawn_app_with, unique_email, TestApp,
};

const PASSWORD: &str = "password one";
/// The site's public URL, the same for both instances (as behind a balancer).
const SITE_URL: &str = "http://ferrochat.test";

/// Two instances on a new Postgres database, started one after the other as a rolling deploy
/// would.
async fn two_instances() -> (TestApp, TestApp) {
    let database = crate::databases::postgres_url().await;
    let vars = [
        ("DATABASE_URL", database.as_str()),
        ("FERROCHAT_SITE_URL", SITE_URL),
    ];
    let first = spawn_app_with(&vars).await;
    let second = spawn_app_with(&vars).await;
    (first, second)
}

/// `GET /api/sessions` with a bearer token: the status.
async fn read_with(app: &TestApp, token: &str) -> StatusCode {
    app.list_chats(token).await.status()
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap()
}

#[tokio::test]
async fn a_sign_out_on_one_instance_ends_the_session_there_at_once_and_on_the_other_when_its_memory_lapses(
) {
    let (a, b) = two_instances().await;
    let email = unique_email();
    a.sign_up(&email, PASSWORD).await;
    let session = a.sign_in(&email, PASSWORD).await;
    let token = str_of(&session, "access_token");
    // Both instances have seen the session signed in (and remember it).
    assert_eq!(read_with(&a, token).await, StatusCode::OK);
    assert_eq!(read_with(&b, token).await, StatusCode::OK);

    let logout = a
        .client
        .post(a.url("/auth/v1/logout"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let signed_out = Instant::now();
    assert_eq!(
        read_with(&a, token).await,
        StatusCode::UNAUTHORIZED,
        "at once on the instance that signed it out"
    );
    // The other instance learns it from the database when its memory of the session lapses
    // (FERROCHAT_SESSION_STATUS_CACHE_MS, 1 s by default). The bound leaves a busy machine room;
    // a memory that never lapsed, or lasted a token's lifetime, would fail it.
    loop {
        if read_with(&b, token).await == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            signed_out.elapsed() < Duration::from_secs(5),
            "the other instance still serves a signed-out session after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And never takes it back.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(read_with(&b, token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(read_with(&a, token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_the_status_memory_a_sign_out_on_one_instance_ends_the_session_on_the_other_at_once(
) {
    let database = crate::databases::postgres_url().await;
    let vars = [
        ("DATABASE_URL", database.as_str()),
        ("FERROCHAT_SITE_URL", SITE_URL),
        ("FERROCHAT_SESSION_STATUS_CACHE_MS", "0"),
    ];
    let a = spawn_app_with(&vars).await;
    let b = spawn_app_with(&vars).await;
    let email = unique_email();
    a.sign_up(&email, PASSWORD).await;
    let session = a.sign_in(&email, PASSWORD).await;
    let token = str_of(&session, "access_token");
    assert_eq!(read_with(&b, token).await, StatusCode::OK);
    let logout = a
        .client
        .post(a.url("/auth/v1/logout"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(read_with(&b, token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_rate_limit_hit_on_one_instance_holds_on_the_other() {
    let (a, b) = two_instances().await;
    let email = unique_email();
    a.sign_up(&email, PASSWORD).await;
    // The same guesser (one address) reaches either instance.
    let guesser_on_a = a.client_from(77);
    let guesser_on_b = b.client_from(77);
    let mut refused = 0;
    loop {
        let response = sign_in_from(&a, &guesser_on_a, &email, "not the password").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        refused += 1;
        assert!(refused <= 30, "no limit after 30 wrong passwords");
    }
    let on_b = sign_in_from(&b, &guesser_on_b, &email, PASSWORD).await;
    assert_eq!(
        on_b.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the other instance counts the same attempts"
    );
    let body: Value = on_b.json().await.unwrap();
    assert_eq!(body["error_code"], "over_request_rate_limit");
    assert!(body.get("access_token").is_none());
    // The owner, from elsewhere, is not locked out on either instance.
    let owner = sign_in_from(&b, &b.client_from(78), &email, PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_refresh_race_across_two_instances_keeps_the_user_signed_in() {
    let (a, b) = two_instances().await;
    let email = unique_email();
    let fresh = a.sign_up(&email, PASSWORD).await;
    // The browser's session, its access token expired a minute ago.
    let mut claims = claims_of(str_of(&fresh, "access_token"));
    let now = claims["iat"].as_i64().unwrap();
    claims["iat"] = json!(now - 3660);
    claims["exp"] = json!(now - 60);
    let session: SessionTokens = serde_json::from_value(json!({
        "access_token": a.mint(&claims).await,
        "token_type": "bearer",
        "expires_in": 3600,
        "expires_at": now - 60,
        "refresh_token": fresh["refresh_token"],
        "user": fresh["user"],
    }))
    .unwrap();
    let cookie: String = a.state.sessions.jar.store(&session)[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // The balancer sends the browser's concurrent requests to both instances.
    let requests: Vec<_> = (0..8)
        .map(|n| {
            let app = if n % 2 == 0 { &a } else { &b };
            tokio::spawn(
                app.client
                    .get(app.url("/chat"))
                    .header(header::COOKIE, cookie.clone())
                    .send(),
            )
        })
        .collect();
    let mut renewed = Vec::new();
    for request in requests {
        let response = request.await.unwrap().unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "signed in after a refresh, whichever instance refreshed first"
        );
        let cookies = cookies_from(&response);
        assert!(cookies.starts_with("sb-ferrochat-auth-token=base64-") && cookies != cookie);
        renewed.push(cookies);
    }
    assert_eq!(
        a.state.sessions.refresh_count(),
        1,
        "one refresh per instance"
    );
    assert_eq!(
        b.state.sessions.refresh_count(),
        1,
        "one refresh per instance"
    );
    // Whichever renewed session the browser kept works on either instance, and refreshes on.
    for cookies in [renewed.first().unwrap(), renewed.last().unwrap()] {
        for app in [&a, &b] {
            let page = app.page_with_cookies("/chat", cookies).await;
            assert_eq!(page.status(), StatusCode::OK);
        }
        let kept: SessionTokens = a.state.sessions.jar.load(cookies).unwrap();
        let refreshed = b
            .auth_post(
                "/token?grant_type=refresh_token",
                &json!({ "refresh_token": kept.refresh_token }),
            )
            .await;
        assert_eq!(refreshed.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_signing_key_rotated_in_through_one_instance_verifies_on_the_other_without_a_restart() {
    let (a, b) = two_instances().await;
    let email = unique_email();
    let before = a.sign_up(&email, PASSWORD).await;
    let kid_of = |session: &Value| {
        jsonwebtoken::decode_header(str_of(session, "access_token"))
            .unwrap()
            .kid
            .unwrap()
    };
    // Both instances have verified a token of the old key (and cached the key set).
    assert_eq!(
        read_with(&b, str_of(&before, "access_token")).await,
        StatusCode::OK
    );

    // `ferrochat rotate-signing-key`, from a third process: only the database changes.
    let lead = Duration::from_secs(1);
    let (new_kid, _) = ferrochat::auth_service::keys::rotate(a.store.pool(), lead)
        .await
        .unwrap();
    // Instance A publishes it (reading the keys again), then signs with it after its lead. The
    // other instance looks for an unknown key at most every `REFETCH_INTERVAL` (and reads the
    // whole set every `JWKS_MAX_AGE`, less than the default lead: with default settings no
    // token of a new key reaches an instance before it can know the key).
    let published = a.get("/auth/v1/.well-known/jwks.json").await;
    assert_eq!(published.status(), StatusCode::OK);
    tokio::time::sleep(
        lead.max(ferrochat::auth::verify::REFETCH_INTERVAL) + Duration::from_secs(1),
    )
    .await;
    let after = a.sign_in(&email, PASSWORD).await;
    assert_eq!(kid_of(&after), new_kid);
    assert_eq!(
        read_with(&b, str_of(&after, "access_token")).await,
        StatusCode::OK,
        "the other instance verifies the new key's token without a restart"
    );
    assert_eq!(
        read_with(&b, str_of(&before, "access_token")).await,
        StatusCode::OK,
        "and still the old key's"
    );
}

/// The text parts (`0:"…"`) of a data stream read so far.
fn text_of(stream: &str) -> String {
    stream
        .lines()
        .filter_map(|line| line.strip_prefix("0:"))
        .map(|part| serde_json::from_str::<String>(part).expect("a JSON string"))
        .collect()
}

#[tokio::test]
async fn an_instance_killed_mid_answer_loses_no_acknowledged_message() {
    use futures_util::StreamExt;

    let database = crate::databases::postgres_url().await;
    let vars = [
        ("DATABASE_URL", database.as_str()),
        ("FERROCHAT_SITE_URL", SITE_URL),
        // The offline echo, a word every 50 ms: an answer that takes seconds.
        ("FERROCHAT_OFFLINE_TOKEN_DELAY_MS", "50"),
    ];
    // The instance that will die is the real binary, killed with SIGKILL: nothing of it runs on.
    let data = tempfile::tempdir().unwrap();
    let mut doomed_vars = vars.to_vec();
    doomed_vars.push(("RUST_LOG", "warn"));
    let (mut doomed, doomed_url) = crate::process::start_binary(data.path(), &doomed_vars);
    let survivor = spawn_app_with(&vars).await;
    let session = survivor.sign_up(&unique_email(), PASSWORD).await;
    let token = str_of(&session, "access_token");

    let chat = uuid::Uuid::new_v4().to_string();
    let words: Vec<String> = (0..200).map(|n| format!("word{n}")).collect();
    let message = words.join(" ");
    let response = survivor
        .client
        .post(format!("{doomed_url}/api/sessions/{chat}"))
        .bearer_auth(token)
        .json(&json!({ "model": "offline-echo", "messages": [{ "role": "user", "content": message }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the message is acknowledged"
    );
    // Read until the answer has been under way for over a second (a progress save is due every
    // second), then kill the instance writing it.
    let mut body = response.bytes_stream();
    let mut received = String::new();
    let mut first_text_at = None;
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .expect("the answer streams")
            .expect("the answer goes on")
            .unwrap();
        received.push_str(&String::from_utf8_lossy(&chunk));
        if first_text_at.is_none() && !text_of(&received).is_empty() {
            first_text_at = Some(Instant::now());
        }
        if first_text_at.is_some_and(|at| at.elapsed() > Duration::from_millis(2500)) {
            break;
        }
    }
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    let read_by_the_client = text_of(&received);

    // The other instance has the chat, the message exactly, and the answer as far as it was saved.
    let chats: Value = survivor
        .client
        .get(survivor.url("/api/sessions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(chats[0]["id"], chat.as_str());
    let messages: Value = survivor
        .client
        .get(survivor.url(&format!("/api/sessions/{chat}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = messages.as_array().unwrap();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"], message.as_str());
    assert_eq!(messages[1]["role"], "assistant");
    let saved = messages[1]["content"].as_str().unwrap();
    assert!(
        !saved.is_empty(),
        "the answer's progress was saved before the crash"
    );
    assert!(
        read_by_the_client.starts_with(saved) || saved.starts_with(&read_by_the_client),
        "saved {saved:?}, read {read_by_the_client:?}"
    );
}
