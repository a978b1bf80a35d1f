//! The bounded load test: 500 virtual users, each from its own loopback address, sign up (which
//! signs them in), create chats, stream answers from the offline model, and stop every fourth
//! answer, against the real binary for a bounded time. It asserts zero 5xx, zero lost messages
//! (user messages in the database == acknowledged sends, no answer left streaming) and a bounded
//! resident memory of the server (sampled every 250 ms: under a bound, and not growing once
//! everyone has signed up).
//!
//! The short version runs in the test command. The soak is the same test, longer and bigger:
//! `bench/soak.sh` (FERROCHAT_LOAD_USERS, FERROCHAT_LOAD_SECS).

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::sync::Semaphore;

use crate::process::{rss_kib, start_binary, stop};

/// Peak resident memory the server may reach under the short run: measured 96–99 MiB for 500
/// users on a debug build (2026-11-30), since password hashing's 19 MiB buffers go back to the
/// system when freed (src/main.rs, `M_MMAP_THRESHOLD`); before that, 470–990 MiB stayed
/// resident after the sign-ups. About five times the measured peak.
const RSS_BOUND_KIB: u64 = 512 * 1024;
/// Sign-ups at once: password hashing is bounded by design (one hash per core; a request that
/// waits 2 s for its turn is shed with 503), so a well-behaved client population arrives over
/// time rather than in one instant. Two: the cores of the machines this runs on.
const SIGN_UPS_AT_ONCE: usize = 2;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// What the virtual users observed.
#[derive(Default)]
struct Tally {
    signed_up: AtomicU64,
    acknowledged: AtomicU64,
    stopped: AtomicU64,
    completed: AtomicU64,
    /// Every answer with a 5xx status or a failed request, with what it said.
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        self.failures.lock().unwrap().push(what);
    }
}

