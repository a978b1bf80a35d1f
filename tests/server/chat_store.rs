//! The chat store on both databases: ownership, order, pagination, one stream per session,
//! titles, deletion, the model's history, and the indexes its hot queries use.

use ferrochat::{
    chat::{
        store::{
            now_ms, sql, AnswerOutcome, ChatStore, ChatStoreError, Progress, SessionCursor, UserId,
        },
        types::{MessageStatus, Role, DEFAULT_TITLE},
    },
    store::{Backend, Store},
};
use sqlx::Row;

on_both_databases!(
    sessions_come_newest_first_in_keyset_pages,
    another_users_session_behaves_exactly_like_a_missing_one,
    messages_come_in_order_newest_page_first,
    one_answer_streams_per_session_at_a_time,
    a_person_has_at_most_their_limit_of_answers_streaming,
    the_first_message_titles_a_new_session_and_nothing_else_does,
    deleting_a_session_deletes_its_messages,
    deleting_empty_sessions_touches_only_the_callers_empty_ones,
    deleting_an_account_deletes_all_of_its_chats,
    the_history_keeps_the_newest_turns_within_the_budget,
    an_answer_keeps_how_it_ended,
    a_progress_save_tells_of_a_stop_asked_for_by_the_owner_only,
    a_progress_save_tells_of_an_answer_deleted_with_its_chat,
    abandoned_streams_are_failed_but_live_ones_are_left,
    hostile_text_is_stored_verbatim_never_executed,
    the_hot_queries_use_their_indexes,
);

fn users() -> (UserId, UserId) {
    (
        UserId::verified(uuid::Uuid::new_v4().to_string()),
        UserId::verified(uuid::Uuid::new_v4().to_string()),
    )
}

/// How an answer ended, with nothing else to say.
fn ended(content: &str, status: MessageStatus) -> AnswerOutcome {
    AnswerOutcome {
        content: content.into(),
        status,
        prompt_tokens: None,
        completion_tokens: None,
        error: None,
    }
}

/// Asks `question` in a session and finishes its answer as `answer`.
async fn ask(chats: &ChatStore, user: &UserId, session: &str, question: &str, answer: &str) {
    let (_, started) = chats
        .begin_exchange(user, session, question, "model-a")
        .await
        .unwrap();
    chats
        .finish_answer(&started.id, &ended(answer, MessageStatus::Complete))
        .await
        .unwrap();
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn sessions_come_newest_first_in_keyset_pages(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, _) = users();
    let mut created = Vec::new();
    for n in 0..5 {
        let session = chats
            .create_session(&ada, None, DEFAULT_TITLE)
            .await
            .unwrap();
        ask(&chats, &ada, &session.id, &format!("message {n}"), "ok").await;
        created.push(session.id);
        // Distinct milliseconds, so recency is unambiguous.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    // The oldest becomes the most recent by a new message.
    ask(&chats, &ada, &created[0], "again", "ok").await;
    let expected = [
        &created[0],
        &created[4],
        &created[3],
        &created[2],
        &created[1],
    ];

    let mut seen = Vec::new();
    let mut cursor: Option<SessionCursor> = None;
    for _ in 0..5 {
        let page = chats.list_sessions(&ada, cursor.as_ref(), 2).await.unwrap();
        assert!(page.sessions.len() <= 2);
        seen.extend(page.sessions.iter().map(|s| s.id.clone()));
        // The cursor survives a trip through a URL.
        cursor = page
            .next
            .map(|next| SessionCursor::decode(&next.encode()).unwrap());
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.iter().collect::<Vec<_>>(), expected);
    assert_eq!(seen[0], created[0]);
}

async fn another_users_session_behaves_exactly_like_a_missing_one(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, eve) = users();
    let mine = chats.create_session(&ada, None, "Private").await.unwrap();
    ask(&chats, &ada, &mine.id, "secret plans", "noted").await;
    let missing = uuid::Uuid::new_v4().to_string();
    for id in [mine.id.as_str(), missing.as_str()] {
        assert_eq!(chats.session(&eve, id).await.unwrap(), None, "{id}");
        assert!(chats.messages(&eve, id, None, 50).await.unwrap().is_none());
        assert_eq!(chats.rename(&eve, id, "Mine now").await.unwrap(), None);
        assert!(!chats.delete(&eve, id).await.unwrap());
        assert!(matches!(
            chats.begin_exchange(&eve, id, "hello", "m").await,
            Err(ChatStoreError::NotFound)
        ));
        assert!(chats.history(&eve, id, 10_000).await.unwrap().is_empty());
    }
    // Choosing another user's id for a new session (the starter's API allows choosing) does
    // not reach it either.
    assert!(matches!(
        chats.create_session(&eve, Some(&mine.id), "Hijack").await,
        Err(ChatStoreError::NotFound)
    ));
    assert_eq!(chats.delete_empty(&eve).await.unwrap(), 0);
    assert_eq!(chats.delete_all(&eve).await.unwrap(), 0);
    assert!(chats
        .list_sessions(&eve, None, 50)
        .await
        .unwrap()
        .sessions
        .is_empty());
    // Ada's chat is as she left it.
    let still = chats.session(&ada, &mine.id).await.unwrap().unwrap();
    assert_eq!(still.title, "Private");
    let page = chats
        .messages(&ada, &mine.id, None, 50)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.messages.len(), 2);
    assert_eq!(page.messages[0].content, "secret plans");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM messages").await, 2);
}

