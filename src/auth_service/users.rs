//! Users and their identities: storage and GoTrue's JSON shape.

use serde_json::{json, Value};

use super::{
    error::{AuthError, AuthResult},
    now, rfc3339,
};
pub use crate::contract::Email;
use crate::store::Pool;

/// A row of `users`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub email: String,
    pub encrypted_password: Option<String>,
    pub email_confirmed_at: Option<i64>,
    /// When the address was proven to be the user's (an emailed link, a provider's word).
    pub email_verified_at: Option<i64>,
    pub confirmation_sent_at: Option<i64>,
    pub recovery_sent_at: Option<i64>,
    pub email_change: Option<String>,
    pub email_change_sent_at: Option<i64>,
    pub app_metadata: String,
    pub user_metadata: String,
    pub last_sign_in_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// 1 for an anonymous user (see [`User::is_anonymous`]).
    pub is_anonymous: i64,
    /// Until when an administrator banned the user from signing in.
    pub banned_until: Option<i64>,
    pub invited_at: Option<i64>,
    /// Set by an administrator's soft delete.
    pub deleted_at: Option<i64>,
}

/// A row of `identities`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Identity {
    pub id: String,
    pub user_id: String,
    pub provider: String,
    pub provider_id: String,
    pub identity_data: String,
    pub email: Option<String>,
    pub last_sign_in_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

// An anonymous user's `email` column holds a placeholder (its id): it reads as "", as in GoTrue.
const USER_COLUMNS: &str = "id, CASE WHEN is_anonymous = 1 THEN '' ELSE email END AS email, \
    encrypted_password, email_confirmed_at, email_verified_at, confirmation_sent_at, \
    recovery_sent_at, email_change, email_change_sent_at, app_metadata, user_metadata, \
    last_sign_in_at, created_at, updated_at, is_anonymous, \
    banned_until, invited_at, deleted_at";

const IDENTITY_COLUMNS: &str = "id, user_id, provider, provider_id, identity_data, email, \
    last_sign_in_at, created_at, updated_at";

impl User {
    /// Signed up without an address or password (a guest), and no address was added since.
    pub fn is_anonymous(&self) -> bool {
        self.is_anonymous != 0
    }

    pub fn app_metadata(&self) -> Value {
        serde_json::from_str(&self.app_metadata).unwrap_or_else(|_| json!({}))
    }

    /// Whether an administrator's ban is in force now.
    pub fn is_banned(&self) -> bool {
        self.banned_until.is_some_and(|until| until > now())
    }

    pub fn user_metadata(&self) -> Value {
        serde_json::from_str(&self.user_metadata).unwrap_or_else(|_| json!({}))
    }

    /// GoTrue's user object.
    pub fn to_json(&self, identities: &[Identity]) -> Value {
        let mut user = json!({
            "id": self.id,
            "aud": "authenticated",
            "role": "authenticated",
            "email": self.email,
            "email_confirmed_at": self.email_confirmed_at.map(rfc3339),
            "phone": "",
            "confirmed_at": self.email_confirmed_at.map(rfc3339),
            "last_sign_in_at": self.last_sign_in_at.map(rfc3339),
            "app_metadata": self.app_metadata(),
            "user_metadata": self.user_metadata(),
            "identities": identities.iter().map(Identity::to_json).collect::<Vec<_>>(),
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "is_anonymous": self.is_anonymous(),
        });
        let optional = [
            ("confirmation_sent_at", self.confirmation_sent_at),
            ("recovery_sent_at", self.recovery_sent_at),
            ("email_change_sent_at", self.email_change_sent_at),
            ("banned_until", self.banned_until),
            ("invited_at", self.invited_at),
            ("deleted_at", self.deleted_at),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                user[name] = json!(rfc3339(value));
            }
        }
        if let Some(new_email) = &self.email_change {
            user["new_email"] = json!(new_email);
        }
        user
    }
}

impl Identity {
    fn to_json(&self) -> Value {
        json!({
            "identity_id": self.id,
            "id": self.provider_id,
            "user_id": self.user_id,
            "identity_data": serde_json::from_str::<Value>(&self.identity_data).unwrap_or_else(|_| json!({})),
            "provider": self.provider,
            "last_sign_in_at": self.last_sign_in_at.map(rfc3339),
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "email": self.email,
        })
    }
}

