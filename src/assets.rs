//! The built site's files: the content-hashed names the release build (scripts/build-site.sh,
//! as cargo-leptos) gives the bundle (`hash-files`), and how long browsers may keep what the
//! server sends.
//!
//! A hashed name changes whenever the file does, so those files are cached for a year without
//! asking again; everything else (pages, unhashed files) is revalidated on every use, so a
//! deployment is seen at once.

use std::{path::PathBuf, sync::Arc};

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderValue, Request},
    middleware::Next,
    response::Response,
};
use leptos::config::LeptosOptions;

/// For files whose name changes with their content.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For everything else: use it, but ask the server first.
pub const REVALIDATE: &str = "no-cache";

/// The bundle's file names and the cache policy that follows from them.
#[derive(Clone, Debug)]
pub struct SiteAssets {
    /// `/pkg/`: where the bundle is served.
    pkg_prefix: String,
    /// Whether the bundle's names carry content hashes.
    hashed: bool,
    stylesheet: String,
}

impl SiteAssets {
    /// Reads the names the release build gave the bundle from its hash file (`hash.txt` beside
    /// the executable, or wherever `LEPTOS_HASH_FILE_NAME` says). Without that file (a binary
    /// that scripts/build-site.sh did not build, such as a test), hashing is switched off in
    /// `options` too, so that pages ask for the plain names rather than fail to render.
    pub fn load(options: &mut LeptosOptions) -> Result<SiteAssets, String> {
        let pkg_prefix = format!("/{}/", options.site_pkg_dir.trim_matches('/'));
        let plain = format!("{pkg_prefix}{}.css", options.output_name);
        if !options.hash_files {
            return Ok(SiteAssets::plain(pkg_prefix, plain));
        }
        let path = hash_file_path(options);
        let hashes = match std::fs::read_to_string(&path) {
            Ok(hashes) => hashes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                options.hash_files = false;
                return Ok(SiteAssets::plain(pkg_prefix, plain));
            }
            Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
        };
        let css_hash = hashes
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(kind, _)| kind.trim() == "css")
            .map(|(_, hash)| hash.trim().to_owned())
            .filter(|hash| !hash.is_empty())
            .ok_or_else(|| format!("{} names no css file", path.display()))?;
        Ok(SiteAssets {
            stylesheet: format!("{pkg_prefix}{}.{css_hash}.css", options.output_name),
            pkg_prefix,
            hashed: true,
        })
    }

    fn plain(pkg_prefix: String, stylesheet: String) -> SiteAssets {
        SiteAssets {
            pkg_prefix,
            hashed: false,
            stylesheet,
        }
    }

    /// Where the page's stylesheet is served.
    pub fn stylesheet_href(&self) -> &str {
        &self.stylesheet
    }

    /// The `Cache-Control` of a successful response for `path`.
    pub fn cache_control(&self, path: &str) -> &'static str {
        // wasm-bindgen's inline snippets keep their names: the glue imports them unhashed.
        if self.hashed && path.starts_with(&self.pkg_prefix) && !path.contains("/snippets/") {
            IMMUTABLE
        } else {
            REVALIDATE
        }
    }
}

/// Where leptos_config looks for the hash file (and the release build puts it): relative to the
/// executable's directory (an absolute setting stands as it is).
fn hash_file_path(options: &LeptosOptions) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .unwrap_or_default()
        .join(options.hash_file.as_ref())
}

/// Middleware: gives every response of the app that has no `Cache-Control` of its own the one
/// its path calls for. The embedded auth service (`/auth/v1`) keeps its own headers.
pub async fn cache_headers(
    State(assets): State<Arc<SiteAssets>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if path.starts_with("/auth/v1/") || response.headers().contains_key(header::CACHE_CONTROL) {
        return response;
    }
    let status = response.status();
    let value = if status.is_success() || status == axum::http::StatusCode::NOT_MODIFIED {
        assets.cache_control(&path)
    } else {
        REVALIDATE
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(hash_files: bool, hash_file: &str) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name("ferrochat")
            .site_pkg_dir("pkg")
            .hash_files(hash_files)
            .hash_file(std::sync::Arc::from(hash_file))
            .build()
    }

    #[test]
    fn hashed_bundle_files_are_immutable_and_the_rest_revalidated() {
        let dir = tempfile::tempdir().unwrap();
        let hash_file = dir.path().join("hash.txt");
        std::fs::write(
            &hash_file,
            "js: J1234567890123456789a\nwasm: W1234567890123456789a\ncss: C1234567890123456789a\n",
        )
        .unwrap();
        let mut options = options(true, hash_file.to_str().unwrap());
        let assets = SiteAssets::load(&mut options).unwrap();
        assert!(options.hash_files);
        assert_eq!(
            assets.stylesheet_href(),
            "/pkg/ferrochat.C1234567890123456789a.css"
        );
        assert_eq!(
            assets.cache_control("/pkg/ferrochat.W1234567890123456789a.wasm"),
            IMMUTABLE
        );
        for path in ["/", "/login", "/favicon.svg", "/pkg/snippets/x/inline0.js"] {
            assert_eq!(assets.cache_control(path), REVALIDATE, "{path}");
        }
    }

    #[test]
    fn without_a_hash_file_the_plain_names_are_served_and_revalidated() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("hash.txt");
        let mut options = options(true, missing.to_str().unwrap());
        let assets = SiteAssets::load(&mut options).unwrap();
        assert!(!options.hash_files, "pages must ask for the plain names");
        assert_eq!(assets.stylesheet_href(), "/pkg/ferrochat.css");
        assert_eq!(assets.cache_control("/pkg/ferrochat.css"), REVALIDATE);
    }

    #[test]
    fn a_hash_file_without_the_stylesheet_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let hash_file = dir.path().join("hash.txt");
        std::fs::write(&hash_file, "js: abc\nwasm: def\n").unwrap();
        let mut options = options(true, hash_file.to_str().unwrap());
        let error = SiteAssets::load(&mut options).unwrap_err();
        assert!(error.contains("names no css file"), "{error}");
    }
}
