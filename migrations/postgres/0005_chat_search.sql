-- Search (see migrations/sqlite/0005_chat_search.sql): full-text indexes on titles and on the
-- text of messages that have stopped streaming. The `simple` configuration folds case and does
-- no stemming, like SQLite's `unicode61`, so both backends match the same words. Only the first
-- 65,536 characters of a message are indexed: a tsvector holds at most 1 MB, and an answer too
-- big for one must still be saved. The store's search query repeats these exact expressions,
-- which is what lets the planner use the indexes (tests/server/chat_search.rs checks it).
-- (pg_trgm would also match inside words, but it is an extension: CREATE EXTENSION needs rights
-- a managed database's app role often lacks.)

CREATE INDEX chat_sessions_title_search ON chat_sessions
    USING GIN (to_tsvector('simple', title));
CREATE INDEX messages_content_search ON messages
    USING GIN (to_tsvector('simple', left(content, 65536)))
    WHERE status <> 'streaming';
