//! Typed settings, read once at start from `Leptos.toml` and environment variables.
//!
//! Every value is parsed here; the rest of the server only sees valid types. A bad value stops
//! the server with a message naming the variable, never with a panic.

use std::{fmt, net::SocketAddr, path::PathBuf};

use leptos::config::LeptosOptions;

use crate::auth_service::config::{AuthConfig, Secret};

/// The runtime site settings, embedded so that the binary does not depend on its working directory.
const LEPTOS_TOML: &str = include_str!("../Leptos.toml");

/// One documented setting: its variable, its default and what it does.
struct Setting {
    name: &'static str,
    default: &'static str,
    meaning: &'static str,
}

const SETTINGS: &[Setting] = &[
    Setting {
        name: "LEPTOS_SITE_ADDR",
        default: "127.0.0.1:3000",
        meaning: "address and port the server listens on",
    },
    Setting {
        name: "LEPTOS_SITE_ROOT",
        default: "target/site",
        meaning: "directory of the built site (WASM, JS, CSS, public files)",
    },
    Setting {
        name: "LEPTOS_ENV",
        default: "PROD",
        meaning: "DEV adds the live-reload script (set by `cargo leptos watch`)",
    },
    Setting {
        name: "FERROCHAT_DATA_DIR",
        default: "data",
        meaning: "directory for the SQLite database (created on first start)",
    },
    Setting {
        name: "DATABASE_URL",
        default: "sqlite://<FERROCHAT_DATA_DIR>/ferrochat.db",
        meaning: "database to use instead of the default SQLite file",
    },
    Setting {
        name: "FERROCHAT_LOG_FORMAT",
        default: "pretty",
        meaning: "log format: pretty (for people) or json (for log collectors)",
    },
    Setting {
        name: "RUST_LOG",
        default: "info",
        meaning: "log filter, e.g. `info,ferrochat=debug`",
    },
    Setting {
        name: "SUPABASE_URL",
        default: "",
        meaning: "use this Supabase project for auth instead of the embedded service",
    },
    Setting {
        name: "SUPABASE_ANON_KEY / SUPABASE_PUBLISHABLE_KEY",
        default: "",
        meaning: "the project's public API key (required with SUPABASE_URL)",
    },
    Setting {
        name: "SUPABASE_JWT_SECRET",
        default: "",
        meaning: "verify the project's tokens with its legacy HS256 secret instead of its JWKS",
    },
    Setting {
        name: "FERROCHAT_SITE_URL",
        default: "http://<LEPTOS_SITE_ADDR>",
        meaning: "public URL of the site: token issuer, default redirect, Secure cookies if https",
    },
    Setting {
        name: "FERROCHAT_AUTH_REDIRECT_ALLOW_LIST",
        default: "",
        meaning: "comma-separated URLs (origin + path prefix) auth may redirect to besides the site",
    },
    Setting {
        name: "FERROCHAT_JWT_ALGORITHM",
        default: "ES256",
        meaning: "ES256 (key pair in the database, published as JWKS) or HS256 (shared secret)",
    },
    Setting {
        name: "FERROCHAT_JWT_SECRET",
        default: "",
        meaning: "HS256 secret, at least 32 characters (required with HS256)",
    },
    Setting {
        name: "FERROCHAT_JWT_EXPIRY_SECS",
        default: "3600",
        meaning: "lifetime of access tokens",
    },
    Setting {
        name: "FERROCHAT_REFRESH_REUSE_INTERVAL_SECS",
        default: "10",
        meaning: "grace window in which a just-rotated refresh token still returns the new session",
    },
    Setting {
        name: "FERROCHAT_PKCE_CODE_EXPIRY_SECS",
        default: "300",
        meaning: "lifetime of PKCE auth codes",
    },
    Setting {
        name: "FERROCHAT_AUTH_AUTOCONFIRM",
        default: "true",
        meaning: "false: sign-up sends a confirmation link instead of signing in",
    },
    Setting {
        name: "FERROCHAT_AUTH_DISABLE_SIGNUP",
        default: "false",
        meaning: "true: no new accounts",
    },
    Setting {
        name: "FERROCHAT_SMTP_URL",
        default: "",
        meaning: "send email by SMTP (smtp://user:pass@host:587?tls=required or smtps://...); unset: dev mailbox <data dir>/mail",
    },
    Setting {
        name: "FERROCHAT_SMTP_FROM",
        default: "ferrochat <no-reply@localhost>",
        meaning: "sender of auth emails",
    },
    Setting {
        name: "FERROCHAT_TRUSTED_PROXIES",
        default: "",
        meaning: "comma-separated proxy IPs whose X-Forwarded-For is believed",
    },
    Setting {
        name: "FERROCHAT_RATE_LIMIT_SIGN_IN",
        default: "30",
        meaning: "sign-ins, sign-ups and verifications per client IP per 5 minutes (and a third of it per email)",
    },
    Setting {
        name: "FERROCHAT_RATE_LIMIT_REFRESH",
        default: "150",
        meaning: "token refreshes per client IP per 5 minutes",
    },
    Setting {
        name: "FERROCHAT_RATE_LIMIT_EMAIL",
        default: "4",
        meaning: "recovery and magic-link emails per address per hour",
    },
    Setting {
        name: "FERROCHAT_<PROVIDER>_CLIENT_ID / _CLIENT_SECRET",
        default: "",
        meaning: "enable OAuth: PROVIDER is GOOGLE, GITHUB, FACEBOOK or OIDC",
    },
    Setting {
        name: "FERROCHAT_OIDC_ISSUER / FERROCHAT_GOOGLE_ISSUER",
        default: "Google's",
        meaning: "OpenID issuer URL (discovery) of the generic provider / Google override",
    },
    Setting {
        name: "FERROCHAT_GITHUB_URL / FERROCHAT_GITHUB_API_URL",
        default: "GitHub's",
        meaning: "override GitHub's endpoints (likewise FERROCHAT_FACEBOOK_URL / _API_URL)",
    },
];

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Everything the server needs to start, already validated.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Site settings shared with cargo-leptos; `site_addr` is the listen address.
    pub leptos: LeptosOptions,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub log_format: LogFormat,
    pub log_filter: String,
    /// The embedded auth service.
    pub auth: AuthConfig,
    /// A remote Supabase project; when set, the embedded service is off.
    pub supabase: Option<RemoteSupabase>,
}

