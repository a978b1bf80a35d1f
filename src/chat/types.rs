//! What the chat pages and the server agree on: sessions, messages and the rules for what a
//! person may type. Compiled for both the server and the browser.

use serde::{Deserialize, Serialize};

/// The title of a session before its first message names it.
pub const DEFAULT_TITLE: &str = "New chat";
/// The longest title a person may give a session, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest message a person may send, in characters (the composer counts down to it).
pub const MAX_MESSAGE_CHARS: usize = 32_000;
/// How many characters of the first message become the session's title.
const AUTO_TITLE_CHARS: usize = 60;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "system" => Some(Role::System),
            _ => None,
        }
    }
}

/// Where an answer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Complete,
    /// Being written by the model right now.
    Streaming,
    /// Stopped by the person (or their connection): the partial answer is kept.
    Stopped,
    /// The model failed mid-answer: the partial answer is kept, with what went wrong.
    Error,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Complete => "complete",
            MessageStatus::Streaming => "streaming",
            MessageStatus::Stopped => "stopped",
            MessageStatus::Error => "error",
        }
    }

    pub fn parse(value: &str) -> Option<MessageStatus> {
        match value {
            "complete" => Some(MessageStatus::Complete),
            "streaming" => Some(MessageStatus::Streaming),
            "stopped" => Some(MessageStatus::Stopped),
            "error" => Some(MessageStatus::Error),
            _ => None,
        }
    }
}

/// One of a person's conversations, as the sidebar lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSummary {
    pub id: String,
    pub title: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last message or rename.
    pub updated_at: i64,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: String,
    pub chat_session_id: String,
    pub role: Role,
    pub content: String,
    pub status: MessageStatus,
    /// The model that wrote an answer.
    pub model: Option<String>,
    /// What went wrong, in words for the person, when `status` is `Error`.
    pub error: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Why a person's input was not accepted, in words they understand.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("Type a message first.")]
    EmptyMessage,
    #[error("That message is too long: the limit is {MAX_MESSAGE_CHARS} characters.")]
    MessageTooLong,
    #[error("A title needs at least one character.")]
    EmptyTitle,
    #[error("That title is too long: the limit is {MAX_TITLE_CHARS} characters.")]
    TitleTooLong,
    #[error("The text contains a character that cannot be stored (a NUL byte).")]
    Unstorable,
}

/// A message as it will be stored: not blank, not too long, storable in any database.
pub fn valid_message(content: &str) -> Result<&str, InputError> {
    if content.contains('\0') {
        return Err(InputError::Unstorable);
    }
    if content.trim().is_empty() {
        return Err(InputError::EmptyMessage);
    }
    if content.chars().count() > MAX_MESSAGE_CHARS {
        return Err(InputError::MessageTooLong);
    }
    Ok(content)
}

/// A title as it will be stored: trimmed, 1 to [`MAX_TITLE_CHARS`] characters, on one line.
pub fn valid_title(title: &str) -> Result<String, InputError> {
    if title.contains('\0') {
        return Err(InputError::Unstorable);
    }
    let title: String = title.split_whitespace().collect::<Vec<_>>().join(" ");
    match title.chars().count() {
        0 => Err(InputError::EmptyTitle),
        n if n > MAX_TITLE_CHARS => Err(InputError::TitleTooLong),
        _ => Ok(title),
    }
}

/// The title a first message gives its session: its first words, on one line.
pub fn title_from_message(content: &str) -> String {
    let line: String = content.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= AUTO_TITLE_CHARS {
        return if line.is_empty() {
            DEFAULT_TITLE.into()
        } else {
            line
        };
    }
    let cut: String = line.chars().take(AUTO_TITLE_CHARS).collect();
    // End on a word boundary when there is one in the second half.
    let cut = match cut.rfind(' ') {
        Some(space) if space > AUTO_TITLE_CHARS / 2 => cut[..space].to_owned(),
        _ => cut,
    };
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_must_have_content_and_fit() {
        assert_eq!(valid_message("  \n "), Err(InputError::EmptyMessage));
        assert_eq!(valid_message("a\0b"), Err(InputError::Unstorable));
        assert!(valid_message(&"x".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert_eq!(
            valid_message(&"é".repeat(MAX_MESSAGE_CHARS + 1)),
            Err(InputError::MessageTooLong)
        );
    }

    #[test]
    fn titles_are_trimmed_to_one_line_and_bounded() {
        assert_eq!(valid_title("  Trip\n plans  ").unwrap(), "Trip plans");
        assert_eq!(valid_title(" \t "), Err(InputError::EmptyTitle));
        assert!(valid_title(&"t".repeat(MAX_TITLE_CHARS)).is_ok());
        assert_eq!(
            valid_title(&"t".repeat(MAX_TITLE_CHARS + 1)),
            Err(InputError::TitleTooLong)
        );
    }

    #[test]
    fn a_first_message_names_its_session_by_its_first_words() {
        assert_eq!(
            title_from_message("  How do\nI bake bread? "),
            "How do I bake bread?"
        );
        let long =
            "Explain the difference between borrowing and ownership in Rust with examples please";
        let title = title_from_message(long);
        assert!(
            title.ends_with('…') && title.chars().count() <= AUTO_TITLE_CHARS + 1,
            "{title}"
        );
        assert!(long.starts_with(title.trim_end_matches('…')));
    }
}
