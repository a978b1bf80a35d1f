//! Settings of a real Supabase project, used instead of the embedded auth service.

use std::time::Duration;

use url::Url;

use crate::settings::{Secret, Setting, SettingsError, Vars};

/// The remote project's settings, for `--help`.
pub const SETTINGS: &[Setting] = &[
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
        name: "SUPABASE_SERVICE_ROLE_KEY",
        default: "",
        meaning: "the project's service-role key (a secret): lets the account page delete accounts through the admin API",
    },
    Setting {
        name: "SUPABASE_JWT_SECRET",
        default: "",
        meaning: "verify the project's tokens with its legacy HS256 secret instead of its JWKS",
    },
    Setting {
        name: "FERROCHAT_REMOTE_SESSION_CHECK_SECS",
        default: "30",
        meaning: "how long the app trusts the project's answer that a session is signed in (and whether it owes a second factor) before asking again; a sign-out or a new factor elsewhere takes this long to reach the app; 0: ask on every request",
    },
];

/// A real Supabase project to use instead of the embedded auth service.
#[derive(Clone, Debug)]
pub struct RemoteSupabase {
    /// The project URL, e.g. `https://abcd.supabase.co`.
    pub url: Url,
    /// The anon or publishable key, sent as `apikey`.
    pub api_key: Secret,
    /// The legacy JWT secret (HS256); without it, tokens are checked against the JWKS.
    pub jwt_secret: Option<Secret>,
    /// The service-role key, for the admin API (account deletion).
    pub service_role_key: Option<Secret>,
    /// How long the project's answer on a session's standing is remembered.
    pub session_check: Duration,
}

impl RemoteSupabase {
    /// The project named by `SUPABASE_URL`, if any.
    pub fn from_vars(vars: &Vars) -> Result<Option<Self>, SettingsError> {
        let Some(raw) = vars.get("SUPABASE_URL") else {
            return Ok(None);
        };
        let url = Url::parse(&raw)
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
        Ok(Some(RemoteSupabase {
            url,
            api_key: Secret(api_key),
            jwt_secret: vars.get("SUPABASE_JWT_SECRET").map(Secret),
            service_role_key: vars.get("SUPABASE_SERVICE_ROLE_KEY").map(Secret),
            session_check: vars.seconds("FERROCHAT_REMOTE_SESSION_CHECK_SECS", 30)?,
        }))
    }
}
