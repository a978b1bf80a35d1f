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

/// A same-origin request of the signed-in page (as its script or a download link makes it).
fn as_page(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    cookies: &str,
) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header(header::COOKIE, cookies)
        .header("sec-fetch-site", "same-origin")
}

/// The caller's chats as `(id, title)`, newest first.
async fn chats_of(app: &TestApp, cookies: &str) -> Vec<(String, String)> {
    let list: serde_json::Value = as_page(app, reqwest::Method::GET, "/api/sessions", cookies)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Every stored message of a session: `(id, role, content, status, model, error)`.
async fn rows_of(app: &TestApp, session: &str) -> Vec<[Option<String>; 6]> {
    use sqlx::Row;
    sqlx::query(
        "SELECT id, role, content, status, model, error FROM messages
         WHERE chat_session_id = $1 ORDER BY id",
    )
    .bind(session)
    .fetch_all(app.store.pool())
    .await
    .unwrap()
    .iter()
    .map(|row| {
        [
            row.get("id"),
            row.get("role"),
            row.get("content"),
            row.get("status"),
            row.get("model"),
            row.get("error"),
        ]
    })
    .collect()
}

/// The rows without their ids: what an import must reproduce.
fn without_ids(rows: &[[Option<String>; 6]]) -> Vec<[Option<String>; 5]> {
    rows.iter()
        .map(|[_, role, content, status, model, error]| {
            [
                role.clone(),
                content.clone(),
                status.clone(),
                model.clone(),
                error.clone(),
            ]
        })
        .collect()
}

#[tokio::test]
async fn a_json_export_imports_as_a_new_chat_of_whoever_imports_it() {
    let app = spawn_app_with(&[]).await;
    let (ada, bob) = (signed_in_cookies(&app).await, signed_in_cookies(&app).await);
    let adas = start_chat(
        &app,
        &ada,
        "Plan a **trip** <b>now</b>\n\n```rust\nfn main() {}\n```",
    )
    .await;
    let adas_rows = rows_of(&app, &adas).await;

    let download = as_page(
        &app,
        reqwest::Method::GET,
        &format!("/api/sessions/{adas}/export?format=json"),
        &ada,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        download.headers()[header::CONTENT_DISPOSITION],
        "attachment; filename=\"chat-plan-a-trip-b-now-b-rust-fn-main.json\""
    );
    assert_eq!(download.headers()[header::CACHE_CONTROL], "no-store");
    let export = download.text().await.unwrap();
    assert!(
        !export.contains(&adas),
        "an export carries no ids: {export}"
    );

    // Bob cannot download Ada's chat: it does not exist for him.
    let refused = as_page(
        &app,
        reqwest::Method::GET,
        &format!("/api/sessions/{adas}/export?format=json"),
        &bob,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);

    // Ada's export, imported by Bob: a new chat of his with the same messages, new ids.
    let imported = as_page(&app, reqwest::Method::POST, "/api/sessions/import", &bob)
        .header(header::CONTENT_TYPE, "application/json")
        .body(export.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), StatusCode::CREATED);
    let session: serde_json::Value = imported.json().await.unwrap();
    let bobs = session["id"].as_str().unwrap().to_owned();
    assert_ne!(bobs, adas);
    let bobs_chats = chats_of(&app, &bob).await;
    let adas_title = chats_of(&app, &ada).await[0].1.clone();
    assert_eq!(bobs_chats, [(bobs.clone(), adas_title)]);
    let bobs_rows = rows_of(&app, &bobs).await;
    assert_eq!(without_ids(&bobs_rows), without_ids(&adas_rows));
    for (bobs_row, adas_row) in bobs_rows.iter().zip(&adas_rows) {
        assert_ne!(bobs_row[0], adas_row[0], "new message ids");
    }
    // Ada's chat is untouched, and still hers alone.
    assert_eq!(rows_of(&app, &adas).await, adas_rows);
    assert_eq!(chats_of(&app, &ada).await.len(), 1);

    // The Markdown export reads as the conversation.
    let markdown = as_page(
        &app,
        reqwest::Method::GET,
        &format!("/api/sessions/{bobs}/export?format=markdown"),
        &bob,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(markdown.status(), StatusCode::OK);
    assert_eq!(
        markdown.headers()[header::CONTENT_TYPE],
        "text/markdown; charset=utf-8"
    );
    assert!(markdown.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"chat-"));
    let text = markdown.text().await.unwrap();
    assert!(text.starts_with("# Plan a **trip** <b>now</b>"), "{text}");
    assert!(text.contains("## You\n\nPlan a **trip** <b>now</b>\n\n```rust\nfn main() {}\n```\n\n## Answer (offline-echo)\n\n"), "{text}");

    let unknown = as_page(
        &app,
        reqwest::Method::GET,
        &format!("/api/sessions/{bobs}/export?format=pdf"),
        &bob,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_import_is_validated_whole_and_never_reaches_rows_it_names() {
    let app = spawn_app_with(&[]).await;
    let (ada, bob) = (signed_in_cookies(&app).await, signed_in_cookies(&app).await);
    let adas = start_chat(&app, &ada, "mine").await;
    let adas_rows = rows_of(&app, &adas).await;
    let import = |body: String| {
        as_page(&app, reqwest::Method::POST, "/api/sessions/import", &bob)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
    };
    let refusals: [(String, StatusCode, &str); 6] = [
        (
            "x".repeat(1024 * 1024 + 1),
            StatusCode::PAYLOAD_TOO_LARGE,
            "That file is too big to import: the limit is 1 MB.",
        ),
        (
            "{not json".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "That is not a ferrochat JSON export (key must be a string at line 1 column 2).",
        ),
        (
            r#"{"format":"other"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "That JSON is not a ferrochat chat export.",
        ),
        (
            r#"{"format":"ferrochat.chat","version":2}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "That export was made by a newer version of ferrochat (version 2); this one reads version 1.",
        ),
        (
            r#"{"format":"ferrochat.chat","version":1,"title":"t","messages":[]}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "That export has no messages.",
        ),
        (
            r#"{"format":"ferrochat.chat","version":1,"title":"t","messages":[{"role":"user","content":"a\u0000"}]}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Message 1 of that export contains a character that cannot be stored (a NUL byte).",
        ),
    ];
    for (body, status, message) in refusals {
        let response = import(body).await.unwrap();
        assert_eq!(response.status(), status, "{message}");
        let detail: serde_json::Value = response.json().await.unwrap();
        let said = detail["detail"]
            .as_str()
            .or_else(|| detail["detail"][0]["msg"].as_str())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(said, message);
    }
    assert!(chats_of(&app, &bob).await.is_empty(), "nothing stored");

    // Ids in an export (Ada's session and message ids) are ignored; a streaming answer is
    // imported as stopped, so the new chat is not busy.
    let hostile = serde_json::json!({
        "format": "ferrochat.chat", "version": 1, "title": "Taken over",
        "id": adas, "chat_session_id": adas, "user_id": "someone",
        "messages": [
            { "id": adas_rows[0][0], "chat_session_id": adas, "role": "user", "content": "q" },
            { "role": "assistant", "content": "partial", "status": "streaming", "model": "m" },
        ],
    });
    let response = import(hostile.to_string()).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(rows_of(&app, &adas).await, adas_rows);
    assert_eq!(chats_of(&app, &ada).await.len(), 1);
    let bobs = &chats_of(&app, &bob).await[0];
    assert_eq!(bobs.1, "Taken over");
    let rows = without_ids(&rows_of(&app, &bobs.0).await);
    assert_eq!(
        rows,
        [
            [
                Some("user".into()),
                Some("q".into()),
                Some("complete".into()),
                None,
                None
            ],
            [
                Some("assistant".into()),
                Some("partial".into()),
                Some("stopped".into()),
                Some("m".into()),
                None
            ],
        ]
    );

    // Without JavaScript: the export pasted into the form.
    let form = form_post(
        &app,
        "/api/chat/import",
        &bob,
        "same-origin",
        &[("export", &hostile.to_string())],
    )
    .await;
    assert_eq!(form.status(), StatusCode::FOUND);
    let location = form.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(chats_of(&app, &bob).await.len(), 2);
    assert_eq!(
        location,
        format!("/chat/{}", chats_of(&app, &bob).await[0].0)
    );
}

on_both_databases!(
    regenerating_replaces_the_last_answer_and_edits_the_last_question,
    regenerating_keeps_the_stream_rules,
);

/// `(role, content, status)` of every message of a session, in order.
async fn turns(
    chats: &ferrochat::chat::store::ChatStore,
    user: &ferrochat::chat::store::UserId,
    session: &str,
) -> Vec<(String, String, String)> {
    chats
        .all_messages(user, session)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|m| {
            (
                m.role.as_str().to_owned(),
                m.content,
                m.status.as_str().to_owned(),
            )
        })
        .collect()
}

fn turn(role: &str, content: &str, status: &str) -> (String, String, String) {
    (role.into(), content.into(), status.into())
}

/// Finishes a streaming answer with `content`.
async fn finish(chats: &ferrochat::chat::store::ChatStore, id: &str, content: &str) {
    chats
        .finish_answer(
            id,
            &ferrochat::chat::store::AnswerOutcome {
                content: content.into(),
                status: ferrochat::chat::types::MessageStatus::Complete,
                prompt_tokens: None,
                completion_tokens: None,
                error: None,
            },
        )
        .await
        .unwrap();
}

async fn regenerating_replaces_the_last_answer_and_edits_the_last_question(
    store: ferrochat::store::Store,
) {
    use ferrochat::chat::store::{ChatStore, ChatStoreError, UserId};
    let chats = ChatStore::new(store.pool().clone());
    let (ada, bob) = (
        UserId::verified(uuid::Uuid::new_v4().to_string()),
        UserId::verified(uuid::Uuid::new_v4().to_string()),
    );
    let session = chats.create_session(&ada, None, "t").await.unwrap().id;
    assert!(matches!(
        chats.begin_regeneration(&ada, &session, None, "m").await,
        Err(ChatStoreError::NoQuestion)
    ));
    for (question, answer) in [("first", "one"), ("second", "two")] {
        let (_, started) = chats
            .begin_exchange(&ada, &session, question, "m")
            .await
            .unwrap();
        finish(&chats, &started.id, answer).await;
    }

    let (question, answer) = chats
        .begin_regeneration(&ada, &session, None, "m")
        .await
        .unwrap();
    assert_eq!(question.content, "second");
    assert_eq!(
        turns(&chats, &ada, &session).await,
        [
            turn("user", "first", "complete"),
            turn("assistant", "one", "complete"),
            turn("user", "second", "complete"),
            turn("assistant", "", "streaming"),
        ]
    );
    finish(&chats, &answer.id, "two again").await;

    let (question, answer) = chats
        .begin_regeneration(&ada, &session, Some("second, edited"), "m")
        .await
        .unwrap();
    assert_eq!(question.content, "second, edited");
    finish(&chats, &answer.id, "edited answer").await;
    assert_eq!(
        turns(&chats, &ada, &session).await,
        [
            turn("user", "first", "complete"),
            turn("assistant", "one", "complete"),
            turn("user", "second, edited", "complete"),
            turn("assistant", "edited answer", "complete"),
        ]
    );
    // The replaced answer and the old text are gone from the search too.
    let terms = ferrochat::chat::search::SearchTerms::parse("again");
    assert!(chats.search(&ada, &terms, 10).await.unwrap().is_empty());

    // Another person's chat is a missing one, and nothing changes.
    assert!(matches!(
        chats
            .begin_regeneration(&bob, &session, Some("mine now"), "m")
            .await,
        Err(ChatStoreError::NotFound)
    ));
    assert_eq!(turns(&chats, &ada, &session).await.len(), 4);
}

async fn regenerating_keeps_the_stream_rules(store: ferrochat::store::Store) {
    use ferrochat::chat::store::{ChatStore, ChatStoreError, UserId};
    let chats = ChatStore::new(store.pool().clone()).with_streams_per_user(1);
    let ada = UserId::verified(uuid::Uuid::new_v4().to_string());
    let first = chats.create_session(&ada, None, "a").await.unwrap().id;
    let second = chats.create_session(&ada, None, "b").await.unwrap().id;
    let (_, done) = chats.begin_exchange(&ada, &second, "q", "m").await.unwrap();
    finish(&chats, &done.id, "answered").await;
    let (_, live) = chats.begin_exchange(&ada, &first, "q", "m").await.unwrap();

    // An answer streaming in the chat is never deleted by a regenerate or an edit.
    assert!(matches!(
        chats
            .begin_regeneration(&ada, &first, Some("edit"), "m")
            .await,
        Err(ChatStoreError::Busy)
    ));
    assert_eq!(
        turns(&chats, &ada, &first).await,
        [
            turn("user", "q", "complete"),
            turn("assistant", "", "streaming")
        ]
    );
    // The person's stream limit counts a regenerate like a send, and it changes nothing.
    assert!(matches!(
        chats.begin_regeneration(&ada, &second, None, "m").await,
        Err(ChatStoreError::TooManyStreams(1))
    ));
    assert_eq!(
        turns(&chats, &ada, &second).await,
        [
            turn("user", "q", "complete"),
            turn("assistant", "answered", "complete")
        ]
    );
    finish(&chats, &live.id, "done").await;
    assert!(chats
        .begin_regeneration(&ada, &second, None, "m")
        .await
        .is_ok());
}

#[tokio::test]
async fn regenerate_and_edit_work_as_forms_without_javascript() {
    let app = spawn_app_with(&[]).await;
    let (ada, bob) = (signed_in_cookies(&app).await, signed_in_cookies(&app).await);
    let session = start_chat(&app, &ada, "What is rust?").await;
    let hostile = start_chat(&app, &ada, "x</textarea><img src=x onerror=alert(1)>").await;
    let html = page(&app, &ada, &format!("/chat/{hostile}")).await;
    assert!(
        html.contains("x&lt;/textarea&gt;&lt;img src=x onerror=alert(1)&gt;</textarea>"),
        "the edit box holds the text, escaped: {html}"
    );
    assert!(!html.contains("<img src=x"), "{html}");
    let html = page(&app, &ada, &format!("/chat/{session}")).await;
    assert!(html.contains(r#"action="/api/chat/regenerate""#), "{html}");
    assert!(html.contains(r#"action="/api/chat/edit""#), "{html}");
    let before = rows_of(&app, &session).await;

    let regenerated = form_post(
        &app,
        "/api/chat/regenerate",
        &ada,
        "same-origin",
        &[("id", session.as_str()), ("model", "")],
    )
    .await;
    assert_eq!(regenerated.status(), StatusCode::FOUND);
    assert_eq!(
        regenerated.headers()[header::LOCATION],
        format!("/chat/{session}").as_str()
    );
    let after = rows_of(&app, &session).await;
    assert_eq!(without_ids(&after), without_ids(&before));
    assert_eq!(after[0][0], before[0][0], "the question is kept");
    assert_ne!(after[1][0], before[1][0], "the answer is a new one");

    // Bob's edit of Ada's chat: refused as a missing chat, nothing changed.
    let refused = form_post(
        &app,
        "/api/chat/edit",
        &bob,
        "same-origin",
        &[
            ("id", session.as_str()),
            ("content", "hijacked"),
            ("model", ""),
        ],
    )
    .await;
    // Without JavaScript a refusal goes back (to the referring page) rather than to the chat.
    assert_eq!(refused.status(), StatusCode::FOUND);
    assert_ne!(
        refused.headers()[header::LOCATION],
        format!("/chat/{session}").as_str()
    );
    assert_eq!(rows_of(&app, &session).await, after);

    let edited = form_post(
        &app,
        "/api/chat/edit",
        &ada,
        "same-origin",
        &[
            ("id", session.as_str()),
            ("content", "What is Rust, really?"),
            ("model", ""),
        ],
    )
    .await;
    assert_eq!(edited.status(), StatusCode::FOUND);
    let rows = rows_of(&app, &session).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][2].as_deref(), Some("What is Rust, really?"));
    assert!(
        rows[1][2]
            .as_deref()
            .unwrap()
            .ends_with("What is Rust, really?"),
        "the echo answers the edited text: {rows:?}"
    );
}

#[tokio::test]
async fn the_sidebar_groups_chats_by_utc_day_and_has_the_toast_region() {
    let app = spawn_app_with(&[]).await;
    let ada = signed_in_cookies(&app).await;
    let day = 24 * 60 * 60 * 1000_i64;
    let now = ferrochat::chat::store::now_ms();
    let today_start = now.div_euclid(day) * day;
    let mut chats = Vec::new();
    for (name, at) in [
        ("today", now),
        ("yesterday", today_start - day / 2),
        ("week", today_start - 3 * day),
        ("older", today_start - 30 * day),
    ] {
        let id = start_chat(&app, &ada, &format!("chat of {name}")).await;
        sqlx::query("UPDATE chat_sessions SET updated_at = $1 WHERE id = $2")
            .bind(at)
            .bind(&id)
            .execute(app.store.pool())
            .await
            .unwrap();
        chats.push((name, id));
    }
    let html = page(&app, &ada, "/chat").await;
    let mut last = 0;
    for (name, id) in &chats {
        // Each chat sits under its own heading, the groups in order.
        let heading = html
            .find(&format!(r#"id="chat-group-{name}""#))
            .unwrap_or_else(|| panic!("no {name} group: {html}"));
        let link = html.find(&format!(r#"href="/chat/{id}""#)).unwrap();
        assert!(last < heading && heading < link, "{name}");
        last = link;
    }
    assert!(
        html.contains(
            r#"<ul id="chat-list" aria-labelledby="chat-group-today" class="chat-list">"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"<div id="toasts" role="status" aria-live="polite" class="toasts"></div>"#)
    );
    assert!(html.contains(r#"action="/api/chat/delete_empty""#));
}

#[tokio::test]
async fn the_regenerate_route_streams_a_new_answer_for_its_owner_only() {
    let app = spawn_app_with(&[]).await;
    let (ada, bob) = (signed_in_cookies(&app).await, signed_in_cookies(&app).await);
    let session = start_chat(&app, &ada, "Tell me again").await;
    let before = rows_of(&app, &session).await;
    let path = format!("/api/sessions/{session}/regenerate");

    let refused = as_page(&app, reqwest::Method::POST, &path, &bob)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(rows_of(&app, &session).await, before);

    let edited = as_page(&app, reqwest::Method::POST, &path, &ada)
        .json(&serde_json::json!({ "content": "Tell me once more" }))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), StatusCode::OK);
    let stream = edited.text().await.unwrap();
    assert!(stream.contains(r#"0:"Tell"#), "{stream}");
    assert!(stream.lines().last().unwrap().starts_with("d:"), "{stream}");
    let after = rows_of(&app, &session).await;
    assert_eq!(after.len(), 2);
    assert_eq!(after[0][0], before[0][0]);
    assert_eq!(after[0][2].as_deref(), Some("Tell me once more"));
    assert!(after[1][2]
        .as_deref()
        .unwrap()
        .ends_with("Tell me once more"));
    assert_eq!(after[1][3].as_deref(), Some("complete"));

    let blank = as_page(&app, reqwest::Method::POST, &path, &ada)
        .json(&serde_json::json!({ "content": "  " }))
        .send()
        .await
        .unwrap();
    assert_eq!(blank.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let empty = form_post(&app, "/api/chat/new", &ada, "same-origin", &[]).await;
    let empty = empty.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .strip_prefix("/chat/")
        .unwrap()
        .to_owned();
    let nothing = as_page(
        &app,
        reqwest::Method::POST,
        &format!("/api/sessions/{empty}/regenerate"),
        &ada,
    )
    .json(&serde_json::json!({}))
    .send()
    .await
    .unwrap();
    assert_eq!(nothing.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = nothing.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "There is no message of yours in this chat to answer again."
    );
}

#[tokio::test]
async fn an_example_prompt_link_cannot_end_the_composers_box() {
    let app = spawn_app_with(&[]).await;
    let ada = signed_in_cookies(&app).await;
    // A link anyone can send: `/chat?prompt=…` fills the composer.
    let html = page(
        &app,
        &ada,
        "/chat?prompt=x%3C%2Ftextarea%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    )
    .await;
    assert!(
        html.contains("x&lt;/textarea&gt;&lt;img src=x onerror=alert(1)&gt;</textarea>"),
        "the composer holds the text, escaped: {html}"
    );
    assert!(!html.contains("<img src=x"), "{html}");
}
