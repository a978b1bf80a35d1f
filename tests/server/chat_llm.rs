//! The chat's model layer against a fake OpenAI-compatible server on loopback that writes the
//! exact SSE wire format piece by piece (events split across reads, even inside a character),
//! and the offline echo model.

use std::{sync::atomic::Ordering, time::Duration};

use ferrochat::chat::{
    config::{ChatConfig, OpenAiConfig, Timeouts},
    llm::{
        ChatMessage, CompletionRequest, CompletionStream, LlmError, Models, Role, StreamEvent,
        OFFLINE_MODEL_ID, OFFLINE_PREFACE,
    },
};
use ferrochat::settings::Secret;
use futures_util::StreamExt;
use serde_json::json;
use tokio::time::Instant;

use crate::fake_provider::{
    bytes, event, finish_event, pause, role_event, token_event, usage_event, FakeProvider, Piece,
    Reply, DONE, MODEL,
};

const KEY: &str = "sk-test-key";

/// Generous timeouts, for tests that are not about them.
const RELAXED: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    first_token: Duration::from_secs(5),
    idle: Duration::from_secs(5),
};

/// `wire` cut at the given byte offsets, with a pause between the pieces.
fn split_at(wire: &[u8], cuts: &[usize]) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([&wire.len()]) {
        pieces.push(Piece::Bytes(wire[start..cut].to_vec()));
        pieces.push(pause(15));
        start = cut;
    }
    pieces
}

fn conversation() -> Vec<ChatMessage> {
    vec![
        ChatMessage {
            role: Role::System,
            content: "You are terse.".into(),
        },
        ChatMessage {
            role: Role::User,
            content: "Say hello".into(),
        },
        ChatMessage {
            role: Role::Assistant,
            content: "Hello.".into(),
        },
        ChatMessage {
            role: Role::User,
            content: "In German, with an emoji".into(),
        },
    ]
}

fn request(model: &str) -> CompletionRequest {
    CompletionRequest {
        model: model.into(),
        messages: conversation(),
    }
}

/// Every item of the stream, within a bound.
async fn collect(stream: CompletionStream) -> Vec<Result<StreamEvent, LlmError>> {
    tokio::time::timeout(Duration::from_secs(10), stream.collect())
        .await
        .expect("the stream ends")
}

fn tokens(text: &str) -> Result<StreamEvent, LlmError> {
    Ok(StreamEvent::Token(text.into()))
}

fn finished(reason: &str) -> Result<StreamEvent, LlmError> {
    Ok(StreamEvent::Finished {
        reason: Some(reason.into()),
    })
}