pub async fn find_by_email(pool: &Pool, email: &Email) -> AuthResult<Option<User>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
    ))
    .bind(email.as_str())
    .fetch_optional(pool)
    .await?)
}

pub async fn find_by_id(pool: &Pool, id: &str) -> AuthResult<Option<User>> {
    Ok(
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

/// Spends a one-time token sent by email: clears it and returns its user, in one statement, so
/// that of two requests racing with the same link exactly one gets the user. Whether the link is
/// still fresh is for the caller to check, from the returned `*_sent_at`.
pub async fn redeem_token(
    pool: &Pool,
    column: TokenColumn,
    token_hash: &[u8],
) -> AuthResult<Option<User>> {
    Ok(sqlx::query_as(&format!(
        "UPDATE users SET {column} = NULL WHERE {column} = $1 RETURNING {USER_COLUMNS}",
        column = column.name()
    ))
    .bind(token_hash)
    .fetch_optional(pool)
    .await?)
}

/// The columns that hold hashed one-time tokens sent by email.
#[derive(Clone, Copy, Debug)]
pub enum TokenColumn {
    Confirmation,
    Recovery,
    EmailChange,
}

impl TokenColumn {
    fn name(self) -> &'static str {
        match self {
            TokenColumn::Confirmation => "confirmation_token",
            TokenColumn::Recovery => "recovery_token",
            TokenColumn::EmailChange => "email_change_token",
        }
    }

    fn sent_at(self) -> &'static str {
        match self {
            TokenColumn::Confirmation => "confirmation_sent_at",
            TokenColumn::Recovery => "recovery_sent_at",
            TokenColumn::EmailChange => "email_change_sent_at",
        }
    }
}

/// Stores the hash of a token just sent by email, replacing any earlier one.
pub async fn set_token(
    pool: &Pool,
    user_id: &str,
    column: TokenColumn,
    token_hash: &[u8],
) -> AuthResult<()> {
    sqlx::query(&format!(
        "UPDATE users SET {} = $1, {} = $2, updated_at = $3 WHERE id = $4",
        column.name(),
        column.sent_at()
    ))
    .bind(token_hash)
    .bind(now())
    .bind(now())
    .bind(user_id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn identities(pool: &Pool, user_id: &str) -> AuthResult<Vec<Identity>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {IDENTITY_COLUMNS} FROM identities WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}

/// The identity a provider's subject is linked to.
pub async fn find_identity(
    pool: &Pool,
    provider: &str,
    provider_id: &str,
) -> AuthResult<Option<Identity>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {IDENTITY_COLUMNS} FROM identities WHERE provider = $1 AND provider_id = $2"
    ))
    .bind(provider)
    .bind(provider_id)
    .fetch_optional(pool)
    .await?)
}

/// What is known about a new user's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailState {
    /// May not sign in until a link sent to it is followed.
    Unconfirmed,
    /// May sign in (autoconfirm), but nobody has proven the address is theirs.
    Confirmed,
    /// Proven: a provider vouched for it.
    Verified,
}

/// What a new user starts with.
pub struct NewUser<'a> {
    pub email: &'a Email,
    pub password_hash: Option<String>,
    pub user_metadata: Value,
    pub email_state: EmailState,
    /// The first identity: `email` for sign-ups, else the OAuth provider.
    pub provider: &'a str,
    pub provider_id: Option<&'a str>,
    pub identity_data: Value,
}

