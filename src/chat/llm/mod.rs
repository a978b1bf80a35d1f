//! The chat's language models behind one small API: [`Models`] lists them and streams an answer
//! from the configured OpenAI-compatible provider or from the offline echo.
//!
//! An answer is a [`CompletionStream`]: tokens, then usage if the provider reports it, then
//! [`StreamEvent::Finished`]; or, at any point, one [`LlmError`]. Nothing follows `Finished` or an
//! error. Dropping the stream cancels the answer at once: the provider's connection is closed.

mod error;
mod offline;
mod openai;

use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::chat::config::ChatConfig;

pub use error::LlmError;
pub use offline::{OFFLINE_MODEL_ID, OFFLINE_MODEL_LABEL, OFFLINE_PREFACE};

use offline::OfflineEcho;
use openai::OpenAiClient;

/// Who wrote a message: the chat's own roles, which serialise as OpenAI's.
pub use crate::chat::types::Role;

/// One message of the conversation sent to a model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

/// What to ask: a model by id and the conversation so far, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletionRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
}

/// One step of a streamed answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// The next piece of the answer's text; the pieces concatenate to the answer.
    Token(String),
    /// Token counts as the provider reports them (the offline model counts words).
    Usage {
        prompt_tokens: u32,
        completion_tokens: u32,
    },
    /// The answer is complete; `reason` is the provider's `finish_reason` (`stop`, `length`, ...).
    Finished { reason: Option<String> },
}

/// A streamed answer; see the module documentation for its order.
pub type CompletionStream = BoxStream<'static, Result<StreamEvent, LlmError>>;

/// A model the chat offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The provider's model id, e.g. `gpt-4o-mini`, or [`OFFLINE_MODEL_ID`].
    pub id: String,
    /// The name shown to people.
    pub label: String,
    /// The offline echo, which is not an AI.
    pub offline: bool,
}

/// Chooses and runs models: the configured provider's models, or the offline one.
#[derive(Clone, Debug)]
pub struct Models {
    /// The provider's models in configured order, then the offline model; never empty.
    list: Vec<ModelInfo>,
    provider: Option<OpenAiClient>,
    offline: OfflineEcho,
}

impl Models {
    /// The models of `config`: the provider's, if one is configured, and the offline echo last.
    pub fn new(config: &ChatConfig) -> Self {
        let mut list: Vec<ModelInfo> = config
            .provider
            .iter()
            .flat_map(|provider| &provider.models)
            .map(|id| ModelInfo {
                id: id.clone(),
                label: id.clone(),
                offline: false,
            })
            .collect();
        list.push(ModelInfo {
            id: OFFLINE_MODEL_ID.into(),
            label: OFFLINE_MODEL_LABEL.into(),
            offline: true,
        });
        Models {
            list,
            provider: config.provider.as_ref().map(OpenAiClient::new),
            offline: OfflineEcho::new(config.offline_token_delay),
        }
    }

    /// Every model offered, the default first.
    pub fn list(&self) -> &[ModelInfo] {
        &self.list
    }

    /// The model for a new chat: the provider's first, or the offline echo without a provider.
    pub fn default_model(&self) -> &ModelInfo {
        &self.list[0]
    }

    /// The model with this id, if offered.
    pub fn find(&self, id: &str) -> Option<&ModelInfo> {
        self.list.iter().find(|model| model.id == id)
    }

    /// Starts streaming the answer to `request`. Only an unknown model is refused here; every
    /// other failure (connection, HTTP status, timeouts) arrives as the stream's last item.
    /// Nothing is sent before the stream is first polled.
    pub fn stream(&self, request: CompletionRequest) -> Result<CompletionStream, LlmError> {
        let model = self
            .find(&request.model)
            .ok_or_else(|| LlmError::UnknownModel(request.model.clone()))?;
        if model.offline {
            return Ok(self.offline.stream(&request.messages));
        }
        match &self.provider {
            Some(provider) => Ok(provider.stream(request)),
            // Not listed without a provider; refused like any other unknown model.
            None => Err(LlmError::UnknownModel(request.model)),
        }
    }
}