async fn messages_come_in_order_newest_page_first(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, _) = users();
    let session = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    for n in 0..7 {
        ask(
            &chats,
            &ada,
            &session.id,
            &format!("q{n}"),
            &format!("a{n}"),
        )
        .await;
    }
    let texts = |page: &ferrochat::chat::store::MessagePage| {
        page.messages
            .iter()
            .map(|m| m.content.clone())
            .collect::<Vec<_>>()
    };
    let newest = chats
        .messages(&ada, &session.id, None, 4)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(texts(&newest), ["q5", "a5", "q6", "a6"]);
    assert!(newest.has_older);
    let mut before = newest.messages[0].id.clone();
    for expected in [["q3", "a3", "q4", "a4"], ["q1", "a1", "q2", "a2"]] {
        let page = chats
            .messages(&ada, &session.id, Some(&before), 4)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(texts(&page), expected);
        assert!(page.has_older);
        before = page.messages[0].id.clone();
    }
    let oldest = chats
        .messages(&ada, &session.id, Some(&before), 4)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(texts(&oldest), ["q0", "a0"]);
    assert!(!oldest.has_older);
}

async fn a_person_has_at_most_their_limit_of_answers_streaming(store: Store) {
    let chats = ChatStore::new(store.pool().clone()).with_streams_per_user(2);
    let (ada, bob) = users();
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(
            chats
                .create_session(&ada, None, DEFAULT_TITLE)
                .await
                .unwrap(),
        );
    }
    let (_, first) = chats
        .begin_exchange(&ada, &sessions[0].id, "one", "m")
        .await
        .unwrap();
    chats
        .begin_exchange(&ada, &sessions[1].id, "two", "m")
        .await
        .unwrap();
    assert_eq!(chats.has_stream_room(&ada).await.unwrap_err().to_string(),
        "You have 2 answers being written already. Wait for one to finish, or stop one, then send again.");
    assert!(matches!(
        chats
            .begin_exchange(&ada, &sessions[2].id, "three", "m")
            .await,
        Err(ChatStoreError::TooManyStreams(2))
    ));
    let third = chats
        .messages(&ada, &sessions[2].id, None, 10)
        .await
        .unwrap()
        .unwrap();
    assert!(
        third.messages.is_empty(),
        "nothing of the refused send is stored"
    );

    // Another person's answers are theirs to count.
    let bobs = chats
        .create_session(&bob, None, DEFAULT_TITLE)
        .await
        .unwrap();
    chats
        .begin_exchange(&bob, &bobs.id, "mine", "m")
        .await
        .unwrap();

    // Once one of Ada's answers has ended, she may send again.
    chats
        .finish_answer(&first.id, &ended("done", MessageStatus::Stopped))
        .await
        .unwrap();
    chats.has_stream_room(&ada).await.unwrap();
    chats
        .begin_exchange(&ada, &sessions[2].id, "three", "m")
        .await
        .unwrap();
}

