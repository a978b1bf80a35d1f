//! Settings of the embedded auth service, parsed from environment variables.

use std::{net::IpAddr, time::Duration};

use url::Url;

use crate::settings::{parse_http_url, Secret, Setting, Settings, SettingsError, Vars};

/// The embedded service's settings, for `--help`.
pub const SETTINGS: &[Setting] = &[
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
        name: "FERROCHAT_AUTH_JWT_KEYS / _FILE",
        default: "",
        meaning: "your own signing keys (GoTrue's GOTRUE_JWT_KEYS format: private RS256/ES256 JWKs with kid; the one with \"sign\" in key_ops signs), as JSON or a file; overrides FERROCHAT_JWT_ALGORITHM",
    },
    Setting {
        name: "FERROCHAT_JWT_EXPIRY_SECS",
        default: "3600",
        meaning: "lifetime of access tokens",
    },
    Setting {
        name: "FERROCHAT_JWT_KEY_PUBLISH_SECS",
        default: "600",
        meaning: "a rotated-in key is published this long before it signs, so every verifier's cached JWKS knows it first; more than 300 (the JWKS cache's age)",
    },
    Setting {
        name: "FERROCHAT_REFRESH_REUSE_INTERVAL_SECS",
        default: "10",
        meaning: "grace window in which a just-rotated refresh token still returns the new session",
    },
    Setting {
        name: "FERROCHAT_SESSION_TIMEBOX_SECS",
        default: "0 (off)",
        meaning: "a session ends this long after sign-in, however active",
    },
    Setting {
        name: "FERROCHAT_SESSION_INACTIVITY_TIMEOUT_SECS",
        default: "0 (off)",
        meaning: "a session ends when its tokens were not refreshed for this long (clients refresh shortly before the access token expires: make it longer than FERROCHAT_JWT_EXPIRY_SECS)",
    },
    Setting {
        name: "FERROCHAT_AUTH_REAUTH_AFTER_SECS",
        default: "600",
        meaning: "password and email changes need the current password (or a /reauthenticate code) once the sign-in is older than this",
    },
    Setting {
        name: "FERROCHAT_SESSION_STATUS_CACHE_MS",
        default: "1000",
        meaning: "how long an instance trusts a session it found signed in before asking the database again (a sign-out on another instance takes this long to reach it); 0: ask on every request",
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
        name: "FERROCHAT_AUTH_ANONYMOUS",
        default: "true",
        meaning: "false: no anonymous sign-ins (POST /signup without credentials; the app's guest chat)",
    },
    Setting {
        name: "FERROCHAT_AUTH_ANONYMOUS_PRUNE_AFTER_SECS",
        default: "2592000 (30 days)",
        meaning: "anonymous users unseen this long are deleted with their chats (0: never)",
    },
    Setting {
        name: "FERROCHAT_RATE_LIMIT_ANONYMOUS",
        default: "30",
        meaning: "anonymous sign-ins per client IP per hour (GoTrue's RATE_LIMIT_ANONYMOUS_USERS)",
    },
    Setting {
        name: "FERROCHAT_AUTH_IMPLICIT_FLOW",
        default: "false",
        meaning: "true: OAuth and email links without PKCE put tokens in the URL fragment (RFC 9700 advises against it)",
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
        name: "FERROCHAT_RATE_LIMIT_SIGN_IN",
        default: "30",
        meaning: "sign-ins, sign-ups, verifications and OAuth starts per client IP per 5 minutes (a third of it per address and client for password attempts)",
    },
    Setting {
        name: "FERROCHAT_RATE_LIMIT_REFRESH",
        default: "150",
        meaning: "token refreshes per client IP per 5 minutes",
    },
    Setting {
        name: "FERROCHAT_RATE_LIMIT_EMAIL",
        default: "4",
        meaning: "recovery, magic-link and notification emails per address per hour",
    },
    Setting {
        name: "FERROCHAT_PASSWORD_MIN_LENGTH",
        default: "8",
        meaning: "new passwords need at least this many characters (6 or more); shorter ones get GoTrue's 422 weak_password",
    },
    Setting {
        name: "FERROCHAT_PASSWORD_HASH_CONCURRENCY",
        default: "number of cores",
        meaning: "password hashes computed at once (19 MiB each); more wait up to 2 s, then get 503",
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

/// How access tokens are signed.
#[derive(Clone)]
pub enum JwtSigning {
    /// A P-256 key pair kept in the database; the public half is published as JWKS.
    Es256,
    /// Supabase's legacy shared secret, for backends that verify with the project's JWT secret.
    Hs256 { secret: Vec<u8> },
    /// The operator's own keys (`FERROCHAT_AUTH_JWT_KEYS`), published as JWKS.
    Imported(std::sync::Arc<Vec<super::imported_keys::ImportedKey>>),
}

impl std::fmt::Debug for JwtSigning {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JwtSigning::Es256 => "Es256",
            JwtSigning::Hs256 { .. } => "Hs256 { secret: <redacted> }",
            JwtSigning::Imported(_) => "Imported { keys: <redacted> }",
        })
    }
}

