-- See migrations/sqlite/0007_guests.sql for the commentary; the same in PostgreSQL.

ALTER TABLE users ADD COLUMN is_anonymous BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_anonymous_last_sign_in ON users (is_anonymous, last_sign_in_at);

CREATE TABLE chat_guest_usage (
    user_id  TEXT PRIMARY KEY,
    messages BIGINT NOT NULL
);
