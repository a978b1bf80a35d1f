-- See migrations/sqlite/0004_chat_stop.sql for the commentary; the same column in PostgreSQL.

ALTER TABLE messages ADD COLUMN stop_requested_at BIGINT;
