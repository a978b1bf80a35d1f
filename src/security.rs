//! HTTP hardening shared by every route: security headers and the cross-site request guard.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tower_http::cors::{AllowOrigin, CorsLayer};
use url::{Origin, Url};

/// The Content-Security-Policy of a page.
///
/// Scripts may come only from this origin or carry this response's nonce (Leptos' hydration
/// script does); `'wasm-unsafe-eval'` lets the browser compile the WASM bundle and allows nothing
/// else. Without a nonce (JSON, static files) no inline script runs at all. `live_reload` opens
/// the websocket that `cargo leptos watch` uses in development.
pub fn content_security_policy(nonce: Option<&str>, live_reload: bool) -> String {
    let nonce = nonce
        .map(|nonce| format!(" 'nonce-{nonce}'"))
        .unwrap_or_default();
    let connect = if live_reload { " ws: wss:" } else { "" };
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'{connect}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Headers every response carries; a handler may have set a stricter CSP of its own already.
/// An HTML response's CSP admits `nonce`, the one its page was rendered with.
fn add_security_headers(headers: &mut HeaderMap, nonce: &PageNonce, live_reload: bool) {
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        // For browsers that predate `frame-ancestors`.
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ),
    ];
    for (name, value) in defaults {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let html = headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|kind| kind.as_bytes().starts_with(b"text/html"));
        let csp = content_security_policy(html.then_some(&*nonce.0), live_reload);
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&csp).expect("the CSP is ASCII"),
        );
    }
}

/// The nonce a page's inline scripts carry, chosen per request by [`security_headers`] and handed
/// to Leptos through the request (`AppState::provide_server_context`).
///
/// The CSP header used to be set by the page itself through Leptos' `ResponseOptions`. Once in
/// about a thousand Playwright page loads that header went missing (the page came with the
/// default CSP and its hydration script was blocked) although the page's body carried its nonce;
/// the cause was not found in leptos_axum. Choosing the nonce here and writing the header here
/// leaves nothing for a page to lose.
#[derive(Clone, Debug)]
pub struct PageNonce(pub Arc<str>);

/// Whether the CSP lets `cargo leptos watch`'s live-reload websocket connect (development only).
#[derive(Clone, Copy, Debug)]
pub struct LiveReload(pub bool);

/// Middleware: gives the request its page nonce, and adds the security headers to every response.
pub async fn security_headers(
    State(LiveReload(live_reload)): State<LiveReload>,
    mut request: Request<Body>,
    next: Next,
) -> Response {
    let nonce = PageNonce(leptos::nonce::Nonce::new().to_string().into());
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    add_security_headers(response.headers_mut(), &nonce, live_reload);
    response
}

/// The origins whose pages may write to this server from a browser: the site itself (its
/// public URL, whatever `Host` a proxy forwards) and the allow-listed origins of other sites.
#[derive(Clone, Debug)]
pub struct TrustedOrigins {
    site: Origin,
    others: Vec<Origin>,
}

impl TrustedOrigins {
    pub fn new(site_url: &Url, others: &[Url]) -> Self {
        TrustedOrigins {
            site: site_url.origin(),
            others: others.iter().map(Url::origin).collect(),
        }
    }

    /// Whether an `Origin` header names one of them (`null` and garbage never do).
    fn allows(&self, origin: &HeaderValue) -> bool {
        let Some(origin) = origin
            .to_str()
            .ok()
            .and_then(|origin| Url::parse(origin).ok())
            .map(|url| url.origin())
            .filter(Origin::is_tuple)
        else {
            return false;
        };
        origin == self.site || self.others.contains(&origin)
    }

    /// CORS for the APIs other sites' pages call (`/auth/v1`, the starter's `/api`): the
    /// allow-listed origins only, with bearer tokens rather than cookies (no credentials), and
    /// the headers Supabase clients send and read. None when no other origin is allowed.
    pub fn cors(&self) -> Option<CorsLayer> {
        if self.others.is_empty() {
            return None;
        }
        let allowed: Vec<HeaderValue> = self
            .others
            .iter()
            .filter_map(|origin| HeaderValue::from_str(&origin.ascii_serialization()).ok())
            .collect();
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(allowed))
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers([
                    header::ACCEPT,
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::HeaderName::from_static("apikey"),
                    header::HeaderName::from_static("x-client-info"),
                    header::HeaderName::from_static("x-supabase-api-version"),
                ])
                .expose_headers([
                    header::HeaderName::from_static("x-total-count"),
                    header::LINK,
                    header::HeaderName::from_static("x-supabase-api-version"),
                ])
                .max_age(std::time::Duration::from_secs(3600)),
        )
    }
}

