//! Refusals of forms posted without JavaScript come back in the URL: a server function answers
//! such a post with a redirect to the form's page carrying `?__path=<function>&__err=<refusal>`
//! (Leptos' form redirect), and the page shows the refusal in the form. Anyone can write such a
//! URL, so a crafted link could make the page say anything its author likes. The server signs
//! the refusals it sends (`__sig`, an HMAC under a server secret shared by every instance) and
//! the pages show only signed ones.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderValue, Request},
    middleware::Next,
    response::Response,
};
use url::Url;

use crate::crypto::{base64url, hmac_sha256};

/// The query parameter that carries the signature.
const SIGNATURE: &str = "__sig";

/// Signs and checks refusals; cheap to clone.
#[derive(Clone)]
pub struct FormErrorKey(Arc<Vec<u8>>);

impl FormErrorKey {
    pub fn new(secret: Vec<u8>) -> Self {
        FormErrorKey(Arc::new(secret))
    }

    fn sign(&self, path: &str, error: &str) -> String {
        base64url(&hmac_sha256(&self.0, format!("{path}\n{error}").as_bytes()))
    }

    /// Whether `signature` is this server's for the refusal `error` of the function at `path`
    /// (compared in constant time).
    pub fn verify(&self, path: &str, error: &str, signature: &str) -> bool {
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
        let Ok(tag) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.0);
        ring::hmac::verify(&key, format!("{path}\n{error}").as_bytes(), &tag).is_ok()
    }

    /// The `Location` of a form redirect with its refusal signed; None if it carries no refusal.
    ///
    /// Leptos appends `__path` and `__err` to the URL the form was posted from, which may carry
    /// an earlier refusal: the last pair is the new one (the one the page reads), so only it is
    /// kept, signed, and every older pair and signature dropped.
    fn signed_location(&self, location: &str) -> Option<String> {
        // Locations may be relative; parse against a stand-in origin and give back what came in.
        let base = Url::parse("http://form.invalid").expect("a valid URL");
        let mut url = base.join(location).ok()?;
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        let last = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(key, _)| key == name)
                .map(|(_, v)| v)
        };
        let (path, error) = (last("__path")?.clone(), last("__err")?.clone());
        let signature = self.sign(&path, &error);
        let kept = pairs
            .iter()
            .filter(|(key, _)| !matches!(key.as_str(), "__path" | "__err" | SIGNATURE));
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("__path", &path)
            .append_pair("__err", &error)
            .append_pair(SIGNATURE, &signature);
        let signed = url.as_str();
        Some(match signed.strip_prefix("http://form.invalid") {
            Some(relative) if !location.starts_with("http") => relative.to_owned(),
            _ => signed.to_owned(),
        })
    }
}

/// Middleware: signs the refusal in every form redirect a server function answers with.
pub async fn sign_refusals(
    State(key): State<FormErrorKey>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if !response.status().is_redirection() {
        return response;
    }
    let signed = response
        .headers()
        .get(header::LOCATION)
        .and_then(|location| location.to_str().ok())
        .filter(|location| location.contains("__err="))
        .and_then(|location| key.signed_location(location))
        .and_then(|location| HeaderValue::from_str(&location).ok());
    if let Some(location) = signed {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_signed_and_only_its_own_signature_verifies() {
        let key = FormErrorKey::new(vec![7; 32]);
        let location = key
            .signed_location(
                "/login?next=%2Fchat&__path=%2Fapi%2Fauth%2Flogin&__err=eyJ4Ijp9&__sig=forged",
            )
            .unwrap();
        assert!(
            location.starts_with("/login?next=%2Fchat&__path="),
            "{location}"
        );
        assert!(!location.contains("forged"), "{location}");
        let url = Url::parse("http://x").unwrap().join(&location).unwrap();
        let get = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .unwrap()
                .1
                .into_owned()
        };
        assert!(key.verify(&get("__path"), &get("__err"), &get("__sig")));
        assert!(
            !key.verify(&get("__path"), "eyJ5Ijp9", &get("__sig")),
            "another refusal"
        );
        assert!(!FormErrorKey::new(vec![8; 32]).verify(
            &get("__path"),
            &get("__err"),
            &get("__sig")
        ));
        assert_eq!(key.signed_location("/chat?x=1"), None);
    }

    #[test]
    fn a_second_refusal_replaces_the_first_and_only_it_is_signed() {
        let key = FormErrorKey::new(vec![7; 32]);
        // What Leptos answers a post from a page that already shows a refusal.
        let location = key
            .signed_location("/signup?__path=%2Fa&__err=b2xk&__sig=old&__path=%2Fa&__err=bmV3")
            .unwrap();
        assert_eq!(
            location,
            format!(
                "/signup?__path=%2Fa&__err=bmV3&__sig={}",
                key.sign("/a", "bmV3")
            )
        );
    }
}