async fn one_answer_streams_per_session_at_a_time(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, _) = users();
    let session = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    let other = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    let (_, answer) = chats
        .begin_exchange(&ada, &session.id, "first", "model-a")
        .await
        .unwrap();
    assert_eq!(answer.status, MessageStatus::Streaming);
    assert!(matches!(
        chats
            .begin_exchange(&ada, &session.id, "second", "model-a")
            .await,
        Err(ChatStoreError::Busy)
    ));
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM messages").await,
        2,
        "the refused question is not stored"
    );
    // Another session streams freely meanwhile.
    chats
        .begin_exchange(&ada, &other.id, "elsewhere", "model-a")
        .await
        .unwrap();
    chats
        .finish_answer(&answer.id, &ended("done", MessageStatus::Complete))
        .await
        .unwrap();
    chats
        .begin_exchange(&ada, &session.id, "second", "model-a")
        .await
        .unwrap();
}

async fn the_first_message_titles_a_new_session_and_nothing_else_does(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, _) = users();
    let session = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    ask(
        &chats,
        &ada,
        &session.id,
        "  How do I bake\nsourdough bread? ",
        "ok",
    )
    .await;
    let titled = chats.session(&ada, &session.id).await.unwrap().unwrap();
    assert_eq!(titled.title, "How do I bake sourdough bread?");
    ask(&chats, &ada, &session.id, "And rye?", "ok").await;
    assert_eq!(
        chats
            .session(&ada, &session.id)
            .await
            .unwrap()
            .unwrap()
            .title,
        "How do I bake sourdough bread?"
    );
    // A session the person named keeps its name.
    let named = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    chats.rename(&ada, &named.id, "Baking").await.unwrap();
    ask(&chats, &ada, &named.id, "Hello", "ok").await;
    assert_eq!(
        chats.session(&ada, &named.id).await.unwrap().unwrap().title,
        "Baking"
    );
}

async fn deleting_a_session_deletes_its_messages(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, _) = users();
    let session = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    let kept = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    for id in [&session.id, &kept.id] {
        ask(&chats, &ada, id, "hello", "hi").await;
    }
    assert!(chats.delete(&ada, &session.id).await.unwrap());
    let orphans: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE chat_session_id = $1")
            .bind(&session.id)
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(orphans, 0);
    let page = chats
        .messages(&ada, &kept.id, None, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.messages.len(), 2);
    assert!(
        !chats.delete(&ada, &session.id).await.unwrap(),
        "already gone"
    );
}

async fn deleting_empty_sessions_touches_only_the_callers_empty_ones(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, eve) = users();
    let empty = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    let used = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    ask(&chats, &ada, &used.id, "hi", "hello").await;
    let eves_empty = chats
        .create_session(&eve, None, DEFAULT_TITLE)
        .await
        .unwrap();
    assert_eq!(chats.delete_empty(&ada).await.unwrap(), 1);
    assert!(chats.session(&ada, &empty.id).await.unwrap().is_none());
    assert!(chats.session(&ada, &used.id).await.unwrap().is_some());
    assert!(
        chats.session(&eve, &eves_empty.id).await.unwrap().is_some(),
        "the starter's DELETE /api/empty-sessions wiped every user's: this one must not"
    );
}

