//! The guest quota: a person who signed in anonymously ("Try it without an account") may send
//! `FERROCHAT_GUEST_MESSAGES` messages in all, then is asked to add an email address and a
//! password. Counted in the database (`chat_guest_usage`), so it holds across instances and
//! restarts, and apart from the messages: deleting a chat gives no messages back.

use super::store::{ChatStoreError, UserId};
use crate::store::Pool;

/// Counts one more message of `user`, in the caller's transaction; refuses the message once
/// `limit` were sent. One upsert that only counts while under the limit: racing sends cannot
/// get past it, on either database.
pub async fn spend(
    tx: &mut sqlx::AnyConnection,
    user: &UserId,
    limit: u32,
) -> Result<(), ChatStoreError> {
    let refused = || ChatStoreError::GuestQuotaReached(limit);
    if limit == 0 {
        return Err(refused());
    }
    let counted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO chat_guest_usage (user_id, messages) VALUES ($1, 1)
         ON CONFLICT (user_id) DO UPDATE SET messages = chat_guest_usage.messages + 1
         WHERE chat_guest_usage.messages < $2
         RETURNING messages",
    )
    .bind(user.as_str())
    .bind(i64::from(limit))
    .fetch_optional(tx)
    .await?;
    counted.map(drop).ok_or_else(refused)
}

/// How many of its `limit` messages `user` may still send.
pub async fn left(pool: &Pool, user: &UserId, limit: u32) -> Result<u32, ChatStoreError> {
    let sent: Option<i64> =
        sqlx::query_scalar("SELECT messages FROM chat_guest_usage WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_optional(pool)
            .await?;
    Ok(limit.saturating_sub(u32::try_from(sent.unwrap_or(0)).unwrap_or(u32::MAX)))
}

/// Deletes the user's count, with their chats (account deletion, pruning).
pub async fn forget(pool: &Pool, user: &UserId) -> Result<(), ChatStoreError> {
    sqlx::query("DELETE FROM chat_guest_usage WHERE user_id = $1")
        .bind(user.as_str())
        .execute(pool)
        .await?;
    Ok(())
}