/// Where email goes when it really leaves the machine.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// `smtp://user:pass@host:587?tls=required` or `smtps://…:465` (lettre's URL form).
    pub url: Secret,
    /// The sender, e.g. `ferrochat <no-reply@example.com>`.
    pub from: String,
}

/// Requests allowed per window, per client IP (and per address where it applies).
#[derive(Clone, Copy, Debug)]
pub struct RateLimits {
    /// `/token` (password, pkce), `/signup`, `/verify`: per IP per 5 minutes.
    pub sign_in_per_ip: u32,
    /// Password attempts on one address from one client per 5 minutes.
    pub sign_in_per_email: u32,
    /// `/token?grant_type=refresh_token` per IP per 5 minutes.
    pub refresh_per_ip: u32,
    /// `/recover`, `/otp` emails per address per hour.
    pub email_per_address: u32,
    /// Anonymous sign-ups per IP per hour.
    pub anonymous_per_ip: u32,
}

/// An upstream OAuth provider that is switched on.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// The name used in `/authorize?provider=`.
    pub name: &'static str,
    pub client_id: String,
    pub client_secret: Secret,
    pub kind: ProviderKind,
}

/// How to talk to a provider.
#[derive(Clone, Debug)]
pub enum ProviderKind {
    /// OpenID Connect: endpoints from the issuer's discovery document, user from the id token.
    Oidc { issuer: Url },
    /// GitHub: OAuth 2 plus the REST API for the user and their verified emails.
    GitHub { web: Url, api: Url },
    /// Facebook: OAuth 2 plus the Graph API.
    Facebook { web: Url, api: Url },
}

/// Everything the auth service needs, already validated.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// The public URL of the site, e.g. `https://chat.example.com`: every URL the service hands
    /// a browser (OAuth callback, email links, issuer) starts with it.
    pub site_url: Url,
    pub signing: JwtSigning,
    pub jwt_expiry: Duration,
    /// How long a rotated-in key is published before it signs.
    pub key_publish_lead: Duration,
    pub refresh_reuse_interval: Duration,
    /// Absolute session lifetime; None: unlimited.
    pub session_timebox: Option<Duration>,
    /// Session lifetime without a refresh; None: unlimited.
    pub session_inactivity_timeout: Option<Duration>,
    /// Sign-ins older than this must prove the password again to change password or email.
    pub reauth_after: Duration,
    /// How long a "still signed in" answer is remembered (see `session_status`); zero: never.
    pub session_status_cache: Duration,
    pub pkce_code_expiry: Duration,
    pub autoconfirm: bool,
    pub disable_signup: bool,
    /// Whether `POST /signup` without credentials creates an anonymous user.
    pub anonymous: bool,
    /// Anonymous users not seen for this long are pruned; None: never.
    pub anonymous_prune_after: Option<Duration>,
    /// Whether flows without PKCE may return tokens in the URL fragment.
    pub implicit_flow: bool,
    /// Password hashes computed at once.
    pub hash_concurrency: usize,
    /// The least number of characters of a new password.
    pub password_min_length: usize,
    /// Extra redirect targets: origin plus path prefix.
    pub redirect_allow_list: Vec<Url>,
    pub trusted_proxies: Vec<IpAddr>,
    pub rate_limits: RateLimits,
    pub providers: Vec<ProviderConfig>,
    /// None: email goes to the dev mailbox in the data directory.
    pub smtp: Option<SmtpConfig>,
}

impl AuthConfig {
    /// The `iss` claim of our tokens: where the service is mounted.
    pub fn issuer(&self) -> String {
        format!("{}/auth/v1", self.site_url.as_str().trim_end_matches('/'))
    }