fn answer_text(items: &[Result<StreamEvent, LlmError>]) -> String {
    items
        .iter()
        .filter_map(|item| match item {
            Ok(StreamEvent::Token(text)) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn tokens_arrive_in_order_from_events_split_across_reads() {
    let answer = ["Hallo", ", schöne ", "Welt", " 👋", "!"];
    let wire = [
        role_event(),
        ": ping\n\n".into(),
        token_event(answer[0]),
        token_event(answer[1]),
        ": keep-alive\n\n".into(),
        token_event(answer[2]),
        token_event(answer[3]),
        token_event(answer[4]),
        finish_event("stop"),
        usage_event(31, 7),
        DONE.into(),
    ]
    .concat();
    let offset = |needle: &str| wire.find(needle).unwrap();
    // Cuts: inside `data:`, inside the 2-byte `ö`, inside the 4-byte `👋`, inside `[DONE]`;
    // the pieces between hold several events (and comments) each.
    let cuts = [
        offset("Hallo") - 20,
        offset("ö") + 1,
        offset("👋") + 2,
        offset("[DONE]") + 3,
    ];
    let fake = FakeProvider::start(Reply::Stream {
        delay: Duration::ZERO,
        pieces: split_at(wire.as_bytes(), &cuts),
    })
    .await;

    let items = collect(
        fake.models(Some(KEY), RELAXED)
            .stream(request(MODEL))
            .unwrap(),
    )
    .await;

    let mut expected: Vec<_> = answer.iter().map(|text| tokens(text)).collect();
    expected.push(Ok(StreamEvent::Usage {
        prompt_tokens: 31,
        completion_tokens: 7,
    }));
    expected.push(finished("stop"));
    assert_eq!(items, expected);
    assert_eq!(answer_text(&items), "Hallo, schöne Welt 👋!");
}

#[tokio::test]
async fn the_request_carries_the_model_every_message_in_order_and_the_key() {
    let fake = FakeProvider::start(Reply::Stream {
        delay: Duration::ZERO,
        pieces: vec![bytes(&token_event("ok")), bytes(DONE)],
    })
    .await;
    collect(
        fake.models(Some(KEY), RELAXED)
            .stream(request(MODEL))
            .unwrap(),
    )
    .await;

    let received = fake.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].authorization.as_deref(),
        Some("Bearer sk-test-key")
    );
    assert_eq!(
        received[0].body,
        json!({
            "model": MODEL,
            "messages": [
                { "role": "system", "content": "You are terse." },
                { "role": "user", "content": "Say hello" },
                { "role": "assistant", "content": "Hello." },
                { "role": "user", "content": "In German, with an emoji" },
            ],
            "stream": true,
            "stream_options": { "include_usage": true },
        })
    );
}

#[tokio::test]
async fn without_a_key_no_authorization_header_is_sent() {
    let fake = FakeProvider::start(Reply::Stream {
        delay: Duration::ZERO,
        pieces: vec![bytes(&token_event("ok")), bytes(DONE)],
    })
    .await;
    let items = collect(fake.models(None, RELAXED).stream(request(MODEL)).unwrap()).await;
    assert_eq!(
        items,
        [tokens("ok"), Ok(StreamEvent::Finished { reason: None })]
    );
    assert_eq!(fake.received.lock().unwrap()[0].authorization, None);
}

#[tokio::test]
async fn done_ends_the_answer_even_while_the_connection_stays_open() {
    let fake = FakeProvider::start(Reply::Stream {
        delay: Duration::ZERO,
        pieces: vec![
            bytes(&token_event("Hi")),
            bytes(&finish_event("stop")),
            bytes(DONE),
            pause(30_000),
        ],
    })
    .await;
    let started = Instant::now();
    let items = collect(
        fake.models(Some(KEY), RELAXED)
            .stream(request(MODEL))
            .unwrap(),
    )
    .await;
    assert_eq!(items, [tokens("Hi"), finished("stop")]);
    // Long before the connection ends. The bounds in this file leave a busy machine room: how
    // fast the relay reacts is bench/'s to measure.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_error_event_mid_stream_ends_the_answer_with_its_message() {
    let error = event(
        json!({ "error": { "message": "The server had an error while processing your request.", "type": "server_error", "param": null, "code": null } }),
    );
    let fake = FakeProvider::start(Reply::Stream {
        delay: Duration::ZERO,
        pieces: vec![
            bytes(&role_event()),
            bytes(&token_event("Half")),
            pause(10),
            bytes(&token_event(" an")),
            pause(10),
            bytes(&error),
            pause(10),
            bytes(&token_event(" never seen")),
            bytes(DONE),
        ],
    })
    .await;
    let items = collect(
        fake.models(Some(KEY), RELAXED)
            .stream(request(MODEL))
            .unwrap(),
    )
    .await;
    assert_eq!(
        items,
        [
            tokens("Half"),
            tokens(" an"),
            Err(LlmError::Upstream {
                message: "The server had an error while processing your request.".into()
            }),
        ]
    );
    assert_eq!(
        items[2].as_ref().unwrap_err().user_message(),
        "The model stopped with an error: The server had an error while processing your request."
    );
}

#[tokio::test]
async fn a_provider_redirect_is_not_followed_with_the_conversation_and_key() {
    // Where the redirect points: another server, which must never hear from us.
    let elsewhere = FakeProvider::start(Reply::Json {
        status: 500,
        body: String::new(),
    })
    .await;
    let fake = FakeProvider::start(Reply::Redirect {
        location: format!("{}/chat/completions", elsewhere.base_url),
    })
    .await;
    let items = collect(
        fake.models(Some(KEY), RELAXED)
            .stream(request(MODEL))
            .unwrap(),
    )
    .await;
    assert!(
        matches!(
            items.as_slice(),
            [Err(LlmError::Status { status: 307, .. })]
        ),
        "{items:?}"
    );
    assert!(
        elsewhere.received.lock().unwrap().is_empty(),
        "the conversation and the key did not follow the redirect"
    );
}

#[tokio::test]
async fn http_errors_carry_the_providers_message() {
    let cases = [
        (401, "Incorrect API key provided: sk-test***-key. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_api_key"),
        (429, "Rate limit reached for gpt-test in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.", "rate_limit_exceeded"),
        (500, "The server had an error while processing your request. Sorry about that!", "server_error"),
    ];
    for (status, message, code) in cases {
        let fake = FakeProvider::start(Reply::Json {
            status,
            body: json!({ "error": { "message": message, "type": "invalid_request_error", "param": null, "code": code } }).to_string(),
        })
        .await;
        let items = collect(
            fake.models(Some(KEY), RELAXED)
                .stream(request(MODEL))
                .unwrap(),
        )
        .await;
        assert_eq!(
            items,
            [Err(LlmError::Status {
                status,
                message: message.into()
            })],
            "{status}"
        );
        let shown = items[0].as_ref().unwrap_err().user_message();
        assert!(!shown.contains("sk-"), "{shown}");
    }
}

#[tokio::test]
async fn an_error_page_that_is_not_json_is_named_by_its_status_only() {
    let fake = FakeProvider::start(Reply::Json {
        status: 502,
        body: "<html><body><h1>502 Bad Gateway</h1>\nnginx internal detail</body></html>".into(),
    })
    .await;
    let items = collect(
        fake.models(Some(KEY), RELAXED)
            .stream(request(MODEL))
            .unwrap(),
    )
    .await;
    assert_eq!(
        items,
        [Err(LlmError::Status {
            status: 502,
            message: "Bad Gateway".into()
        })]
    );
}

#[tokio::test]
async fn a_server_that_ignores_stream_true_is_a_protocol_error_not_a_drop() {
    let fake = FakeProvider::start(Reply::Json {
        status: 200,
        body: json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": MODEL,
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Hi" }, "finish_reason": "stop" }]
        })
        .to_string(),
    })
    .await;
    let items = collect(
        fake.models(Some(KEY), RELAXED)
            .stream(request(MODEL))
            .unwrap(),
    )
    .await;
    assert_eq!(
        items,
        [Err(LlmError::Protocol(
            "expected text/event-stream, got application/json".into()
        ))]
    );
}

