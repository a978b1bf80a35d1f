-- The embedded auth service's tables, after GoTrue's auth schema (users, identities, sessions,
-- refresh_tokens, flow_state), trimmed to what ferrochat serves. Times are unix seconds (UTC).
-- Every secret that travels to a client (refresh tokens, auth codes, email links) is stored only
-- as its SHA-256 hash.

CREATE TABLE users (
    id                 TEXT PRIMARY KEY,               -- UUID
    email              TEXT NOT NULL UNIQUE,           -- lower-cased
    encrypted_password TEXT,                           -- argon2id PHC string; NULL: OAuth only
    email_confirmed_at INTEGER,
    confirmation_token TEXT UNIQUE,                    -- hash of the signup link token
    confirmation_sent_at INTEGER,
    recovery_token     TEXT UNIQUE,                    -- hash of the recovery / magic link token
    recovery_sent_at   INTEGER,
    email_change       TEXT,                           -- the new address awaiting confirmation
    email_change_token TEXT UNIQUE,
    email_change_sent_at INTEGER,
    app_metadata       TEXT NOT NULL DEFAULT '{}',     -- JSON, set by the server only
    user_metadata      TEXT NOT NULL DEFAULT '{}',     -- JSON, set by the user
    last_sign_in_at    INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE TABLE identities (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,                     -- email, google, github, facebook, oidc
    provider_id     TEXT NOT NULL,                     -- the provider's subject
    identity_data   TEXT NOT NULL DEFAULT '{}',        -- JSON claims from the provider
    email           TEXT,
    last_sign_in_at INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (provider, provider_id)
);
CREATE INDEX identities_user_id ON identities (user_id);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    aal          TEXT NOT NULL DEFAULT 'aal1',
    amr          TEXT NOT NULL DEFAULT '[]',           -- JSON [{method, timestamp}]
    user_agent   TEXT,
    ip           TEXT,
    created_at   INTEGER NOT NULL,
    refreshed_at INTEGER NOT NULL                      -- last use of a refresh token
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE refresh_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash BLOB NOT NULL UNIQUE,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_id  INTEGER REFERENCES refresh_tokens (id) ON DELETE CASCADE,
    revoked_at INTEGER,                                -- set when rotated
    created_at INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

-- One PKCE flow: an OAuth login in progress or an auth code waiting to be exchanged.
CREATE TABLE flow_states (
    id                    TEXT PRIMARY KEY,
    code_challenge        TEXT NOT NULL,               -- S256 of the client's verifier
    provider              TEXT NOT NULL,
    authentication_method TEXT NOT NULL,               -- oauth, magiclink, signup, recovery
    redirect_to           TEXT NOT NULL,
    oauth_state           BLOB UNIQUE,                 -- hash of the state sent upstream
    provider_verifier     TEXT,                        -- our PKCE verifier towards the provider
    user_id               TEXT REFERENCES users (id) ON DELETE CASCADE,
    auth_code             BLOB UNIQUE,                 -- hash of the code given to the client
    auth_code_issued_at   INTEGER,
    created_at            INTEGER NOT NULL
);

-- Keys that sign access tokens. The newest unretired key signs; retired keys stay published in
-- the JWKS until every token they signed has expired.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,                         -- ES256
    private_der BLOB NOT NULL,                         -- PKCS#8
    public_x    TEXT NOT NULL,                         -- base64url P-256 coordinates
    public_y    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);

-- Server secrets generated on first start (e.g. the key that derives refresh token chains).
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
