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
    pub confirmation_sent_at: Option<i64>,
    pub recovery_sent_at: Option<i64>,
    pub email_change: Option<String>,
    pub email_change_sent_at: Option<i64>,
    pub app_metadata: String,
    pub user_metadata: String,
    pub last_sign_in_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
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

const USER_COLUMNS: &str = "id, email, encrypted_password, email_confirmed_at, \
    confirmation_sent_at, recovery_sent_at, email_change, email_change_sent_at, app_metadata, \
    user_metadata, last_sign_in_at, created_at, updated_at";

const IDENTITY_COLUMNS: &str = "id, user_id, provider, provider_id, identity_data, email, \
    last_sign_in_at, created_at, updated_at";

impl User {
    pub fn app_metadata(&self) -> Value {
        serde_json::from_str(&self.app_metadata).unwrap_or_else(|_| json!({}))
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
            "is_anonymous": false,
        });
        let optional = [
            ("confirmation_sent_at", self.confirmation_sent_at),
            ("recovery_sent_at", self.recovery_sent_at),
            ("email_change_sent_at", self.email_change_sent_at),
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

/// Finds the user a column holding a hashed one-time token points to.
pub async fn find_by_token(
    pool: &Pool,
    column: TokenColumn,
    token_hash: &[u8],
) -> AuthResult<Option<User>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE {} = $1",
        column.name()
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

/// Forgets a used token.
pub async fn clear_token(pool: &Pool, user_id: &str, column: TokenColumn) -> AuthResult<()> {
    sqlx::query(&format!(
        "UPDATE users SET {} = NULL WHERE id = $1",
        column.name()
    ))
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

/// What a new user starts with.
pub struct NewUser<'a> {
    pub email: &'a Email,
    pub password_hash: Option<String>,
    pub user_metadata: Value,
    pub confirmed: bool,
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
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, encrypted_password, email_confirmed_at, app_metadata,
                            user_metadata, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(new.email.as_str())
    .bind(&new.password_hash)
    .bind(new.confirmed.then_some(at))
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

/// 422 `user_already_exists`.
pub fn user_already_exists() -> AuthError {
    AuthError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "user_already_exists",
        "User already registered",
    )
}

async fn insert_identity(
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

/// Links a provider identity to an existing user and records the provider in `app_metadata`.
pub async fn link_identity(
    pool: &Pool,
    user: &User,
    provider: &str,
    provider_id: &str,
    identity_data: &Value,
) -> AuthResult<()> {
    let mut app_metadata = user.app_metadata();
    let providers = app_metadata["providers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !providers.iter().any(|p| p == provider) {
        let mut providers = providers;
        providers.push(json!(provider));
        app_metadata["providers"] = json!(providers);
    }
    let mut tx = pool.begin().await?;
    insert_identity(
        &mut tx,
        &user.id,
        provider,
        provider_id,
        identity_data,
        Some(&user.email),
    )
    .await?;
    sqlx::query("UPDATE users SET app_metadata = $1, updated_at = $2 WHERE id = $3")
        .bind(app_metadata.to_string())
        .bind(now())
        .bind(&user.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
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

/// Marks the email as confirmed (first confirmation only).
pub async fn confirm_email(pool: &Pool, user_id: &str) -> AuthResult<()> {
    sqlx::query(
        "UPDATE users SET email_confirmed_at = COALESCE(email_confirmed_at, $1),
                          confirmation_token = NULL, updated_at = $2
         WHERE id = $3",
    )
    .bind(now())
    .bind(now())
    .bind(user_id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn set_password(pool: &Pool, user_id: &str, hash: &str) -> AuthResult<()> {
    sqlx::query("UPDATE users SET encrypted_password = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now())
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Merges `data` into `user_metadata` (keys set to null are removed, as in GoTrue).
pub async fn merge_user_metadata(pool: &Pool, user: &User, data: &Value) -> AuthResult<()> {
    let mut metadata = user.user_metadata();
    if let (Some(target), Some(changes)) = (metadata.as_object_mut(), data.as_object()) {
        for (key, value) in changes {
            if value.is_null() {
                target.remove(key);
            } else {
                target.insert(key.clone(), value.clone());
            }
        }
    }
    sqlx::query("UPDATE users SET user_metadata = $1, updated_at = $2 WHERE id = $3")
        .bind(metadata.to_string())
        .bind(now())
        .bind(&user.id)
        .execute(pool)
        .await?;
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

/// Makes the pending (or given) address the user's email.
pub async fn apply_email_change(pool: &Pool, user_id: &str, email: &str) -> AuthResult<()> {
    let updated = sqlx::query(
        "UPDATE users SET email = $1, email_change = NULL, email_change_token = NULL,
                          email_confirmed_at = COALESCE(email_confirmed_at, $2), updated_at = $3
         WHERE id = $4",
    )
    .bind(email)
    .bind(now())
    .bind(now())
    .bind(user_id)
    .execute(pool)
    .await;
    match updated {
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Err(AuthError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "email_exists",
            "A user with this email address has already been registered",
        )),
        other => other.map(drop).map_err(AuthError::from),
    }?;
    sqlx::query("UPDATE identities SET email = $1 WHERE user_id = $2 AND provider = 'email'")
        .bind(email)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(())
}
