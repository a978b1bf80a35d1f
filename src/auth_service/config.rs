//! Settings of the embedded auth service, parsed from environment variables.

use std::{net::IpAddr, net::SocketAddr, time::Duration};

use url::Url;

use crate::settings::{SettingsError, Vars};

/// How access tokens are signed.
#[derive(Clone)]
pub enum JwtSigning {
    /// A P-256 key pair kept in the database; the public half is published as JWKS.
    Es256,
    /// Supabase's legacy shared secret, for backends that verify with the project's JWT secret.
    Hs256 { secret: Vec<u8> },
}

impl std::fmt::Debug for JwtSigning {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JwtSigning::Es256 => "Es256",
            JwtSigning::Hs256 { .. } => "Hs256 { secret: <redacted> }",
        })
    }
}

/// A configured secret: usable, but never printed.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
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

/// Requests allowed per window, per client IP (and per email where it applies).
#[derive(Clone, Copy, Debug)]
pub struct RateLimits {
    /// `/token` (password, pkce), `/signup`, `/verify`: per IP per 5 minutes.
    pub sign_in_per_ip: u32,
    /// The same endpoints per email address per 5 minutes.
    pub sign_in_per_email: u32,
    /// `/token?grant_type=refresh_token` per IP per 5 minutes.
    pub refresh_per_ip: u32,
    /// `/recover`, `/otp` emails per address per hour.
    pub email_per_address: u32,
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
    /// The public URL of the site, e.g. `https://chat.example.com`.
    pub site_url: Url,
    pub signing: JwtSigning,
    pub jwt_expiry: Duration,
    pub refresh_reuse_interval: Duration,
    pub pkce_code_expiry: Duration,
    pub autoconfirm: bool,
    pub disable_signup: bool,
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

    pub(crate) fn from_vars(vars: &Vars, site_addr: SocketAddr) -> Result<Self, SettingsError> {
        let site_url = match vars.get("FERROCHAT_SITE_URL") {
            Some(url) => parse_http_url("FERROCHAT_SITE_URL", &url)?,
            None => Url::parse(&format!("http://{site_addr}")).expect("a socket address is a host"),
        };
        let signing = match vars.get("FERROCHAT_JWT_ALGORITHM").as_deref() {
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
        };
        let seconds = |name: &str, default: u64| -> Result<Duration, SettingsError> {
            let secs: Option<u64> = vars.parse(name, "a whole number of seconds")?;
            Ok(Duration::from_secs(secs.unwrap_or(default)))
        };
        let count = |name: &str, default: u32| -> Result<u32, SettingsError> {
            Ok(vars.parse(name, "a whole number")?.unwrap_or(default))
        };
        let redirect_allow_list = vars
            .get("FERROCHAT_AUTH_REDIRECT_ALLOW_LIST")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| parse_http_url("FERROCHAT_AUTH_REDIRECT_ALLOW_LIST", item))
            .collect::<Result<_, _>>()?;
        let sign_in_per_ip = count("FERROCHAT_RATE_LIMIT_SIGN_IN", 30)?;
        Ok(AuthConfig {
            site_url,
            signing,
            jwt_expiry: seconds("FERROCHAT_JWT_EXPIRY_SECS", 3600)?,
            refresh_reuse_interval: seconds("FERROCHAT_REFRESH_REUSE_INTERVAL_SECS", 10)?,
            pkce_code_expiry: seconds("FERROCHAT_PKCE_CODE_EXPIRY_SECS", 300)?,
            autoconfirm: vars.flag("FERROCHAT_AUTH_AUTOCONFIRM", true)?,
            disable_signup: vars.flag("FERROCHAT_AUTH_DISABLE_SIGNUP", false)?,
            redirect_allow_list,
            trusted_proxies: vars.list("FERROCHAT_TRUSTED_PROXIES", "IP addresses")?,
            rate_limits: RateLimits {
                sign_in_per_ip,
                sign_in_per_email: (sign_in_per_ip / 3).max(1),
                refresh_per_ip: count("FERROCHAT_RATE_LIMIT_REFRESH", 150)?,
                email_per_address: count("FERROCHAT_RATE_LIMIT_EMAIL", 4)?,
            },
            providers: providers(vars)?,
            smtp: smtp(vars)?,
        })
    }
}

fn parse_http_url(name: &str, value: &str) -> Result<Url, SettingsError> {
    Url::parse(value)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .ok_or_else(|| SettingsError::new(name, value, "an http(s) URL like https://example.com"))
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
