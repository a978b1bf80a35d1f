//! Measurements through the real app, started as the test suite starts it: how much later a
//! token reaches a reader through ferrochat than straight from the provider, and how soon the
//! provider's connection closes after a stop or after the reader goes away.

use std::{pin::Pin, time::Duration};

use axum::body::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::{
    harness::{unique_email, TestApp},
    stats::Samples,
    upstream::{now_ns, stamp_of, Plan, TimedUpstream},
};

/// The model id the fake is offered as (`FERROCHAT_MODELS`).
pub const MODEL: &str = "timed-model";
/// The longest any one response is read before the benchmark gives up.
const READ_LIMIT: Duration = Duration::from_secs(60);
/// How long the provider's connection may take to close after a stop before the run fails.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);
/// Tokens read before a stream is stopped or dropped: it is well under way.
const TOKENS_BEFORE_ENDING: usize = 3;

/// A response body read line by line, each line with the time its last chunk arrived.
struct Lines {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    pending: Vec<u8>,
    received_ns: u64,
}

impl Lines {
    fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200, "a streamed answer");
        Lines {
            body: Box::pin(response.bytes_stream()),
            pending: Vec::new(),
            received_ns: 0,
        }
    }

    /// The next line and when it arrived ([`now_ns`]); None at the end of the body.
    async fn next(&mut self) -> Option<(String, u64)> {
        loop {
            if let Some(end) = self.pending.iter().position(|&byte| byte == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let line = String::from_utf8(line[..end].to_vec()).expect("UTF-8 lines");
                return Some((line, self.received_ns));
            }
            let chunk = tokio::time::timeout(READ_LIMIT, self.body.next())
                .await
                .expect("the stream goes on or ends in time")?;
            self.received_ns = now_ns();
            self.pending
                .extend_from_slice(&chunk.expect("the stream reads without error"));
        }
    }
}

/// How long a token took from the fake to its reader.
fn latency(token: &str, received_ns: u64) -> Duration {
    Duration::from_nanos(received_ns - stamp_of(token))
}

/// A signed-up user of the app, chatting through its HTTP API.
pub struct Chatter<'a> {
    app: &'a TestApp,
    access_token: String,
}

impl<'a> Chatter<'a> {
    pub async fn sign_up(app: &'a TestApp) -> Self {
        let session = app.sign_up(&unique_email(), "bench-password-1234").await;
        let access_token = session["access_token"].as_str().unwrap().to_owned();
        Chatter { app, access_token }
    }

    /// Sends a message to a new session: its id and the streaming response.
    async fn send(&self) -> (String, reqwest::Response) {
        let id = uuid::Uuid::new_v4().to_string();
        let response = self
            .app
            .client
            .post(self.app.url(&format!("/api/sessions/{id}")))
            .bearer_auth(&self.access_token)
            .json(&json!({
                "sessionId": id,
                "model": MODEL,
                "messages": [{ "role": "user", "content": "Count for me" }],
            }))
            .send()
            .await
            .expect("the send reaches the app");
        (id, response)
    }

    /// `POST /api/sessions/{id}/stop`'s answer.
    async fn stop(&self, id: &str) -> Value {
        let response = self
            .app
            .client
            .post(self.app.url(&format!("/api/sessions/{id}/stop")))
            .bearer_auth(&self.access_token)
            .send()
            .await
            .expect("the stop reaches the app");
        assert_eq!(response.status(), 200, "stop");
        response.json().await.unwrap()
    }

    /// Reads one whole answer through the app: each token's latency.
    async fn relayed_latencies(&self, tokens: usize) -> Vec<Duration> {
        let (_, response) = self.send().await;
        let mut lines = Lines::new(response);
        let mut latencies = Vec::with_capacity(tokens);
        let mut finish = None;
        while let Some((line, received_ns)) = lines.next().await {
            if let Some(text) = line.strip_prefix("0:") {
                let token: String = serde_json::from_str(text).expect("a JSON text part");
                latencies.push(latency(&token, received_ns));
            } else if let Some(part) = line.strip_prefix("d:") {
                finish = serde_json::from_str::<Value>(part).ok();
            }
        }
        assert_eq!(latencies.len(), tokens, "every token came through");
        assert_eq!(finish.unwrap()["finishReason"], "stop");
        latencies
    }
}