/// Creates a user and its first identity together.
pub async fn create(pool: &Pool, new: NewUser<'_>) -> AuthResult<User> {
    let id = uuid::Uuid::new_v4().to_string();
    let at = now();
    let app_metadata = json!({ "provider": new.provider, "providers": [new.provider] });
    let mut tx = crate::store::begin_write(pool).await?;
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, encrypted_password, email_confirmed_at, email_verified_at,
                            app_metadata, user_metadata, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(new.email.as_str())
    .bind(&new.password_hash)
    .bind((new.email_state != EmailState::Unconfirmed).then_some(at))
    .bind((new.email_state == EmailState::Verified).then_some(at))
    .bind(app_metadata.to_string())
    .bind(new.user_metadata.to_string())
    .bind(at)
    .bind(at)
    .execute(&mut *tx)
    .await;
    if let Err(sqlx::Error::Database(error)) = &inserted {
        if error.is_unique_violation() {
            return Err(user_already_exists());
        }
    }
    inserted?;
    let mut identity_data = new.identity_data;
    identity_data["sub"] = json!(new.provider_id.unwrap_or(&id));
    identity_data["email"] = json!(new.email.as_str());
    insert_identity(
        &mut tx,
        &id,
        new.provider,
        new.provider_id.unwrap_or(&id),
        &identity_data,
        Some(new.email.as_str()),
    )
    .await?;
    tx.commit().await?;
    find_by_id(pool, &id)
        .await?
        .ok_or_else(|| AuthError::internal("user vanished after insert"))
}

/// Creates an anonymous user: no address, no password, no identity, as GoTrue's
/// `signInAnonymously`. Its `email` column holds its own id, a value no address can take.
pub async fn create_anonymous(pool: &Pool, user_metadata: &Value) -> AuthResult<User> {
    let id = uuid::Uuid::new_v4().to_string();
    let at = now();
    sqlx::query(
        "INSERT INTO users (id, email, is_anonymous, app_metadata, user_metadata, created_at,
                            updated_at)
         VALUES ($1, $2, 1, '{}', $3, $4, $5)",
    )
    .bind(&id)
    .bind(&id)
    .bind(user_metadata.to_string())
    .bind(at)
    .bind(at)
    .execute(pool)
    .await?;
    find_by_id(pool, &id)
        .await?
        .ok_or_else(|| AuthError::internal("user vanished after insert"))
}

/// The `identity_data` of a user's `email` identity (whose subject is the user's id).
pub fn email_identity_data(user_id: &str, email: &str, verified: bool) -> Value {
    json!({ "sub": user_id, "email": email, "email_verified": verified, "phone_verified": false })
}

/// 400 `user_banned`: an administrator banned the user from signing in.
pub fn user_banned() -> AuthError {
    AuthError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "user_banned",
        "User is banned",
    )
}

/// 422 `user_already_exists`.
pub fn user_already_exists() -> AuthError {
    AuthError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "user_already_exists",
        "User already registered",
    )
}

