-- See migrations/sqlite/0006_admin.sql for the commentary.

ALTER TABLE users ADD COLUMN banned_until BIGINT;
ALTER TABLE users ADD COLUMN invited_at BIGINT;
ALTER TABLE users ADD COLUMN deleted_at BIGINT;