/// Reads one whole answer straight from the fake, as a plain SSE client: each token's latency.
async fn direct_latencies(
    client: &reqwest::Client,
    upstream: &TimedUpstream,
    tokens: usize,
) -> Vec<Duration> {
    let response = client
        .post(format!("{}/chat/completions", upstream.base_url))
        .json(&json!({
            "model": MODEL,
            "stream": true,
            "messages": [{ "role": "user", "content": "Count for me" }],
        }))
        .send()
        .await
        .expect("the fake answers");
    let mut lines = Lines::new(response);
    let mut latencies = Vec::with_capacity(tokens);
    while let Some((line, received_ns)) = lines.next().await {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            break;
        }
        let chunk: Value = serde_json::from_str(data).expect("a completion chunk");
        if let Some(token) = chunk["choices"][0]["delta"]["content"].as_str() {
            latencies.push(latency(token, received_ns));
        }
    }
    assert_eq!(latencies.len(), tokens, "every token came");
    latencies
}

/// Token latencies straight from the fake and through the app.
pub struct TokenLatency {
    pub direct: Samples,
    pub relayed: Samples,
}

/// Reads `rounds` answers of `tokens_per_round` tokens, `gap` apart, both ways, alternating so
/// that whatever else the machine does weighs on both alike; a first round of each is a
/// warm-up and not counted.
pub async fn token_latency(
    chatter: &Chatter<'_>,
    upstream: &TimedUpstream,
    rounds: usize,
    tokens_per_round: usize,
    gap: Duration,
) -> TokenLatency {
    upstream.set_plan(Plan {
        tokens: tokens_per_round,
        gap,
    });
    let client = reqwest::Client::new();
    direct_latencies(&client, upstream, tokens_per_round).await;
    chatter.relayed_latencies(tokens_per_round).await;
    let mut result = TokenLatency {
        direct: Samples::default(),
        relayed: Samples::default(),
    };
    for _ in 0..rounds {
        result
            .direct
            .extend(direct_latencies(&client, upstream, tokens_per_round).await);
        result
            .relayed
            .extend(chatter.relayed_latencies(tokens_per_round).await);
    }
    result
}

/// How a reader ends an answer mid-stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// `POST /api/sessions/{id}/stop`, the reader still reading.
    Stop,
    /// The reader drops the response (a closed tab).
    Drop,
}

/// For `runs` answers (after 3 not counted), the time from the reader's ending to the fake
/// seeing its connection closed.
pub async fn time_to_upstream_close(
    chatter: &Chatter<'_>,
    upstream: &TimedUpstream,
    ending: Ending,
    runs: usize,
) -> Samples {
    const WARM_UP: usize = 3;
    // Long enough never to end by itself within the close limit.
    upstream.set_plan(Plan {
        tokens: 1_000,
        gap: Duration::from_millis(10),
    });
    let mut samples = Samples::default();
    for run in 0..WARM_UP + runs {
        upstream.forget_closed();
        let (id, response) = chatter.send().await;
        let mut lines = Lines::new(response);
        let mut tokens = 0;
        while tokens < TOKENS_BEFORE_ENDING {
            let (line, _) = lines.next().await.expect("tokens before the end");
            tokens += usize::from(line.starts_with("0:"));
        }
        let asked = Instant::now();
        let still_reading = match ending {
            Ending::Stop => {
                assert_eq!(chatter.stop(&id).await, json!({ "stopped": true }));
                Some(lines)
            }
            Ending::Drop => {
                drop(lines);
                None
            }
        };
        let closed = upstream
            .closed_within(CLOSE_LIMIT)
            .await
            .expect("the provider's connection closes");
        if run >= WARM_UP {
            samples.push(closed.duration_since(asked));
        }
        if let Some(mut lines) = still_reading {
            // The reader is told the answer stopped.
            let mut last = String::new();
            while let Some((line, _)) = lines.next().await {
                last = line;
            }
            assert!(last.starts_with("d:{\"finishReason\":\"other\""), "{last}");
        }
    }
    samples
}
