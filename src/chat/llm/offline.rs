//! The offline echo: a stand-in model that needs no provider. It repeats the last user message
//! after a fixed preface, word by word, so the chat works (and can be tested) without an AI.

use std::time::Duration;

use futures_util::{stream, StreamExt};

use super::{ChatMessage, CompletionStream, Role, StreamEvent};

/// The offline model's id.
pub const OFFLINE_MODEL_ID: &str = "offline-echo";

/// The offline model's name in the model picker.
pub const OFFLINE_MODEL_LABEL: &str = "Echo (offline) — not an AI";

/// The first line of every offline answer; a blank line and the user's message follow.
pub const OFFLINE_PREFACE: &str =
    "Offline echo — no model is configured, so this repeats your message:";

/// The offline model, pacing its tokens like a slow model would.
#[derive(Clone, Debug)]
pub(super) struct OfflineEcho {
    token_delay: Duration,
}

impl OfflineEcho {
    pub(super) fn new(token_delay: Duration) -> Self {
        OfflineEcho { token_delay }
    }

    /// Echoes the last user message: one token per delay, then usage and `Finished`. The stream
    /// does its work only while polled, so dropping it stops it.
    pub(super) fn stream(&self, messages: &[ChatMessage]) -> CompletionStream {
        let last_user_message = messages
            .iter()
            .rev()
            .find(|message| message.role == Role::User)
            .map_or("", |message| message.content.as_str());
        let answer = format!("{OFFLINE_PREFACE}\n\n{last_user_message}");
        let usage = StreamEvent::Usage {
            prompt_tokens: messages.iter().map(|m| word_count(&m.content)).sum(),
            completion_tokens: word_count(&answer),
        };
        let finished = StreamEvent::Finished {
            reason: Some("stop".into()),
        };
        let delay = self.token_delay;
        let tokens = words_with_spaces(&answer)
            .into_iter()
            .map(StreamEvent::Token)
            .collect::<Vec<_>>();
        stream::iter(tokens)
            .then(move |token| async move {
                tokio::time::sleep(delay).await;
                token
            })
            .chain(stream::iter([usage, finished]))
            .map(Ok)
            .boxed()
    }
}

/// Splits `text` before each word that follows whitespace, so every piece is a word with the
/// whitespace after it and the pieces concatenate to `text` exactly.
fn words_with_spaces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut after_space = false;
    for (index, c) in text.char_indices() {
        if !c.is_whitespace() && after_space && index > start {
            pieces.push(text[start..index].to_string());
            start = index;
        }
        after_space = c.is_whitespace();
    }
    if start < text.len() {
        pieces.push(text[start..].to_string());
    }
    pieces
}

/// The offline stand-in for a token count: whitespace-separated words.
fn word_count(text: &str) -> u32 {
    text.split_whitespace()
        .count()
        .try_into()
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_words_with_their_following_whitespace() {
        assert_eq!(
            words_with_spaces("  héllo  wörld\n\nbye "),
            ["  ", "héllo  ", "wörld\n\n", "bye "]
        );
        assert_eq!(words_with_spaces("one"), ["one"]);
        assert!(words_with_spaces("").is_empty());
    }

    #[test]
    fn words_are_counted_by_whitespace() {
        assert_eq!(word_count(" a  b\nc "), 3);
        assert_eq!(word_count(""), 0);
    }
}
