//! Who is on the other end of a request: the client's address and user agent, resolved once at
//! the edge and handed to the auth service with every call made on the client's behalf.
//!
//! Rate limits are counted per client address and sessions record it, so the app must pass the
//! browser's identity on rather than its own (every user would otherwise share one limit).

use std::net::IpAddr;

use axum::http::{header, HeaderMap};

/// The longest user agent kept: enough to name a browser, too short to fill a database.
const MAX_USER_AGENT_CHARS: usize = 512;

/// A request's client, as far as the server can tell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientIdentity {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientIdentity {
    /// The identity of a request from `peer` (the TCP peer) with these headers. A trusted
    /// proxy's `X-Forwarded-For` is believed: the client is the last address in it that is not
    /// itself a trusted proxy. An untrusted peer's header is ignored, so forging it buys nothing.
    pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> Self {
        let ip = peer.map(|peer| {
            if !trusted_proxies.contains(&peer) {
                return peer;
            }
            headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .filter_map(|item| item.trim().parse::<IpAddr>().ok())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .find(|ip| !trusted_proxies.contains(ip))
                .unwrap_or(peer)
        });
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.chars().take(MAX_USER_AGENT_CHARS).collect());
        ClientIdentity { ip, user_agent }
    }

    /// The key rate limits count this client under.
    pub fn rate_limit_key(&self) -> String {
        self.ip.map(|ip| ip.to_string()).unwrap_or_default()
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 6750).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static(xff));
        headers.insert(header::USER_AGENT, HeaderValue::from_static("Firefox"));
        headers
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case_and_nothing_else_passes() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            bearer_token(&headers).map(str::to_owned)
        };
        assert_eq!(with("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("BEARER  abc ").as_deref(), Some("abc"));
        assert_eq!(with("Basic abc"), None);
        assert_eq!(with("Bearer "), None);
        assert_eq!(with("Bearerabc"), None);
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        let client = ClientIdentity::resolve(Some(peer), &headers("10.0.0.1"), &[]);
        assert_eq!(client.ip, Some(peer));
        assert_eq!(client.user_agent.as_deref(), Some("Firefox"));
    }

    #[test]
    fn behind_trusted_proxies_the_last_untrusted_hop_is_the_client() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        // The client forged the first entry; the proxies appended the real address after it.
        let client = ClientIdentity::resolve(
            Some(proxy),
            &headers("6.6.6.6, 198.51.100.7, 10.0.0.2"),
            &[proxy, inner],
        );
        assert_eq!(client.ip, Some("198.51.100.7".parse().unwrap()));
    }
}