#[tokio::test]
async fn a_connection_cut_mid_answer_is_dropped_after_the_tokens_sent() {
    let fake = FakeProvider::start(Reply::Stream {
        delay: Duration::ZERO,
        pieces: vec![
            bytes(&role_event()),
            bytes(&token_event("One")),
            pause(10),
            bytes(&token_event(" two")),
            pause(10),
            bytes("data: {\"choices\":[{\"delta\":{\"content\":\" thr"),
            pause(10),
            Piece::Abort,
        ],
    })
    .await;
    let items = collect(
        fake.models(Some(KEY), RELAXED)
            .stream(request(MODEL))
            .unwrap(),
    )
    .await;
    assert_eq!(
        items,
        [tokens("One"), tokens(" two"), Err(LlmError::Dropped)]
    );
}

#[tokio::test]
async fn a_stream_that_ends_cleanly_without_done_or_finish_reason_is_dropped() {
    let fake = FakeProvider::start(Reply::Stream {
        delay: Duration::ZERO,
        pieces: vec![bytes(&token_event("One")), pause(10)],
    })
    .await;
    let items = collect(
        fake.models(Some(KEY), RELAXED)
            .stream(request(MODEL))
            .unwrap(),
    )
    .await;
    assert_eq!(items, [tokens("One"), Err(LlmError::Dropped)]);
}