/// A real Supabase project to use instead of the embedded auth service.
#[derive(Clone, Debug)]
pub struct RemoteSupabase {
    /// The project URL, e.g. `https://abcd.supabase.co`.
    pub url: url::Url,
    /// The anon or publishable key, sent as `apikey`.
    pub api_key: Secret,
    /// The legacy JWT secret (HS256); without it, tokens are checked against the JWKS.
    pub jwt_secret: Option<Secret>,
}

/// A setting that could not be used, with the variable's name and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}={value:?}: expected {expected}")]
pub struct SettingsError {
    name: String,
    value: String,
    expected: String,
}

impl SettingsError {
    pub(crate) fn new(name: &str, value: &str, expected: &str) -> Self {
        SettingsError {
            name: name.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }
}

/// Typed access to environment variables, each failure naming its variable.
pub(crate) struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    /// The raw value; an empty value counts as unset.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.is_empty())
    }

    /// Parses the value if set; `expected` describes a valid value for the error message.
    pub(crate) fn parse<T: std::str::FromStr>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, SettingsError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => value
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| SettingsError::new(name, &value, expected)),
        }
    }

    /// A boolean: true/false (also 1/0, yes/no).
    pub(crate) fn flag(&self, name: &str, default: bool) -> Result<bool, SettingsError> {
        match self
            .get(name)
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => Err(SettingsError::new(name, other, "true or false")),
        }
    }

    /// A comma-separated list, each item parsed.
    pub(crate) fn list<T: std::str::FromStr>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<Vec<T>, SettingsError> {
        let Some(value) = self.get(name) else {
            return Ok(Vec::new());
        };
        value
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse()
                    .map_err(|_| SettingsError::new(name, item, expected))
            })
            .collect()
    }
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let vars = Vars(&lookup);
        // leptos_config reads LEPTOS_SITE_ADDR too, but with a message that does not name the
        // variable; parse it first so the operator is told exactly what is wrong.
        let site_addr: Option<SocketAddr> = vars.parse(
            "LEPTOS_SITE_ADDR",
            "an IP address and port, like 127.0.0.1:3000",
        )?;
        let mut leptos = leptos_options()?;
        if let Some(site_addr) = site_addr {
            leptos.site_addr = site_addr;
        }
        let data_dir = PathBuf::from(
            vars.get("FERROCHAT_DATA_DIR")
                .unwrap_or_else(|| "data".into()),
        );
        let database_url = match vars.get("DATABASE_URL") {
            Some(url) if url.starts_with("sqlite:") => url,
            Some(url) => return Err(SettingsError::new("DATABASE_URL", &url, "a sqlite: URL")),
            None => format!("sqlite://{}", data_dir.join("ferrochat.db").display()),
        };
        let log_format = match vars.get("FERROCHAT_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(SettingsError::new(
                    "FERROCHAT_LOG_FORMAT",
                    other,
                    "`pretty` or `json`",
                ))
            }
        };
        let log_filter = vars.get("RUST_LOG").unwrap_or_else(|| "info".into());
        if log_filter.parse::<tracing_subscriber::EnvFilter>().is_err() {
            return Err(SettingsError::new(
                "RUST_LOG",
                &log_filter,
                "a tracing filter like `info,ferrochat=debug`",
            ));
        }
        let auth = AuthConfig::from_vars(&vars, leptos.site_addr)?;
        let supabase = match vars.get("SUPABASE_URL") {
            None => None,
            Some(raw) => {
                let url = url::Url::parse(&raw)
                    .ok()
                    .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
                    .ok_or_else(|| {
                        SettingsError::new(
                            "SUPABASE_URL",
                            &raw,
                            "the project URL, like https://abcd.supabase.co",
                        )
                    })?;
                let api_key = vars
                    .get("SUPABASE_ANON_KEY")
                    .or_else(|| vars.get("SUPABASE_PUBLISHABLE_KEY"))
                    .ok_or_else(|| {
                        SettingsError::new(
                            "SUPABASE_ANON_KEY",
                            "",
                            "the project's anon or publishable key when SUPABASE_URL is set",
                        )
                    })?;
                Some(RemoteSupabase {
                    url,
                    api_key: Secret(api_key),
                    jwt_secret: vars.get("SUPABASE_JWT_SECRET").map(Secret),
                })
            }
        };
        Ok(Settings {
            leptos,
            data_dir,
            database_url,
            log_format,
            log_filter,
            auth,
            supabase,
        })
    }

    /// The `--help` text: every setting with its default.
    pub fn help() -> String {
        let mut text = String::from(
            "ferrochat: a chat app with Supabase-style auth\n\n\
             Usage: ferrochat                      serve the app\n\
             \x20      ferrochat rotate-signing-key   new ES256 key; the old one stays in the JWKS until its tokens expire\n\
             \x20      ferrochat --help\n\n\
             Settings come from environment variables (defaults in brackets):\n",
        );
        for setting in SETTINGS {
            text.push_str(&format!(
                "  {:<40} {} [{}]\n",
                setting.name, setting.meaning, setting.default
            ));
        }
        text
    }
}

