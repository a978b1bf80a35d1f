-- See migrations/sqlite/0002_auth_hardening.sql for the commentary.

ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
UPDATE users SET email_verified_at = email_confirmed_at
WHERE email_confirmed_at IS NOT NULL AND confirmation_sent_at IS NOT NULL;

ALTER TABLE users ADD COLUMN reauthentication_token BYTEA;
ALTER TABLE users ADD COLUMN reauthentication_sent_at BIGINT;

ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT;
UPDATE signing_keys SET activates_at = created_at;

ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_parent_id_fkey;
CREATE INDEX refresh_tokens_revoked_at ON refresh_tokens (revoked_at);

CREATE INDEX flow_states_created_at ON flow_states (created_at);
CREATE INDEX sessions_refreshed_at ON sessions (refreshed_at);
CREATE INDEX sessions_created_at ON sessions (created_at);

CREATE TABLE rate_limits (
    bucket       TEXT NOT NULL,
    key          TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE INDEX rate_limits_window_start ON rate_limits (window_start);
