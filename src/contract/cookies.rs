//! The session cookies, in `@supabase/ssr`'s format so a Next.js app on the same site can share
//! the session during a migration: `sb-<project-ref>-auth-token` holding `base64-` + base64url of
//! the session JSON (without its user object, see [`SessionTokens`]), split into `.0`, `.1`, …
//! when longer than one cookie should be. Unlike
//! `@supabase/ssr` they are HttpOnly: the browser never needs to read a token.

use std::borrow::Cow;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};

use serde::{de::DeserializeOwned, Deserialize};

use super::session::SessionTokens;

/// The two tokens of a session cookie, all that a request needs of it: read as this, the rest is
/// skipped rather than built into JSON values, which was most of the cost of reading the cookie
/// on every signed-in request (bench/RESULTS.md, "Auth overhead").
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct CookieTokens {
    pub access_token: String,
    pub refresh_token: String,
}

/// All `Cookie` headers of a request as one `name=value; …` text: the header itself when there
/// is one (browsers send one), joined when there are several. Bytes, not validated as UTF-8:
/// only the value a caller looks up is ([`cookie_value`]), or none at all for the session,
/// which is a kilobyte of base64 read on every signed-in request. A cookie of another app on
/// the site in any encoding hides nothing.
pub fn cookie_header(headers: &axum::http::HeaderMap) -> Cow<'_, [u8]> {
    let mut values = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .map(|value| value.as_bytes());
    match (values.next(), values.next()) {
        (None, _) => Cow::Borrowed(b""),
        (Some(only), None) => Cow::Borrowed(only),
        (Some(first), Some(second)) => Cow::Owned(
            [first, second]
                .into_iter()
                .chain(values)
                .collect::<Vec<_>>()
                .join(&b"; "[..]),
        ),
    }
}

/// A cookie's value in a `Cookie` header, if it is UTF-8.
pub fn cookie_value<'a>(cookie_header: &'a [u8], name: &str) -> Option<&'a str> {
    std::str::from_utf8(find_cookie(cookie_header, name)?).ok()
}

/// A cookie's value in a `Cookie` header, as bytes.
fn find_cookie<'a>(cookie_header: &'a [u8], name: &str) -> Option<&'a [u8]> {
    // The pairs are split with a vectorised search: a signed-in request's header is a kilobyte
    // of session to walk past.
    let mut start = 0;
    memchr::memchr_iter(b';', cookie_header)
        .chain([cookie_header.len()])
        .find_map(|end| {
            let pair = cookie_header[start..end].trim_ascii();
            start = end + 1;
            let equals = memchr::memchr(b'=', pair)?;
            (&pair[..equals] == name.as_bytes()).then(|| &pair[equals + 1..])
        })
}

/// `@supabase/ssr`'s chunk size, which keeps every cookie under browsers' 4 KB limit.
pub const MAX_CHUNK: usize = 3180;
/// More chunks than this is not a session we wrote.
const MAX_CHUNKS: usize = 10;
/// `@supabase/ssr`'s default cookie lifetime (400 days); the refresh token decides validity.
const MAX_AGE_SECS: u64 = 400 * 24 * 3600;

/// Names and attributes of the auth cookies of one site.
#[derive(Clone, Debug)]
pub struct CookieJar {
    /// `sb-<ref>-auth-token`.
    pub name: String,
    pub secure: bool,
}

impl CookieJar {
    /// `project_host` is the auth service's host; its first label is the project ref.
    pub fn new(project_host: &str, secure: bool) -> Self {
        let reference = project_host.split('.').next().unwrap_or("local");
        CookieJar {
            name: format!("sb-{reference}-auth-token"),
            secure,
        }
    }

    /// Whether a `Set-Cookie` value sets (or removes) the session itself: `name=` or `name.N=`,
    /// not merely a cookie whose name starts the same way, such as the PKCE verifier's.
    pub fn sets_session(&self, set_cookie: &[u8]) -> bool {
        let Some(rest) = set_cookie.strip_prefix(self.name.as_bytes()) else {
            return false;
        };
        match rest {
            [b'=', ..] => true,
            [b'.', digits @ ..] => {
                let end = digits.iter().position(|b| !b.is_ascii_digit());
                matches!(end, Some(n) if n > 0 && digits[n] == b'=')
            }
            _ => false,
        }
    }

    /// The PKCE verifier cookie's name, as `@supabase/ssr` names it.
    pub fn verifier_name(&self) -> String {
        format!("{}-code-verifier", self.name)
    }

    fn attributes(&self, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
    }

