//! The server's own settings, read once at start from `Leptos.toml` and environment variables,
//! and the tools every module uses to read its own part ([`Vars`], [`SettingsError`]).
//!
//! A leaf: it knows no other module. Each module parses its settings from [`Vars`] (see
//! `config.rs`, which puts them together); the rest of the server only sees valid types. A bad
//! value stops the server with a message naming the variable, never with a panic.

use std::{fmt, net::IpAddr, path::PathBuf};

use leptos::config::LeptosOptions;
use url::Url;

/// The runtime site settings, embedded so that the binary does not depend on its working directory.
const LEPTOS_TOML: &str = include_str!("../Leptos.toml");

/// One documented setting: its variable, its default and what it does.
pub struct Setting {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

/// The server's own settings; each module documents its own in the same form.
pub const SETTINGS: &[Setting] = &[
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
        name: "LEPTOS_HASH_FILES",
        default: "true",
        meaning: "the bundle has content-hashed file names (`hash-files`), cached for a year",
    },
    Setting {
        name: "LEPTOS_HASH_FILE_NAME",
        default: "hash.txt",
        meaning: "the hash file the release build writes, relative to the executable's directory",
    },
    Setting {
        name: "LEPTOS_ENV",
        default: "PROD",
        meaning: "DEV adds the live-reload script (set by `cargo leptos watch`)",
    },
    Setting {
        name: "FERROCHAT_DATA_DIR",
        default: "data",
        meaning: "directory for the SQLite database and the dev mailbox (created on first start)",
    },
    Setting {
        name: "DATABASE_URL",
        default: "sqlite://<FERROCHAT_DATA_DIR>/ferrochat.db",
        meaning: "the database: a sqlite:// file or a postgres:// server",
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
        name: "FERROCHAT_SITE_URL",
        default: "http://<LEPTOS_SITE_ADDR>",
        meaning: "public URL of the site: every URL a browser is sent to, token issuer, Secure cookies if https",
    },
    Setting {
        name: "FERROCHAT_TRUSTED_PROXIES",
        default: "",
        meaning: "comma-separated proxy IPs whose X-Forwarded-For names the client (rate limits, sessions)",
    },
    Setting {
        name: "FERROCHAT_CORS_ALLOWED_ORIGINS",
        default: "",
        meaning: "comma-separated origins (https://app.example.com) whose pages may call /auth/v1 and /api from the browser",
    },
];

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The server's own settings, already validated.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Site settings shared with cargo-leptos; `site_addr` is the listen address.
    pub leptos: LeptosOptions,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub log_format: LogFormat,
    pub log_filter: String,
    /// The public URL of the site, e.g. `https://chat.example.com`: where browsers are sent.
    pub site_url: Url,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Origins of other sites' pages allowed to call the APIs from a browser.
    pub cors_allowed_origins: Vec<Url>,
}

/// A configured secret: usable, but never printed.
#[derive(Clone)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
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
    pub fn new(name: &str, value: &str, expected: &str) -> Self {
        SettingsError {
            name: name.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }
}

