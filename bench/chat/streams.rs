//! Memory with 1,000 answers streaming at once: the resident memory of the server binary, run as
//! a process of its own (tests/server/process.rs) so that its RSS is the server's alone, while
//! 1,000 readers each hold a stream open through it to a fake provider that writes slowly.

use std::{
    fmt::Write as _,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use serde_json::{json, Value};
use tokio::{task::JoinSet, time::Instant};

use crate::{
    process::{rss_kib, signal, start_binary},
    summary::Budgeted,
    thousands,
    upstream::{Plan, TimedUpstream},
};

/// Answers streaming at once.
pub const STREAMS: usize = 1_000;
/// The model id the fake is offered as (`FERROCHAT_MODELS`).
const MODEL: &str = "slow-model";
/// The fake's pause before each token, and the tokens in an answer: two minutes, so that every
/// answer is still being written while the memory is sampled.
const TOKEN_GAP: Duration = Duration::from_millis(100);
const TOKENS: usize = 1_200;
/// How long every stream may take to receive its first token, from the first send.
const OPEN_LIMIT: Duration = Duration::from_secs(60);
/// How long one send may wait for its response headers, and one read for its next chunk.
const SEND_LIMIT: Duration = Duration::from_secs(30);
const READ_LIMIT: Duration = Duration::from_secs(30);
/// The memory samples taken while every stream is open.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
const SAMPLES: usize = 20;
/// How long the server may take to exit after SIGTERM before it is killed.
const STOP_LIMIT: Duration = Duration::from_secs(20);
/// The budget of issue #13: 200 MB (10^6 bytes).
const BUDGET_BYTES: f64 = 200e6;

/// What the readers observed.
#[derive(Default)]
struct Tally {
    /// Streams that received a token and have not ended.
    open: AtomicUsize,
    /// Streams refused, failed, ended early or stalled.
    failed: AtomicUsize,
    /// The first few failures, as they were seen.
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut failures = self.failures.lock().unwrap();
        if failures.len() < 3 {
            failures.push(what);
        }
    }
}

/// KiB as MB (10^6 bytes).
fn megabytes(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", megabytes(kib))
}

/// The server's RSS now, in KiB (0 if it could not be read).
fn rss(pid: u32) -> u64 {
    rss_kib(pid).unwrap_or(0)
}

/// One reader: sends a message to a new session, then reads the answer chunk by chunk until it
/// ends or the task is aborted. Counted open from its first text part (`0:`) on.
async fn reader(client: reqwest::Client, base: Arc<String>, token: Arc<String>, tally: Arc<Tally>) {
    let id = uuid::Uuid::new_v4().to_string();
    let sent = tokio::time::timeout(
        SEND_LIMIT,
        client
            .post(format!("{base}/api/sessions/{id}"))
            .bearer_auth(token.as_str())
            .json(&json!({
                "sessionId": id,
                "model": MODEL,
                "messages": [{ "role": "user", "content": "Count slowly for me" }],
            }))
            .send(),
    )
    .await;
    let mut response = match sent {
        Ok(Ok(response)) if response.status() == 200 => response,
        Ok(Ok(response)) => {
            let status = response.status();
            let body = tokio::time::timeout(READ_LIMIT, response.text())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            return tally.fail(format!("send: {status} {body}"));
        }
        Ok(Err(error)) => return tally.fail(format!("send: {error}")),
        Err(_) => return tally.fail("send: no answer within 30 s".into()),
    };
    let mut pending = Vec::new();
    let mut counted = false;
    let ended = loop {
        let chunk = match tokio::time::timeout(READ_LIMIT, response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => break "the answer ended".to_owned(),
            Ok(Err(error)) => break format!("read: {error}"),
            Err(_) => break "no chunk within 30 s".to_owned(),
        };
        if counted {
            continue;
        }
        // Lines until the first text part; an error part is a failure.
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if line.starts_with(b"0:") && !counted {
                counted = true;
                tally.open.fetch_add(1, Ordering::Relaxed);
            } else if line.starts_with(b"3:") {
                let error = String::from_utf8_lossy(&line).trim().to_owned();
                if counted {
                    tally.open.fetch_sub(1, Ordering::Relaxed);
                }
                return tally.fail(format!("error part: {error}"));
            }
        }
        if counted {
            pending = Vec::new();
        }
    };
    if counted {
        tally.open.fetch_sub(1, Ordering::Relaxed);
    }
    tally.fail(ended);
}

/// Signs a user up on the server: its access token.
async fn sign_up(client: &reqwest::Client, base: &str) -> String {
    let response = client
        .post(format!("{base}/auth/v1/signup"))
        .json(&json!({
            "email": format!("streams-{}@bench.test", std::process::id()),
            "password": "bench-password-1234",
        }))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("the sign-up reaches the server");
    assert_eq!(response.status(), 200, "sign-up");
    let session: Value = response.json().await.unwrap();
    session["access_token"].as_str().unwrap().to_owned()
}

/// SIGTERM, then SIGKILL if the server has not exited within [`STOP_LIMIT`].
async fn stop_bounded(mut server: std::process::Child) {
    signal(&server, "-TERM");
    let deadline = Instant::now() + STOP_LIMIT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.try_wait() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("streams: the server did not exit within 20 s of SIGTERM: killed");
    let _ = server.kill();
    let _ = server.wait();
}

