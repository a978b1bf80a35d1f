//! The chat store's read paths on a big account, through [`ChatStore`] as the pages call it: the
//! newest page of 10,000 sessions and a page deep in them (keyset), the newest page of a
//! 10,000-message chat and a page deep in it. The rows are written straight into the tables in a
//! few multi-row inserts (going through the store's writes would take minutes and measure
//! nothing), shaped as the store writes them: UUIDv7 message ids in creation order. Every
//! session also has one message with a word of its own, for the search: a word found in one
//! chat of 10,000, and a word found in all of them (and in the other accounts' too).

use ferrochat::{
    chat::{
        search::SearchTerms,
        store::{ChatStore, SessionCursor, UserId},
    },
    store::{Backend, Store},
};
use sqlx::Row;
use tokio::time::Instant;
use uuid::{timestamp::context::NoContext, Timestamp, Uuid};

use crate::stats::Samples;

/// Sessions of the measured account.
pub const SESSIONS: usize = 10_000;
/// Messages in its biggest chat.
pub const MESSAGES: usize = 10_000;
/// Sessions of other accounts in the same tables, so the user's index range has to be found.
const OTHER_SESSIONS: usize = SESSIONS;
/// Accounts those belong to.
const OTHER_USERS: usize = 100;
/// Rows per INSERT: well under both databases' limits on bound parameters.
const ROWS_PER_INSERT: usize = 400;
/// A page as the pages ask for it (the sidebar's and the chat view's page size).
pub const PAGE: u32 = 50;
/// Runs of each query before measuring (caches, prepared statements).
pub const WARM_UP: usize = 20;
/// Measured runs of each query.
pub const RUNS: usize = 300;
/// 2026-01-01T00:00:00Z, in unix milliseconds: when the seeded history starts.
const START_MS: i64 = 1_767_225_600_000;

/// One query's figures on one backend.
pub struct QueryTiming {
    pub query: &'static str,
    pub samples: Samples,
}

/// The measured account and its big chat.
struct Seeded {
    user: UserId,
    big_chat: String,
    /// The message ids of the big chat, oldest first.
    message_ids: Vec<String>,
    /// The sessions of the account, newest activity first.
    sessions: Vec<(i64, String)>,
    /// A word in one message of one of the account's sessions (halfway down the list), and
    /// that session.
    rare_word: (String, String),
}

/// A word in one message of every session, of every account.
const COMMON_WORD: &str = "lorem";

/// The word of session `n` alone.
fn word_of(n: usize) -> String {
    format!("marker{n:05}q")
}

/// Writes `rows` (each a list of values) into `table (columns)`, `ROWS_PER_INSERT` per statement,
/// in one transaction.
async fn insert_rows(store: &Store, table: &str, columns: &[&str], rows: Vec<Vec<Value>>) {
    let mut tx = store.pool().begin().await.expect("a transaction");
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let tuples: Vec<String> = (0..chunk.len())
            .map(|row| {
                let places: Vec<String> = (0..columns.len())
                    .map(|column| format!("${}", row * columns.len() + column + 1))
                    .collect();
                format!("({})", places.join(", "))
            })
            .collect();
        let text = format!(
            "INSERT INTO {table} ({}) VALUES {}",
            columns.join(", "),
            tuples.join(", ")
        );
        let mut query = sqlx::query(&text);
        for value in chunk.iter().flatten() {
            query = match value {
                Value::Text(text) => query.bind(text.clone()),
                Value::Int(n) => query.bind(*n),
                Value::Null => query.bind(None::<String>),
            };
        }
        query.execute(&mut *tx).await.expect("the seed rows insert");
    }
    tx.commit().await.expect("the seed commits");
}

/// A value of a seeded row.
enum Value {
    Text(String),
    Int(i64),
    Null,
}

/// A message id as the store makes them, for a message written at `ms`.
fn message_id(ms: i64) -> String {
    let ms = u64::try_from(ms).expect("a time after 1970");
    let timestamp = Timestamp::from_unix(NoContext, ms / 1000, (ms % 1000) as u32 * 1_000_000);
    Uuid::new_v7(timestamp).hyphenated().to_string()
}

