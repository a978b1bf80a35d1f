//! A fake OpenAI-compatible provider on 127.0.0.1 that stamps every token with the moment it
//! hands it to the connection, and notes when a client goes away mid-answer.
//!
//! Its events are the test suite's (tests/server/fake_provider.rs): the exact SSE wire format
//! of OpenAI's `chat.completion.chunk`s. Each token's text is `<stamp> `, the stamp being
//! [`now_ns`] when the chunk was produced for hyper to write; whoever reads the token (through
//! ferrochat or directly) subtracts it from the time it read it. Both ends run in this process,
//! so they share one monotonic clock.

use std::{
    convert::Infallible,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use axum::{body::Body, extract::State, response::Response, routing::post, Router};
use futures_util::stream;
use tokio::{sync::watch, time::Instant};

use crate::fake_provider::{finish_event, token_event, DONE};

/// Nanoseconds since the first call: the clock both the fake and its readers use.
pub fn now_ns() -> u64 {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}

/// The stamp a token carries, read back: its text is `<nanoseconds> `.
pub fn stamp_of(token: &str) -> u64 {
    token
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("a token that is not a stamp: {token:?}"))
}

/// How the fake answers the next requests.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Tokens in each answer, after which it finishes normally.
    pub tokens: usize,
    /// The pause before each token.
    pub gap: Duration,
}

/// The fake provider; requests are answered by the [`Plan`] in force when they arrive.
pub struct TimedUpstream {
    /// `http://127.0.0.1:<port>/v1`, what `OPENAI_BASE_URL` is set to.
    pub base_url: String,
    plan: Arc<Mutex<Plan>>,
    /// When the last answer cut short lost its connection.
    closed: watch::Receiver<Option<Instant>>,
    closed_sender: Arc<watch::Sender<Option<Instant>>>,
}

#[derive(Clone)]
struct FakeState {
    plan: Arc<Mutex<Plan>>,
    closed: Arc<watch::Sender<Option<Instant>>>,
}

impl TimedUpstream {
    pub async fn start(plan: Plan) -> Self {
        let (closed_sender, closed) = watch::channel(None);
        let state = FakeState {
            plan: Arc::new(Mutex::new(plan)),
            closed: Arc::new(closed_sender),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let upstream = TimedUpstream {
            base_url: format!("http://{address}/v1"),
            plan: state.plan.clone(),
            closed,
            closed_sender: state.closed.clone(),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        upstream
    }

    /// Answers the next requests by `plan`.
    pub fn set_plan(&self, plan: Plan) {
        *self.plan.lock().unwrap() = plan;
    }

    /// Forgets the last closed connection, before a run that waits for the next one.
    pub fn forget_closed(&self) {
        self.closed_sender.send_replace(None);
    }

    /// When an answer lost its connection, waiting at most `within`.
    pub async fn closed_within(&self, within: Duration) -> Option<Instant> {
        let mut closed = self.closed.clone();
        tokio::time::timeout(within, closed.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(|seen| *seen.unwrap())
    }
}

/// Notes the time its answer's body is dropped before it was complete: hyper drops a response
/// body as soon as it sees the connection closed.
struct CloseWatch {
    closed: Arc<watch::Sender<Option<Instant>>>,
    complete: bool,
}

impl Drop for CloseWatch {
    fn drop(&mut self) {
        if !self.complete {
            self.closed.send_replace(Some(Instant::now()));
        }
    }
}

/// One answer being written.
struct Answer {
    plan: Plan,
    sent: usize,
    watch: CloseWatch,
}

/// Reads the whole request first, as a provider does: hyper then watches the idle connection
/// for its end while the answer is written, which is what makes a close visible at once.
async fn completions(State(state): State<FakeState>, _request: axum::body::Bytes) -> Response {
    let plan = *state.plan.lock().unwrap();
    let answer = Answer {
        plan,
        sent: 0,
        watch: CloseWatch {
            closed: state.closed.clone(),
            complete: false,
        },
    };
    let body = stream::unfold(answer, |mut answer| async move {
        if answer.watch.complete {
            return None;
        }
        if answer.sent == answer.plan.tokens {
            answer.watch.complete = true;
            let end = format!("{}{DONE}", finish_event("stop"));
            return Some((Ok::<_, Infallible>(end), answer));
        }
        tokio::time::sleep(answer.plan.gap).await;
        answer.sent += 1;
        let event = token_event(&format!("{} ", now_ns()));
        Some((Ok(event), answer))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(body))
        .unwrap()
}