/// The section: `STREAMS` answers streaming at once, the server's RSS before and during.
pub async fn section(out: &mut String, budgets: &mut Vec<Budgeted>) {
    eprintln!("streams: starting the server binary and the fake provider");
    let upstream = TimedUpstream::start(Plan {
        tokens: TOKENS,
        gap: TOKEN_GAP,
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let (server, base) = {
        let data = data.path().to_owned();
        let upstream_url = upstream.base_url.clone();
        tokio::task::spawn_blocking(move || {
            start_binary(
                &data,
                &[
                    ("OPENAI_BASE_URL", upstream_url.as_str()),
                    ("FERROCHAT_MODELS", MODEL),
                    ("FERROCHAT_CHAT_STREAMS_PER_USER", &STREAMS.to_string()),
                    ("RUST_LOG", "warn"),
                ],
            )
        })
        .await
        .unwrap()
    };
    let pid = server.id();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let token = Arc::new(sign_up(&client, &base).await);
    let base = Arc::new(base);

    // Idle: signed up, nothing streaming; the largest of a second's samples.
    let mut idle = 0;
    for _ in 0..4 {
        tokio::time::sleep(SAMPLE_EVERY).await;
        idle = idle.max(rss(pid));
    }

    eprintln!("streams: opening {STREAMS} streams");
    let tally = Arc::new(Tally::default());
    let mut readers = JoinSet::new();
    let started = Instant::now();
    for _ in 0..STREAMS {
        readers.spawn(reader(
            client.clone(),
            base.clone(),
            token.clone(),
            tally.clone(),
        ));
    }
    // Until every stream has its first token, or none can come any more, or the limit.
    let mut opened_in = None;
    while started.elapsed() < OPEN_LIMIT {
        let open = tally.open.load(Ordering::Relaxed);
        if open == STREAMS {
            opened_in = Some(started.elapsed());
            break;
        }
        if open + tally.failed.load(Ordering::Relaxed) >= STREAMS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    eprintln!(
        "streams: {} open, sampling the server's memory",
        tally.open.load(Ordering::Relaxed)
    );
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        samples.push((rss(pid), tally.open.load(Ordering::Relaxed)));
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    let peak = samples.iter().map(|(rss, _)| *rss).max().unwrap_or(0);
    let fewest_open = samples.iter().map(|(_, open)| *open).min().unwrap_or(0);

    // The readers go away; what the server still holds a moment later.
    readers.shutdown().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss(pid);
    stop_bounded(server).await;
    let failed = tally.failed.load(Ordering::Relaxed);
    let failures = tally.failures.lock().unwrap().clone();

    let all_open = fewest_open == STREAMS;
    let met = all_open && peak as f64 * 1024.0 <= BUDGET_BYTES;
    let per_stream = if fewest_open > 0 {
        format!(
            "{:.1} KiB",
            peak.saturating_sub(idle) as f64 / fewest_open as f64
        )
    } else {
        "—".to_owned()
    };
    budgets.push(Budgeted::alone(
        "memory: 1,000 concurrent streams, server RSS (peak)",
        if all_open {
            mb(peak)
        } else {
            format!(
                "{} (only {} of {} streams open)",
                mb(peak),
                thousands(fewest_open),
                thousands(STREAMS)
            )
        },
        "≤ 200 MB",
        met,
    ));

    let _ = writeln!(
        out,
        "## Memory: {} concurrent streams\n",
        thousands(STREAMS)
    );
    let _ = writeln!(
        out,
        "The server binary (bench profile) as a process of its own (tests/server/process.rs), \
         so that its resident memory (`VmRSS`) is the server's alone, on a fresh SQLite file, \
         `RUST_LOG=warn`, pointed at the fake provider (`OPENAI_BASE_URL`, \
         `FERROCHAT_MODELS`), which answers every request with {} tokens {} ms apart, so that \
         every answer is still being written while it is measured. One signed-up user with \
         `FERROCHAT_CHAT_STREAMS_PER_USER={STREAMS}` for this section only: the default, 3 \
         answers at once per person, would refuse the fourth with 429. Nothing else limits \
         chat sends (the rate limits cover sign-in, sign-up, refresh, emails and anonymous \
         sign-ups), so nothing else is changed. Each stream is a send to a new session \
         (`POST /api/sessions/{{id}}`) on a connection of its own, all sent at once, each \
         answer read chunk by chunk. Once every stream had received its first token, the RSS was sampled every {} ms, {} times; \
         then the readers went away and the server was stopped. Per stream: (peak − idle) / \
         streams open. MB = 10⁶ bytes.\n",
        thousands(TOKENS),
        TOKEN_GAP.as_millis(),
        SAMPLE_EVERY.as_millis(),
        SAMPLES
    );
    let _ = writeln!(out, "| what | value |\n|---|---|");
    let _ = writeln!(
        out,
        "| RSS idle (signed up, nothing streaming) | {} |",
        mb(idle)
    );
    let _ = writeln!(out, "| RSS with the streams open, peak | {} |", mb(peak));
    let _ = writeln!(out, "| per stream | {per_stream} |");
    let _ = writeln!(
        out,
        "| streams open while sampled (fewest) | {} of {} |",
        thousands(fewest_open),
        thousands(STREAMS)
    );
    let _ = writeln!(
        out,
        "| all streams had their first token after | {} |",
        opened_in.map_or_else(
            || format!("not within {} s", OPEN_LIMIT.as_secs()),
            |elapsed| format!("{:.1} s", elapsed.as_secs_f64())
        )
    );
    let _ = writeln!(
        out,
        "| RSS 2 s after the readers went away | {} |",
        mb(after)
    );
    if !all_open {
        let _ = writeln!(
            out,
            "\nOnly {} of {} streams were open while the memory was sampled: the budget is \
             not met.",
            thousands(fewest_open),
            thousands(STREAMS)
        );
    }
    if failed > 0 {
        let _ = writeln!(
            out,
            "\n{} streams failed or ended before the readers went away; the first: {}",
            thousands(failed),
            failures
                .iter()
                .map(|failure| format!("`{}`", failure.replace(['`', '\n'], " ")))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let _ = writeln!(out);
}
