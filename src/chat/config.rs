//! Settings of the chat's models, parsed from environment variables.
//!
//! The provider variables are the OpenAI SDKs' own, so an existing `.env` works unchanged.

use std::time::Duration;

use url::Url;

use crate::settings::{Secret, Setting, SettingsError, Vars};

/// The chat's settings, for `--help`.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "OPENAI_BASE_URL",
        default: OPENAI_API_URL,
        meaning: "an OpenAI-compatible Chat Completions API (OpenAI, Ollama's /v1, llama.cpp, vLLM, LiteLLM); setting it or the key switches the provider on",
    },
    Setting {
        name: "OPENAI_API_KEY",
        default: "",
        meaning: "sent as a Bearer token to the provider (local servers may need none)",
    },
    Setting {
        name: "FERROCHAT_MODELS",
        default: "gpt-3.5-turbo,gpt-4o-mini (with OpenAI's URL)",
        meaning: "comma-separated model ids offered in the chat, the first is the default; required with another OPENAI_BASE_URL",
    },
    Setting {
        name: "FERROCHAT_LLM_CONNECT_TIMEOUT_SECS",
        default: "10",
        meaning: "give up connecting to the provider after this long",
    },
    Setting {
        name: "FERROCHAT_LLM_FIRST_TOKEN_TIMEOUT_SECS",
        default: "60",
        meaning: "give up when the model has not started its answer this long after the request",
    },
    Setting {
        name: "FERROCHAT_LLM_IDLE_TIMEOUT_SECS",
        default: "30",
        meaning: "give up when the model's answer pauses this long",
    },
    Setting {
        name: "FERROCHAT_CONTEXT_BUDGET_TOKENS",
        default: "6000",
        meaning: "how much of a conversation goes to the model with each message (oldest turns dropped first; about 4 characters a token)",
    },
    Setting {
        name: "FERROCHAT_CHAT_STREAMS_PER_USER",
        default: "3",
        meaning: "answers one person may have being written at once, across all their chats (each costs a model request)",
    },
    Setting {
        name: "FERROCHAT_GUEST_MESSAGES",
        default: "10",
        meaning: "messages a guest (anonymous sign-in) may send in all, until they add an email and password (0: guests may only look)",
    },
    Setting {
        name: "FERROCHAT_OFFLINE_TOKEN_DELAY_MS",
        default: "30",
        meaning: "pause between the words of the offline echo model (always offered, the only model without a provider)",
    },
];

/// OpenAI's API, the default `OPENAI_BASE_URL` (as in OpenAI's SDKs).
pub const OPENAI_API_URL: &str = "https://api.openai.com/v1";

/// The models offered when OpenAI's own API is used and `FERROCHAT_MODELS` is unset.
const OPENAI_DEFAULT_MODELS: [&str; 2] = ["gpt-3.5-turbo", "gpt-4o-mini"];

/// The chat's settings, already validated.
#[derive(Clone, Debug)]
pub struct ChatConfig {
    /// The OpenAI-compatible provider; None: only the offline model is offered.
    pub provider: Option<OpenAiConfig>,
    /// Pause before each token of the offline model.
    pub offline_token_delay: Duration,
    /// The conversation sent with each message, at most, in characters.
    pub history_budget_chars: usize,
    /// Answers one person may have being written at once.
    pub streams_per_user: usize,
    /// Messages a guest may send in all.
    pub guest_messages: u32,
}

/// An OpenAI-compatible Chat Completions provider.
#[derive(Clone, Debug)]
pub struct OpenAiConfig {
    /// The API's base, e.g. `https://api.openai.com/v1`; requests go to `{base_url}/chat/completions`.
    pub base_url: Url,
    /// None: no `Authorization` header (local servers).
    pub api_key: Option<Secret>,
    /// Model ids offered, at least one; the first is the default.
    pub models: Vec<String>,
    pub timeouts: Timeouts,
}

/// How long to wait for the provider before giving up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the connection (TCP and TLS).
    pub connect: Duration,
    /// From sending the request to the first token of the answer.
    pub first_token: Duration,
    /// Between two events of the answer, once it has started.
    pub idle: Duration,
}

