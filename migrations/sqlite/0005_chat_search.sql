-- Search: a person finds their chats by title and by the text of their messages. Two FTS5
-- indexes with external content (the text is not stored twice), kept in step by triggers so no
-- write path can forget them. FTS5's external content is keyed by the integer rowid of the
-- table it indexes: the one place the schema relies on SQLite's implicit rowid, confined to
-- SQLite's search query (the store's other queries never use it). `unicode61` folds case and
-- does no stemming (diacritics are kept), like Postgres's `simple` configuration, so both
-- backends match the same words and the snippet highlighter (src/chat/search.rs) marks what matched.

CREATE VIRTUAL TABLE chat_sessions_fts USING fts5(
    title, content = 'chat_sessions', tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO chat_sessions_fts (rowid, title) SELECT rowid, title FROM chat_sessions;

CREATE TRIGGER chat_sessions_fts_insert AFTER INSERT ON chat_sessions BEGIN
    INSERT INTO chat_sessions_fts (rowid, title) VALUES (new.rowid, new.title);
END;
CREATE TRIGGER chat_sessions_fts_update AFTER UPDATE OF title ON chat_sessions BEGIN
    INSERT INTO chat_sessions_fts (chat_sessions_fts, rowid, title)
        VALUES ('delete', old.rowid, old.title);
    INSERT INTO chat_sessions_fts (rowid, title) VALUES (new.rowid, new.title);
END;
CREATE TRIGGER chat_sessions_fts_delete AFTER DELETE ON chat_sessions BEGIN
    INSERT INTO chat_sessions_fts (chat_sessions_fts, rowid, title)
        VALUES ('delete', old.rowid, old.title);
END;

-- Messages are indexed once they stop streaming: an answer being written is saved every second,
-- and re-indexing its whole text each time would cost more than the search is worth.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content, content = 'messages', tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO messages_fts (rowid, content)
    SELECT rowid, content FROM messages WHERE status != 'streaming';

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.status != 'streaming' BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        SELECT 'delete', old.rowid, old.content WHERE old.status != 'streaming';
    INSERT INTO messages_fts (rowid, content)
        SELECT new.rowid, new.content WHERE new.status != 'streaming';
END;
-- Also fired by the cascade from a deleted session (SQLite runs foreign key actions as deletes).
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.status != 'streaming' BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        VALUES ('delete', old.rowid, old.content);
END;