/// Fills the tables: the account's 10,000 sessions (one of them the 10,000-message chat, the most
/// recently active), and other accounts' sessions beside them.
async fn seed(store: &Store) -> Seeded {
    let user = UserId::verified(Uuid::new_v4().to_string());
    let mut sessions = Vec::with_capacity(SESSIONS + OTHER_SESSIONS);
    let mut own = Vec::with_capacity(SESSIONS);
    let mut searchable = Vec::with_capacity(SESSIONS + OTHER_SESSIONS);
    let mut rare_word = None;
    for n in 0..SESSIONS + OTHER_SESSIONS {
        let id = Uuid::new_v4().to_string();
        // Interleaved in time with the others' sessions, a minute apart.
        let at = START_MS + n as i64 * 60_000;
        let owner = if n % 2 == 0 && own.len() < SESSIONS {
            if own.len() == SESSIONS / 2 {
                rare_word = Some((word_of(n), id.clone()));
            }
            own.push((at, id.clone()));
            user.as_str().to_owned()
        } else {
            format!("other-user-{}", n % OTHER_USERS)
        };
        searchable.push(vec![
            Value::Text(message_id(at)),
            Value::Text(id.clone()),
            Value::Text("user".into()),
            Value::Text(format!(
                "How does widget {n} work? {} {COMMON_WORD} ipsum dolor sit amet.",
                word_of(n)
            )),
            Value::Text("complete".into()),
            Value::Null,
            Value::Int(at),
            Value::Int(at),
        ]);
        sessions.push(vec![
            Value::Text(id),
            Value::Text(owner),
            Value::Text(format!("A conversation about topic {n}")),
            Value::Int(at),
            Value::Int(at),
        ]);
    }
    assert_eq!(own.len(), SESSIONS, "the account got all its sessions");
    // The big chat is the one touched last: its messages are the newest activity.
    let (big_chat_created, big_chat) = own.last().cloned().expect("sessions");
    insert_rows(
        store,
        "chat_sessions",
        &["id", "user_id", "title", "created_at", "updated_at"],
        sessions,
    )
    .await;

    let mut message_ids = Vec::with_capacity(MESSAGES);
    let mut messages = searchable;
    for n in 0..MESSAGES {
        let at = big_chat_created + 1 + n as i64;
        let id = message_id(at);
        let (role, model) = if n % 2 == 0 {
            ("user", Value::Null)
        } else {
            ("assistant", Value::Text("gpt-4o-mini".into()))
        };
        // About a paragraph each.
        let content = format!("Message {n}: {}", "lorem ipsum dolor sit amet ".repeat(10));
        messages.push(vec![
            Value::Text(id.clone()),
            Value::Text(big_chat.clone()),
            Value::Text(role.into()),
            Value::Text(content),
            Value::Text("complete".into()),
            model,
            Value::Int(at),
            Value::Int(at),
        ]);
        message_ids.push(id);
    }
    insert_rows(
        store,
        "messages",
        &[
            "id",
            "chat_session_id",
            "role",
            "content",
            "status",
            "model",
            "created_at",
            "updated_at",
        ],
        messages,
    )
    .await;
    let last_message = big_chat_created + MESSAGES as i64;
    sqlx::query("UPDATE chat_sessions SET updated_at = $1 WHERE id = $2")
        .bind(last_message)
        .bind(&big_chat)
        .execute(store.pool())
        .await
        .expect("the big chat is the newest");
    if store.backend() == Backend::Postgres {
        // What autovacuum does shortly after a bulk load; SQLite plans from the schema alone.
        sqlx::query("ANALYZE")
            .execute(store.pool())
            .await
            .expect("ANALYZE");
    }
    let last = own.len() - 1;
    own[last].0 = last_message;
    own.reverse();
    Seeded {
        user,
        big_chat,
        message_ids,
        sessions: own,
        rare_word: rare_word.expect("a session with the rare word"),
    }
}

