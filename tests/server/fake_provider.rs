//! A fake OpenAI-compatible provider on loopback, shared by the model layer's tests and the chat
//! API's: it writes the exact SSE wire format piece by piece (events split across reads, pauses,
//! a cut connection), records every request, and observes when its connection closes.

use std::{
    collections::VecDeque,
    io,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{
    body::Body, extract::State, http::HeaderMap, response::Response, routing::post, Json, Router,
};
use ferrochat::chat::{
    config::{ChatConfig, OpenAiConfig, Timeouts},
    llm::Models,
};
use ferrochat::settings::Secret;
use futures_util::stream;
use serde_json::{json, Value};
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};

/// The model the fake claims to be.
pub(crate) const MODEL: &str = "gpt-test";

/// One step of the fake's response body.
#[derive(Clone)]
pub(crate) enum Piece {
    /// Written as one HTTP chunk (hyper flushes each).
    Bytes(Vec<u8>),
    /// A pause, so that the next piece arrives in another read.
    Pause(Duration),
    /// The connection is cut without ending the body.
    Abort,
}

/// What the fake answers.
#[derive(Clone)]
pub(crate) enum Reply {
    /// 200 `text/event-stream`, written piece by piece after `delay`.
    Stream { delay: Duration, pieces: Vec<Piece> },
    /// One `application/json` document: an HTTP error (its body may be anything), or an
    /// answer from a server that ignored `"stream": true`.
    Json { status: u16, body: String },
    /// A redirect elsewhere, which a client must not follow with the conversation and key.
    Redirect { location: String },
}

/// What the fake saw of the connection that carried its stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Closed {
    /// When its body was dropped: the connection is gone.
    pub(crate) at: Instant,
}

/// A request as the fake received it.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) authorization: Option<String>,
    pub(crate) body: Value,
}

/// A fake OpenAI-compatible provider on 127.0.0.1.
pub(crate) struct FakeProvider {
    /// `http://127.0.0.1:<port>/v1`, what `OPENAI_BASE_URL` is set to.
    pub(crate) base_url: String,
    pub(crate) received: Arc<Mutex<Vec<Received>>>,
    /// Pieces of bytes handed to the connection so far.
    pub(crate) written: Arc<AtomicUsize>,
    /// Set when the client went away before the body was complete.
    pub(crate) closed: watch::Receiver<Option<Closed>>,
}

#[derive(Clone)]
struct FakeState {
    /// The replies still to give, in order; the last one is given to every later request.
    replies: Arc<Mutex<VecDeque<Reply>>>,
    received: Arc<Mutex<Vec<Received>>>,
    written: Arc<AtomicUsize>,
    closed: Arc<watch::Sender<Option<Closed>>>,
}

impl FakeProvider {
    /// A fake that gives `reply` to every request.
    pub(crate) async fn start(reply: Reply) -> Self {
        Self::start_with(vec![reply]).await
    }

