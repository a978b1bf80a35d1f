-- TOTP second factors (GoTrue's mfa_factors and mfa_challenges), trimmed to what ferrochat serves.

-- One authenticator of a user. `secret` is the TOTP key sealed with AES-256-GCM under a server
-- secret (the factor id as associated data); it is shown once, at enrolment, and never again.
CREATE TABLE mfa_factors (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    friendly_name      TEXT NOT NULL DEFAULT '',       -- unique per user, '' included (GoTrue)
    factor_type        TEXT NOT NULL,                  -- totp
    status             TEXT NOT NULL,                  -- unverified, verified
    secret             BLOB NOT NULL,
    last_used_step     INTEGER,                        -- TOTP time step of the last accepted code
    last_challenged_at INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (user_id, friendly_name)
);
CREATE INDEX mfa_factors_user_id ON mfa_factors (user_id, status);

-- A challenge: one verification attempt window, bound to the client address that asked for it.
CREATE TABLE mfa_challenges (
    id          TEXT PRIMARY KEY,
    factor_id   TEXT NOT NULL REFERENCES mfa_factors (id) ON DELETE CASCADE,
    ip_address  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    verified_at INTEGER
);
CREATE INDEX mfa_challenges_factor_id ON mfa_challenges (factor_id);
CREATE INDEX mfa_challenges_created_at ON mfa_challenges (created_at);
