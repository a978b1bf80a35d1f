//! Export and import of one conversation: Markdown to read, JSON to bring back.
//!
//! The JSON export carries no ids: an import is only data (a title and messages), stored as a
//! new chat of the person importing it, with new ids, so an export made by someone else can
//! never name, reach or overwrite their rows. An import is validated whole before anything is
//! stored, and every refusal says what to fix.

use serde::{Deserialize, Serialize};

use super::types::{valid_title, ChatMessage, ChatSummary, MessageStatus, Role};

/// What the JSON export says it is.
pub const FORMAT: &str = "ferrochat.chat";
/// The version of the JSON export this code writes and reads.
pub const VERSION: u32 = 1;
/// The largest export that is imported, in bytes of JSON.
pub const MAX_IMPORT_BYTES: usize = 1024 * 1024;
/// The most messages an imported chat may have.
pub const MAX_IMPORT_MESSAGES: usize = 2_000;

/// A conversation as the JSON export writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatExport {
    pub format: String,
    pub version: u32,
    pub title: String,
    /// RFC 3339; informative only, an import is a new chat.
    #[serde(default)]
    pub exported_at: Option<String>,
    pub messages: Vec<ExportedMessage>,
}

/// One message of an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedMessage {
    pub role: Role,
    pub content: String,
    /// How an answer ended (`complete`, `stopped`, `error`); `complete` when absent.
    #[serde(default = "complete")]
    pub status: MessageStatus,
    #[serde(default)]
    pub model: Option<String>,
    /// What went wrong, for an answer that failed.
    #[serde(default)]
    pub error: Option<String>,
}

fn complete() -> MessageStatus {
    MessageStatus::Complete
}

/// Why an export was not imported, in words a person can act on.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("That file is too big to import: the limit is {} MB.", MAX_IMPORT_BYTES / (1024 * 1024))]
    TooBig,
    #[error("That is not a ferrochat JSON export ({0}).")]
    NotJson(String),
    #[error("That JSON is not a ferrochat chat export.")]
    WrongFormat,
    #[error("That export was made by a newer version of ferrochat (version {0}); this one reads version {VERSION}.")]
    NewerVersion(u32),
    #[error("That export has no messages.")]
    NoMessages,
    #[error("That export has too many messages: the limit is {MAX_IMPORT_MESSAGES}.")]
    TooManyMessages,
    #[error("Message {0} of that export contains a character that cannot be stored (a NUL byte).")]
    Unstorable(usize),
    #[error("The title of that export is not valid: {0}")]
    Title(String),
}

/// An export that passed validation: what will be stored.
#[derive(Debug)]
pub struct ValidImport {
    pub title: String,
    pub messages: Vec<ExportedMessage>,
}

impl ChatExport {
    /// The export of `session` with its messages (in order).
    pub fn new(session: &ChatSummary, messages: &[ChatMessage], exported_at: String) -> Self {
        ChatExport {
            format: FORMAT.into(),
            version: VERSION,
            title: session.title.clone(),
            exported_at: Some(exported_at),
            messages: messages
                .iter()
                .map(|message| ExportedMessage {
                    role: message.role,
                    content: message.content.clone(),
                    status: message.status,
                    model: message.model.clone(),
                    error: message.error.clone(),
                })
                .collect(),
        }
    }

    /// The conversation as Markdown: the title, then each message under its author. The
    /// messages are Markdown already and go in as they are.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("# {}\n\n", self.title);
        if let Some(at) = &self.exported_at {
            out.push_str(&format!("_Exported from ferrochat on {at}._\n\n"));
        }
        for message in &self.messages {
            let author = match (message.role, &message.model) {
                (Role::User, _) => "You".to_owned(),
                (Role::Assistant, Some(model)) => format!("Answer ({model})"),
                (Role::Assistant, None) => "Answer".to_owned(),
                (Role::System, _) => "System".to_owned(),
            };
            out.push_str(&format!(
                "## {author}\n\n{}\n\n",
                message.content.trim_end()
            ));
            match message.status {
                MessageStatus::Stopped => out.push_str("_(stopped)_\n\n"),
                MessageStatus::Error => out.push_str(&format!(
                    "_(failed: {})_\n\n",
                    message.error.as_deref().unwrap_or("the answer failed")
                )),
                MessageStatus::Complete | MessageStatus::Streaming => {}
            }
        }
        out
    }
}