/// Typed access to environment variables, each failure naming its variable.
pub struct Vars<'a>(pub &'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    /// The raw value; an empty value counts as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.is_empty())
    }

    /// Parses the value if set; `expected` describes a valid value for the error message.
    pub fn parse<T: std::str::FromStr>(
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
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, SettingsError> {
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
    pub fn list<T: std::str::FromStr>(
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

    /// A whole number of seconds, or `default`.
    pub fn seconds(&self, name: &str, default: u64) -> Result<std::time::Duration, SettingsError> {
        let secs: Option<u64> = self.parse(name, "a whole number of seconds")?;
        Ok(std::time::Duration::from_secs(secs.unwrap_or(default)))
    }

    /// An http(s) URL with a host.
    pub fn url(&self, name: &str) -> Result<Option<Url>, SettingsError> {
        self.get(name)
            .map(|value| parse_http_url(name, &value))
            .transpose()
    }

    /// A comma-separated list of http(s) URLs.
    pub fn urls(&self, name: &str) -> Result<Vec<Url>, SettingsError> {
        self.get(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| parse_http_url(name, item))
            .collect()
    }
}

/// Parses an http(s) URL with a host, or names the variable in the error.
pub fn parse_http_url(name: &str, value: &str) -> Result<Url, SettingsError> {
    Url::parse(value)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .ok_or_else(|| SettingsError::new(name, value, "an http(s) URL like https://example.com"))
}

impl Settings {
    /// Reads the server's settings through `vars`.
    pub fn from_vars(vars: &Vars) -> Result<Self, SettingsError> {
        // leptos_config reads LEPTOS_SITE_ADDR too, but with a message that does not name the
        // variable; parse it first so the operator is told exactly what is wrong.
        let site_addr: Option<std::net::SocketAddr> = vars.parse(
            "LEPTOS_SITE_ADDR",
            "an IP address and port, like 127.0.0.1:3000",
        )?;
        let mut leptos = leptos_options()?;
        if let Some(site_addr) = site_addr {
            leptos.site_addr = site_addr;
        }
        // Read here as well, so that every way of passing settings (tests too) reaches them.
        if let Some(site_root) = vars.get("LEPTOS_SITE_ROOT") {
            leptos.site_root = site_root.into();
        }
        leptos.hash_files = vars.flag("LEPTOS_HASH_FILES", leptos.hash_files)?;
        if let Some(hash_file) = vars.get("LEPTOS_HASH_FILE_NAME") {
            leptos.hash_file = hash_file.into();
        }
        let data_dir = PathBuf::from(
            vars.get("FERROCHAT_DATA_DIR")
                .unwrap_or_else(|| "data".into()),
        );
        let database_url = match vars.get("DATABASE_URL") {
            Some(url)
                if ["sqlite:", "postgres://", "postgresql://"]
                    .iter()
                    .any(|scheme| url.starts_with(scheme)) =>
            {
                url
            }
            // The URL may hold a password: do not echo it.
            Some(_) => {
                return Err(SettingsError::new(
                    "DATABASE_URL",
                    "<hidden>",
                    "a sqlite: or postgres:// URL",
                ))
            }
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
        let site_url = match vars.url("FERROCHAT_SITE_URL")? {
            Some(url) => url,
            None => Url::parse(&format!("http://{}", leptos.site_addr))
                .expect("a socket address is a host"),
        };
        Ok(Settings {
            leptos,
            data_dir,
            database_url,
            log_format,
            log_filter,
            site_url,
            trusted_proxies: vars.list("FERROCHAT_TRUSTED_PROXIES", "IP addresses")?,
            cors_allowed_origins: vars.urls("FERROCHAT_CORS_ALLOWED_ORIGINS")?,
        })
    }
}

/// The `--help` text: every setting of every section, with its default.
pub fn help(sections: &[(&str, &[Setting])]) -> String {
    let mut text = String::from(
        "ferrochat: a chat app with Supabase-style auth\n\n\
         Usage: ferrochat                      serve the app\n\
         \x20      ferrochat rotate-signing-key   new ES256 key: published at once, signing after FERROCHAT_JWT_KEY_PUBLISH_SECS\n\
         \x20      ferrochat keys                 print the anon and service_role API keys\n\
         \x20      ferrochat --help\n\n\
         Settings come from environment variables (defaults in brackets).\n",
    );
    for (title, settings) in sections {
        text.push_str(&format!("\n{title}:\n"));
        for setting in *settings {
            text.push_str(&format!(
                "  {:<40} {} [{}]\n",
                setting.name, setting.meaning, setting.default
            ));
        }
    }
    text
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
        Settings::from_vars(&Vars(&|name| vars.get(name).cloned()))
    }

    #[test]
    fn defaults_need_no_variables() {
        let settings = settings_with(&[]).unwrap();
        assert_eq!(settings.database_url, "sqlite://data/ferrochat.db");
        assert_eq!(settings.log_format, LogFormat::Pretty);
        assert_eq!(settings.site_url.as_str(), "http://127.0.0.1:3000/");
    }

    #[test]
    fn listen_address_comes_from_leptos_site_addr() {
        let settings = settings_with(&[("LEPTOS_SITE_ADDR", "127.0.0.1:4321")]).unwrap();
        assert_eq!(settings.leptos.site_addr.port(), 4321);
        assert_eq!(settings.site_url.as_str(), "http://127.0.0.1:4321/");
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
    fn postgres_urls_are_accepted_and_others_refused_without_echoing_them() {
        let url = "postgres://ferro:secret@127.0.0.1:5432/ferro";
        assert_eq!(
            settings_with(&[("DATABASE_URL", url)])
                .unwrap()
                .database_url,
            url
        );
        let error = settings_with(&[("DATABASE_URL", "mysql://u:hunter2@h/db")]).unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn unknown_log_format_and_bad_filter_are_refused() {
        assert!(settings_with(&[("FERROCHAT_LOG_FORMAT", "xml")]).is_err());
        assert!(settings_with(&[("RUST_LOG", "info,=[")]).is_err());
    }

    #[test]
    fn help_lists_every_setting_of_every_section() {
        let help = help(&[("Server", SETTINGS)]);
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
            "hash-files",
        ] {
            assert_eq!(build[key], runtime[key], "{key} differs");
        }
    }

    /// The release build (scripts/build-site.sh) takes cargo-leptos' steps without it; it must
    /// build what Cargo.toml describes, as `cargo leptos watch` does in development.
    #[test]
    fn release_build_script_follows_cargo_metadata() {
        let cargo: toml::Table = include_str!("../Cargo.toml").parse().unwrap();
        let build = &cargo["package"]["metadata"]["leptos"];
        let value = |key: &str| match &build[key] {
            toml::Value::String(text) => text.clone(),
            toml::Value::Integer(number) => number.to_string(),
            toml::Value::Boolean(flag) => flag.to_string(),
            other => panic!("{key}: unexpected {other:?}"),
        };
        let script = include_str!("../scripts/build-site.sh");
        for expected in [
            format!("\nname={}\n", value("output-name")),
            format!("\nsite={}\n", value("site-root")),
            format!("\npkg=$site/{}\n", value("site-pkg-dir")),
            format!(" LEPTOS_SITE_PKG_DIR={} ", value("site-pkg-dir")),
            format!(" LEPTOS_SITE_ADDR={} ", value("site-addr")),
            format!(" LEPTOS_RELOAD_PORT={} ", value("reload-port")),
            format!(" LEPTOS_HASH_FILES={} ", value("hash-files")),
            format!(" --profile={} ", value("lib-profile-release")),
            format!("cp -R {}/. ", value("assets-dir")),
            format!(
                " --targets {} {} ",
                value("browserquery"),
                value("style-file")
            ),
        ] {
            assert!(
                script.contains(&expected),
                "scripts/build-site.sh lacks {expected:?}"
            );
        }
    }
}
