-- Chat: each user's conversations and their messages. `user_id` is the auth service's user id
-- (the verified `sub` claim); there is no foreign key to `users`, because with a remote Supabase
-- project the users live there. Times are unix milliseconds.

CREATE TABLE chat_sessions (
    id         TEXT PRIMARY KEY,                         -- UUID
    user_id    TEXT NOT NULL,
    title      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- "My sessions by recency", keyset-paginated on (updated_at, id).
CREATE INDEX chat_sessions_by_user_recency ON chat_sessions (user_id, updated_at DESC, id DESC);

CREATE TABLE messages (
    id                TEXT PRIMARY KEY,                  -- UUIDv7: sorts in creation order
    chat_session_id   TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role              TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content           TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('complete', 'streaming', 'stopped', 'error')),
    model             TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    error             TEXT,                              -- what the person is told, when status = error
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
-- "Messages of a session in order", newest page first.
CREATE INDEX messages_by_session_order ON messages (chat_session_id, id);
-- One answer streams per session at a time: a second send meanwhile is refused by the database,
-- whichever instance it reaches.
CREATE UNIQUE INDEX messages_one_stream_per_session ON messages (chat_session_id)
    WHERE status = 'streaming';
