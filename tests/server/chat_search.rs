//! Searching chats on both databases: a person's own words are found in titles and message
//! bodies, another person's never are, answers being written are not indexed yet, deleted and
//! renamed chats leave nothing stale behind, and no query text can break the query.

use ferrochat::{
    chat::{
        search::{snippet, SearchTerms},
        store::{AnswerOutcome, ChatStore, UserId},
        types::{MessageStatus, DEFAULT_TITLE},
    },
    store::{Backend, Store},
};

on_both_databases!(
    a_word_only_in_a_message_body_finds_its_session,
    another_users_words_never_match,
    titles_match_and_renames_are_followed,
    an_answer_is_found_once_it_stops_streaming,
    a_deleted_chat_leaves_nothing_to_find,
    every_word_must_match_as_a_prefix,
    hostile_queries_are_words_never_syntax,
    the_search_uses_its_indexes,
);

fn user() -> UserId {
    UserId::verified(uuid::Uuid::new_v4().to_string())
}

fn complete(content: &str) -> AnswerOutcome {
    AnswerOutcome {
        content: content.into(),
        status: MessageStatus::Complete,
        prompt_tokens: None,
        completion_tokens: None,
        error: None,
    }
}

/// A new session of `user` titled `title` with one exchange; its id.
async fn chat(
    chats: &ChatStore,
    user: &UserId,
    title: &str,
    question: &str,
    answer: &str,
) -> String {
    let session = chats.create_session(user, None, title).await.unwrap();
    let (_, started) = chats
        .begin_exchange(user, &session.id, question, "model-a")
        .await
        .unwrap();
    chats
        .finish_answer(&started.id, &complete(answer))
        .await
        .unwrap();
    session.id
}

/// The ids of the user's sessions that match `query`, sorted (sessions made in the same
/// millisecond have no order of recency).
async fn found(chats: &ChatStore, user: &UserId, query: &str) -> Vec<String> {
    let mut ids: Vec<String> = chats
        .search(user, &SearchTerms::parse(query), 50)
        .await
        .unwrap_or_else(|error| panic!("search {query:?} failed: {error}"))
        .into_iter()
        .map(|hit| hit.session.id)
        .collect();
    ids.sort();
    ids
}

/// `ids`, sorted as [`found`] returns them.
fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    ids.sort();
    ids
}

async fn a_word_only_in_a_message_body_finds_its_session(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let ada = user();
    let bread = chat(
        &chats,
        &ada,
        "Baking",
        "How long to proof?",
        "Proof the sourdough overnight.",
    )
    .await;
    let _other = chat(
        &chats,
        &ada,
        "Trains",
        "When is the next train?",
        "At noon.",
    )
    .await;

    assert_eq!(found(&chats, &ada, "sourdough").await, sorted(&[&bread]));
    // Case does not matter; the question matches as well as the answer.
    assert_eq!(found(&chats, &ada, "PROOF").await, sorted(&[&bread]));
    assert_eq!(found(&chats, &ada, "zeppelin").await, Vec::<String>::new());

    // The hit carries the message that matched, and its snippet marks the word.
    let hits = chats
        .search(&ada, &SearchTerms::parse("sourdough"), 50)
        .await
        .unwrap();
    let message = hits[0].message.as_deref().unwrap();
    assert_eq!(message, "Proof the sourdough overnight.");
    assert_eq!(
        snippet(message, &SearchTerms::parse("sourdough")).to_html(),
        "Proof the <mark>sourdough</mark> overnight."
    );
}

async fn another_users_words_never_match(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, bob) = (user(), user());
    chat(
        &chats,
        &bob,
        "Bob's secret plans",
        "the password is hunter2",
        "noted",
    )
    .await;
    let mine = chat(&chats, &ada, "Mine", "hello", "hello back").await;

    for query in ["hunter2", "password", "secret", "plans", "noted"] {
        assert_eq!(
            found(&chats, &ada, query).await,
            Vec::<String>::new(),
            "{query}"
        );
    }
    // The same word in both accounts: each finds only their own.
    let bobs = chat(&chats, &bob, "Greetings", "hello", "hi").await;
    assert_eq!(found(&chats, &ada, "hello").await, sorted(&[&mine]));
    assert_eq!(found(&chats, &bob, "hello").await, sorted(&[&bobs]));
}

async fn titles_match_and_renames_are_followed(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let ada = user();
    let trip = chat(&chats, &ada, "Holiday in Lisbon", "flights?", "some").await;
    assert_eq!(found(&chats, &ada, "lisbon").await, sorted(&[&trip]));
    let hit = &chats
        .search(&ada, &SearchTerms::parse("lisbon"), 50)
        .await
        .unwrap()[0];
    assert_eq!(hit.message, None, "only the title matched");

    chats.rename(&ada, &trip, "Weekend in Porto").await.unwrap();
    assert_eq!(found(&chats, &ada, "lisbon").await, Vec::<String>::new());
    assert_eq!(found(&chats, &ada, "porto").await, sorted(&[&trip]));
}