async fn deleting_an_account_deletes_all_of_its_chats(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, eve) = users();
    for _ in 0..3 {
        let session = chats
            .create_session(&ada, None, DEFAULT_TITLE)
            .await
            .unwrap();
        ask(&chats, &ada, &session.id, "hi", "hello").await;
    }
    let eves = chats
        .create_session(&eve, None, DEFAULT_TITLE)
        .await
        .unwrap();
    ask(&chats, &eve, &eves.id, "mine", "yours").await;
    assert_eq!(chats.delete_all(&ada).await.unwrap(), 3);
    assert!(chats
        .list_sessions(&ada, None, 50)
        .await
        .unwrap()
        .sessions
        .is_empty());
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM messages").await,
        2,
        "only Eve's exchange is left"
    );
}

async fn the_history_keeps_the_newest_turns_within_the_budget(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, _) = users();
    let session = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    for (question, answer, status) in [
        ("q1 aaaaaaaaaa", "a1 aaaaaaaaaa", MessageStatus::Complete),
        ("q2 bbbbbbbbbb", "", MessageStatus::Error),
        ("q3 cccccccccc", "a3 partial", MessageStatus::Stopped),
    ] {
        let (_, started) = chats
            .begin_exchange(&ada, &session.id, question, "m")
            .await
            .unwrap();
        chats
            .finish_answer(&started.id, &ended(answer, status))
            .await
            .unwrap();
    }
    // The answer to it is streaming, and has no place in its own history.
    chats
        .begin_exchange(&ada, &session.id, "q4 the question", "m")
        .await
        .unwrap();
    let all = chats.history(&ada, &session.id, 10_000).await.unwrap();
    let texts: Vec<&str> = all.iter().map(|(_, text)| text.as_str()).collect();
    // The failed empty answer is left out; the stopped partial answer is context.
    assert_eq!(
        texts,
        [
            "q1 aaaaaaaaaa",
            "a1 aaaaaaaaaa",
            "q2 bbbbbbbbbb",
            "q3 cccccccccc",
            "a3 partial",
            "q4 the question"
        ]
    );
    assert_eq!(all[0].0, Role::User);
    assert_eq!(all[1].0, Role::Assistant);
    // A budget of 40 characters keeps the newest turns only.
    let tight = chats.history(&ada, &session.id, 40).await.unwrap();
    let texts: Vec<&str> = tight.iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(texts, ["q3 cccccccccc", "a3 partial", "q4 the question"]);
    // The question itself always goes, even over budget.
    let tiny = chats.history(&ada, &session.id, 1).await.unwrap();
    assert_eq!(tiny, [(Role::User, "q4 the question".to_owned())]);
}

/// The stop mark of a message, as stored.
async fn stop_mark(store: &Store, id: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT stop_requested_at FROM messages WHERE id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn a_progress_save_tells_of_a_stop_asked_for_by_the_owner_only(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, bob) = users();
    let session = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    let quiet = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    let (_, answer) = chats
        .begin_exchange(&ada, &session.id, "tell me", "model-a")
        .await
        .unwrap();
    assert_eq!(
        chats.save_progress(&answer.id, "Once").await.unwrap(),
        Progress::Saved
    );
    // Someone else's stop, and a stop of a session with nothing streaming, mark nothing.
    assert!(!chats.request_stop(&bob, &session.id).await.unwrap());
    assert!(!chats.request_stop(&ada, &quiet.id).await.unwrap());
    assert!(!chats.request_stop(&ada, "no-such-session").await.unwrap());
    assert_eq!(stop_mark(&store, &answer.id).await, None);
    assert_eq!(
        chats.save_progress(&answer.id, "Once upon").await.unwrap(),
        Progress::Saved
    );

    let before = now_ms();
    assert!(chats.request_stop(&ada, &session.id).await.unwrap());
    let marked = stop_mark(&store, &answer.id).await.expect("a stop mark");
    assert!(marked >= before && marked <= now_ms());
    // Asked again before the writer saw it: still streaming, the first time kept.
    assert!(chats.request_stop(&ada, &session.id).await.unwrap());
    assert_eq!(stop_mark(&store, &answer.id).await, Some(marked));
    assert_eq!(
        chats
            .save_progress(&answer.id, "Once upon a")
            .await
            .unwrap(),
        Progress::StopRequested
    );
    // The writer then ends it as it does a stop of its own.
    chats
        .finish_answer(&answer.id, &ended("Once upon a", MessageStatus::Stopped))
        .await
        .unwrap();
    let page = chats
        .messages(&ada, &session.id, None, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.messages[1].content, "Once upon a");
    assert_eq!(page.messages[1].status, MessageStatus::Stopped);
    assert!(!chats.request_stop(&ada, &session.id).await.unwrap());
    assert_eq!(
        chats.save_progress(&answer.id, "late").await.unwrap(),
        Progress::Gone
    );
    // The next answer in the session starts without a stop.
    let (_, next) = chats
        .begin_exchange(&ada, &session.id, "again", "model-a")
        .await
        .unwrap();
    assert_eq!(
        chats.save_progress(&next.id, "Fresh").await.unwrap(),
        Progress::Saved
    );
}