    /// `Set-Cookie` values that store `session` and remove any chunk it no longer needs.
    pub fn store(&self, session: &SessionTokens) -> Vec<String> {
        let json = serde_json::to_string(session).expect("a session serialises");
        let value = format!("base64-{}", URL_SAFE_NO_PAD.encode(json));
        let attributes = self.attributes(MAX_AGE_SECS);
        let mut cookies = Vec::new();
        if value.len() <= MAX_CHUNK {
            cookies.push(format!("{}={value}; {attributes}", self.name));
            cookies.extend((0..MAX_CHUNKS).map(|i| self.removal(&format!("{}.{i}", self.name))));
        } else {
            let chunks: Vec<&str> = value
                .as_bytes()
                .chunks(MAX_CHUNK)
                .map(|chunk| std::str::from_utf8(chunk).expect("base64 is ASCII"))
                .collect();
            for (i, chunk) in chunks.iter().enumerate() {
                cookies.push(format!("{}.{i}={chunk}; {attributes}", self.name));
            }
            cookies.push(self.removal(&self.name));
            cookies.extend(
                (chunks.len()..MAX_CHUNKS).map(|i| self.removal(&format!("{}.{i}", self.name))),
            );
        }
        cookies
    }

    /// `Set-Cookie` values that remove the session (every chunk) and the PKCE verifier.
    pub fn clear(&self) -> Vec<String> {
        let mut cookies = vec![
            self.removal(&self.name),
            self.removal(&self.verifier_name()),
        ];
        cookies.extend((0..MAX_CHUNKS).map(|i| self.removal(&format!("{}.{i}", self.name))));
        cookies
    }

    fn removal(&self, name: &str) -> String {
        format!("{name}=; {}", self.attributes(0))
    }

    /// The session in a `Cookie` header, reassembled from its chunks, read as `T`: the whole
    /// [`SessionTokens`], or [`CookieTokens`] when the tokens are all that is needed (every
    /// request). None if absent or unreadable.
    pub fn load<T: DeserializeOwned>(&self, cookie_header: impl AsRef<[u8]>) -> Option<T> {
        Self::read::<T>(&self.session_value(cookie_header.as_ref())?)
    }

