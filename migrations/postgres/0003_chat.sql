-- See migrations/sqlite/0003_chat.sql for the commentary; the same schema in PostgreSQL. Ids are
-- compared byte by byte (COLLATE "C"), so UUIDv7 order is creation order in any database locale.

CREATE TABLE chat_sessions (
    id         TEXT COLLATE "C" PRIMARY KEY,
    user_id    TEXT NOT NULL,
    title      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX chat_sessions_by_user_recency ON chat_sessions (user_id, updated_at DESC, id DESC);

CREATE TABLE messages (
    id                TEXT COLLATE "C" PRIMARY KEY,
    chat_session_id   TEXT COLLATE "C" NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role              TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content           TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('complete', 'streaming', 'stopped', 'error')),
    model             TEXT,
    prompt_tokens     BIGINT,
    completion_tokens BIGINT,
    error             TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX messages_by_session_order ON messages (chat_session_id, id);
CREATE UNIQUE INDEX messages_one_stream_per_session ON messages (chat_session_id)
    WHERE status = 'streaming';