async fn a_progress_save_tells_of_an_answer_deleted_with_its_chat(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, _) = users();
    let session = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    let (_, answer) = chats
        .begin_exchange(&ada, &session.id, "tell me", "model-a")
        .await
        .unwrap();
    assert!(chats.delete(&ada, &session.id).await.unwrap());
    assert_eq!(
        chats.save_progress(&answer.id, "Once").await.unwrap(),
        Progress::Gone
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM messages").await, 0);
}

async fn an_answer_keeps_how_it_ended(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, _) = users();
    let session = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    let (_, answer) = chats
        .begin_exchange(&ada, &session.id, "tell me", "gpt-test")
        .await
        .unwrap();
    chats.save_progress(&answer.id, "Once upon").await.unwrap();
    let saved = chats
        .messages(&ada, &session.id, None, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.messages[1].content, "Once upon");
    assert_eq!(saved.messages[1].status, MessageStatus::Streaming);
    chats
        .finish_answer(
            &answer.id,
            &AnswerOutcome {
                content: "Once upon a".into(),
                status: MessageStatus::Error,
                prompt_tokens: Some(12),
                completion_tokens: Some(3),
                error: Some("The model stopped answering.".into()),
            },
        )
        .await
        .unwrap();
    let page = chats
        .messages(&ada, &session.id, None, 10)
        .await
        .unwrap()
        .unwrap();
    let last = &page.messages[1];
    assert_eq!(last.role, Role::Assistant);
    assert_eq!(last.content, "Once upon a");
    assert_eq!(last.status, MessageStatus::Error);
    assert_eq!(last.model.as_deref(), Some("gpt-test"));
    assert_eq!(last.error.as_deref(), Some("The model stopped answering."));
    let row = sqlx::query("SELECT prompt_tokens, completion_tokens FROM messages WHERE id = $1")
        .bind(&last.id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<Option<i64>, _>("prompt_tokens"), Some(12));
    assert_eq!(row.get::<Option<i64>, _>("completion_tokens"), Some(3));
    // A finished answer is final: a late progress save does not reopen it.
    chats.save_progress(&last.id, "overwritten").await.unwrap();
    let page = chats
        .messages(&ada, &session.id, None, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.messages[1].content, "Once upon a");
}

async fn abandoned_streams_are_failed_but_live_ones_are_left(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, _) = users();
    let stale = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    let live = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    let (_, stale_answer) = chats
        .begin_exchange(&ada, &stale.id, "q", "m")
        .await
        .unwrap();
    chats
        .save_progress(&stale_answer.id, "half an ans")
        .await
        .unwrap();
    chats
        .begin_exchange(&ada, &live.id, "q", "m")
        .await
        .unwrap();
    sqlx::query("UPDATE messages SET updated_at = updated_at - 120000 WHERE id = $1")
        .bind(&stale_answer.id)
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(chats.fail_abandoned_answers(60_000).await.unwrap(), 1);
    let page = chats
        .messages(&ada, &stale.id, None, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.messages[1].status, MessageStatus::Error);
    assert_eq!(page.messages[1].content, "half an ans");
    let live_page = chats
        .messages(&ada, &live.id, None, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live_page.messages[1].status, MessageStatus::Streaming);
}