#[tokio::test]
async fn no_first_token_in_time_is_a_first_token_timeout() {
    let timeouts = Timeouts {
        first_token: Duration::from_millis(300),
        ..RELAXED
    };
    // Headers and keep-alives come, the answer does not.
    let pings = Reply::Stream {
        delay: Duration::ZERO,
        pieces: vec![
            bytes(&role_event()),
            bytes(": ping\n\n"),
            pause(150),
            bytes(": ping\n\n"),
            pause(150),
            bytes(": ping\n\n"),
            pause(30_000),
            bytes(&token_event("late")),
        ],
    };
    // Not even the headers come.
    let silence = Reply::Stream {
        delay: Duration::from_secs(30),
        pieces: vec![bytes(&token_event("late"))],
    };
    for reply in [pings, silence] {
        let fake = FakeProvider::start(reply).await;
        let started = Instant::now();
        let items = collect(
            fake.models(Some(KEY), timeouts)
                .stream(request(MODEL))
                .unwrap(),
        )
        .await;
        let elapsed = started.elapsed();
        assert_eq!(items, [Err(LlmError::FirstTokenTimeout)]);
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(10),
            "{elapsed:?}"
        );
    }
}

#[tokio::test]
async fn a_pause_mid_answer_is_an_idle_timeout() {
    let timeouts = Timeouts {
        idle: Duration::from_millis(300),
        ..RELAXED
    };
    let fake = FakeProvider::start(Reply::Stream {
        delay: Duration::ZERO,
        // The first token may take longer than the idle timeout; the pause after it may not.
        pieces: vec![
            pause(500),
            bytes(&token_event("One")),
            pause(30_000),
            bytes(&token_event(" two")),
        ],
    })
    .await;
    let started = Instant::now();
    let items = collect(
        fake.models(Some(KEY), timeouts)
            .stream(request(MODEL))
            .unwrap(),
    )
    .await;
    assert_eq!(items, [tokens("One"), Err(LlmError::IdleTimeout)]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_a_connect_error() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let models = Models::new(&ChatConfig {
        provider: Some(OpenAiConfig {
            base_url: format!("http://{address}/v1").parse().unwrap(),
            api_key: Some(Secret(KEY.into())),
            models: vec![MODEL.into()],
            timeouts: RELAXED,
        }),
        offline_token_delay: Duration::ZERO,
        history_budget_chars: 24_000,
        streams_per_user: 3,
        guest_messages: 10,
    });
    let items = collect(models.stream(request(MODEL)).unwrap()).await;
    assert_eq!(items.len(), 1);
    let error = items[0].as_ref().unwrap_err();
    assert!(matches!(error, LlmError::Connect(_)), "{error:?}");
    assert!(!error.to_string().contains(KEY), "{error}");
    assert_eq!(
        error.user_message(),
        "Could not reach the model service. Please try again in a moment."
    );
}

#[tokio::test]
async fn dropping_the_stream_closes_the_providers_connection() {
    let mut pieces = vec![bytes(&role_event())];
    for n in 0..200 {
        pieces.push(bytes(&token_event(&format!("t{n} "))));
        pieces.push(pause(100));
    }
    pieces.push(bytes(DONE));
    let fake = FakeProvider::start(Reply::Stream {
        delay: Duration::ZERO,
        pieces,
    })
    .await;
    let mut stream = fake
        .models(Some(KEY), RELAXED)
        .stream(request(MODEL))
        .unwrap();
    assert_eq!(stream.next().await, Some(tokens("t0 ")));
    assert_eq!(stream.next().await, Some(tokens("t1 ")));
    assert!(fake.closed.borrow().is_none(), "open while read");

    drop(stream);
    let dropped = Instant::now();

    let mut closed = fake.closed.clone();
    // The whole answer takes 20 s (200 tokens, 100 ms apart).
    let seen = tokio::time::timeout(Duration::from_secs(5), closed.wait_for(Option::is_some))
        .await
        .expect("the provider saw its connection close within 5 s")
        .unwrap()
        .unwrap();
    assert!(seen.at - dropped < Duration::from_secs(5));
    // It stopped producing: some pieces may have been in flight, far from the 201 of the answer.
    let written = fake.written.load(Ordering::SeqCst);
    assert!(written < 100, "{written} pieces written");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fake.written.load(Ordering::SeqCst), written);
}

