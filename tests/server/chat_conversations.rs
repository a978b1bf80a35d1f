//! Working with conversations through the real app: the sidebar's search (a GET form that works
//! without JavaScript), on both databases.

use reqwest::{header, StatusCode};

use crate::{
    chat_api::{form_post, signed_in_cookies},
    harness::{spawn_app_with, TestApp},
};

/// An app on `database_url` (None: SQLite in its data directory).
async fn app_on(database_url: Option<&str>) -> TestApp {
    let vars: Vec<(&str, &str)> = database_url
        .map(|url| vec![("DATABASE_URL", url)])
        .unwrap_or_default();
    spawn_app_with(&vars).await
}

/// Starts a chat with `content` through the form without JavaScript (the offline echo answers
/// with the same text); the new chat's id.
async fn start_chat(app: &TestApp, cookies: &str, content: &str) -> String {
    let started = form_post(
        app,
        "/api/chat/start",
        cookies,
        "same-origin",
        &[("content", content), ("model", "")],
    )
    .await;
    assert_eq!(started.status(), StatusCode::FOUND);
    started.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .strip_prefix("/chat/")
        .expect("/chat/<id>")
        .to_owned()
}

/// A chat page's HTML, as its person sees it.
async fn page(app: &TestApp, cookies: &str, path_and_query: &str) -> String {
    let response = app.page_with_cookies(path_and_query, cookies).await;
    assert_eq!(response.status(), StatusCode::OK, "{path_and_query}");
    response.text().await.unwrap()
}

/// The search results section of a page.
fn results_of(html: &str) -> &str {
    let start = html
        .find(r#"id="search-results""#)
        .expect("a search results section");
    let end = html[start..].find("</section>").expect("its end") + start;
    &html[start..end]
}

apps_on_both_databases!(
    the_sidebar_search_finds_words_only_in_a_body_marked_and_escaped,
    the_sidebar_search_takes_any_text,
);

async fn the_sidebar_search_finds_words_only_in_a_body_marked_and_escaped(url: Option<String>) {
    let app = app_on(url.as_deref()).await;
    let (ada, bob) = (signed_in_cookies(&app).await, signed_in_cookies(&app).await);
    // The title is the first 60 characters: the word is only in the body.
    let padding = "words ".repeat(12);
    let adas = start_chat(
        &app,
        &ada,
        &format!("{padding}<script>alert(1)</script> zanzibar"),
    )
    .await;
    let _other = start_chat(&app, &ada, "nothing to see").await;
    let bobs = start_chat(&app, &bob, "zanzibar is bob's").await;

    let html = page(&app, &ada, "/chat?q=Zanzibar").await;
    let results = results_of(&html);
    assert!(results.contains("1 chat matches “Zanzibar”."), "{results}");
    assert!(
        results.contains(&format!(r#"href="/chat/{adas}""#)),
        "{results}"
    );
    assert!(!results.contains(&bobs), "{results}");
    assert!(!results.contains("bob"), "{results}");
    assert!(results.contains("<mark>zanzibar</mark>"), "{results}");
    assert!(
        results.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{results}"
    );
    assert!(!results.contains("<script>"), "{results}");
    // The box keeps the query, on the page it was made on.
    assert!(html.contains(r#"name="q" value="Zanzibar""#), "{html}");

    // Bob finds his own only.
    let html = page(&app, &bob, &format!("/chat/{bobs}?q=zanzibar")).await;
    let results = results_of(&html);
    assert!(
        results.contains(&format!(r#"href="/chat/{bobs}""#)),
        "{results}"
    );
    assert!(!results.contains(&adas), "{results}");
}

async fn the_sidebar_search_takes_any_text(url: Option<String>) {
    let app = app_on(url.as_deref()).await;
    let ada = signed_in_cookies(&app).await;
    start_chat(&app, &ada, "a plain question").await;
    let ten_kb = "q".repeat(10_240);
    for query in [
        "%22",             // "
        "%22unterminated", // "unterminated
        "*",
        "NEAR(",
        "-",
        "%3A",        // :
        "%00",        // NUL
        "%27%27%3A*", // '':*
        "%26%7C!()",  // &|!()
        "%3Cscript%3E",
        ten_kb.as_str(),
    ] {
        let html = page(&app, &ada, &format!("/chat?q={query}")).await;
        assert!(
            results_of(&html).contains("No chats match"),
            "{query}: {html}"
        );
    }
    // A query that is nothing but punctuation lists nothing rather than everything.
    let html = page(&app, &ada, "/chat?q=%22%3A*").await;
    assert!(!results_of(&html).contains("<li"), "{html}");
}