impl ChatConfig {
    /// Reads the chat's settings; every one is checked even when no provider is configured.
    pub fn from_vars(vars: &Vars) -> Result<Self, SettingsError> {
        let timeouts = Timeouts {
            connect: positive_seconds(vars, "FERROCHAT_LLM_CONNECT_TIMEOUT_SECS", 10)?,
            first_token: positive_seconds(vars, "FERROCHAT_LLM_FIRST_TOKEN_TIMEOUT_SECS", 60)?,
            idle: positive_seconds(vars, "FERROCHAT_LLM_IDLE_TIMEOUT_SECS", 30)?,
        };
        let delay_ms: Option<u64> = vars.parse(
            "FERROCHAT_OFFLINE_TOKEN_DELAY_MS",
            "a whole number of milliseconds",
        )?;
        let base_url = vars.url("OPENAI_BASE_URL")?;
        let api_key = vars.get("OPENAI_API_KEY").map(Secret);
        let models = model_ids(vars)?;
        let provider = if base_url.is_none() && api_key.is_none() {
            if !models.is_empty() {
                return Err(SettingsError::new(
                    "FERROCHAT_MODELS",
                    &models.join(","),
                    "OPENAI_API_KEY or OPENAI_BASE_URL too: the models need a provider",
                ));
            }
            None
        } else {
            let base_url =
                base_url.unwrap_or_else(|| Url::parse(OPENAI_API_URL).expect("a valid URL"));
            let models = if !models.is_empty() {
                models
            } else if is_openai(&base_url) {
                OPENAI_DEFAULT_MODELS.map(String::from).to_vec()
            } else {
                // Another server's model names cannot be guessed; sending OpenAI's would fail
                // every chat, so say so at start.
                return Err(SettingsError::new(
                    "FERROCHAT_MODELS",
                    "",
                    "the model ids the server at OPENAI_BASE_URL offers, e.g. llama3.2",
                ));
            };
            Some(OpenAiConfig {
                base_url,
                api_key,
                models,
                timeouts,
            })
        };
        let budget_tokens: Option<usize> = vars.parse(
            "FERROCHAT_CONTEXT_BUDGET_TOKENS",
            "a whole number of tokens",
        )?;
        let streams_per_user: Option<usize> = vars.parse(
            "FERROCHAT_CHAT_STREAMS_PER_USER",
            "a whole number of answers, at least 1",
        )?;
        if streams_per_user == Some(0) {
            return Err(SettingsError::new(
                "FERROCHAT_CHAT_STREAMS_PER_USER",
                "0",
                "a whole number of answers, at least 1",
            ));
        }
        let guest_messages: Option<u32> =
            vars.parse("FERROCHAT_GUEST_MESSAGES", "a whole number of messages")?;
        Ok(ChatConfig {
            provider,
            streams_per_user: streams_per_user.unwrap_or(3),
            guest_messages: guest_messages.unwrap_or(10),
            offline_token_delay: Duration::from_millis(delay_ms.unwrap_or(30)),
            history_budget_chars: budget_tokens.unwrap_or(6000).saturating_mul(4),
        })
    }
}

/// `FERROCHAT_MODELS`: distinct ids, none taken by the offline model.
fn model_ids(vars: &Vars) -> Result<Vec<String>, SettingsError> {
    let ids: Vec<String> = vars.list("FERROCHAT_MODELS", "model ids")?;
    for (index, id) in ids.iter().enumerate() {
        if id == crate::chat::llm::OFFLINE_MODEL_ID || ids[..index].contains(id) {
            return Err(SettingsError::new(
                "FERROCHAT_MODELS",
                id,
                "distinct model ids other than the offline model's",
            ));
        }
    }
    Ok(ids)
}

/// Whether `url` is OpenAI's own API, whose model names we know.
fn is_openai(url: &Url) -> bool {
    url.as_str().trim_end_matches('/') == OPENAI_API_URL
}