/// Reads and validates a JSON export (at most [`MAX_IMPORT_BYTES`]). An answer that was still
/// being written when it was exported is imported as stopped: an imported chat never has an
/// answer streaming, which would block it and count against the person's streams.
pub fn parse_export(json: &str) -> Result<ValidImport, ImportError> {
    if json.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooBig);
    }
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|error| ImportError::NotJson(error.to_string()))?;
    if value.get("format").and_then(|format| format.as_str()) != Some(FORMAT) {
        return Err(ImportError::WrongFormat);
    }
    match value.get("version").and_then(|version| version.as_u64()) {
        Some(version) if version > u64::from(VERSION) => {
            return Err(ImportError::NewerVersion(
                version.min(u64::from(u32::MAX)) as u32
            ))
        }
        _ => {}
    }
    let export: ChatExport =
        serde_json::from_value(value).map_err(|error| ImportError::NotJson(error.to_string()))?;
    validate(export)
}

/// Checks an export read from JSON; see [`parse_export`].
pub fn validate(export: ChatExport) -> Result<ValidImport, ImportError> {
    if export.format != FORMAT {
        return Err(ImportError::WrongFormat);
    }
    if export.version > VERSION {
        return Err(ImportError::NewerVersion(export.version));
    }
    if export.messages.is_empty() {
        return Err(ImportError::NoMessages);
    }
    if export.messages.len() > MAX_IMPORT_MESSAGES {
        return Err(ImportError::TooManyMessages);
    }
    let title =
        valid_title(&export.title).map_err(|error| ImportError::Title(error.to_string()))?;
    let mut messages = export.messages;
    for (n, message) in messages.iter_mut().enumerate() {
        let texts = [
            Some(&message.content),
            message.model.as_ref(),
            message.error.as_ref(),
        ];
        if texts.into_iter().flatten().any(|text| text.contains('\0')) {
            return Err(ImportError::Unstorable(n + 1));
        }
        if message.status == MessageStatus::Streaming {
            message.status = MessageStatus::Stopped;
        }
    }
    Ok(ValidImport { title, messages })
}

/// A file name for a download of `title`: its ASCII letters and digits, dashes between words.
pub fn file_name(title: &str, extension: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut stem = words.join("-");
    stem.truncate(60);
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        format!("chat.{extension}")
    } else {
        format!("chat-{stem}.{extension}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(messages: serde_json::Value) -> String {
        serde_json::json!({
            "format": FORMAT, "version": 1, "title": "Trip", "messages": messages,
        })
        .to_string()
    }

    #[test]
    fn an_export_is_validated_with_a_reason_for_each_refusal() {
        let one = serde_json::json!([{ "role": "user", "content": "hi" }]);
        assert!(parse_export(&export(one.clone())).is_ok());
        assert_eq!(
            parse_export(&"x".repeat(MAX_IMPORT_BYTES + 1)).unwrap_err(),
            ImportError::TooBig
        );
        assert!(matches!(
            parse_export("{not json").unwrap_err(),
            ImportError::NotJson(_)
        ));
        assert_eq!(
            parse_export(r#"{"format":"other","version":1}"#).unwrap_err(),
            ImportError::WrongFormat
        );
        assert_eq!(
            parse_export(&format!(r#"{{"format":"{FORMAT}","version":7}}"#)).unwrap_err(),
            ImportError::NewerVersion(7)
        );
        assert_eq!(
            parse_export(&export(serde_json::json!([]))).unwrap_err(),
            ImportError::NoMessages
        );
        assert_eq!(
            parse_export(&export(
                serde_json::json!([{ "role": "user", "content": "a\u{0}b" }])
            ))
            .unwrap_err(),
            ImportError::Unstorable(1)
        );
        assert!(matches!(
            parse_export(&export(
                serde_json::json!([{ "role": "root", "content": "x" }])
            ))
            .unwrap_err(),
            ImportError::NotJson(_)
        ));
        let many: Vec<_> = (0..=MAX_IMPORT_MESSAGES)
            .map(|_| serde_json::json!({ "role": "user", "content": "x" }))
            .collect();
        assert_eq!(
            parse_export(&export(serde_json::Value::Array(many))).unwrap_err(),
            ImportError::TooManyMessages
        );
    }

    #[test]
    fn a_streaming_answer_is_imported_as_stopped() {
        let valid = parse_export(&export(serde_json::json!([
            { "role": "user", "content": "q" },
            { "role": "assistant", "content": "partial", "status": "streaming" },
        ])))
        .unwrap();
        assert_eq!(valid.messages[1].status, MessageStatus::Stopped);
    }

    #[test]
    fn download_names_are_plain_ascii() {
        assert_eq!(file_name("Trip to Lisbon!", "md"), "chat-trip-to-lisbon.md");
        assert_eq!(file_name("\"; rm -rf /\r\n", "json"), "chat-rm-rf.json");
        assert_eq!(file_name("日本語", "json"), "chat.json");
    }
}
