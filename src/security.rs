//! HTTP hardening shared by every route: security headers and the cross-site request guard.

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

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

/// Headers every response carries; a page may have set a stricter CSP of its own already.
pub fn add_security_headers(headers: &mut HeaderMap) {
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
        let csp = content_security_policy(None, false);
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&csp).expect("the CSP is ASCII"),
        );
    }
}

/// Middleware: adds the security headers to every response.
pub async fn security_headers(request: Request<Body>, next: Next) -> Response {
    let mut response = next.run(request).await;
    add_security_headers(response.headers_mut());
    response
}

/// Middleware: refuses state-changing requests that a browser sends on behalf of another site.
///
/// Browsers label every request with `Sec-Fetch-Site`; older ones at least send `Origin` on
/// cross-origin POSTs. A request with neither did not come from a browser page, so it cannot
/// ride on a victim's cookies.
pub async fn refuse_cross_site(request: Request<Body>, next: Next) -> Response {
    if is_cross_site_write(request.method(), request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "This request came from another site and was refused.",
        )
            .into_response();
    }
    next.run(request).await
}

fn is_cross_site_write(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return false;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (Some(origin), Some(host)) => origin_host(origin) != Some(host.as_bytes()),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// `host[:port]` of an `Origin` header value such as `https://example.com:8443`.
fn origin_host(origin: &HeaderValue) -> Option<&[u8]> {
    let origin = origin.to_str().ok()?;
    let (_scheme, host) = origin.split_once("://")?;
    (!host.is_empty() && !host.contains('/')).then_some(host.as_bytes())
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

    #[test]
    fn reads_are_never_blocked() {
        let h = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(!is_cross_site_write(&Method::GET, &h));
    }

    #[test]
    fn cross_site_and_same_site_posts_are_refused() {
        for site in ["cross-site", "same-site"] {
            let h = headers(&[("sec-fetch-site", site)]);
            assert!(is_cross_site_write(&Method::POST, &h), "{site}");
        }
        let h = headers(&[("sec-fetch-site", "same-origin")]);
        assert!(!is_cross_site_write(&Method::POST, &h));
    }

    #[test]
    fn without_fetch_metadata_the_origin_must_match_the_host() {
        let same = headers(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000"),
        ]);
        assert!(!is_cross_site_write(&Method::POST, &same));
        let foreign = headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:3000"),
        ]);
        assert!(is_cross_site_write(&Method::POST, &foreign));
        let opaque = headers(&[("origin", "null"), ("host", "127.0.0.1:3000")]);
        assert!(is_cross_site_write(&Method::DELETE, &opaque));
        assert!(!is_cross_site_write(&Method::POST, &headers(&[])));
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