    /// Reads the service's settings; the site URL and trusted proxies are the server's.
    pub fn from_vars(vars: &Vars, server: &Settings) -> Result<Self, SettingsError> {
        let signing = match imported_keys(vars)? {
            Some(keys) => JwtSigning::Imported(std::sync::Arc::new(keys)),
            None => algorithm_signing(vars)?,
        };
        let count = |name: &str, default: u32| -> Result<u32, SettingsError> {
            Ok(vars.parse(name, "a whole number")?.unwrap_or(default))
        };
        let optional = |name: &str| -> Result<Option<Duration>, SettingsError> {
            Ok(Some(vars.seconds(name, 0)?).filter(|d| !d.is_zero()))
        };
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let hash_concurrency = count("FERROCHAT_PASSWORD_HASH_CONCURRENCY", cores as u32)?;
        if hash_concurrency == 0 {
            return Err(SettingsError::new(
                "FERROCHAT_PASSWORD_HASH_CONCURRENCY",
                "0",
                "at least 1",
            ));
        }
        let password_min_length = count(
            "FERROCHAT_PASSWORD_MIN_LENGTH",
            super::password::MIN_CHARS as u32,
        )? as usize;
        if !(super::password::MIN_CHARS_FLOOR..=super::password::MAX_BYTES)
            .contains(&password_min_length)
        {
            return Err(SettingsError::new(
                "FERROCHAT_PASSWORD_MIN_LENGTH",
                &password_min_length.to_string(),
                "a number of characters from 6 to 1024",
            ));
        }
        let sign_in_per_ip = count("FERROCHAT_RATE_LIMIT_SIGN_IN", 30)?;
        Ok(AuthConfig {
            site_url: server.site_url.clone(),
            signing,
            jwt_expiry: vars.seconds("FERROCHAT_JWT_EXPIRY_SECS", 3600)?,
            key_publish_lead: vars.seconds("FERROCHAT_JWT_KEY_PUBLISH_SECS", 600)?,
            refresh_reuse_interval: vars.seconds("FERROCHAT_REFRESH_REUSE_INTERVAL_SECS", 10)?,
            session_timebox: optional("FERROCHAT_SESSION_TIMEBOX_SECS")?,
            session_inactivity_timeout: optional("FERROCHAT_SESSION_INACTIVITY_TIMEOUT_SECS")?,
            reauth_after: vars.seconds("FERROCHAT_AUTH_REAUTH_AFTER_SECS", 600)?,
            session_status_cache: Duration::from_millis(
                vars.parse(
                    "FERROCHAT_SESSION_STATUS_CACHE_MS",
                    "a whole number of milliseconds",
                )?
                .unwrap_or(1000),
            ),
            pkce_code_expiry: vars.seconds("FERROCHAT_PKCE_CODE_EXPIRY_SECS", 300)?,
            autoconfirm: vars.flag("FERROCHAT_AUTH_AUTOCONFIRM", true)?,
            disable_signup: vars.flag("FERROCHAT_AUTH_DISABLE_SIGNUP", false)?,
            anonymous: vars.flag("FERROCHAT_AUTH_ANONYMOUS", true)?,
            anonymous_prune_after: Some(
                vars.seconds("FERROCHAT_AUTH_ANONYMOUS_PRUNE_AFTER_SECS", 30 * 24 * 3600)?,
            )
            .filter(|after| !after.is_zero()),
            implicit_flow: vars.flag("FERROCHAT_AUTH_IMPLICIT_FLOW", false)?,
            hash_concurrency: hash_concurrency as usize,
            password_min_length,
            redirect_allow_list: vars.urls("FERROCHAT_AUTH_REDIRECT_ALLOW_LIST")?,
            trusted_proxies: server.trusted_proxies.clone(),
            rate_limits: RateLimits {
                sign_in_per_ip,
                sign_in_per_email: (sign_in_per_ip / 3).max(1),
                refresh_per_ip: count("FERROCHAT_RATE_LIMIT_REFRESH", 150)?,
                email_per_address: count("FERROCHAT_RATE_LIMIT_EMAIL", 4)?,
                anonymous_per_ip: count("FERROCHAT_RATE_LIMIT_ANONYMOUS", 30)?,
            },
            providers: providers(vars)?,
            smtp: smtp(vars)?,
        })
    }
}

/// `FERROCHAT_JWT_ALGORITHM` (and the HS256 secret), when no keys are imported.
fn algorithm_signing(vars: &Vars) -> Result<JwtSigning, SettingsError> {
    Ok(match vars.get("FERROCHAT_JWT_ALGORITHM").as_deref() {
        None | Some("ES256") => JwtSigning::Es256,
        Some("HS256") => {
            let secret = vars.get("FERROCHAT_JWT_SECRET").unwrap_or_default();
            if secret.len() < 32 {
                return Err(SettingsError::new(
                    "FERROCHAT_JWT_SECRET",
                    "<hidden>",
                    "a secret of at least 32 characters when FERROCHAT_JWT_ALGORITHM=HS256",
                ));
            }
            JwtSigning::Hs256 {
                secret: secret.into_bytes(),
            }
        }
        Some(other) => {
            return Err(SettingsError::new(
                "FERROCHAT_JWT_ALGORITHM",
                other,
                "ES256 or HS256",
            ))
        }
    })
}

