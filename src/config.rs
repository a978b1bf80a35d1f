//! Every setting of the server, put together from the parts each module reads for itself.
//!
//! The composition root of configuration: `settings` (the server's own part and the tools to
//! read variables), the embedded auth service's `AuthConfig`, a remote Supabase project.

use crate::{
    auth::remote::{self, RemoteSupabase},
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
