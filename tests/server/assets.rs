//! The built site's files: content-hashed names in the pages, cached for a year; pages and
//! anything unhashed revalidated. A stand-in site (a few files and the release build's hash file in a
//! temporary directory) takes the place of a release build.

use reqwest::{header, StatusCode};
use tempfile::TempDir;

use crate::harness::{spawn_app, spawn_app_with, TestApp};

const JS_HASH: &str = "J0123456789abcdefghijk";
const WASM_HASH: &str = "W0123456789abcdefghijk";
const CSS_HASH: &str = "C0123456789abcdefghijk";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const STYLESHEET: &str = "body { color: rebeccapurple; }";

/// A site as scripts/build-site.sh and scripts/precompress.mjs leave it, plus the hash
/// file, in a temporary directory; and an app serving it.
async fn app_with_hashed_site() -> (TestApp, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(
        pkg.join(format!("ferrochat.{JS_HASH}.js")),
        "export default 1;",
    )
    .unwrap();
    std::fs::write(pkg.join(format!("ferrochat.{WASM_HASH}.wasm")), b"\0asm").unwrap();
    let css = pkg.join(format!("ferrochat.{CSS_HASH}.css"));
    std::fs::write(&css, STYLESHEET).unwrap();
    // Not brotli at all: the test only needs to see that the precompressed file is the one sent.
    std::fs::write(css.with_extension("css.br"), "precompressed").unwrap();
    std::fs::write(dir.path().join("site/favicon.svg"), "<svg/>").unwrap();
    let hash_file = dir.path().join("hash.txt");
    std::fs::write(
        &hash_file,
        format!("js: {JS_HASH}\nwasm: {WASM_HASH}\ncss: {CSS_HASH}\n"),
    )
    .unwrap();
    let site_root = dir.path().join("site");
    let app = spawn_app_with(&[
        ("LEPTOS_SITE_ROOT", site_root.to_str().unwrap()),
        ("LEPTOS_HASH_FILES", "true"),
        ("LEPTOS_HASH_FILE_NAME", hash_file.to_str().unwrap()),
    ])
    .await;
    (app, dir)
}

fn cache_control(response: &reqwest::Response) -> &str {
    response.headers()[header::CACHE_CONTROL].to_str().unwrap()
}

#[tokio::test]
async fn pages_name_the_hashed_bundle_and_are_revalidated() {
    let (app, _site) = app_with_hashed_site().await;
    for path in ["/", "/login", "/no-such-page"] {
        let response = app.get(path).await;
        assert_eq!(cache_control(&response), "no-cache", "{path}");
        let html = response.text().await.unwrap();
        for asset in [
            format!(r#"rel="stylesheet" href="/pkg/ferrochat.{CSS_HASH}.css""#),
            format!(r#"href="/pkg/ferrochat.{JS_HASH}.js""#),
            format!(r#"href="/pkg/ferrochat.{WASM_HASH}.wasm""#),
        ] {
            assert!(html.contains(&asset), "{path} names {asset}");
        }
    }
}

#[tokio::test]
async fn hashed_files_are_cached_for_a_year_and_sent_precompressed() {
    let (app, _site) = app_with_hashed_site().await;
    let path = format!("/pkg/ferrochat.{CSS_HASH}.css");
    let plain = app.get(&path).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(cache_control(&plain), IMMUTABLE);
    assert_eq!(plain.text().await.unwrap(), STYLESHEET);

    let brotli = app
        .client
        .get(app.url(&path))
        .header(header::ACCEPT_ENCODING, "br")
        .send()
        .await
        .unwrap();
    assert_eq!(brotli.status(), StatusCode::OK);
    assert_eq!(brotli.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(cache_control(&brotli), IMMUTABLE);
    assert_eq!(brotli.text().await.unwrap(), "precompressed");

    let wasm = app.get(&format!("/pkg/ferrochat.{WASM_HASH}.wasm")).await;
    assert_eq!(wasm.status(), StatusCode::OK);
    assert_eq!(cache_control(&wasm), IMMUTABLE);
}

#[tokio::test]
async fn unhashed_and_missing_files_are_never_cached_for_long() {
    let (app, _site) = app_with_hashed_site().await;
    let favicon = app.get("/favicon.svg").await;
    assert_eq!(favicon.status(), StatusCode::OK);
    assert_eq!(cache_control(&favicon), "no-cache");
    // A name that looks hashed but is not there: a 404 kept for a year would outlive the deploy
    // that adds the file.
    let missing = app.get("/pkg/ferrochat.Zzzzzzzzzzzzzzzzzzzzzz.js").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(cache_control(&missing), "no-cache");
}

#[tokio::test]
async fn without_a_hash_file_pages_name_the_plain_bundle() {
    // The test binary has no hash file beside it: as a server built by plain cargo.
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(cache_control(&response), "no-cache");
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"rel="stylesheet" href="/pkg/ferrochat.css""#));
    assert!(html.contains(r#"href="/pkg/ferrochat.js""#), "{html}");
}