async fn an_answer_is_found_once_it_stops_streaming(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let ada = user();
    let session = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    let (_, answer) = chats
        .begin_exchange(&ada, &session.id, "question", "model-a")
        .await
        .unwrap();
    chats
        .save_progress(&answer.id, "partial marmalade")
        .await
        .unwrap();
    assert_eq!(found(&chats, &ada, "marmalade").await, Vec::<String>::new());

    chats
        .finish_answer(&answer.id, &complete("finished marmalade recipe"))
        .await
        .unwrap();
    assert_eq!(
        found(&chats, &ada, "marmalade").await,
        sorted(&[&session.id])
    );
    assert_eq!(found(&chats, &ada, "partial").await, Vec::<String>::new());
    assert_eq!(found(&chats, &ada, "recipe").await, sorted(&[&session.id]));
}

async fn a_deleted_chat_leaves_nothing_to_find(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let ada = user();
    let gone = chat(&chats, &ada, "Quince jelly", "quince?", "quince!").await;
    let kept = chat(&chats, &ada, "Other", "quince too", "yes").await;
    assert!(chats.delete(&ada, &gone).await.unwrap());
    assert_eq!(found(&chats, &ada, "quince").await, sorted(&[&kept]));
    chats.delete_all(&ada).await.unwrap();
    assert_eq!(found(&chats, &ada, "quince").await, Vec::<String>::new());
    if store.backend() == Backend::Sqlite {
        // The external-content indexes agree with their tables after cascaded deletes.
        for table in ["messages_fts", "chat_sessions_fts"] {
            sqlx::query(&format!(
                "INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 1)"
            ))
            .execute(store.pool())
            .await
            .unwrap_or_else(|error| panic!("{table} is inconsistent: {error}"));
        }
    }
}

async fn every_word_must_match_as_a_prefix(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let ada = user();
    let both = chat(&chats, &ada, "t", "apple pie", "with cinnamon").await;
    let one = chat(&chats, &ada, "u", "apple juice", "fresh").await;
    assert_eq!(found(&chats, &ada, "apple").await, sorted(&[&one, &both]));
    assert_eq!(found(&chats, &ada, "app").await, sorted(&[&one, &both]));
    assert_eq!(found(&chats, &ada, "apple pie").await, sorted(&[&both]));
    assert_eq!(found(&chats, &ada, "pie apple").await, sorted(&[&both]));
    // Words of one message, not of two: "pie" and "cinnamon" are in different messages.
    assert_eq!(
        found(&chats, &ada, "pie cinnamon").await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(&chats, &ada, "ple").await,
        Vec::<String>::new(),
        "prefixes only"
    );
}

async fn hostile_queries_are_words_never_syntax(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let ada = user();
    let near = chat(
        &chats,
        &ada,
        "x",
        "NEAR the column: a-b \"quoted\" star*",
        "ok",
    )
    .await;
    let ten_kb = "a".repeat(10_240);
    let hostile = [
        "\"",
        "\"unterminated",
        "*",
        "NEAR(",
        "NEAR(a b, 2)",
        "-",
        "-ok",
        ":",
        "content:ok",
        "\0",
        "ok\0ok",
        "'",
        "'':*",
        "!",
        "&|!()",
        "AND OR NOT",
        "^ok",
        "\\",
        "%_",
        "\u{202e}ok",
        ten_kb.as_str(),
    ];
    for query in hostile {
        chats
            .search(&ada, &SearchTerms::parse(query), 50)
            .await
            .unwrap_or_else(|error| panic!("{query:?} broke the search: {error}"));
    }
    // Operators are plain words: they find the text that contains them as words.
    assert_eq!(found(&chats, &ada, "NEAR(").await, sorted(&[&near]));
    assert_eq!(found(&chats, &ada, "column:").await, sorted(&[&near]));
    assert_eq!(found(&chats, &ada, "\"quoted\"").await, sorted(&[&near]));
    assert_eq!(found(&chats, &ada, "star*").await, sorted(&[&near]));
    assert_eq!(found(&chats, &ada, "*").await, Vec::<String>::new());
}

async fn the_search_uses_its_indexes(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let ada = user();
    chat(&chats, &ada, "t", "indexed words", "here").await;
    let terms = SearchTerms::parse("indexed");
    let plan: Vec<String> = match store.backend() {
        Backend::Sqlite => {
            let rows = sqlx::query(&format!(
                "EXPLAIN QUERY PLAN {}",
                ferrochat::chat::store::sql::SEARCH_SQLITE
            ))
            .bind(terms.fts5_query())
            .bind(ada.as_str())
            .bind(50_i64)
            .fetch_all(store.pool())
            .await
            .unwrap();
            use sqlx::Row;
            rows.iter()
                .map(|row| row.get::<String, _>("detail"))
                .collect()
        }
        Backend::Postgres => {
            // A small table would be read whole whatever the indexes: ask as if it were big.
            let mut tx = store.pool().begin().await.unwrap();
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *tx)
                .await
                .unwrap();
            let rows = sqlx::query(&format!(
                "EXPLAIN {}",
                ferrochat::chat::store::sql::SEARCH_POSTGRES
            ))
            .bind(terms.tsquery())
            .bind(ada.as_str())
            .bind(50_i64)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
            use sqlx::Row;
            rows.iter().map(|row| row.get::<String, _>(0)).collect()
        }
    };
    let plan = plan.join("\n");
    let expected: &[&str] = match store.backend() {
        Backend::Sqlite => &["VIRTUAL TABLE INDEX", "chat_sessions_by_user_recency"],
        Backend::Postgres => &["messages_content_search", "chat_sessions_by_user_recency"],
    };
    for index in expected {
        assert!(plan.contains(index), "no {index} in the plan:\n{plan}");
    }
}