/// Virtual user `n`'s client: its own loopback address (127.0.1.0 – 127.0.255.255).
fn client(n: usize) -> reqwest::Client {
    let ip = std::net::Ipv4Addr::new(127, 0, 1 + (n / 250) as u8, 1 + (n % 250) as u8);
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::V4(ip))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// One virtual user's life: sign up, then chats until the deadline.
async fn virtual_user(
    n: usize,
    base: Arc<String>,
    deadline: Instant,
    sign_ups: Arc<Semaphore>,
    tally: Arc<Tally>,
) {
    let client = client(n);
    let token = {
        let _turn = sign_ups.acquire().await.unwrap();
        let response = client
            .post(format!("{base}/auth/v1/signup"))
            .json(&json!({ "email": format!("vu{n}-{}@load.test", std::process::id()), "password": "password one" }))
            .send()
            .await;
        match response {
            Ok(response) if response.status() == StatusCode::OK => {
                let session: Value = response.json().await.unwrap();
                tally.signed_up.fetch_add(1, Ordering::Relaxed);
                session["access_token"].as_str().unwrap().to_owned()
            }
            Ok(response) => {
                let status = response.status();
                return tally.fail(format!(
                    "sign-up {n}: {status} {}",
                    response.text().await.unwrap_or_default()
                ));
            }
            Err(error) => return tally.fail(format!("sign-up {n}: {error}")),
        }
    };
    let mut exchange = 0;
    // At least one exchange each, then as many as the time allows.
    while exchange == 0 || Instant::now() < deadline {
        let chat = uuid::Uuid::new_v4().to_string();
        for _ in 0..3 {
            exchange += 1;
            let stop_it = exchange % 4 == 0;
            let sent = client
                .post(format!("{base}/api/sessions/{chat}"))
                .bearer_auth(&token)
                .json(&json!({
                    "sessionId": chat,
                    "messages": [{ "role": "user", "content": format!("load {n} {exchange} tell me more please") }],
                }))
                .send()
                .await;
            let mut response = match sent {
                Ok(response) if response.status() == StatusCode::OK => response,
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    return tally.fail(format!("send {n}/{exchange}: {status} {body}"));
                }
                Err(error) => return tally.fail(format!("send {n}/{exchange}: {error}")),
            };
            tally.acknowledged.fetch_add(1, Ordering::Relaxed);
            if stop_it {
                // The first part of the answer, then the stop button.
                let _ = response.chunk().await;
                let stop = client
                    .post(format!("{base}/api/sessions/{chat}/stop"))
                    .bearer_auth(&token)
                    .send()
                    .await;
                match stop {
                    Ok(stop) if stop.status() == StatusCode::OK => {}
                    Ok(stop) => return tally.fail(format!("stop {n}: {}", stop.status())),
                    Err(error) => return tally.fail(format!("stop {n}: {error}")),
                }
                // Read what is left: the stream ends once the stop has been honoured.
                while let Ok(Some(_)) = response.chunk().await {}
                tally.stopped.fetch_add(1, Ordering::Relaxed);
            } else {
                match response.text().await {
                    Ok(text) if text.contains("\"finishReason\":\"stop\"") => {
                        tally.completed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(text) => {
                        let tail = &text[text.len().saturating_sub(200)..];
                        return tally.fail(format!("answer {n}/{exchange} ended badly: {tail}"));
                    }
                    Err(error) => return tally.fail(format!("answer {n}/{exchange}: {error}")),
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_users_chat_at_once_with_no_5xx_no_loss_and_bounded_memory() {
    let users = setting("FERROCHAT_LOAD_USERS", 500) as usize;
    let seconds = setting("FERROCHAT_LOAD_SECS", 20);
    let data = tempfile::tempdir().unwrap();
    let (server, base) = start_binary(data.path(), &[("RUST_LOG", "warn")]);
    let pid = server.id();
    let base = Arc::new(base);
    let tally = Arc::new(Tally::default());
    let sign_ups = Arc::new(Semaphore::new(SIGN_UPS_AT_ONCE));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);

    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (sampling, tally) = (sampling.clone(), tally.clone());
        let all = users as u64;
        tokio::spawn(async move {
            // (RSS, whether every user had signed up by then)
            let mut samples = Vec::new();
            while sampling.load(Ordering::Relaxed) {
                let signed_up = tally.signed_up.load(Ordering::Relaxed) == all;
                samples.push((rss_kib(pid).unwrap_or(0), signed_up));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            samples
        })
    };
    let users: Vec<_> = (0..users)
        .map(|n| {
            tokio::spawn(virtual_user(
                n,
                base.clone(),
                deadline,
                sign_ups.clone(),
                tally.clone(),
            ))
        })
        .collect();
    // Bounded: sign-ups take their turns, then every user ends its exchange after the deadline.
    let bound = Duration::from_secs(seconds + 240);
    for user in users {
        tokio::time::timeout(bound.saturating_sub(started.elapsed()), user)
            .await
            .expect("the load test ends in bounded time")
            .unwrap();
    }
    let elapsed = started.elapsed();

    // Stops and vanished readers are saved asynchronously: wait until no answer is streaming.
    let database = data.path().join("ferrochat.db");
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display()))
        .await
        .unwrap();
    let mut streaming = i64::MAX;
    for _ in 0..100 {
        streaming = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE status = 'streaming'")
            .fetch_one(&mut db)
            .await
            .unwrap();
        if streaming == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sampling.store(false, Ordering::Relaxed);
    let samples = sampler.await.unwrap();
    let peak = samples.iter().map(|(rss, _)| *rss).max().unwrap_or(0);
    // Once everyone has signed up (password hashing's memory stays resident: see the bound),
    // chatting must not make memory grow: its peak stays near the peak of the sign-ups.
    let peak_while = |after_sign_ups: bool| {
        samples
            .iter()
            .filter(|(_, signed_up)| *signed_up == after_sign_ups)
            .map(|(rss, _)| *rss)
            .max()
            .unwrap_or(0)
    };
    let (sign_up_peak, chat_peak) = (peak_while(false), peak_while(true));
    // Every 5 s (20 samples), for the printed timeline.
    let timeline: Vec<String> = samples
        .iter()
        .step_by(20)
        .enumerate()
        .map(|(i, (rss, _))| format!("{}s:{}MiB", i * 5, rss / 1024))
        .collect();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE role = 'user'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await
        .unwrap();
    stop(server);

    let failures = tally.failures.lock().unwrap().clone();
    let acknowledged = tally.acknowledged.load(Ordering::Relaxed);
    println!(
        "load: {} users, {elapsed:?}: {acknowledged} sends acknowledged ({} answers completed, {} \
         stopped), peak RSS {} MiB",
        setting("FERROCHAT_LOAD_USERS", 500),
        tally.completed.load(Ordering::Relaxed),
        tally.stopped.load(Ordering::Relaxed),
        peak / 1024
    );
    println!("load: server RSS over time: {}", timeline.join(" "));
    assert!(
        failures.is_empty(),
        "{} failures: {:#?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
    assert_eq!(
        stored as u64, acknowledged,
        "user messages stored vs acknowledged"
    );
    assert_eq!(streaming, 0, "answers left streaming");
    assert_eq!(integrity, "ok");
    assert!(
        tally.stopped.load(Ordering::Relaxed) > 0 && tally.completed.load(Ordering::Relaxed) > 0
    );
    assert!(peak > 0 && peak < RSS_BOUND_KIB, "peak RSS {peak} KiB");
    assert!(
        chat_peak <= sign_up_peak + sign_up_peak / 4 + 64 * 1024,
        "memory grows after the sign-ups: {timeline:?}"
    );
}
