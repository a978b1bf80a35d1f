//! The chat tables: every query scoped by the verified user id, one text for SQLite and Postgres.
//!
//! The user id comes only from [`UserId`], which is made from a verified session: a handler
//! cannot pass an id from a request body by mistake. Another user's session id behaves exactly
//! like a missing one. Messages are ordered by their UUIDv7 ids (creation order); sessions by
//! recency, keyset-paginated on `(updated_at, id)`.

use sqlx::Row;

use super::{
    quota,
    search::SearchTerms,
    transfer::ValidImport,
    types::{title_from_message, ChatMessage, ChatSummary, MessageStatus, Role, DEFAULT_TITLE},
};
use crate::{
    auth::session::AuthUser,
    store::{Backend, Pool},
};

/// The owner of the rows a query may touch: the `sub` of a verified access token, and whether
/// that token was a guest's (`is_anonymous`), whose messages are counted (see `quota`).
#[derive(Clone, Debug)]
pub struct UserId {
    id: String,
    guest: bool,
}

impl From<&AuthUser> for UserId {
    fn from(user: &AuthUser) -> Self {
        UserId {
            id: user.claims.sub.clone(),
            guest: user.claims.is_anonymous,
        }
    }
}

/// The same user, whether the token was a guest's or (after adding an address) not.
impl PartialEq for UserId {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for UserId {}

impl UserId {
    /// For code that holds a verified id by other means (tests, account deletion); not a guest.
    pub fn verified(id: impl Into<String>) -> Self {
        UserId {
            id: id.into(),
            guest: false,
        }
    }

    /// A verified guest's id, for tests.
    pub fn verified_guest(id: impl Into<String>) -> Self {
        UserId {
            id: id.into(),
            guest: true,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// Signed in anonymously: the guest quota applies.
    pub fn is_guest(&self) -> bool {
        self.guest
    }
}

/// Why a chat write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ChatStoreError {
    /// No such session for this user (whether it exists for someone else is not said).
    #[error("chat session not found")]
    NotFound,
    /// An answer is still being written in this session.
    #[error("an answer is still streaming in this session")]
    Busy,
    /// The person has this many answers being written already, the most they may.
    #[error("You have {0} answers being written already. Wait for one to finish, or stop one, then send again.")]
    TooManyStreams(usize),
    /// A regenerate or an edit in a session without a message of the person's.
    #[error("There is no message of yours in this chat to answer again.")]
    NoQuestion,
    /// A guest has sent all the messages a guest may.
    #[error("Guests can send {0} messages. Add an email address and a password on your account page to keep chatting: your chats stay yours.")]
    GuestQuotaReached(u32),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Where the next page of sessions starts: after this `(updated_at, id)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCursor {
    pub updated_at: i64,
    pub id: String,
}

impl SessionCursor {
    /// The cursor as one opaque token for URLs: `<updated_at>.<id>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.updated_at, self.id)
    }

