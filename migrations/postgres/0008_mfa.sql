-- TOTP second factors (see migrations/sqlite/0008_mfa.sql for the commentary).

CREATE TABLE mfa_factors (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    friendly_name      TEXT NOT NULL DEFAULT '',
    factor_type        TEXT NOT NULL,
    status             TEXT NOT NULL,
    secret             BYTEA NOT NULL,
    last_used_step     BIGINT,
    last_challenged_at BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (user_id, friendly_name)
);
CREATE INDEX mfa_factors_user_id ON mfa_factors (user_id, status);

CREATE TABLE mfa_challenges (
    id          TEXT PRIMARY KEY,
    factor_id   TEXT NOT NULL REFERENCES mfa_factors (id) ON DELETE CASCADE,
    ip_address  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    verified_at BIGINT
);
CREATE INDEX mfa_challenges_factor_id ON mfa_challenges (factor_id);
CREATE INDEX mfa_challenges_created_at ON mfa_challenges (created_at);
