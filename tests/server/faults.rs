//! The fault suite: the process killed mid-write, a full disk, a locked SQLite database,
//! Postgres dropping its connections, the auth provider out of reach, a model slow to start or
//! stalling. Each ends with nothing acknowledged lost, nothing half-written, the database intact
//! and a message a person can act on. (More of the model's faults are in chat_api and chat_llm;
//! docs/SECURITY.md lists them with these.)

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use sqlx::Connection;

use crate::{
    fake_provider::{bytes, pause, role_event, token_event, FakeProvider, Reply, MODEL},
    harness::{cookies_from, spawn_app, spawn_app_with, unique_email},
    process::{server_log, signal as kill, start_binary, start_binary_with_file_cap, stop},
};

/// Sends one message into `chat` and returns once the server acknowledged it (200: the message
/// is stored and the answer begins), dropping the answer's stream.
async fn acknowledged_send(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    chat: &str,
    content: &str,
) -> Result<(), String> {
    let response = client
        .post(format!("{base}/api/sessions/{chat}"))
        .bearer_auth(token)
        .json(&json!({ "sessionId": chat, "messages": [{ "role": "user", "content": content }] }))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .map_err(|error| error.to_string())?;
    match response.status() {
        StatusCode::OK => Ok(()),
        status => Err(format!(
            "{status} {}",
            response.text().await.unwrap_or_default()
        )),
    }
}

/// Signs up through the API of the server at `base` from `client`; the access token.
async fn sign_up_at(client: &reqwest::Client, base: &str) -> String {
    let session: Value = client
        .post(format!("{base}/auth/v1/signup"))
        .json(&json!({ "email": unique_email(), "password": "password one" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    session["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{session}"))
        .to_owned()
}

/// A client connecting from `127.0.0.<n>`.
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, n]))
        .build()
        .unwrap()
}

/// `PRAGMA integrity_check` of the SQLite file, and the user messages it holds.
async fn inspect(database: &std::path::Path) -> (String, Vec<String>) {
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display()))
        .await
        .unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let messages = sqlx::query_scalar("SELECT content FROM messages WHERE role = 'user'")
        .fetch_all(&mut db)
        .await
        .unwrap();
    (integrity, messages)
}

