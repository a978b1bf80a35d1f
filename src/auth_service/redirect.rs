//! Where auth flows may send the browser: the site, or an allow-listed origin + path prefix.

use url::Url;

use super::config::AuthConfig;

/// The validated redirect target: `requested` if allowed, else the site URL.
pub fn resolve(config: &AuthConfig, requested: Option<&str>) -> Url {
    requested
        .and_then(|raw| Url::parse(raw.trim()).ok())
        .filter(|url| is_allowed(config, url))
        .unwrap_or_else(|| config.site_url.clone())
}

/// Same origin as the site (any path), or as an allow-list entry with its path as a prefix.
/// URLs are compared after parsing, so `..` segments, default ports and case are normalised.
pub fn is_allowed(config: &AuthConfig, url: &Url) -> bool {
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return false;
    }
    if url.origin() == config.site_url.origin() {
        return true;
    }
    config.redirect_allow_list.iter().any(|allowed| {
        url.origin() == allowed.origin() && path_has_prefix(url.path(), allowed.path())
    })
}

/// `/app/x` is under `/app` and `/app/`, `/application` is not under `/app`.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path == prefix || path.starts_with(&format!("{prefix}/")) || prefix.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Settings, Vars};

    fn config(allow: &str) -> AuthConfig {
        let lookup = |name: &str| match name {
            "FERROCHAT_SITE_URL" => Some("https://chat.example.com".into()),
            "FERROCHAT_AUTH_REDIRECT_ALLOW_LIST" => Some(allow.to_owned()),
            _ => None,
        };
        let vars = Vars(&lookup);
        AuthConfig::from_vars(&vars, &Settings::from_vars(&vars).unwrap()).unwrap()
    }

    #[test]
    fn the_site_itself_is_always_allowed() {
        let config = config("");
        let target = resolve(
            &config,
            Some("https://chat.example.com/auth/callback?next=/chat"),
        );
        assert_eq!(
            target.as_str(),
            "https://chat.example.com/auth/callback?next=/chat"
        );
    }

    #[test]
    fn foreign_and_look_alike_targets_fall_back_to_the_site() {
        let config = config("https://app.example.org/ferro");
        for target in [
            "https://evil.example/",
            "https://chat.example.com.evil.example/",
            "https://chat.example.com@evil.example/",
            "http://chat.example.com/",
            "javascript:alert(1)",
            "//evil.example",
            "https://app.example.org/ferrochat-phish",
            "https://app.example.org/ferro/../admin",
            "https://app.example.org:8443/ferro",
        ] {
            assert_eq!(
                resolve(&config, Some(target)).as_str(),
                "https://chat.example.com/",
                "{target}"
            );
        }
    }

    #[test]
    fn allow_list_entries_admit_their_path_prefix() {
        let config = config("https://app.example.org/ferro, http://localhost:5173");
        for target in [
            "https://app.example.org/ferro",
            "https://app.example.org/ferro/callback",
            "http://localhost:5173/any/where",
        ] {
            assert_eq!(
                resolve(&config, Some(target)).as_str(),
                Url::parse(target).unwrap().as_str()
            );
        }
    }
}