async fn hostile_text_is_stored_verbatim_never_executed(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, _) = users();
    let hostile = [
        "'); DROP TABLE messages; --",
        "\" OR 1=1 --",
        "$1 $2 ?1 ? :name @x",
        "<script>alert(1)</script>",
        "emoji 🦀, RTL \u{202e}txet, combining e\u{301}",
    ];
    for text in hostile {
        let session = chats.create_session(&ada, None, text).await.unwrap();
        ask(&chats, &ada, &session.id, text, text).await;
        let page = chats
            .messages(&ada, &session.id, None, 10)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(page.messages[0].content, text);
        assert_eq!(
            chats
                .session(&ada, &session.id)
                .await
                .unwrap()
                .unwrap()
                .title,
            text
        );
    }
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM messages").await,
        2 * hostile.len() as i64
    );
}

/// What the database plans for `query` with these arguments.
async fn plan(store: &Store, query: &str, args: &[&str]) -> String {
    let explain = match store.backend() {
        Backend::Sqlite => format!("EXPLAIN QUERY PLAN {query}"),
        Backend::Postgres => format!("EXPLAIN {query}"),
    };
    let mut conn = store.pool().acquire().await.unwrap();
    if store.backend() == Backend::Postgres {
        // On tables this small the planner would rightly scan (or bitmap-scan and sort); the
        // question is whether the index serves the query, order included, when it matters.
        for setting in ["SET enable_seqscan = off", "SET enable_bitmapscan = off"] {
            sqlx::query(setting).execute(&mut *conn).await.unwrap();
        }
    }
    let mut q = sqlx::query(&explain);
    for arg in args {
        q = match arg.parse::<i64>() {
            Ok(n) => q.bind(n),
            Err(_) => q.bind(arg.to_string()),
        };
    }
    let rows = q.fetch_all(&mut *conn).await.unwrap();
    rows.iter()
        .map(|row| match store.backend() {
            Backend::Sqlite => row.get::<String, _>("detail"),
            Backend::Postgres => row.get::<String, _>(0),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn the_hot_queries_use_their_indexes(store: Store) {
    let chats = ChatStore::new(store.pool().clone());
    let (ada, _) = users();
    let session = chats
        .create_session(&ada, None, DEFAULT_TITLE)
        .await
        .unwrap();
    ask(&chats, &ada, &session.id, "hi", "hello").await;
    let user = ada.as_str();
    let sessions = plan(&store, sql::SESSIONS_NEWEST, &[user, "20"]).await;
    assert!(
        sessions.contains("chat_sessions_by_user_recency"),
        "{sessions}"
    );
    let after = plan(
        &store,
        sql::SESSIONS_AFTER,
        &[user, "1700000000000", "x", "20"],
    )
    .await;
    assert!(after.contains("chat_sessions_by_user_recency"), "{after}");
    // The cursor bounds the index range: a page deep in the list reads only its own rows.
    let bound = match store.backend() {
        Backend::Sqlite => "updated_at<?",
        Backend::Postgres => "Index Cond: ((user_id = ",
    };
    let range = after
        .lines()
        .find(|line| line.contains(bound))
        .unwrap_or_else(|| panic!("no index range in {after}"));
    assert!(range.contains("updated_at"), "{after}");
    let messages = plan(&store, sql::MESSAGES_NEWEST, &[&session.id, user, "50"]).await;
    assert!(messages.contains("messages_by_session_order"), "{messages}");
    let before = plan(
        &store,
        sql::MESSAGES_BEFORE,
        &[&session.id, user, "z", "50"],
    )
    .await;
    assert!(before.contains("messages_by_session_order"), "{before}");
    // Nothing sorts in a temporary structure: the index order is the answer's order.
    for plan in [&sessions, &messages] {
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        assert!(!plan.contains("Sort"), "{plan}");
    }
}
