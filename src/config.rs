//! Every setting of the server, put together from the parts each module reads for itself.
//!
//! The composition root of configuration: `settings` (the server's own part and the tools to
//! read variables), the embedded auth service's `AuthConfig`, a remote Supabase project.

use crate::{
    auth::{
        remote::{self, RemoteSupabase},
        verify::JWKS_MAX_AGE,
    },
    auth_service::config::{self as auth_service_config, AuthConfig},
    chat::config::{self as chat_config, ChatConfig},
    settings::{self, Settings, SettingsError, Vars},
};

/// Who signs people in.
#[derive(Clone, Debug)]
pub enum AuthMode {
    /// The embedded Supabase-Auth-compatible service at `/auth/v1`.
    Embedded(Box<AuthConfig>),
    /// A real Supabase project.
    Remote(RemoteSupabase),
}

/// Everything the server needs to start, already validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub settings: Settings,
    pub auth: AuthMode,
    pub chat: ChatConfig,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let vars = Vars(&lookup);
        let settings = Settings::from_vars(&vars)?;
        // The embedded service's settings are checked even when a remote project is used, so a
        // typo is reported at once and not on the day the project is switched back.
        let embedded = AuthConfig::from_vars(&vars, &settings)?;
        // Zero-downtime key rotation holds only if a rotated-in key is in every instance's cached
        // JWKS before the first token it signs: a shorter lead would have instances refuse good
        // tokens for up to the cache's age (docs/DEPLOY.md).
        if embedded.key_publish_lead <= JWKS_MAX_AGE {
            return Err(SettingsError::new(
                "FERROCHAT_JWT_KEY_PUBLISH_SECS",
                &embedded.key_publish_lead.as_secs().to_string(),
                &format!(
                    "more than {} seconds, the age of every instance's cached JWKS",
                    JWKS_MAX_AGE.as_secs()
                ),
            ));
        }
        let auth = match RemoteSupabase::from_vars(&vars)? {
            Some(remote) => AuthMode::Remote(remote),
            None => AuthMode::Embedded(Box::new(embedded)),
        };
        let chat = ChatConfig::from_vars(&vars)?;
        Ok(Config {
            settings,
            auth,
            chat,
        })
    }

    /// The `--help` text: every setting with its default.
    pub fn help() -> String {
        settings::help(&[
            ("Server", settings::SETTINGS),
            ("Embedded auth service", auth_service_config::SETTINGS),
            ("Remote Supabase project", remote::SETTINGS),
            ("Chat models", chat_config::SETTINGS),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_the_settings_of_every_module() {
        let help = Config::help();
        for name in [
            "DATABASE_URL",
            "FERROCHAT_JWT_ALGORITHM",
            "SUPABASE_URL",
            "OPENAI_API_KEY",
        ] {
            assert!(help.contains(name), "{name}");
        }
    }

    #[test]
    fn a_key_publish_lead_within_the_jwks_cache_age_is_refused() {
        let with_lead = |secs: &'static str| {
            Config::from_lookup(move |name| {
                (name == "FERROCHAT_JWT_KEY_PUBLISH_SECS").then(|| secs.to_owned())
            })
        };
        assert_eq!(
            with_lead("300").unwrap_err().to_string(),
            "invalid setting FERROCHAT_JWT_KEY_PUBLISH_SECS=\"300\": expected more than 300 \
             seconds, the age of every instance's cached JWKS"
        );
        assert!(with_lead("0").is_err());
        let Config { auth, .. } = with_lead("301").unwrap();
        let AuthMode::Embedded(embedded) = auth else {
            panic!("no remote project was set")
        };
        assert_eq!(embedded.key_publish_lead.as_secs(), 301);
    }

    #[test]
    fn supabase_url_switches_to_the_remote_project() {
        let config = Config::from_lookup(|name| match name {
            "SUPABASE_URL" => Some("https://abcd.supabase.co".into()),
            "SUPABASE_ANON_KEY" => Some("anon".into()),
            _ => None,
        })
        .unwrap();
        assert!(matches!(config.auth, AuthMode::Remote(_)));
        assert!(matches!(
            Config::from_lookup(|_| None).unwrap().auth,
            AuthMode::Embedded(_)
        ));
    }
}