/// The Leptos site settings: `Leptos.toml` with `LEPTOS_*` variables on top.
fn leptos_options() -> Result<LeptosOptions, SettingsError> {
    leptos::config::get_config_from_str(LEPTOS_TOML).map_err(|error| {
        SettingsError::new(
            "LEPTOS_*",
            "",
            &format!("valid Leptos.toml keys and LEPTOS_* variables ({error})"),
        )
    })
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Pretty => "pretty",
            LogFormat::Json => "json",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings_with(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_need_no_variables() {
        let settings = settings_with(&[]).unwrap();
        assert_eq!(settings.database_url, "sqlite://data/ferrochat.db");
        assert_eq!(settings.log_format, LogFormat::Pretty);
    }

    #[test]
    fn listen_address_comes_from_leptos_site_addr() {
        let settings = settings_with(&[("LEPTOS_SITE_ADDR", "127.0.0.1:4321")]).unwrap();
        assert_eq!(settings.leptos.site_addr.port(), 4321);
    }

    #[test]
    fn a_bad_listen_address_names_the_variable() {
        let error = settings_with(&[("LEPTOS_SITE_ADDR", "localhost")]).unwrap_err();
        assert!(error.to_string().contains("like 127.0.0.1:3000"), "{error}");
        assert!(error.to_string().contains("LEPTOS_SITE_ADDR"), "{error}");
    }

    #[test]
    fn the_data_dir_moves_the_default_database() {
        let settings = settings_with(&[("FERROCHAT_DATA_DIR", "/tmp/x")]).unwrap();
        assert_eq!(settings.database_url, "sqlite:///tmp/x/ferrochat.db");
    }

    #[test]
    fn unknown_log_format_and_bad_filter_are_refused() {
        assert!(settings_with(&[("FERROCHAT_LOG_FORMAT", "xml")]).is_err());
        assert!(settings_with(&[("RUST_LOG", "info,=[")]).is_err());
    }

    #[test]
    fn help_lists_every_setting() {
        let help = Settings::help();
        for setting in SETTINGS {
            assert!(help.contains(setting.name), "{}", setting.name);
        }
    }

    /// cargo-leptos builds from Cargo.toml, the server runs from Leptos.toml: the names and paths
    /// that connect the two must agree or the server looks for a bundle that was never built.
    #[test]
    fn leptos_toml_agrees_with_cargo_metadata() {
        let cargo: toml::Table = include_str!("../Cargo.toml").parse().unwrap();
        let build = &cargo["package"]["metadata"]["leptos"];
        let runtime: toml::Table = LEPTOS_TOML.parse().unwrap();
        let runtime = &runtime["package"]["metadata"]["leptos"];
        for key in [
            "output-name",
            "site-root",
            "site-pkg-dir",
            "site-addr",
            "reload-port",
        ] {
            assert_eq!(build[key], runtime[key], "{key} differs");
        }
    }
}
