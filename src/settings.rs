//! Typed settings, read once at start from `Leptos.toml` and environment variables.
//!
//! Every value is parsed here; the rest of the server only sees valid types. A bad value stops
//! the server with a message naming the variable, never with a panic.

use std::{fmt, net::SocketAddr, path::PathBuf};

use leptos::config::LeptosOptions;

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
}

/// A setting that could not be used, with the variable's name and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}={value:?}: {expected}")]
pub struct SettingsError {
    name: String,
    value: String,
    expected: String,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        // leptos_config reads LEPTOS_SITE_ADDR too, but with a message that does not name the
        // variable; parse it first so the operator is told exactly what is wrong.
        let site_addr = match lookup("LEPTOS_SITE_ADDR") {
            Some(addr) => Some(addr.parse::<SocketAddr>().map_err(|_| SettingsError {
                name: "LEPTOS_SITE_ADDR".into(),
                value: addr.clone(),
                expected: "expected an IP address and port, like 127.0.0.1:3000".into(),
            })?),
            None => None,
        };
        let mut leptos = leptos_options()?;
        if let Some(site_addr) = site_addr {
            leptos.site_addr = site_addr;
        }
        let data_dir = PathBuf::from(lookup("FERROCHAT_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = match lookup("DATABASE_URL") {
            Some(url) if url.starts_with("sqlite:") => url,
            Some(url) => {
                return Err(SettingsError {
                    name: "DATABASE_URL".into(),
                    value: url,
                    expected: "expected a sqlite: URL".into(),
                })
            }
            None => format!("sqlite://{}", data_dir.join("ferrochat.db").display()),
        };
        let log_format = match lookup("FERROCHAT_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(SettingsError {
                    name: "FERROCHAT_LOG_FORMAT".into(),
                    value: other.into(),
                    expected: "expected `pretty` or `json`".into(),
                })
            }
        };
        let log_filter = lookup("RUST_LOG").unwrap_or_else(|| "info".into());
        if let Err(error) = log_filter.parse::<tracing_subscriber::EnvFilter>() {
            return Err(SettingsError {
                name: "RUST_LOG".into(),
                value: log_filter,
                expected: format!(
                    "expected a tracing filter like `info,ferrochat=debug` ({error})"
                ),
            });
        }
        Ok(Settings {
            leptos,
            data_dir,
            database_url,
            log_format,
            log_filter,
        })
    }

    /// The `--help` text: every setting with its default.
    pub fn help() -> String {
        let mut text = String::from(
            "ferrochat: a chat app with Supabase-style auth\n\n\
             Usage: ferrochat [--help]\n\n\
             Settings come from environment variables (defaults in brackets):\n",
        );
        for setting in SETTINGS {
            text.push_str(&format!(
                "  {:<22} {} [{}]\n",
                setting.name, setting.meaning, setting.default
            ));
        }
        text
    }
}

/// The Leptos site settings: `Leptos.toml` with `LEPTOS_*` variables on top.
fn leptos_options() -> Result<LeptosOptions, SettingsError> {
    leptos::config::get_config_from_str(LEPTOS_TOML).map_err(|error| SettingsError {
        name: "LEPTOS_*".into(),
        value: String::new(),
        expected: format!("Leptos.toml or a LEPTOS_* variable is invalid: {error}"),
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
            assert!(help.contains(setting.name));
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