/// Adds an identity to a user, inside the caller's transaction.
pub(super) async fn insert_identity(
    tx: &mut sqlx::AnyConnection,
    user_id: &str,
    provider: &str,
    provider_id: &str,
    identity_data: &Value,
    email: Option<&str>,
) -> AuthResult<()> {
    let at = now();
    sqlx::query(
        "INSERT INTO identities (id, user_id, provider, provider_id, identity_data, email,
                                 last_sign_in_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(user_id)
    .bind(provider)
    .bind(provider_id)
    .bind(identity_data.to_string())
    .bind(email)
    .bind(at)
    .bind(at)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Records a sign-in on the user and, if given, on the identity used.
pub async fn touch_sign_in(
    pool: &Pool,
    user_id: &str,
    identity_id: Option<&str>,
) -> AuthResult<()> {
    let at = now();
    sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2")
        .bind(at)
        .bind(user_id)
        .execute(pool)
        .await?;
    if let Some(identity_id) = identity_id {
        sqlx::query("UPDATE identities SET last_sign_in_at = $1, updated_at = $2 WHERE id = $3")
            .bind(at)
            .bind(at)
            .bind(identity_id)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// The most `user_metadata` may hold, as JSON. It travels in every access token and session
/// cookie, so a client must not be able to grow it without bound.
pub const MAX_USER_METADATA_BYTES: usize = 2048;

/// Checks that `metadata` is an object of at most [`MAX_USER_METADATA_BYTES`] of JSON.
pub fn check_user_metadata(metadata: &Value) -> AuthResult<()> {
    if !metadata.is_object() {
        return Err(AuthError::validation("data must be an object"));
    }
    let size = metadata.to_string().len();
    if size > MAX_USER_METADATA_BYTES {
        return Err(AuthError::validation(format!(
            "User metadata is too large: {size} bytes of JSON, at most \
             {MAX_USER_METADATA_BYTES} are allowed"
        )));
    }
    Ok(())
}

/// The user's `user_metadata` with `data` merged in (keys set to null are removed, as in
/// GoTrue), checked by [`check_user_metadata`].
pub fn merged_user_metadata(user: &User, data: &Value) -> AuthResult<Value> {
    let changes = data
        .as_object()
        .ok_or_else(|| AuthError::validation("data must be an object"))?;
    let mut metadata = user.user_metadata();
    if let Some(target) = metadata.as_object_mut() {
        for (key, value) in changes {
            if value.is_null() {
                target.remove(key);
            } else {
                target.insert(key.clone(), value.clone());
            }
        }
    }
    check_user_metadata(&metadata)?;
    Ok(metadata)
}

/// Stores a user's whole `user_metadata` (as [`merged_user_metadata`] made it).
pub async fn set_user_metadata(pool: &Pool, user_id: &str, metadata: &Value) -> AuthResult<()> {
    sqlx::query("UPDATE users SET user_metadata = $1, updated_at = $2 WHERE id = $3")
        .bind(metadata.to_string())
        .bind(now())
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Sets a new password and, in the same transaction, ends every other session of the user and
/// voids every token sent by email and every email-link sign-in waiting for its PKCE exchange:
/// whoever held a stolen session or link before the change holds nothing after it.
pub async fn change_password(
    pool: &Pool,
    user_id: &str,
    current_session_id: &str,
    hash: &str,
) -> AuthResult<()> {
    let mut tx = crate::store::begin_write(pool).await?;
    sqlx::query(
        "UPDATE users SET encrypted_password = $1, confirmation_token = NULL,
                          recovery_token = NULL, email_change = NULL, email_change_token = NULL,
                          reauthentication_token = NULL, reauthentication_sent_at = NULL,
                          updated_at = $2
         WHERE id = $3",
    )
    .bind(hash)
    .bind(now())
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id != $2")
        .bind(user_id)
        .bind(current_session_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM flow_states WHERE user_id = $1 AND provider = 'email'")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Records an email change waiting for confirmation.
pub async fn request_email_change(
    pool: &Pool,
    user_id: &str,
    new_email: &Email,
    token_hash: &[u8],
) -> AuthResult<()> {
    sqlx::query(
        "UPDATE users SET email_change = $1, email_change_token = $2, email_change_sent_at = $3,
                          updated_at = $4
         WHERE id = $5",
    )
    .bind(new_email.as_str())
    .bind(token_hash)
    .bind(now())
    .bind(now())
    .bind(user_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// 422 `email_exists`: another account has the address.
pub fn email_exists() -> AuthError {
    AuthError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "email_exists",
        "A user with this email address has already been registered",
    )
}

/// Makes `email` the user's address. `proven`: the change came through a link mailed to it, so
/// the new address is verified; otherwise (autoconfirm) it is not, whatever the old one was.
pub async fn apply_email_change(
    pool: &Pool,
    user_id: &str,
    email: &str,
    proven: bool,
) -> AuthResult<()> {
    let at = now();
    let mut tx = crate::store::begin_write(pool).await?;
    // An anonymous user becomes a permanent one with its first address (GoTrue's
    // emailChangeVerify): same id, so everything it owns stays; the SET reads the old row.
    let updated = sqlx::query(
        "UPDATE users SET email = $1, email_change = NULL, email_change_token = NULL,
                          email_confirmed_at = COALESCE(email_confirmed_at, $2),
                          email_verified_at = $3, updated_at = $4,
                          app_metadata = CASE WHEN is_anonymous = 1 THEN $5
                                              ELSE app_metadata END,
                          is_anonymous = 0
         WHERE id = $6",
    )
    .bind(email)
    .bind(at)
    .bind(proven.then_some(at))
    .bind(at)
    .bind(json!({ "provider": "email", "providers": ["email"] }).to_string())
    .bind(user_id)
    .execute(&mut *tx)
    .await;
    match updated {
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Err(email_exists()),
        other => other.map(drop).map_err(AuthError::from),
    }?;
    sqlx::query(
        "UPDATE identities SET email = $1, identity_data = $2, updated_at = $3
         WHERE user_id = $4 AND provider = 'email'",
    )
    .bind(email)
    .bind(email_identity_data(user_id, email, proven).to_string())
    .bind(at)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let has_email_identity: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM identities WHERE user_id = $1 AND provider = 'email'")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    if has_email_identity.is_none() {
        // A former guest's first identity.
        insert_identity(
            &mut tx,
            user_id,
            "email",
            user_id,
            &email_identity_data(user_id, email, proven),
            Some(email),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// How many users there are, for the admin list's `X-Total-Count`.
pub async fn count(pool: &Pool) -> AuthResult<i64> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await?;
    Ok(count)
}

/// One page of users, newest first (the admin list's order).
pub async fn page(pool: &Pool, limit: i64, offset: i64) -> AuthResult<Vec<User>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY created_at DESC, id LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?)
}

/// The identities of several users at once, by user id.
pub async fn identities_of(
    pool: &Pool,
    users: &[User],
) -> AuthResult<std::collections::HashMap<String, Vec<Identity>>> {
    let mut by_user: std::collections::HashMap<String, Vec<Identity>> = Default::default();
    if users.is_empty() {
        return Ok(by_user);
    }
    let placeholders: Vec<String> = (1..=users.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT {IDENTITY_COLUMNS} FROM identities WHERE user_id IN ({}) ORDER BY created_at, id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, Identity>(&sql);
    for user in users {
        query = query.bind(&user.id);
    }
    for identity in query.fetch_all(pool).await? {
        by_user
            .entry(identity.user_id.clone())
            .or_default()
            .push(identity);
    }
    Ok(by_user)
}

/// What only an administrator sets: `app_metadata` (whole, already merged), the ban
/// (`Some(None)` lifts it) and the confirmation of the address.
pub async fn set_admin_fields(
    pool: &Pool,
    user_id: &str,
    app_metadata: Option<&Value>,
    banned_until: Option<Option<i64>>,
    confirm_email: bool,
) -> AuthResult<()> {
    let at = now();
    sqlx::query(
        "UPDATE users SET app_metadata = COALESCE($1, app_metadata),
                          banned_until = CASE WHEN $2 = 1 THEN $3 ELSE banned_until END,
                          email_confirmed_at = CASE WHEN $4 = 1
                              THEN COALESCE(email_confirmed_at, $5) ELSE email_confirmed_at END,
                          updated_at = $5
         WHERE id = $6",
    )
    .bind(app_metadata.map(Value::to_string))
    .bind(i64::from(banned_until.is_some()))
    .bind(banned_until.flatten())
    .bind(i64::from(confirm_email))
    .bind(at)
    .bind(user_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records that an administrator invited the user.
pub async fn mark_invited(pool: &Pool, user_id: &str) -> AuthResult<()> {
    sqlx::query("UPDATE users SET invited_at = $1, updated_at = $1 WHERE id = $2")
        .bind(now())
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes a user with everything that references it (sessions, identities, chats cascade).
pub async fn delete(pool: &Pool, user_id: &str) -> AuthResult<()> {
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// GoTrue's soft delete: the row stays (with `deleted_at`), but the address is replaced by an
/// unusable one (so it is free for a new account and nobody can sign in with it), the password,
/// pending tokens, identities and sessions go.
pub async fn soft_delete(pool: &Pool, user: &User) -> AuthResult<()> {
    let at = now();
    let digest: String = crate::crypto::sha256(format!("{}{}", user.id, user.email).as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let mut tx = crate::store::begin_write(pool).await?;
    sqlx::query(
        "UPDATE users SET email = $1, encrypted_password = NULL, confirmation_token = NULL,
                          recovery_token = NULL, email_change = NULL, email_change_token = NULL,
                          reauthentication_token = NULL, deleted_at = $2, updated_at = $2
         WHERE id = $3",
    )
    // Not an address (no @): no sign-up or sign-in can ever name it.
    .bind(format!("obfuscated-{digest}"))
    .bind(at)
    .bind(&user.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM identities WHERE user_id = $1")
        .bind(&user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(&user.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