fn offline_models(token_delay: Duration) -> Models {
    Models::new(&ChatConfig {
        provider: None,
        offline_token_delay: token_delay,
        history_budget_chars: 24_000,
        streams_per_user: 3,
        guest_messages: 10,
    })
}

#[tokio::test]
async fn the_offline_echo_repeats_the_last_user_message_word_by_word() {
    let models = offline_models(Duration::ZERO);
    let items = collect(models.stream(request(OFFLINE_MODEL_ID)).unwrap()).await;
    let expected = format!("{OFFLINE_PREFACE}\n\nIn German, with an emoji");
    assert_eq!(answer_text(&items), expected);
    let token_count = items.len() - 2;
    assert_eq!(token_count, expected.split_whitespace().count());
    assert_eq!(
        items[token_count..],
        [
            Ok(StreamEvent::Usage {
                prompt_tokens: 11,
                completion_tokens: expected.split_whitespace().count() as u32,
            }),
            finished("stop"),
        ]
    );
}

#[tokio::test]
async fn the_offline_echo_is_paced_and_stops_when_dropped() {
    let models = offline_models(Duration::from_millis(40));
    let started = Instant::now();
    let mut stream = models.stream(request(OFFLINE_MODEL_ID)).unwrap();
    let first = stream.next().await.unwrap().unwrap();
    let second = stream.next().await.unwrap().unwrap();
    assert_eq!(first, StreamEvent::Token("Offline ".into()));
    assert_eq!(second, StreamEvent::Token("echo ".into()));
    assert!(
        started.elapsed() >= Duration::from_millis(80),
        "{:?}",
        started.elapsed()
    );
    // No task runs on behalf of the stream: once dropped, nothing more is produced.
    drop(stream);
}

#[tokio::test]
async fn models_list_the_providers_then_the_offline_echo() {
    let fake = FakeProvider::start(Reply::Json {
        status: 500,
        body: String::new(),
    })
    .await;
    let models = fake.models(Some(KEY), RELAXED);
    let ids: Vec<&str> = models
        .list()
        .iter()
        .map(|model| model.id.as_str())
        .collect();
    assert_eq!(ids, [MODEL, "other-model", OFFLINE_MODEL_ID]);
    assert_eq!(models.default_model().id, MODEL);
    assert!(models.find(OFFLINE_MODEL_ID).unwrap().offline);
    assert!(!models.find(MODEL).unwrap().offline);
    assert!(models.find("gpt-5").is_none());
    assert_eq!(
        models.stream(request("gpt-5")).err(),
        Some(LlmError::UnknownModel("gpt-5".into()))
    );
    assert!(fake.received.lock().unwrap().is_empty());

    let offline = offline_models(Duration::ZERO);
    assert_eq!(offline.list().len(), 1);
    assert_eq!(offline.default_model().id, OFFLINE_MODEL_ID);
    assert_eq!(offline.default_model().label, "Echo (offline) — not an AI");
    assert_eq!(
        offline.stream(request(MODEL)).err(),
        Some(LlmError::UnknownModel(MODEL.into()))
    );
}
