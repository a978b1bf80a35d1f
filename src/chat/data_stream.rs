//! The Vercel AI SDK data stream protocol (v1), the wire format between the chat server and its
//! pages: the starter's frontend reads it with `useChat({ streamProtocol: 'data' })`, and so do
//! ferrochat's own pages. One line per part, `<code>:<JSON>\n`:
//!
//! | code | part | here |
//! |---|---|---|
//! | `f` | start step `{"messageId"}` | the answer's id |
//! | `0` | text, a JSON string | each token, JSON-escaped (the starter forgot, and a quote broke it) |
//! | `2` | data, a JSON array | `[{"status": …}]` when an answer stops or fails: kept partially |
//! | `3` | error, a JSON string | what went wrong, in plain words |
//! | `e` | finish step | `{"finishReason", "usage", "isContinued": false}` |
//! | `d` | finish message | `{"finishReason", "usage"}` |
//!
//! Responses carry the header `x-vercel-ai-data-stream: v1`.
//!
//! ferrochat's own chat page asks for more with `?render=html` (API clients never do, so what
//! they read is unchanged): data parts with the answer rendered on the server, so that the
//! browser needs no Markdown parser (see `crate::chat::render`):
//!
//! | code | part |
//! |---|---|
//! | `2` | `[{"html", "consumed"}]` after a text part that finished blocks: their HTML, and how many UTF-16 units of the not-yet-rendered text they were |
//! | `2` | `[{"html", "final": true}]` before the closing parts: the whole answer's HTML |

use serde_json::{json, Value};

use super::{render::RenderedBlocks, types::MessageStatus};

/// The header (and its value) that marks a data stream response.
pub const HEADER: (&str, &str) = ("x-vercel-ai-data-stream", "v1");

/// Token counts, when the model reported them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
}

fn part(code: char, value: &Value) -> String {
    format!("{code}:{value}\n")
}

/// `f:` the answer starts; `message_id` is its id in the store.
pub fn start(message_id: &str) -> String {
    part('f', &json!({ "messageId": message_id }))
}

/// `0:` a piece of the answer's text.
pub fn text(token: &str) -> String {
    part('0', &Value::String(token.to_owned()))
}

/// `2:` (`?render=html` only) blocks of the answer that are finished, as HTML.
pub fn rendered_blocks(blocks: &RenderedBlocks) -> String {
    part(
        '2',
        &json!([{ "html": blocks.html, "consumed": blocks.consumed_utf16 }]),
    )
}

/// `2:` (`?render=html` only) the whole answer as HTML, once it has ended.
pub fn rendered_answer(html: &str) -> String {
    part('2', &json!([{ "html": html, "final": true }]))
}

/// `3:` what went wrong.
pub fn error(message: &str) -> String {
    part('3', &Value::String(message.to_owned()))
}

/// The closing parts of an answer that ended with `status`: a data part for a stop or a
/// failure (so a page can say the partial answer was kept), then finish step and finish
/// message with the SDK's finish reason.
pub fn finish(status: MessageStatus, usage: Usage) -> String {
    let reason = match status {
        MessageStatus::Complete => "stop",
        MessageStatus::Error => "error",
        MessageStatus::Stopped | MessageStatus::Streaming => "other",
    };
    // The SDK's usage counts are numbers; NaN stands for "not reported" in its own encoder, so
    // unknown counts are left at zero rather than made up.
    let usage = json!({
        "promptTokens": usage.prompt_tokens.unwrap_or(0),
        "completionTokens": usage.completion_tokens.unwrap_or(0),
    });
    let mut out = String::new();
    if status != MessageStatus::Complete {
        out.push_str(&part('2', &json!([{ "status": status.as_str() }])));
    }
    out.push_str(&part(
        'e',
        &json!({ "finishReason": reason, "usage": usage, "isContinued": false }),
    ));
    out.push_str(&part(
        'd',
        &json!({ "finishReason": reason, "usage": usage }),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parts_are_json_strings_whatever_the_token() {
        assert_eq!(text("Hello"), "0:\"Hello\"\n");
        assert_eq!(
            text("a \"quote\", a \\ and\na newline"),
            "0:\"a \\\"quote\\\", a \\\\ and\\na newline\"\n"
        );
        assert_eq!(text("🦀"), "0:\"🦀\"\n");
    }

    #[test]
    fn a_stopped_answer_says_so_before_it_finishes() {
        let out = finish(MessageStatus::Stopped, Usage::default());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], r#"2:[{"status":"stopped"}]"#);
        assert!(lines[1].starts_with("e:") && lines[1].contains(r#""finishReason":"other""#));
        assert!(lines[2].starts_with("d:"));
        let complete = finish(
            MessageStatus::Complete,
            Usage {
                prompt_tokens: Some(3),
                completion_tokens: Some(5),
            },
        );
        assert!(complete.starts_with("e:"));
        assert!(complete.contains(r#""completionTokens":5"#));
    }
}
