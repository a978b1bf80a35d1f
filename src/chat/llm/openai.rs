//! A streaming client of OpenAI's Chat Completions API, as OpenAI and compatible servers
//! (Ollama, llama.cpp, vLLM, LiteLLM) speak it: `POST {base}/chat/completions` with
//! `stream: true`, answered with server-sent events of `chat.completion.chunk` JSON, ended by
//! `data: [DONE]`.
//!
//! The SSE framing (events split across reads, even inside a UTF-8 character; several events in
//! one read; comments) is eventsource-stream's; this module gives the events their meaning.

use std::{collections::VecDeque, error::Error as _, time::Duration};

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::{stream, Stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::time::{timeout, timeout_at, Instant};

use super::{CompletionRequest, CompletionStream, LlmError, StreamEvent};
use crate::{chat::config::OpenAiConfig, settings::Secret};

/// How much of an error response is read for its message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A client of one provider; cheap to clone (the connection pool is shared).
#[derive(Clone, Debug)]
pub(super) struct OpenAiClient {
    http: reqwest::Client,
    endpoint: String,
    api_key: Option<Secret>,
    first_token_timeout: Duration,
    idle_timeout: Duration,
}

impl OpenAiClient {
    pub(super) fn new(config: &OpenAiConfig) -> Self {
        let http = reqwest::Client::builder()
            // A redirect would carry the conversation (and, to the same host, the key) elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.timeouts.connect)
            .user_agent("ferrochat")
            .build()
            .expect("a reqwest client builds");
        OpenAiClient {
            http,
            endpoint: format!(
                "{}/chat/completions",
                config.base_url.as_str().trim_end_matches('/')
            ),
            api_key: config.api_key.clone(),
            first_token_timeout: config.timeouts.first_token,
            idle_timeout: config.timeouts.idle,
        }
    }

    /// Streams the answer to `request`; the request is sent when the stream is first polled.
    pub(super) fn stream(&self, request: CompletionRequest) -> CompletionStream {
        let mut post = self.http.post(&self.endpoint).json(&json!({
            "model": request.model,
            "messages": request.messages,
            "stream": true,
            // Without it the provider does not report token counts when streaming.
            "stream_options": { "include_usage": true },
        }));
        if let Some(key) = &self.api_key {
            post = post.bearer_auth(&key.0);
        }
        let (first_token_timeout, idle_timeout) = (self.first_token_timeout, self.idle_timeout);
        stream::once(async move {
            let deadline = Instant::now() + first_token_timeout;
            let response = open(post, deadline).await?;
            let events = response.bytes_stream().eventsource();
            Ok(read_answer(events, deadline, idle_timeout))
        })
        .try_flatten()
        .boxed()
    }
}

/// Sends the request and checks the response is a stream; a refusal becomes
/// [`LlmError::Status`] with the provider's message.
async fn open(
    post: reqwest::RequestBuilder,
    deadline: Instant,
) -> Result<reqwest::Response, LlmError> {
    let response = timeout_at(deadline, post.send())
        .await
        .map_err(|_| LlmError::FirstTokenTimeout)?
        .map_err(|error| LlmError::Connect(describe(error)))?;
    let status = response.status();
    if !status.is_success() {
        let body = timeout_at(deadline, read_error_body(response))
            .await
            .unwrap_or_default();
        let message = provider_message(&body).unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("no reason given")
                .into()
        });
        return Err(LlmError::status(status.as_u16(), &message));
    }
    // A server that ignored `stream: true` answers one JSON document, which would otherwise
    // look like a stream that ended early.
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !content_type.is_empty() && !content_type.starts_with("text/event-stream") {
        return Err(LlmError::Protocol(format!(
            "expected text/event-stream, got {content_type}"
        )));
    }
    Ok(response)
}

/// Up to [`ERROR_BODY_LIMIT`] bytes of an error response.
async fn read_error_body(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body
}