/// `FERROCHAT_AUTH_JWT_KEYS` (a GoTrue `GOTRUE_JWT_KEYS` value) or the file
/// `FERROCHAT_AUTH_JWT_KEYS_FILE` names.
fn imported_keys(
    vars: &Vars,
) -> Result<Option<Vec<super::imported_keys::ImportedKey>>, SettingsError> {
    let (name, raw) = match (
        vars.get("FERROCHAT_AUTH_JWT_KEYS"),
        vars.get("FERROCHAT_AUTH_JWT_KEYS_FILE"),
    ) {
        (None, None) => return Ok(None),
        (Some(raw), None) => ("FERROCHAT_AUTH_JWT_KEYS", raw),
        (None, Some(path)) => (
            "FERROCHAT_AUTH_JWT_KEYS_FILE",
            std::fs::read_to_string(&path).map_err(|error| {
                SettingsError::new(
                    "FERROCHAT_AUTH_JWT_KEYS_FILE",
                    &path,
                    &format!("a readable file ({error})"),
                )
            })?,
        ),
        (Some(_), Some(_)) => {
            return Err(SettingsError::new(
                "FERROCHAT_AUTH_JWT_KEYS_FILE",
                "<both set>",
                "either FERROCHAT_AUTH_JWT_KEYS or FERROCHAT_AUTH_JWT_KEYS_FILE, not both",
            ))
        }
    };
    super::imported_keys::parse(&raw)
        .map(Some)
        .map_err(|reason| {
            SettingsError::new(name, "<hidden>", &format!("a GoTrue JWK set: {reason}"))
        })
}

fn smtp(vars: &Vars) -> Result<Option<SmtpConfig>, SettingsError> {
    let Some(url) = vars.get("FERROCHAT_SMTP_URL") else {
        return Ok(None);
    };
    if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
        // The URL may hold a password: do not echo it.
        return Err(SettingsError::new(
            "FERROCHAT_SMTP_URL",
            "<hidden>",
            "an smtp:// or smtps:// URL",
        ));
    }
    let from = vars
        .get("FERROCHAT_SMTP_FROM")
        .unwrap_or_else(|| "ferrochat <no-reply@localhost>".into());
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(SettingsError::new(
            "FERROCHAT_SMTP_FROM",
            &from,
            "a mailbox like `ferrochat <no-reply@example.com>`",
        ));
    }
    Ok(Some(SmtpConfig {
        url: Secret(url),
        from,
    }))
}

/// The providers whose client id and secret are both set.
fn providers(vars: &Vars) -> Result<Vec<ProviderConfig>, SettingsError> {
    let mut providers = Vec::new();
    for name in ["google", "github", "facebook", "oidc"] {
        let prefix = format!("FERROCHAT_{}", name.to_ascii_uppercase());
        let (Some(client_id), Some(client_secret)) = (
            vars.get(&format!("{prefix}_CLIENT_ID")),
            vars.get(&format!("{prefix}_CLIENT_SECRET")),
        ) else {
            continue;
        };
        let url = |suffix: &str, default: &str| {
            let name = format!("{prefix}_{suffix}");
            match vars.get(&name) {
                Some(value) => parse_http_url(&name, &value),
                None if default.is_empty() => Err(SettingsError::new(
                    &name,
                    "",
                    "the provider's URL (it is switched on by its client id)",
                )),
                None => Ok(Url::parse(default).expect("built-in URL")),
            }
        };
        let kind = match name {
            "google" => ProviderKind::Oidc {
                issuer: url("ISSUER", "https://accounts.google.com")?,
            },
            "github" => ProviderKind::GitHub {
                web: url("URL", "https://github.com")?,
                api: url("API_URL", "https://api.github.com")?,
            },
            "facebook" => ProviderKind::Facebook {
                web: url("URL", "https://www.facebook.com")?,
                api: url("API_URL", "https://graph.facebook.com")?,
            },
            _ => ProviderKind::Oidc {
                issuer: url("ISSUER", "")?,
            },
        };
        providers.push(ProviderConfig {
            name,
            client_id,
            client_secret: Secret(client_secret),
            kind,
        });
    }
    Ok(providers)
}