    /// A fake that gives `replies` to its requests in order, and the last one again after them.
    pub(crate) async fn start_with(replies: Vec<Reply>) -> Self {
        assert!(!replies.is_empty(), "the fake needs something to answer");
        let (closed_tx, closed) = watch::channel(None);
        let state = FakeState {
            replies: Arc::new(Mutex::new(replies.into())),
            received: Arc::default(),
            written: Arc::default(),
            closed: Arc::new(closed_tx),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let fake = FakeProvider {
            base_url: format!("http://{address}/v1"),
            received: state.received.clone(),
            written: state.written.clone(),
            closed,
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// The models of a chat that uses this fake: [`MODEL`] and `other-model`, then the echo.
    pub(crate) fn models(&self, api_key: Option<&str>, timeouts: Timeouts) -> Models {
        Models::new(&ChatConfig {
            provider: Some(OpenAiConfig {
                base_url: self.base_url.parse().unwrap(),
                api_key: api_key.map(|key| Secret(key.into())),
                models: vec![MODEL.into(), "other-model".into()],
                timeouts,
            }),
            offline_token_delay: Duration::from_millis(1),
            history_budget_chars: 24_000,
            streams_per_user: 3,
            guest_messages: 10,
        })
    }

    /// The bodies of the requests received so far, in order.
    pub(crate) fn bodies(&self) -> Vec<Value> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .map(|request| request.body.clone())
            .collect()
    }

    /// Waits (at most `within`) until the client closes the stream's connection; when it did.
    pub(crate) async fn closed_within(&self, within: Duration) -> Option<Instant> {
        let mut closed = self.closed.clone();
        tokio::time::timeout(within, closed.wait_for(Option::is_some))
            .await
            .ok()
            .map(|seen| seen.unwrap().unwrap().at)
    }

    /// How many pieces of bytes the fake has written.
    pub(crate) fn pieces_written(&self) -> usize {
        self.written.load(Ordering::SeqCst)
    }
}

async fn completions(
    State(state): State<FakeState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let authorization = headers
        .get("authorization")
        .map(|value| value.to_str().unwrap().to_string());
    state.received.lock().unwrap().push(Received {
        authorization,
        body,
    });
    let reply = {
        let mut replies = state.replies.lock().unwrap();
        if replies.len() > 1 {
            replies.pop_front().unwrap()
        } else {
            replies[0].clone()
        }
    };
    match reply {
        Reply::Json { status, body } => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap(),
        Reply::Redirect { location } => Response::builder()
            .status(307)
            .header("location", location)
            .body(Body::empty())
            .unwrap(),
        Reply::Stream { delay, pieces } => {
            tokio::time::sleep(delay).await;
            let (tx, rx) = mpsc::channel::<io::Result<Vec<u8>>>(1);
            tokio::spawn(write_pieces(pieces, tx, state.written, state.closed));
            let body = stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(Body::from_stream(body))
                .unwrap()
        }
    }
}

/// Feeds the body one piece at a time; notes when the connection (hence the body) is gone.
async fn write_pieces(
    pieces: Vec<Piece>,
    tx: mpsc::Sender<io::Result<Vec<u8>>>,
    written: Arc<AtomicUsize>,
    closed: Arc<watch::Sender<Option<Closed>>>,
) {
    let gone = |closed: &watch::Sender<Option<Closed>>| {
        closed.send_replace(Some(Closed { at: Instant::now() }));
    };
    for piece in pieces {
        match piece {
            Piece::Bytes(bytes) => {
                if tx.send(Ok(bytes)).await.is_err() {
                    return gone(&closed);
                }
                written.fetch_add(1, Ordering::SeqCst);
            }
            Piece::Pause(pause) => {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = tx.closed() => return gone(&closed),
                }
            }
            Piece::Abort => {
                let _ = tx.send(Err(io::Error::other("cut"))).await;
                return;
            }
        }
    }
}

/// `data: {json}\n\n`, as OpenAI writes each event.
pub(crate) fn event(json: Value) -> String {
    format!("data: {json}\n\n")
}

/// A chunk carrying one piece of the answer.
pub(crate) fn token_event(text: &str) -> String {
    event(json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{ "index": 0, "delta": { "content": text }, "logprobs": null, "finish_reason": null }]
    }))
}

/// The first chunk OpenAI sends: the role, no text.
pub(crate) fn role_event() -> String {
    event(json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{ "index": 0, "delta": { "role": "assistant", "content": "", "refusal": null }, "finish_reason": null }]
    }))
}

/// The chunk that ends the answer with `reason`.
pub(crate) fn finish_event(reason: &str) -> String {
    event(json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{ "index": 0, "delta": {}, "finish_reason": reason }]
    }))
}

/// The last chunk with `stream_options.include_usage`: token counts, no choices.
pub(crate) fn usage_event(prompt: u32, completion: u32) -> String {
    event(json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [],
        "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion }
    }))
}

/// The end of an OpenAI stream.
pub(crate) const DONE: &str = "data: [DONE]\n\n";

/// `text` as one piece.
pub(crate) fn bytes(text: &str) -> Piece {
    Piece::Bytes(text.as_bytes().to_vec())
}

/// A pause of `ms` milliseconds.
pub(crate) fn pause(ms: u64) -> Piece {
    Piece::Pause(Duration::from_millis(ms))
}

/// A complete answer: the role chunk, each token with `gap_ms` before it, finish, usage, done.
pub(crate) fn answer(tokens: &[&str], gap_ms: u64) -> Reply {
    let mut pieces = vec![bytes(&role_event())];
    // A token like the one before it reuses its event: the stalled-reader test sends thousands of
    // identical 16 KiB tokens, and escaping each into JSON anew cost it seconds of a debug build.
    let mut previous: Option<(&str, Piece)> = None;
    for &token in tokens {
        pieces.push(pause(gap_ms));
        let event = match previous.take() {
            Some((text, event)) if text == token => event,
            _ => bytes(&token_event(token)),
        };
        pieces.push(event.clone());
        previous = Some((token, event));
    }
    pieces.push(bytes(&finish_event("stop")));
    pieces.push(bytes(&usage_event(10, tokens.len() as u32)));
    pieces.push(bytes(DONE));
    Reply::Stream {
        delay: Duration::ZERO,
        pieces,
    }
}