/// Times `query` `RUNS` times after `WARM_UP` runs not counted.
async fn time<F, Fut>(mut query: F) -> Samples
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Samples::default();
    for run in 0..WARM_UP + RUNS {
        let started = Instant::now();
        query().await;
        if run >= WARM_UP {
            samples.push(started.elapsed());
        }
    }
    samples
}

/// Seeds `store` and times the four pages; each answer is checked, so a fast wrong answer
/// cannot pass for a fast query.
pub async fn measure(store: &Store) -> Vec<QueryTiming> {
    let seeded = seed(store).await;
    let chats = ChatStore::new(store.pool().clone());
    let (user, chat) = (&seeded.user, seeded.big_chat.as_str());
    let deep_session = &seeded.sessions[SESSIONS - 1_000];
    let deep_cursor = SessionCursor {
        updated_at: deep_session.0,
        id: deep_session.1.clone(),
    };
    let deep_message = &seeded.message_ids[1_000];

    let newest_sessions = time(|| async {
        let page = chats.list_sessions(user, None, PAGE).await.unwrap();
        assert_eq!(page.sessions.len(), PAGE as usize);
        assert_eq!(page.sessions[0].id, seeded.sessions[0].1);
        assert!(page.next.is_some());
    })
    .await;
    let deep_sessions = time(|| async {
        let page = chats
            .list_sessions(user, Some(&deep_cursor), PAGE)
            .await
            .unwrap();
        assert_eq!(page.sessions[0].id, seeded.sessions[SESSIONS - 999].1);
        assert_eq!(page.sessions.len(), PAGE as usize);
    })
    .await;
    let newest_messages = time(|| async {
        let page = chats
            .messages(user, chat, None, PAGE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(page.messages.len(), PAGE as usize);
        assert_eq!(
            page.messages.last().unwrap().id,
            seeded.message_ids[MESSAGES - 1]
        );
        assert!(page.has_older);
    })
    .await;
    let deep_messages = time(|| async {
        let page = chats
            .messages(user, chat, Some(deep_message), PAGE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(page.messages.len(), PAGE as usize);
        assert_eq!(page.messages.last().unwrap().id, seeded.message_ids[999]);
    })
    .await;
    let rare = SearchTerms::parse(&seeded.rare_word.0);
    let search_rare = time(|| async {
        let hits = chats.search(user, &rare, PAGE).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].session.id, seeded.rare_word.1);
    })
    .await;
    let common = SearchTerms::parse(COMMON_WORD);
    let search_common = time(|| async {
        let hits = chats.search(user, &common, PAGE).await.unwrap();
        assert_eq!(hits.len(), PAGE as usize);
        assert_eq!(hits[0].session.id, seeded.sessions[0].1);
        assert!(hits.iter().all(|hit| hit.message.is_some()));
    })
    .await;
    vec![
        QueryTiming {
            query: "search: a word in 1 of 10,000 sessions",
            samples: search_rare,
        },
        QueryTiming {
            query: "search: a word in all 10,000 sessions (newest 50)",
            samples: search_common,
        },
        QueryTiming {
            query: "newest 50 of 10,000 sessions",
            samples: newest_sessions,
        },
        QueryTiming {
            query: "50 sessions after a cursor 9,000 deep",
            samples: deep_sessions,
        },
        QueryTiming {
            query: "newest 50 of a 10,000-message chat",
            samples: newest_messages,
        },
        QueryTiming {
            query: "50 messages before one 9,000 from the end",
            samples: deep_messages,
        },
    ]
}

/// The database's version, for the machine note.
pub async fn version(store: &Store) -> String {
    let text = match store.backend() {
        Backend::Sqlite => "SELECT 'SQLite ' || sqlite_version()",
        Backend::Postgres => "SELECT 'PostgreSQL ' || current_setting('server_version')",
    };
    sqlx::query(text)
        .fetch_one(store.pool())
        .await
        .expect("the version")
        .get::<String, _>(0)
}
