-- Auth hardening: verified email apart from confirmed, reauthentication codes, signing keys that
-- are published before they sign, refresh token chains that survive pruning, and rate-limit
-- counters shared by every instance.

-- When the address was proven to belong to the user (an emailed link, a provider's verified
-- email). "Confirmed" (may sign in) can be granted without it, by autoconfirm.
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;
UPDATE users SET email_verified_at = email_confirmed_at
WHERE email_confirmed_at IS NOT NULL AND confirmation_sent_at IS NOT NULL;

-- The hash of the code `/reauthenticate` mailed, for a password or email change.
ALTER TABLE users ADD COLUMN reauthentication_token BLOB;
ALTER TABLE users ADD COLUMN reauthentication_sent_at INTEGER;

-- A key signs only from `activates_at` on; until then it is published so that verifiers that
-- cache the JWKS know it before the first token it signs reaches them.
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER;
UPDATE signing_keys SET activates_at = created_at;

-- Rebuilt without `ON DELETE CASCADE` on the parent: pruning an old rotated token must not take
-- its descendants (the live token among them) with it.
CREATE TABLE refresh_tokens_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash BLOB NOT NULL UNIQUE,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_id  INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
);
INSERT INTO refresh_tokens_new (id, token_hash, session_id, parent_id, revoked_at, created_at)
SELECT id, token_hash, session_id, parent_id, revoked_at, created_at FROM refresh_tokens;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_new RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_revoked_at ON refresh_tokens (revoked_at);

CREATE INDEX flow_states_created_at ON flow_states (created_at);
CREATE INDEX sessions_refreshed_at ON sessions (refreshed_at);
CREATE INDEX sessions_created_at ON sessions (created_at);

-- Fixed-window counters: requests of one key (a hashed client IP or email) in one bucket.
CREATE TABLE rate_limits (
    bucket       TEXT NOT NULL,
    key          TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE INDEX rate_limits_window_start ON rate_limits (window_start);