#[tokio::test]
async fn kill_9_during_a_burst_of_writes_loses_no_acknowledged_message() {
    let data = tempfile::tempdir().unwrap();
    let (mut child, base) = start_binary(data.path(), &[]);
    // Eight people with three chats each: every send below is allowed (three answers at once
    // per person), so each refusal is the kill's doing.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for person in 0..8u8 {
        let client = client_from(50 + person);
        let token = sign_up_at(&client, &base).await;
        for chat_no in 0..3 {
            let (client, token, base) = (client.clone(), token.clone(), base.clone());
            let acknowledged = acknowledged.clone();
            writers.push(tokio::spawn(async move {
                let chat = uuid::Uuid::new_v4().to_string();
                for n in 0..200 {
                    let content = format!("person {person} chat {chat_no} message {n}");
                    match acknowledged_send(&client, &base, &token, &chat, &content).await {
                        Ok(()) => acknowledged.lock().unwrap().push(content),
                        // The answer is still being written: a busy chat, not a loss.
                        Err(error) if error.starts_with("409") => {}
                        Err(_) => return,
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    kill(&child, "-KILL");
    child.wait().unwrap();
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("every writer ends once the server is gone")
            .unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 24,
        "a burst happened: {}",
        acknowledged.len()
    );

    let (integrity, stored) = inspect(&data.path().join("ferrochat.db")).await;
    assert_eq!(integrity, "ok");
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|sent| !stored.contains(sent))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");

    // The same data directory serves again, and takes new messages.
    let (child, base) = start_binary(data.path(), &[]);
    let client = client_from(60);
    let token = sign_up_at(&client, &base).await;
    let chat = uuid::Uuid::new_v4().to_string();
    acknowledged_send(&client, &base, &token, &chat, "after the crash")
        .await
        .unwrap();
    stop(child);
}

#[tokio::test]
async fn a_full_disk_is_a_clear_error_and_corrupts_nothing() {
    let data = tempfile::tempdir().unwrap();
    // A first start creates the database; the second runs with files capped (`ulimit -f`, in
    // KiB) a little above its size, SIGXFSZ ignored so a write past the cap fails with EFBIG
    // as on a full disk, instead of killing the process.
    let (first, _) = start_binary(data.path(), &[]);
    stop(first);
    let size: u64 = ["ferrochat.db", "ferrochat.db-wal"]
        .iter()
        .filter_map(|name| std::fs::metadata(data.path().join(name)).ok())
        .map(|meta| meta.len())
        .max()
        .unwrap();
    let cap_kib = size / 1024 + 768;
    let (capped, base) = start_binary_with_file_cap(data.path(), cap_kib);
    let client = client_from(70);
    let token = sign_up_at(&client, &base).await;
    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for n in 0..200 {
        let chat = uuid::Uuid::new_v4().to_string();
        // Just under the longest message allowed (32,000 characters).
        let content = format!("{n} {}", "x".repeat(30_000));
        match acknowledged_send(&client, &base, &token, &chat, &content).await {
            Ok(()) => acknowledged.push(content),
            Err(error) => {
                refusal = Some(error);
                break;
            }
        }
    }
    let refusal = refusal.expect("the cap was reached");
    assert!(
        refusal.starts_with("503 Service Unavailable")
            && refusal.contains("The chat could not be reached just now. Please try again."),
        "{}",
        &refusal[..refusal.len().min(300)]
    );
    stop(capped);
    let logs = server_log(data.path());
    assert!(!logs.contains("panicked"), "{logs}");

    let (integrity, stored) = inspect(&data.path().join("ferrochat.db")).await;
    assert_eq!(integrity, "ok");
    assert!(!acknowledged.is_empty());
    for sent in &acknowledged {
        assert!(stored.contains(sent), "acknowledged but lost");
    }
    // With room again, the same database takes writes.
    let (child, base) = start_binary(data.path(), &[]);
    let chat = uuid::Uuid::new_v4().to_string();
    let token = sign_up_at(&client, &base).await;
    acknowledged_send(&client, &base, &token, &chat, "room again")
        .await
        .unwrap();
    stop(child);
}

#[tokio::test]
async fn a_locked_sqlite_database_is_a_clear_error_and_nothing_is_half_written() {
    let app = spawn_app().await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let chat = uuid::Uuid::new_v4().to_string();
    // Another process holds the write lock longer than the app's busy timeout (5 s).
    let mut other = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        app.data_dir.path().join("ferrochat.db").display()
    ))
    .await
    .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let refused = acknowledged_send(&app.client, &app.base_url, &token, &chat, "while locked")
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        "503 Service Unavailable {\"detail\":\"The chat could not be reached just now. Please \
         try again.\"}"
    );
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    let half: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM chat_sessions WHERE id = $1")
        .bind(&chat)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(half, 0, "no chat without its message");
    acknowledged_send(&app.client, &app.base_url, &token, &chat, "once free")
        .await
        .unwrap();
}

/// A TCP relay in front of `upstream` that can be cut: afterwards connections are refused and
/// open ones are closed, as when a host goes away.
struct Relay {
    tasks: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Relay {
    fn start(listener: tokio::net::TcpListener, upstream: std::net::SocketAddr) -> Relay {
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let registry = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let connection = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().unwrap().push(connection.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accept.abort_handle());
        Relay { tasks }
    }

    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

#[tokio::test]
async fn with_the_auth_provider_out_of_reach_tokens_keep_verifying_and_sign_in_says_try_again() {
    // The project's public URL (its tokens' issuer) is the relay's, as a Supabase project's is
    // the address clients reach it by.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let project = spawn_app_with(&[("FERROCHAT_SITE_URL", &public)]).await;
    let relay = Relay::start(listener, project.address);
    // The project's answer on a session is trusted for one second (30 by default): the outage
    // below outlasts it, so the page is served on the project's last, stale answer.
    let app = spawn_app_with(&[
        ("SUPABASE_URL", &public),
        ("SUPABASE_ANON_KEY", "anon-key"),
        ("FERROCHAT_REMOTE_SESSION_CHECK_SECS", "1"),
    ])
    .await;
    let email = unique_email();
    project.sign_up(&email, "password one").await;
    let signed_in = app.submit_login(&email, "password one").await;
    let cookies = cookies_from(&signed_in);
    let page = app.page_with_cookies("/chat", &cookies).await;
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the keys are fetched and cached"
    );
    let unseen = project.sign_in(&email, "password one").await;

    relay.cut();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let page = app.page_with_cookies("/chat", &cookies).await;
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "verified from the cached JWKS, standing as the project last said"
    );
    assert!(page.text().await.unwrap().contains(&email));
    // A session the app never asked the project about may have been signed out there: no data
    // until it can be asked, and no verdict either.
    let unchecked = app
        .list_chats(unseen["access_token"].as_str().unwrap())
        .await;
    assert_eq!(unchecked.status(), StatusCode::SERVICE_UNAVAILABLE);

    // A new sign-in cannot be checked: 503 and words that say to try again, nothing else.
    let refused = app
        .client
        .post(app.url("/api/auth/login"))
        .form(&[
            ("email", email.as_str()),
            ("password", "password one"),
            ("next", "/chat"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.text().await.unwrap(), "\"Unavailable\"");
    // Without JavaScript: back to the form, which says so.
    let form = app.submit_login(&email, "password one").await;
    assert!(form.status().is_redirection(), "{}", form.status());
    let back = form.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let back = url::Url::parse(&app.base_url).unwrap().join(&back).unwrap();
    let page = app
        .client
        .get(back)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Please try again in a moment."), "{page}");
}

/// The stored answer of a chat (status, content, error), once it is no longer streaming.
async fn settled_answer(app: &crate::harness::TestApp, chat: &str) -> (String, String, String) {
    for _ in 0..100 {
        let answer: Option<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT status, content, error FROM messages
             WHERE chat_session_id = $1 AND role = 'assistant' AND status != 'streaming'",
        )
        .bind(chat)
        .fetch_optional(app.store.pool())
        .await
        .unwrap();
        if let Some((status, content, error)) = answer {
            return (status, content, error.unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the answer of {chat} never settled");
}

/// A chat with a model that misbehaves as `reply` says, with 1 s timeouts: the whole exchange
/// through the starter API, then what the stream said and what the database kept.
async fn exchange_with_a_faulty_model(
    reply: Reply,
) -> (String, Vec<String>, (String, String, String)) {
    let fake = FakeProvider::start(reply).await;
    let app = spawn_app_with(&[
        ("OPENAI_BASE_URL", fake.base_url.as_str()),
        ("FERROCHAT_MODELS", MODEL),
        ("FERROCHAT_LLM_FIRST_TOKEN_TIMEOUT_SECS", "1"),
        ("FERROCHAT_LLM_IDLE_TIMEOUT_SECS", "1"),
    ])
    .await;
    let session = app.sign_up(&unique_email(), "password one").await;
    let token = session["access_token"].as_str().unwrap();
    let chat = uuid::Uuid::new_v4().to_string();
    let response = app
        .client
        .post(app.url(&format!("/api/sessions/{chat}")))
        .bearer_auth(token)
        .json(&json!({ "sessionId": chat, "messages": [{ "role": "user", "content": "Tell me" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let stream = tokio::time::timeout(Duration::from_secs(20), response.text())
        .await
        .expect("the stream ends")
        .unwrap();
    let questions: Vec<String> = sqlx::query_scalar(
        "SELECT content FROM messages WHERE chat_session_id = $1 AND role = 'user'",
    )
    .bind(&chat)
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    (stream, questions, settled_answer(&app, &chat).await)
}

#[tokio::test]
async fn a_model_slow_to_its_first_token_ends_in_a_clear_error_and_keeps_the_question() {
    let (stream, questions, answer) = exchange_with_a_faulty_model(Reply::Stream {
        delay: Duration::from_secs(3),
        pieces: vec![bytes(&role_event()), bytes(&token_event("Too late"))],
    })
    .await;
    let message = "The model took too long to start answering. Please try again.";
    assert!(stream.contains(message), "{stream}");
    assert_eq!(questions, ["Tell me"]);
    assert_eq!(answer, ("error".into(), String::new(), message.into()));
}

#[tokio::test]
async fn a_model_that_stalls_mid_answer_ends_in_a_clear_error_and_keeps_the_partial_answer() {
    let (stream, questions, answer) = exchange_with_a_faulty_model(Reply::Stream {
        delay: Duration::ZERO,
        pieces: vec![
            bytes(&role_event()),
            bytes(&token_event("Half")),
            pause(3000),
            bytes(&token_event(" never")),
        ],
    })
    .await;
    let message = "The model stopped answering partway through. Please try again.";
    assert!(stream.contains(message), "{stream}");
    assert_eq!(questions, ["Tell me"]);
    assert_eq!(answer, ("error".into(), "Half".into(), message.into()));
}

/// Postgres going away under the app, as in a restart: every connection of the app's database
/// is terminated by the server, again and again, while people write. Sends fail with the clear
/// 503 or succeed; none is half-written; afterwards everything works and nothing acknowledged is
/// missing. (The test server is shared by the suite, so its backends are terminated rather than
/// the server restarted: what the app sees is the same, connections cut mid-use.)
#[tokio::test]
async fn postgres_dropping_every_connection_mid_use_loses_nothing_acknowledged() {
    let url = crate::databases::postgres_url().await;
    let database = url.rsplit('/').next().unwrap().to_owned();
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let session = app.sign_up(&unique_email(), "password one").await;
        tokens.push(session["access_token"].as_str().unwrap().to_owned());
    }
    let token = tokens[0].clone();
    let writers: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(writer, token)| {
            let (client, base) = (app.client.clone(), app.base_url.clone());
            let (acknowledged, refusals) = (acknowledged.clone(), refusals.clone());
            tokio::spawn(async move {
                for n in 0..40 {
                    let chat = uuid::Uuid::new_v4().to_string();
                    let content = format!("writer {writer} message {n}");
                    match acknowledged_send(&client, &base, &token, &chat, &content).await {
                        Ok(()) => acknowledged.lock().unwrap().push((chat, content)),
                        // The answer before, whose reader left, is still being ended.
                        Err(error) if error.starts_with("429") => {}
                        Err(error) => refusals.lock().unwrap().push((chat, token.clone(), error)),
                    }
                }
            })
        })
        .collect();
    let admin = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url.replace(&format!("/{database}"), "/postgres"))
        .await
        .unwrap();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&database)
        .execute(&admin)
        .await
        .unwrap();
    }
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(120), writer)
            .await
            .expect("the writers end")
            .unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let refusals = refusals.lock().unwrap().clone();
    // Refused by the chat store or by the session check before it, in words either way.
    for (_, _, refusal) in &refusals {
        assert!(
            refusal.starts_with("503 Service Unavailable")
                && (refusal.contains("The chat could not be reached just now. Please try again.")
                    || refusal
                        .contains("Your sign-in could not be checked just now. Please try again.")),
            "{refusal}"
        );
    }
    for (chat, content) in &acknowledged {
        let stored: Vec<String> = sqlx::query_scalar(
            "SELECT content FROM messages WHERE chat_session_id = $1 AND role = 'user'",
        )
        .bind(chat)
        .fetch_all(app.store.pool())
        .await
        .unwrap();
        assert_eq!(stored, std::slice::from_ref(content));
    }
    // A refused send leaves no question without its answer row (the exchange is one
    // transaction); it may leave its chat behind, empty, as the starter's own sessions can be
    // (the chat is created before the exchange: a known gap), and sending again into it works
    // (once the person's answers cut by the outage have been ended: 429 until then).
    let mut retried = false;
    for (chat, owner, _) in &refusals {
        let roles: Vec<String> = sqlx::query_scalar(
            "SELECT role FROM messages WHERE chat_session_id = $1 ORDER BY role",
        )
        .bind(chat)
        .fetch_all(app.store.pool())
        .await
        .unwrap();
        assert!(
            roles.is_empty() || roles == ["assistant", "user"],
            "half an exchange: {roles:?}"
        );
        if roles.is_empty() && !retried {
            retried = true;
            send_once_there_is_room(&app, owner, chat, "again")
                .await
                .unwrap();
        }
    }
    assert!(!acknowledged.is_empty());
    let chat = uuid::Uuid::new_v4().to_string();
    send_once_there_is_room(&app, &token, &chat, "after")
        .await
        .unwrap();
}

/// A send by the owner of `token`, once they have room for another answer: their answers cut
/// by the outage are ended by the relay's upkeep, and until then a send is refused with 429
/// (the per-person stream limit). Bounded: 40 s.
async fn send_once_there_is_room(
    app: &crate::harness::TestApp,
    token: &str,
    chat: &str,
    content: &str,
) -> Result<(), String> {
    let mut sent = Err(String::new());
    for _ in 0..80 {
        sent = acknowledged_send(&app.client, &app.base_url, token, chat, content).await;
        match &sent {
            Err(error) if error.starts_with("429") => {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            _ => break,
        }
    }
    sent
}