/// Middleware: refuses state-changing requests that a browser sends on behalf of another site.
///
/// Browsers label every request with `Sec-Fetch-Site`; older ones at least send `Origin` on
/// cross-origin POSTs. A request with neither did not come from a browser page, so it cannot
/// ride on a victim's cookies. `Origin` is compared with the site's public URL, not with `Host`,
/// which a reverse proxy may rewrite.
pub async fn refuse_cross_site(
    State(origins): State<Arc<TrustedOrigins>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if is_cross_site_write(request.method(), request.headers(), &origins) {
        return (
            StatusCode::FORBIDDEN,
            "This request came from another site and was refused.",
        )
            .into_response();
    }
    next.run(request).await
}

fn is_cross_site_write(method: &Method, headers: &HeaderMap, origins: &TrustedOrigins) -> bool {
    if matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return false;
    }
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| matches!(site.as_bytes(), b"same-origin" | b"none"))
    {
        return false;
    }
    match headers.get(header::ORIGIN) {
        Some(origin) => !origins.allows(origin),
        // Fetch metadata without an Origin (cross-site, same-site): refused; neither: not a
        // browser page.
        None => headers.contains_key("sec-fetch-site"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    fn origins() -> TrustedOrigins {
        TrustedOrigins::new(
            &Url::parse("https://chat.example.com").unwrap(),
            &[Url::parse("https://app.example.org/any/path").unwrap()],
        )
    }

    #[test]
    fn reads_are_never_blocked() {
        let h = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(!is_cross_site_write(&Method::GET, &h, &origins()));
    }

    #[test]
    fn cross_site_and_same_site_posts_are_refused() {
        for site in ["cross-site", "same-site"] {
            let h = headers(&[("sec-fetch-site", site)]);
            assert!(is_cross_site_write(&Method::POST, &h, &origins()), "{site}");
            let h = headers(&[("sec-fetch-site", site), ("origin", "https://evil.example")]);
            assert!(is_cross_site_write(&Method::POST, &h, &origins()), "{site}");
        }
        let h = headers(&[("sec-fetch-site", "same-origin")]);
        assert!(!is_cross_site_write(&Method::POST, &h, &origins()));
    }

    #[test]
    fn without_fetch_metadata_the_origin_must_be_the_public_site_whatever_the_host() {
        // Behind a proxy, Host names the backend; the browser's Origin is the public site.
        let proxied = headers(&[
            ("origin", "https://chat.example.com"),
            ("host", "127.0.0.1:3000"),
        ]);
        assert!(!is_cross_site_write(&Method::POST, &proxied, &origins()));
        let host_echo = headers(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000"),
        ]);
        assert!(is_cross_site_write(&Method::POST, &host_echo, &origins()));
        let foreign = headers(&[("origin", "https://evil.example")]);
        assert!(is_cross_site_write(&Method::POST, &foreign, &origins()));
        let look_alike = headers(&[("origin", "https://chat.example.com.evil.example")]);
        assert!(is_cross_site_write(&Method::POST, &look_alike, &origins()));
        let opaque = headers(&[("origin", "null")]);
        assert!(is_cross_site_write(&Method::DELETE, &opaque, &origins()));
        assert!(!is_cross_site_write(
            &Method::POST,
            &headers(&[]),
            &origins()
        ));
    }

    #[test]
    fn allow_listed_origins_may_write_cross_site() {
        let h = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://app.example.org"),
        ]);
        assert!(!is_cross_site_write(&Method::POST, &h, &origins()));
    }

    #[test]
    fn cors_is_off_without_allow_listed_origins() {
        let site_only = TrustedOrigins::new(&Url::parse("https://chat.example.com").unwrap(), &[]);
        assert!(site_only.cors().is_none());
        assert!(origins().cors().is_some());
    }

    #[test]
    fn the_page_csp_allows_only_its_nonce_inline() {
        let csp = content_security_policy(Some("abc"), false);
        assert!(csp.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("ws:"));
        assert!(content_security_policy(None, true).contains("connect-src 'self' ws: wss:"));
    }
}
