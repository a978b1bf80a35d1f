//! Why an answer failed: precise for the log (`Display`), plain for the chat ([`LlmError::user_message`]).

/// The longest provider message kept, in characters: one line in a log or a chat bubble.
const MESSAGE_LIMIT: usize = 200;

/// Why a model could not answer, or stopped answering.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// The requested model is not offered.
    #[error("model {0:?} is not offered")]
    UnknownModel(String),
    /// The provider could not be reached (DNS, TCP, TLS, connect timeout).
    #[error("could not connect to the model provider: {0}")]
    Connect(String),
    /// The provider refused the request; `message` is its own, on one line.
    #[error("the model provider answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// No token arrived within the first-token timeout of sending the request.
    #[error("the model did not start answering in time")]
    FirstTokenTimeout,
    /// The answer had started, then nothing arrived within the idle timeout.
    #[error("the model's answer paused for too long")]
    IdleTimeout,
    /// The connection ended before the answer was complete (`[DONE]` or a `finish_reason`).
    #[error("the connection to the model provider ended before the answer was complete")]
    Dropped,
    /// The provider reported an error in the middle of the stream.
    #[error("the model provider reported an error: {message}")]
    Upstream { message: String },
    /// The provider sent something that is not an OpenAI-compatible stream.
    #[error("the model provider's answer could not be read: {0}")]
    Protocol(String),
}

impl LlmError {
    /// The provider's answer to a refused request, as [`LlmError::Status`].
    pub(super) fn status(status: u16, message: &str) -> Self {
        LlmError::Status {
            status,
            message: one_line(message),
        }
    }

    /// An error event in the stream, as [`LlmError::Upstream`].
    pub(super) fn upstream(message: &str) -> Self {
        LlmError::Upstream {
            message: one_line(message),
        }
    }

    /// What to tell the person chatting: plain words, at most one line of the provider's own
    /// message, never credentials (a 401's message may quote part of the API key).
    pub fn user_message(&self) -> String {
        match self {
            LlmError::UnknownModel(_) => {
                "This model is not available. Please choose another one.".into()
            }
            LlmError::Connect(_) => {
                "Could not reach the model service. Please try again in a moment.".into()
            }
            LlmError::Status { status, message } => match status {
                401 | 403 => "The model service refused this server's credentials. Please tell the site's administrator.".into(),
                404 => "The model service does not offer this model. Please choose another one or tell the site's administrator.".into(),
                429 => "The model service is busy or out of quota. Please try again later.".into(),
                400 | 413 | 422 => format!("The model service could not take this conversation: {message}"),
                500.. => "The model service had a problem. Please try again in a moment.".into(),
                _ => format!("The model service refused the request (HTTP {status})."),
            },
            LlmError::FirstTokenTimeout => {
                "The model took too long to start answering. Please try again.".into()
            }
            LlmError::IdleTimeout => {
                "The model stopped answering partway through. Please try again.".into()
            }
            LlmError::Dropped => {
                "The connection to the model was lost before the answer was complete. Please try again.".into()
            }
            LlmError::Upstream { message } => format!("The model stopped with an error: {message}"),
            LlmError::Protocol(_) => {
                "The model service sent an answer this server could not read.".into()
            }
        }
    }
}

/// The first line of `text`, cut to [`MESSAGE_LIMIT`] characters.
fn one_line(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or_default().trim_end();
    match line.char_indices().nth(MESSAGE_LIMIT) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_messages_are_cut_to_one_line() {
        let long = format!("{}\nsecond line", "é".repeat(500));
        assert_eq!(
            LlmError::status(400, &long),
            LlmError::Status {
                status: 400,
                message: format!("{}…", "é".repeat(MESSAGE_LIMIT)),
            }
        );
        assert_eq!(one_line("  short  "), "short");
        assert_eq!(one_line(""), "");
    }

    #[test]
    fn a_refused_key_is_never_quoted_to_the_user() {
        let message = "Incorrect API key provided: sk-abc***wxyz. You can find your API key at ...";
        for status in [401, 403] {
            let text = LlmError::status(status, message).user_message();
            assert!(!text.contains("sk-"), "{text}");
            assert!(text.contains("administrator"), "{text}");
        }
    }

    #[test]
    fn a_refused_conversation_says_why() {
        let error = LlmError::status(400, "This model's maximum context length is 4097 tokens.");
        assert_eq!(
            error.user_message(),
            "The model service could not take this conversation: This model's maximum context length is 4097 tokens."
        );
        assert_eq!(
            LlmError::upstream("overloaded").user_message(),
            "The model stopped with an error: overloaded"
        );
    }
}