/// The message of an error body: OpenAI's `{"error": {"message": ...}}`, or the
/// `{"error": "..."}` of some compatible servers. Other bodies (HTML from a proxy) are not
/// quoted anywhere.
fn provider_message(body: &[u8]) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = body.get("error")?;
    error
        .get("message")
        .unwrap_or(error)
        .as_str()
        .map(String::from)
}

/// A transport error with its causes, without the URL.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The answer's events, read from the provider's SSE events with the timeouts applied: until
/// the first token, the first-token `deadline`; after it, `idle` between events.
fn read_answer<S, E>(
    events: S,
    deadline: Instant,
    idle: Duration,
) -> impl Stream<Item = Result<StreamEvent, LlmError>> + Send
where
    S: Stream<Item = Result<eventsource_stream::Event, EventStreamError<E>>> + Send + 'static,
    E: std::fmt::Display,
{
    let reader = Reader {
        events: Box::pin(events),
        answer: Answer::default(),
        first_token_deadline: Some(deadline),
        idle,
        ended: false,
    };
    stream::unfold(reader, |mut reader| async move {
        if reader.ended {
            return None;
        }
        let item = reader.next().await;
        reader.ended = !matches!(item, Ok(StreamEvent::Token(_) | StreamEvent::Usage { .. }));
        Some((item, reader))
    })
}

/// The state of reading one answer.
struct Reader<S> {
    events: std::pin::Pin<Box<S>>,
    answer: Answer,
    /// Set until the first token arrives.
    first_token_deadline: Option<Instant>,
    idle: Duration,
    /// `Finished` or an error was returned.
    ended: bool,
}

impl<S, E> Reader<S>
where
    S: Stream<Item = Result<eventsource_stream::Event, EventStreamError<E>>>,
    E: std::fmt::Display,
{
    /// The next event of the answer.
    async fn next(&mut self) -> Result<StreamEvent, LlmError> {
        loop {
            if let Some(event) = self.answer.pending.pop_front() {
                if matches!(event, StreamEvent::Token(_)) {
                    self.first_token_deadline = None;
                }
                return Ok(event);
            }
            let next = self.events.next();
            let item = match self.first_token_deadline {
                Some(deadline) => timeout_at(deadline, next)
                    .await
                    .map_err(|_| LlmError::FirstTokenTimeout)?,
                None => timeout(self.idle, next)
                    .await
                    .map_err(|_| LlmError::IdleTimeout)?,
            };
            match item {
                Some(Ok(event)) => {
                    if let Some(finished) = self.answer.take(&event.data)? {
                        return Ok(finished);
                    }
                }
                Some(Err(EventStreamError::Transport(error))) => {
                    tracing::debug!(%error, "model provider's stream broke off");
                    return self.answer.ended();
                }
                Some(Err(EventStreamError::Utf8(_))) => {
                    return Err(LlmError::Protocol("the stream is not UTF-8".into()))
                }
                Some(Err(EventStreamError::Parser(error))) => {
                    return Err(LlmError::Protocol(format!(
                        "not server-sent events: {error}"
                    )))
                }
                None => return self.answer.ended(),
            }
        }
    }
}

/// What the chunks received so far mean.
#[derive(Default)]
struct Answer {
    /// Events decoded but not yet returned.
    pending: VecDeque<StreamEvent>,
    /// The `finish_reason`, once a chunk gave one: the answer is then complete.
    finish_reason: Option<String>,
}

/// One `chat.completion.chunk`, or an error event; only the fields used.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<Usage>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: u32,
    completion_tokens: u32,
}