/// A timeout of at least one second: zero would fail every request.
fn positive_seconds(vars: &Vars, name: &str, default: u64) -> Result<Duration, SettingsError> {
    let duration = vars.seconds(name, default)?;
    if duration.is_zero() {
        return Err(SettingsError::new(name, "0", "at least 1 second"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config_with(vars: &[(&str, &str)]) -> Result<ChatConfig, SettingsError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ChatConfig::from_vars(&Vars(&|name| vars.get(name).cloned()))
    }

    #[test]
    fn without_provider_variables_only_the_offline_model_runs() {
        let config = config_with(&[]).unwrap();
        assert!(config.provider.is_none());
        assert_eq!(config.offline_token_delay, Duration::from_millis(30));
    }

    #[test]
    fn an_openai_key_alone_offers_the_starter_models_at_openai() {
        let config = config_with(&[("OPENAI_API_KEY", "sk-test")]).unwrap();
        let provider = config.provider.unwrap();
        assert_eq!(provider.base_url.as_str(), "https://api.openai.com/v1");
        assert_eq!(provider.api_key.unwrap().0, "sk-test");
        assert_eq!(provider.models, ["gpt-3.5-turbo", "gpt-4o-mini"]);
        assert_eq!(
            provider.timeouts,
            Timeouts {
                connect: Duration::from_secs(10),
                first_token: Duration::from_secs(60),
                idle: Duration::from_secs(30),
            }
        );
    }

    #[test]
    fn a_local_server_needs_no_key_but_its_model_names() {
        let config = config_with(&[
            ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
            ("FERROCHAT_MODELS", " llama3.2 , qwen2.5 ,"),
        ])
        .unwrap();
        let provider = config.provider.unwrap();
        assert!(provider.api_key.is_none());
        assert_eq!(provider.models, ["llama3.2", "qwen2.5"]);

        let error = config_with(&[("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")]).unwrap_err();
        assert!(error.to_string().contains("FERROCHAT_MODELS"), "{error}");
    }

    #[test]
    fn openai_url_given_explicitly_still_gets_the_starter_models() {
        let config = config_with(&[("OPENAI_BASE_URL", "https://api.openai.com/v1/")]).unwrap();
        assert_eq!(config.provider.unwrap().models.len(), 2);
    }

    #[test]
    fn models_without_a_provider_are_refused() {
        let error = config_with(&[("FERROCHAT_MODELS", "gpt-4o")]).unwrap_err();
        assert!(error.to_string().contains("OPENAI_API_KEY"), "{error}");
    }

    #[test]
    fn duplicate_or_offline_model_ids_are_refused() {
        for models in ["a,b,a", "a,offline-echo"] {
            let result = config_with(&[("OPENAI_API_KEY", "k"), ("FERROCHAT_MODELS", models)]);
            assert!(result.is_err(), "{models}");
        }
    }

    #[test]
    fn bad_urls_and_timeouts_name_their_variable_and_never_echo_the_key() {
        let error = config_with(&[
            ("OPENAI_BASE_URL", "ftp://x"),
            ("OPENAI_API_KEY", "sk-secret"),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("OPENAI_BASE_URL"), "{error}");
        assert!(!error.to_string().contains("sk-secret"), "{error}");
        for name in [
            "FERROCHAT_LLM_CONNECT_TIMEOUT_SECS",
            "FERROCHAT_LLM_FIRST_TOKEN_TIMEOUT_SECS",
            "FERROCHAT_LLM_IDLE_TIMEOUT_SECS",
        ] {
            for bad in ["0", "soon"] {
                let error = config_with(&[(name, bad)]).unwrap_err();
                assert!(error.to_string().contains(name), "{error}");
            }
        }
        assert!(config_with(&[("FERROCHAT_OFFLINE_TOKEN_DELAY_MS", "-1")]).is_err());
    }

    #[test]
    fn timeouts_and_the_offline_pace_are_configurable() {
        let config = config_with(&[
            ("OPENAI_API_KEY", "k"),
            ("FERROCHAT_LLM_CONNECT_TIMEOUT_SECS", "3"),
            ("FERROCHAT_LLM_FIRST_TOKEN_TIMEOUT_SECS", "120"),
            ("FERROCHAT_LLM_IDLE_TIMEOUT_SECS", "5"),
            ("FERROCHAT_OFFLINE_TOKEN_DELAY_MS", "0"),
        ])
        .unwrap();
        assert_eq!(config.offline_token_delay, Duration::ZERO);
        let timeouts = config.provider.unwrap().timeouts;
        assert_eq!(timeouts.connect, Duration::from_secs(3));
        assert_eq!(timeouts.first_token, Duration::from_secs(120));
        assert_eq!(timeouts.idle, Duration::from_secs(5));
    }

    #[test]
    fn every_setting_read_is_documented() {
        let names: Vec<&str> = SETTINGS.iter().map(|setting| setting.name).collect();
        for name in [
            "OPENAI_BASE_URL",
            "OPENAI_API_KEY",
            "FERROCHAT_MODELS",
            "FERROCHAT_LLM_CONNECT_TIMEOUT_SECS",
            "FERROCHAT_LLM_FIRST_TOKEN_TIMEOUT_SECS",
            "FERROCHAT_LLM_IDLE_TIMEOUT_SECS",
            "FERROCHAT_OFFLINE_TOKEN_DELAY_MS",
        ] {
            assert!(names.contains(&name), "{name}");
        }
    }
}