    pub fn decode(token: &str) -> Option<SessionCursor> {
        let (updated_at, id) = token.split_once('.')?;
        Some(SessionCursor {
            updated_at: updated_at.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

/// One page of sessions, newest first.
#[derive(Clone, Debug)]
pub struct SessionPage {
    pub sessions: Vec<ChatSummary>,
    /// Where the next (older) page starts, if there is one.
    pub next: Option<SessionCursor>,
}

/// A session that matched a search, with the first of its messages that matched (None when
/// only its title did).
#[derive(Clone, Debug)]
pub struct SearchHit {
    pub session: ChatSummary,
    pub message: Option<String>,
}

/// One page of a session's messages, in order; the newest page comes first.
#[derive(Clone, Debug)]
pub struct MessagePage {
    pub messages: Vec<ChatMessage>,
    /// Whether older messages exist (fetch them with `before` = the first message's id).
    pub has_older: bool,
}

/// What an answer ended with.
#[derive(Clone, Debug)]
pub struct AnswerOutcome {
    pub content: String,
    pub status: MessageStatus,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    /// What the person is told when the status is `Error`.
    pub error: Option<String>,
}

/// What a progress save found out about its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Saved; the answer goes on.
    Saved,
    /// Saved, and a stop was asked for (possibly through another instance).
    StopRequested,
    /// Not saved: the answer is no longer streaming or no longer exists (its chat was deleted).
    Gone,
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The texts of the queries that must stay fast on big data, public so that a test can ask each
/// database for its plan and check that they use their indexes.
pub mod sql {
    /// The newest page of a user's sessions: `$1` user, `$2` limit.
    pub const SESSIONS_NEWEST: &str = "SELECT id, title, created_at, updated_at
        FROM chat_sessions WHERE user_id = $1
        ORDER BY updated_at DESC, id DESC LIMIT $2";
    /// The page after a cursor: `$1` user, `$2` updated_at, `$3` id, `$4` limit. The redundant
    /// `updated_at <= $2` is the index range: Postgres cannot make one of the `OR` alone and
    /// would walk the user's sessions from the newest to the cursor (bench/RESULTS.md).
    pub const SESSIONS_AFTER: &str = "SELECT id, title, created_at, updated_at
        FROM chat_sessions
        WHERE user_id = $1 AND updated_at <= $2
          AND (updated_at < $2 OR (updated_at = $2 AND id < $3))
        ORDER BY updated_at DESC, id DESC LIMIT $4";
    /// The newest page of a session's messages: `$1` session, `$2` user, `$3` limit.
    pub const MESSAGES_NEWEST: &str = "SELECT m.id, m.chat_session_id, m.role, m.content,
            m.status, m.model, m.error, m.created_at
        FROM messages m JOIN chat_sessions s ON s.id = m.chat_session_id
        WHERE m.chat_session_id = $1 AND s.user_id = $2
        ORDER BY m.id DESC LIMIT $3";
    /// The page before a message: `$1` session, `$2` user, `$3` message id, `$4` limit.
    pub const MESSAGES_BEFORE: &str = "SELECT m.id, m.chat_session_id, m.role, m.content,
            m.status, m.model, m.error, m.created_at
        FROM messages m JOIN chat_sessions s ON s.id = m.chat_session_id
        WHERE m.chat_session_id = $1 AND s.user_id = $2 AND m.id < $3
        ORDER BY m.id DESC LIMIT $4";
    /// One of a user's sessions: `$1` id, `$2` user.
    pub const SESSION: &str = "SELECT id, title, created_at, updated_at
        FROM chat_sessions WHERE id = $1 AND user_id = $2";
    /// A user's sessions whose title or one of whose messages matches, newest activity first,
    /// with the first matching message: `$1` FTS5 query (`SearchTerms::fts5_query`), `$2` user,
    /// `$3` limit. The FTS tables' rowids are those of the tables they index
    /// (migrations/sqlite/0005_chat_search.sql).
    pub const SEARCH_SQLITE: &str = "SELECT s.id, s.title, s.created_at, s.updated_at,
            (SELECT m.content FROM messages m
              WHERE m.chat_session_id = s.id
                AND m.rowid IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH $1)
              ORDER BY m.id LIMIT 1) AS excerpt
        FROM chat_sessions s
        WHERE s.user_id = $2
          AND (s.rowid IN (SELECT rowid FROM chat_sessions_fts WHERE chat_sessions_fts MATCH $1)
               OR s.id IN (SELECT m.chat_session_id FROM messages m
                           WHERE m.rowid IN (SELECT rowid FROM messages_fts
                                             WHERE messages_fts MATCH $1)))
        ORDER BY s.updated_at DESC, s.id DESC LIMIT $3";
    /// The same on Postgres: `$1` tsquery text (`SearchTerms::tsquery`), `$2` user, `$3` limit.
    /// The `to_tsvector` expressions are those of the GIN indexes
    /// (migrations/postgres/0005_chat_search.sql), or the planner cannot use them.
    pub const SEARCH_POSTGRES: &str = "SELECT s.id, s.title, s.created_at, s.updated_at,
            (SELECT m.content FROM messages m
              WHERE m.chat_session_id = s.id AND m.status <> 'streaming'
                AND to_tsvector('simple', left(m.content, 65536)) @@ to_tsquery('simple', $1)
              ORDER BY m.id LIMIT 1) AS excerpt
        FROM chat_sessions s
        WHERE s.user_id = $2
          AND (to_tsvector('simple', s.title) @@ to_tsquery('simple', $1)
               OR s.id IN (SELECT m.chat_session_id FROM messages m
                           WHERE m.status <> 'streaming'
                             AND to_tsvector('simple', left(m.content, 65536))
                                 @@ to_tsquery('simple', $1)))
        ORDER BY s.updated_at DESC, s.id DESC LIMIT $3";
}

/// Which database the pool talks to, from its URL's scheme.
fn backend_of(pool: &Pool) -> Backend {
    if pool
        .connect_options()
        .database_url
        .scheme()
        .starts_with("sqlite")
    {
        Backend::Sqlite
    } else {
        Backend::Postgres
    }
}

fn session_from(row: &sqlx::any::AnyRow) -> Result<ChatSummary, sqlx::Error> {
    Ok(ChatSummary {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn message_from(row: &sqlx::any::AnyRow) -> Result<ChatMessage, sqlx::Error> {
    let role: String = row.try_get("role")?;
    let status: String = row.try_get("status")?;
    let corrupt = |what: &str, value: &str| {
        sqlx::Error::Decode(format!("unknown message {what} {value:?}").into())
    };
    Ok(ChatMessage {
        id: row.try_get("id")?,
        chat_session_id: row.try_get("chat_session_id")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        content: row.try_get("content")?,
        status: MessageStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        model: row.try_get("model")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The chat tables.
#[derive(Clone, Debug)]
pub struct ChatStore {
    pool: Pool,
    /// The search query differs between the two databases; nothing else does.
    backend: Backend,
    /// Answers one person may have `streaming` at once; None: no limit.
    streams_per_user: Option<usize>,
    /// Messages a guest may send in all; None: no limit.
    guest_messages: Option<u32>,
}

impl ChatStore {
    pub fn new(pool: Pool) -> Self {
        ChatStore {
            backend: backend_of(&pool),
            pool,
            streams_per_user: None,
            guest_messages: None,
        }
    }

    /// Limits how many messages a guest may send, ever: the model costs money and a guest
    /// costs nothing to make (see `quota`).
    pub fn with_guest_messages(mut self, limit: u32) -> Self {
        self.guest_messages = Some(limit);
        self
    }

    /// How many messages the user may still send: None for a user without a quota.
    pub async fn guest_messages_left(&self, user: &UserId) -> Result<Option<u32>, ChatStoreError> {
        match self.guest_limit(user) {
            None => Ok(None),
            Some(limit) => Ok(Some(quota::left(&self.pool, user, limit).await?)),
        }
    }

    /// The messages the user may send in all, if they are a guest with a quota.
    pub fn guest_limit(&self, user: &UserId) -> Option<u32> {
        self.guest_messages.filter(|_| user.is_guest())
    }

    /// Limits how many answers one person may have being written at once: each is a model
    /// request someone pays for, and one stream per chat alone lets a person (or a stolen token)
    /// open a thousand chats and stream in all of them.
    pub fn with_streams_per_user(mut self, limit: usize) -> Self {
        self.streams_per_user = Some(limit);
        self
    }

    /// Refuses when the user already has as many answers streaming as they may. Inside
    /// `begin_exchange` it runs after the session's update, which on SQLite holds the write
    /// lock, so the count is exact there; on Postgres two sends racing in the same instant may
    /// both pass (at most one extra answer per concurrent request).
    pub async fn check_stream_room(
        &self,
        executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
        user: &UserId,
    ) -> Result<(), ChatStoreError> {
        let Some(limit) = self.streams_per_user else {
            return Ok(());
        };
        let streaming: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages m JOIN chat_sessions s ON s.id = m.chat_session_id
             WHERE s.user_id = $1 AND m.status = 'streaming'",
        )
        .bind(user.as_str())
        .fetch_one(executor)
        .await?;
        if streaming >= limit as i64 {
            return Err(ChatStoreError::TooManyStreams(limit));
        }
        Ok(())
    }

    /// Whether a send may start, before anything is written: room for another stream
    /// ([`Self::check_stream_room`]) and, for a guest, a message left. A send that will be
    /// refused must not create its chat first.
    pub async fn has_stream_room(&self, user: &UserId) -> Result<(), ChatStoreError> {
        self.check_stream_room(&self.pool, user).await?;
        if self.guest_messages_left(user).await? == Some(0) {
            return Err(ChatStoreError::GuestQuotaReached(
                self.guest_messages.unwrap_or(0),
            ));
        }
        Ok(())
    }

    /// The user's sessions, most recently active first, `limit` at a time.
    pub async fn list_sessions(
        &self,
        user: &UserId,
        after: Option<&SessionCursor>,
        limit: u32,
    ) -> Result<SessionPage, ChatStoreError> {
        let limit = limit.clamp(1, 200) as i64;
        let rows = match after {
            None => {
                sqlx::query(sql::SESSIONS_NEWEST)
                    .bind(user.as_str())
                    .bind(limit + 1)
                    .fetch_all(&self.pool)
                    .await?
            }
            Some(cursor) => {
                sqlx::query(sql::SESSIONS_AFTER)
                    .bind(user.as_str())
                    .bind(cursor.updated_at)
                    .bind(&cursor.id)
                    .bind(limit + 1)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        let mut sessions = rows
            .iter()
            .map(session_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if sessions.len() as i64 > limit {
            sessions.truncate(limit as usize);
            sessions.last().map(|last| SessionCursor {
                updated_at: last.updated_at,
                id: last.id.clone(),
            })
        } else {
            None
        };
        Ok(SessionPage { sessions, next })
    }

    /// Creates a session. With a chosen `id` (the starter's API lets clients pick one) an
    /// existing session of this user is returned as it is; an id taken by another user is
    /// [`ChatStoreError::NotFound`], exactly as if it did not exist for this user.
    pub async fn create_session(
        &self,
        user: &UserId,
        id: Option<&str>,
        title: &str,
    ) -> Result<ChatSummary, ChatStoreError> {
        let id = id
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO chat_sessions (id, user_id, title, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&id)
        .bind(user.as_str())
        .bind(title)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let session = self.session(user, &id).await?;
        match session {
            Some(session) => Ok(session),
            None if inserted.rows_affected() == 0 => Err(ChatStoreError::NotFound),
            None => Err(ChatStoreError::Database(sqlx::Error::RowNotFound)),
        }
    }

    /// One of the user's sessions.
    pub async fn session(
        &self,
        user: &UserId,
        id: &str,
    ) -> Result<Option<ChatSummary>, ChatStoreError> {
        let row = sqlx::query(sql::SESSION)
            .bind(id)
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(session_from).transpose()?)
    }

    /// A page of a session's messages in order: the newest `limit`, or those before `before`.
    /// None if the user has no such session.
    pub async fn messages(
        &self,
        user: &UserId,
        session_id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Option<MessagePage>, ChatStoreError> {
        if self.session(user, session_id).await?.is_none() {
            return Ok(None);
        }
        let limit = limit.clamp(1, 500) as i64;
        // The session's owner is checked in the same query too, so no path reads messages
        // without it. Two texts rather than `$3 IS NULL OR …`, so both use the index range.
        let rows = match before {
            None => {
                sqlx::query(sql::MESSAGES_NEWEST)
                    .bind(session_id)
                    .bind(user.as_str())
                    .bind(limit + 1)
                    .fetch_all(&self.pool)
                    .await?
            }
            Some(before) => {
                sqlx::query(sql::MESSAGES_BEFORE)
                    .bind(session_id)
                    .bind(user.as_str())
                    .bind(before)
                    .bind(limit + 1)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        let mut messages = rows
            .iter()
            .map(message_from)
            .collect::<Result<Vec<_>, _>>()?;
        let has_older = messages.len() as i64 > limit;
        messages.truncate(limit as usize);
        messages.reverse();
        Ok(Some(MessagePage {
            messages,
            has_older,
        }))
    }

    /// The user's sessions that match `terms` (by title, or by the text of a message that is not
    /// streaming), most recently active first, at most `limit`. Other users' words never match:
    /// the owner is part of the query, not a filter on its results.
    pub async fn search(
        &self,
        user: &UserId,
        terms: &SearchTerms,
        limit: u32,
    ) -> Result<Vec<SearchHit>, ChatStoreError> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, query) = match self.backend {
            Backend::Sqlite => (sql::SEARCH_SQLITE, terms.fts5_query()),
            Backend::Postgres => (sql::SEARCH_POSTGRES, terms.tsquery()),
        };
        let rows = sqlx::query(sql)
            .bind(query)
            .bind(user.as_str())
            .bind(limit.clamp(1, 200) as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(SearchHit {
                    session: session_from(row)?,
                    message: row.try_get("excerpt")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(ChatStoreError::from)
    }

    /// All of a session's messages in order, read a page at a time; None if the user has no
    /// such session.
    pub async fn all_messages(
        &self,
        user: &UserId,
        session_id: &str,
    ) -> Result<Option<Vec<ChatMessage>>, ChatStoreError> {
        const PAGE: u32 = 500;
        let mut pages = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let Some(page) = self
                .messages(user, session_id, before.as_deref(), PAGE)
                .await?
            else {
                return Ok(None);
            };
            before = page.messages.first().map(|m| m.id.clone());
            let more = page.has_older && before.is_some();
            pages.push(page.messages);
            if !more {
                break;
            }
        }
        Ok(Some(pages.into_iter().rev().flatten().collect()))
    }

    /// Stores an import (validated) as a new session of the user, with new ids, together or not
    /// at all; the new session.
    pub async fn import(
        &self,
        user: &UserId,
        import: &ValidImport,
    ) -> Result<ChatSummary, ChatStoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let mut tx = crate::store::begin_write(&self.pool).await?;
        sqlx::query(
            "INSERT INTO chat_sessions (id, user_id, title, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(&id)
        .bind(user.as_str())
        .bind(&import.title)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for message in &import.messages {
            let stored = insert_message(
                &mut tx,
                &id,
                message.role,
                &message.content,
                message.status,
                message.model.as_deref(),
                now,
            )
            .await?;
            if message.error.is_some() {
                sqlx::query("UPDATE messages SET error = $1 WHERE id = $2")
                    .bind(&message.error)
                    .bind(&stored.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        self.session(user, &id)
            .await?
            .ok_or(ChatStoreError::Database(sqlx::Error::RowNotFound))
    }

    /// Renames one of the user's sessions; None if there is no such session.
    pub async fn rename(
        &self,
        user: &UserId,
        id: &str,
        title: &str,
    ) -> Result<Option<ChatSummary>, ChatStoreError> {
        sqlx::query(
            "UPDATE chat_sessions SET title = $1, updated_at = $2 WHERE id = $3 AND user_id = $4",
        )
        .bind(title)
        .bind(now_ms())
        .bind(id)
        .bind(user.as_str())
        .execute(&self.pool)
        .await?;
        self.session(user, id).await
    }

    /// Deletes one of the user's sessions with its messages; false if there is no such session.
    pub async fn delete(&self, user: &UserId, id: &str) -> Result<bool, ChatStoreError> {
        let deleted = sqlx::query("DELETE FROM chat_sessions WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user.as_str())
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Deletes the user's sessions that have no messages; how many.
    pub async fn delete_empty(&self, user: &UserId) -> Result<u64, ChatStoreError> {
        let deleted = sqlx::query(
            "DELETE FROM chat_sessions WHERE user_id = $1
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_session_id = chat_sessions.id)",
        )
        .bind(user.as_str())
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }

    /// Deletes every session of the user (their account is being deleted); how many.
    pub async fn delete_all(&self, user: &UserId) -> Result<u64, ChatStoreError> {
        let deleted = sqlx::query("DELETE FROM chat_sessions WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await?;
        quota::forget(&self.pool, user).await?;
        Ok(deleted.rows_affected())
    }

    /// What every new answer (a send, a regeneration, an edit) must have room for, checked in
    /// its transaction: the per-person stream limit, and a guest's quota (a new answer costs the
    /// model what a new message costs; a send refused later in the transaction spends nothing).
    async fn claim_answer(
        &self,
        tx: &mut sqlx::AnyConnection,
        user: &UserId,
    ) -> Result<(), ChatStoreError> {
        self.check_stream_room(&mut *tx, user).await?;
        if let Some(limit) = self.guest_limit(user) {
            quota::spend(tx, user, limit).await?;
        }
        Ok(())
    }

    /// Stores the person's message (validated by the caller) and starts the assistant's answer
    /// to it (an empty message that is `streaming`), together or not at all:
    /// [`ChatStoreError::Busy`] while another answer streams in the session, and then nothing is
    /// stored. The first message of a session still called [`DEFAULT_TITLE`] names it.
    pub async fn begin_exchange(
        &self,
        user: &UserId,
        session_id: &str,
        content: &str,
        model: &str,
    ) -> Result<(ChatMessage, ChatMessage), ChatStoreError> {
        let mut tx = crate::store::begin_write(&self.pool).await?;
        let now = now_ms();
        let touched = sqlx::query(
            "UPDATE chat_sessions SET updated_at = $1,
                 title = CASE WHEN title = $2 AND NOT EXISTS
                     (SELECT 1 FROM messages m WHERE m.chat_session_id = chat_sessions.id)
                     THEN $3 ELSE title END
             WHERE id = $4 AND user_id = $5",
        )
        .bind(now)
        .bind(DEFAULT_TITLE)
        .bind(title_from_message(content))
        .bind(session_id)
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
        if touched.rows_affected() == 0 {
            return Err(ChatStoreError::NotFound);
        }
        self.claim_answer(&mut tx, user).await?;
        let question = insert_message(
            &mut tx,
            session_id,
            Role::User,
            content,
            MessageStatus::Complete,
            None,
            now,
        )
        .await?;
        let answer = insert_streaming_answer(&mut tx, session_id, model, now).await?;
        tx.commit().await?;
        Ok((question, answer))
    }

    /// Answers the person's last message again: deletes what came after it (its answer) and
    /// starts a new answer, after replacing the message's text with `edited` if given (validated
    /// by the caller). The old answer is replaced, not kept beside the new one. Together or not
    /// at all, under the same rules as [`Self::begin_exchange`]: [`ChatStoreError::Busy`] while an
    /// answer streams in the session (it is never deleted mid-stream), the per-person stream
    /// limit, [`ChatStoreError::NoQuestion`] without a message of the person's.
    pub async fn begin_regeneration(
        &self,
        user: &UserId,
        session_id: &str,
        edited: Option<&str>,
        model: &str,
    ) -> Result<(ChatMessage, ChatMessage), ChatStoreError> {
        let mut tx = crate::store::begin_write(&self.pool).await?;
        let now = now_ms();
        // The owner check; the write lock (SQLite) or the row lock (Postgres) makes the checks
        // below exact.
        let touched =
            sqlx::query("UPDATE chat_sessions SET updated_at = $1 WHERE id = $2 AND user_id = $3")
                .bind(now)
                .bind(session_id)
                .bind(user.as_str())
                .execute(&mut *tx)
                .await?;
        if touched.rows_affected() == 0 {
            return Err(ChatStoreError::NotFound);
        }
        let streaming: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE chat_session_id = $1 AND status = 'streaming'",
        )
        .bind(session_id)
        .fetch_one(&mut *tx)
        .await?;
        if streaming > 0 {
            return Err(ChatStoreError::Busy);
        }
        self.claim_answer(&mut tx, user).await?;
        let question = sqlx::query(
            "SELECT id, chat_session_id, role, content, status, model, error, created_at
             FROM messages WHERE chat_session_id = $1 AND role = 'user'
             ORDER BY id DESC LIMIT 1",
        )
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await?;
        let mut question = match question {
            Some(row) => message_from(&row)?,
            None => return Err(ChatStoreError::NoQuestion),
        };
        sqlx::query("DELETE FROM messages WHERE chat_session_id = $1 AND id > $2")
            .bind(session_id)
            .bind(&question.id)
            .execute(&mut *tx)
            .await?;
        if let Some(edited) = edited {
            sqlx::query("UPDATE messages SET content = $1, updated_at = $2 WHERE id = $3")
                .bind(edited)
                .bind(now)
                .bind(&question.id)
                .execute(&mut *tx)
                .await?;
            question.content = edited.to_owned();
        }
        let answer = insert_streaming_answer(&mut tx, session_id, model, now).await?;
        tx.commit().await?;
        Ok((question, answer))
    }

    /// Saves the answer written so far, while it streams (so a crash loses little), and tells
    /// the writer whether to go on: in the same round trip it learns of a stop asked for on
    /// another instance, and of a row that is gone (its chat was deleted anywhere).
    pub async fn save_progress(
        &self,
        message_id: &str,
        content: &str,
    ) -> Result<Progress, ChatStoreError> {
        let row = sqlx::query(
            "UPDATE messages SET content = $1, updated_at = $2 WHERE id = $3 AND status = 'streaming'
             RETURNING stop_requested_at",
        )
        .bind(content)
        .bind(now_ms())
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            None => Progress::Gone,
            Some(row)
                if row
                    .try_get::<Option<i64>, _>("stop_requested_at")?
                    .is_some() =>
            {
                Progress::StopRequested
            }
            Some(_) => Progress::Saved,
        })
    }

    /// Asks whichever instance writes the streaming answer of one of the user's sessions to stop
    /// it (it looks at its next progress save); false if the user has no answer streaming there.
    /// The first request's time is kept.
    pub async fn request_stop(
        &self,
        user: &UserId,
        session_id: &str,
    ) -> Result<bool, ChatStoreError> {
        let marked = sqlx::query(
            "UPDATE messages SET stop_requested_at = COALESCE(stop_requested_at, $1)
             WHERE chat_session_id = $2 AND status = 'streaming'
               AND EXISTS (SELECT 1 FROM chat_sessions s WHERE s.id = $2 AND s.user_id = $3)",
        )
        .bind(now_ms())
        .bind(session_id)
        .bind(user.as_str())
        .execute(&self.pool)
        .await?;
        Ok(marked.rows_affected() > 0)
    }

    /// Saves how an answer ended.
    pub async fn finish_answer(
        &self,
        message_id: &str,
        outcome: &AnswerOutcome,
    ) -> Result<(), ChatStoreError> {
        sqlx::query(
            "UPDATE messages SET content = $1, status = $2, prompt_tokens = $3,
                 completion_tokens = $4, error = $5, updated_at = $6
             WHERE id = $7 AND status = 'streaming'",
        )
        .bind(&outcome.content)
        .bind(outcome.status.as_str())
        .bind(outcome.prompt_tokens.map(i64::from))
        .bind(outcome.completion_tokens.map(i64::from))
        .bind(&outcome.error)
        .bind(now_ms())
        .bind(message_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The conversation as the model should see it: the newest messages whose text fits in
    /// `budget_chars` (older turns dropped first), in order. Answers that failed with nothing
    /// written are left out.
    pub async fn history(
        &self,
        user: &UserId,
        session_id: &str,
        budget_chars: usize,
    ) -> Result<Vec<(Role, String)>, ChatStoreError> {
        let rows = sqlx::query(
            "SELECT m.role, m.content FROM messages m
             JOIN chat_sessions s ON s.id = m.chat_session_id
             WHERE m.chat_session_id = $1 AND s.user_id = $2
               AND m.status != 'streaming' AND m.content != ''
             ORDER BY m.id DESC LIMIT 500",
        )
        .bind(session_id)
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut used = 0usize;
        let mut turns = Vec::new();
        for row in &rows {
            let role: String = row.try_get("role")?;
            let content: String = row.try_get("content")?;
            let size = content.chars().count();
            // The newest message always goes, even alone over budget: it is the question.
            if !turns.is_empty() && used + size > budget_chars {
                break;
            }
            used += size;
            if let Some(role) = Role::parse(&role) {
                turns.push((role, content));
            }
        }
        turns.reverse();
        Ok(turns)
    }

    /// Marks answers that stopped streaming without being finished (their server was killed or
    /// restarted) as failed, keeping what was saved of them; only those untouched for
    /// `idle_ms`, so another instance's live streams are left alone. How many.
    pub async fn fail_abandoned_answers(&self, idle_ms: i64) -> Result<u64, ChatStoreError> {
        let failed = sqlx::query(
            "UPDATE messages SET status = 'error',
                 error = 'This answer was interrupted when the server restarted.'
             WHERE status = 'streaming' AND updated_at < $1",
        )
        .bind(now_ms() - idle_ms)
        .execute(&self.pool)
        .await?;
        Ok(failed.rows_affected())
    }
}

/// The empty `streaming` answer a new exchange starts with; a second one in the session (the
/// partial unique index) is [`ChatStoreError::Busy`].
async fn insert_streaming_answer(
    tx: &mut sqlx::AnyConnection,
    session_id: &str,
    model: &str,
    now: i64,
) -> Result<ChatMessage, ChatStoreError> {
    insert_message(
        tx,
        session_id,
        Role::Assistant,
        "",
        MessageStatus::Streaming,
        Some(model),
        now,
    )
    .await
    .map_err(|error| match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => ChatStoreError::Busy,
        other => ChatStoreError::Database(other),
    })
}

async fn insert_message(
    tx: &mut sqlx::AnyConnection,
    session_id: &str,
    role: Role,
    content: &str,
    status: MessageStatus,
    model: Option<&str>,
    now: i64,
) -> Result<ChatMessage, sqlx::Error> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO messages (id, chat_session_id, role, content, status, model, created_at,
                               updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&id)
    .bind(session_id)
    .bind(role.as_str())
    .bind(content)
    .bind(status.as_str())
    .bind(model)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(ChatMessage {
        id,
        chat_session_id: session_id.to_owned(),
        role,
        content: content.to_owned(),
        status,
        model: model.map(str::to_owned),
        error: None,
        created_at: now,
    })
}