impl Answer {
    /// Takes in one event's data; returns `Finished` at `[DONE]`, queues tokens and usage.
    fn take(&mut self, data: &str) -> Result<Option<StreamEvent>, LlmError> {
        if data == "[DONE]" {
            return Ok(Some(StreamEvent::Finished {
                reason: self.finish_reason.take(),
            }));
        }
        let chunk: Chunk = serde_json::from_str(data)
            .map_err(|error| LlmError::Protocol(format!("not a completion chunk: {error}")))?;
        if let Some(error) = chunk.error {
            let message = error.get("message").unwrap_or(&error);
            return Err(LlmError::upstream(
                message.as_str().unwrap_or("no message given"),
            ));
        }
        // One answer was asked for (no `n`), so only the first choice carries it.
        if let Some(choice) = chunk.choices.into_iter().next() {
            let content = choice.delta.and_then(|delta| delta.content);
            if let Some(content) = content.filter(|content| !content.is_empty()) {
                self.pending.push_back(StreamEvent::Token(content));
            }
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
            }
        }
        if let Some(usage) = chunk.usage {
            self.pending.push_back(StreamEvent::Usage {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
            });
        }
        Ok(None)
    }

    /// The stream ended without `[DONE]`: complete if a `finish_reason` came (some servers
    /// omit `[DONE]`), cut off otherwise.
    fn ended(&mut self) -> Result<StreamEvent, LlmError> {
        match self.finish_reason.take() {
            Some(reason) => Ok(StreamEvent::Finished {
                reason: Some(reason),
            }),
            None => Err(LlmError::Dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take_all(data: &[&str]) -> (Vec<StreamEvent>, Result<Option<StreamEvent>, LlmError>) {
        let mut answer = Answer::default();
        let mut last = Ok(None);
        for data in data {
            last = answer.take(data);
        }
        (answer.pending.into_iter().collect(), last)
    }

    fn token(text: &str) -> StreamEvent {
        StreamEvent::Token(text.into())
    }

    #[test]
    fn role_only_empty_and_null_deltas_carry_no_token() {
        let (events, last) = take_all(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":null}}]}"#,
            r#"{"choices":[{"index":0,"delta":{}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
        ]);
        assert_eq!(events, [token("Hi")]);
        assert_eq!(last, Ok(None));
    }

    #[test]
    fn finish_reason_and_usage_come_before_done() {
        let (events, last) = take_all(&[
            r#"{"choices":[{"index":0,"delta":{"content":"A"},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}"#,
            "[DONE]",
        ]);
        assert_eq!(
            events,
            [
                token("A"),
                StreamEvent::Usage {
                    prompt_tokens: 9,
                    completion_tokens: 1
                }
            ]
        );
        assert_eq!(
            last,
            Ok(Some(StreamEvent::Finished {
                reason: Some("length".into())
            }))
        );
    }

    #[test]
    fn error_events_and_garbage_end_the_answer() {
        let (_, last) =
            take_all(&[r#"{"error":{"message":"The server had an error","type":"server_error"}}"#]);
        assert_eq!(last, Err(LlmError::upstream("The server had an error")));
        let (_, last) = take_all(&[r#"{"error":"model crashed"}"#]);
        assert_eq!(last, Err(LlmError::upstream("model crashed")));
        let (_, last) = take_all(&["not json"]);
        assert!(matches!(last, Err(LlmError::Protocol(_))), "{last:?}");
    }

    #[test]
    fn an_end_without_done_is_complete_only_after_a_finish_reason() {
        assert_eq!(Answer::default().ended(), Err(LlmError::Dropped));
        let mut answer = Answer::default();
        answer
            .take(r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#)
            .unwrap();
        assert_eq!(
            answer.ended(),
            Ok(StreamEvent::Finished {
                reason: Some("stop".into())
            })
        );
    }

    #[test]
    fn error_bodies_give_their_message_and_nothing_else() {
        let openai = br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(
            provider_message(openai).unwrap(),
            "Incorrect API key provided"
        );
        assert_eq!(
            provider_message(br#"{"error":"model not found"}"#).unwrap(),
            "model not found"
        );
        assert_eq!(
            provider_message(b"<html><body>Bad gateway</body></html>"),
            None
        );
    }
}