    /// The session cookie's value in a `Cookie` header, its chunks joined; None if absent.
    pub fn session_value<'a>(&self, cookie_header: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        let find = |name: &str| find_cookie(cookie_header, name);
        match find(&self.name) {
            Some(whole) => Some(Cow::Borrowed(whole)),
            None => Some(Cow::<[u8]>::Owned(
                (0..MAX_CHUNKS)
                    .map_while(|i| find(&format!("{}.{i}", self.name)))
                    .collect::<Vec<_>>()
                    .concat(),
            ))
            .filter(|joined| !joined.is_empty()),
        }
    }

    /// A session cookie's value (see [`CookieJar::session_value`]) read as `T`.
    pub fn read<T: DeserializeOwned>(value: &[u8]) -> Option<T> {
        let encoded = value.strip_prefix(b"base64-")?;
        let json = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// `Set-Cookie` for the PKCE verifier of a sign-in in progress.
    pub fn store_verifier(&self, verifier: &str, lifetime_secs: u64) -> String {
        format!(
            "{}={verifier}; {}",
            self.verifier_name(),
            self.attributes(lifetime_secs)
        )
    }

    /// `Set-Cookie` that removes the PKCE verifier once used.
    pub fn clear_verifier(&self) -> String {
        self.removal(&self.verifier_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// GoTrue's answer with an access token `token_bytes` long and a user object of 5 kB, read as
    /// the app reads it.
    fn session(token_bytes: usize) -> SessionTokens {
        serde_json::from_value(json!({
            "access_token": format!("header.{}.signature", "x".repeat(token_bytes)),
            "token_type": "bearer",
            "expires_in": 3600,
            "expires_at": 1_900_000_000,
            "refresh_token": "refresh-me",
            "user": { "id": "u1", "user_metadata": { "bio": "x".repeat(5000) } },
        }))
        .unwrap()
    }

    /// The tokens a request reads of `session`.
    fn tokens(session: &SessionTokens) -> CookieTokens {
        CookieTokens {
            access_token: session.access_token.clone(),
            refresh_token: session.refresh_token.clone(),
        }
    }

    /// What a browser sends back after receiving these `Set-Cookie` values.
    fn browser_cookie_header(set_cookies: &[String]) -> String {
        set_cookies
            .iter()
            .filter(|c| !c.contains("Max-Age=0"))
            .map(|c| c.split(';').next().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn a_small_session_is_one_httponly_cookie() {
        let jar = CookieJar::new("127.0.0.1", false);
        let cookies = jar.store(&session(10));
        assert!(cookies[0].starts_with("sb-127-auth-token=base64-"));
        assert!(cookies[0].contains("HttpOnly; SameSite=Lax"));
        assert!(!cookies[0].contains("Secure"));
        assert_eq!(
            jar.load(browser_cookie_header(&cookies)),
            Some(tokens(&session(10)))
        );
    }

    #[test]
    fn the_cookie_holds_the_session_without_its_user_object() {
        let jar = CookieJar::new("127.0.0.1", false);
        let stored = session(10);
        let cookies = jar.store(&stored);
        // The 5 kB user object would have made three chunks of it.
        assert!(cookies[0].len() < 300, "{}", cookies[0]);
        let json: serde_json::Value = jar.load(browser_cookie_header(&cookies)).unwrap();
        assert_eq!(
            json,
            json!({
                "access_token": stored.access_token,
                "token_type": "bearer",
                "expires_in": 3600,
                "expires_at": 1_900_000_000,
                "refresh_token": "refresh-me",
            })
        );
    }

    #[test]
    fn a_session_over_4_kb_is_chunked_and_round_trips() {
        let jar = CookieJar::new("abcdefgh.supabase.co", true);
        let big = session(7000);
        let cookies = jar.store(&big);
        let live: Vec<_> = cookies
            .iter()
            .filter(|c| !c.contains("Max-Age=0"))
            .collect();
        assert!(live.len() >= 3, "{live:?}");
        assert!(live[0].starts_with("sb-abcdefgh-auth-token.0=base64-"));
        assert!(live
            .iter()
            .all(|c| c.split(';').next().unwrap().len() < 4096 && c.contains("; Secure")));
        // The unchunked name is removed so an older single cookie cannot shadow the chunks.
        assert!(cookies
            .iter()
            .any(|c| c.starts_with("sb-abcdefgh-auth-token=;")));
        let header = format!("other=1; {}", browser_cookie_header(&cookies));
        assert_eq!(jar.load(&header), Some(tokens(&big)));
    }

    #[test]
    fn only_the_session_cookies_count_as_setting_the_session() {
        let jar = CookieJar::new("127.0.0.1", false);
        assert!(jar.sets_session(b"sb-127-auth-token=base64-x; Path=/"));
        assert!(jar.sets_session(b"sb-127-auth-token.3=; Max-Age=0"));
        assert!(!jar.sets_session(b"sb-127-auth-token-code-verifier=abc; Path=/"));
        assert!(!jar.sets_session(b"sb-127-auth-token.=x"));
        assert!(!jar.sets_session(b"sb-127-auth-tokens=x"));
    }

    #[test]
    fn another_cookie_in_utf8_does_not_hide_the_session() {
        let jar = CookieJar::new("127.0.0.1", false);
        let stored = browser_cookie_header(&jar.store(&session(10)));
        let header = format!("theme=café; {stored}");
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            axum::http::HeaderValue::from_bytes(header.as_bytes()).unwrap(),
        );
        assert_eq!(cookie_header(&headers), header.as_bytes());
        assert_eq!(
            jar.load(cookie_header(&headers)),
            Some(tokens(&session(10)))
        );
    }

    #[test]
    fn garbage_cookies_are_no_session() {
        let jar = CookieJar::new("127.0.0.1", false);
        for header in [
            "",
            "sb-127-auth-token=plain",
            "sb-127-auth-token=base64-!!!",
            "sb-127-auth-token=base64-e30",
        ] {
            assert_eq!(jar.load::<SessionTokens>(header), None, "{header}");
            assert_eq!(jar.load::<CookieTokens>(header), None, "{header}");
        }
    }

    #[test]
    fn a_cookie_is_found_by_its_exact_name_wherever_it_stands() {
        let header = b"a=1; sb=x;b=2 ;  c=x=y; d; ab=3;b=4";
        let found = |name| cookie_value(header, name);
        assert_eq!(
            ["a", "b", "c", "ab", "sb", "d", "x", ""].map(found),
            [
                Some("1"),
                Some("2"),
                Some("x=y"),
                Some("3"),
                Some("x"),
                None,
                None,
                None
            ]
        );
        assert_eq!(cookie_value(b"", "a"), None);
        assert_eq!(cookie_value(b"a=", "a"), Some(""));
        assert_eq!(cookie_value(b"a=caf\xc3; b=1", "a"), None, "not UTF-8");
        assert_eq!(cookie_value(b"a=caf\xc3; b=1", "b"), Some("1"));
    }
}
