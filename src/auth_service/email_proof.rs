//! Proof that a person holds an account's email address, and what the first proof settles.
//!
//! "Confirmed" (may sign in) and "verified" (the address was proven) are kept apart: autoconfirm
//! confirms at sign-up, without any proof. An address is proven by following a link mailed to it
//! or by a provider that vouches for it. Until then, the account may belong to someone who typed
//! in another person's address: an attacker registers `victim@` with a password of theirs, keeps
//! a session, and waits for the victim to arrive by a magic link or a provider (pre-registration
//! takeover). So when a sign-in proves the address of a never-verified account, everything a
//! pre-registrant may hold goes first: the password, the other identities, every session, the
//! pending email tokens. It happens in the transaction that marks the address verified, so no
//! request sees the account verified with any of them still in place. (GoTrue's
//! `RemoveUnconfirmedIdentities` drops the password and identities; it leaves the sessions.)

use serde_json::{json, Value};

use super::{
    error::AuthResult,
    now,
    users::{self, User},
};
use crate::store::Pool;

/// How the address was proven.
pub enum Proof<'a> {
    /// The sign-up confirmation link: the person who signed up asked for it and keeps their
    /// password.
    ConfirmationLink,
    /// A magic or recovery link: whoever reads the mailbox signs in.
    SignInLink,
    /// A provider vouched for the address; its identity is linked to the account.
    Provider {
        name: &'a str,
        subject: &'a str,
        identity_data: &'a Value,
    },
}

impl Proof<'_> {
    /// The identity the proof signs in with: the provider's, or the user's `email` identity.
    fn identity(&self, user: &User) -> (String, String, Value) {
        match self {
            Proof::Provider {
                name,
                subject,
                identity_data,
            } => (
                (*name).to_owned(),
                (*subject).to_owned(),
                (*identity_data).clone(),
            ),
            Proof::ConfirmationLink | Proof::SignInLink => (
                "email".to_owned(),
                user.id.clone(),
                users::email_identity_data(&user.id, &user.email, true),
            ),
        }
    }
}

/// Records that `user`'s address was proven by `proof` (marking it confirmed and verified) and
/// links the proof's identity. The first sign-in proof of an account drops what a
/// pre-registrant may hold (see the module documentation).
pub async fn record(pool: &Pool, user: &User, proof: Proof<'_>) -> AuthResult<()> {
    let at = now();
    let (provider, subject, identity_data) = proof.identity(user);
    let mut tx = crate::store::begin_write(pool).await?;
    // The check and the mark in one statement: of two racing proofs, one is the first.
    let first_proof = sqlx::query(
        "UPDATE users SET email_verified_at = $1,
                          email_confirmed_at = COALESCE(email_confirmed_at, $2),
                          confirmation_token = NULL, updated_at = $3
         WHERE id = $4 AND email_verified_at IS NULL",
    )
    .bind(at)
    .bind(at)
    .bind(at)
    .bind(&user.id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    let takeover = first_proof && !matches!(proof, Proof::ConfirmationLink);
    let mut app_metadata = user.app_metadata();
    if takeover {
        tracing::info!(
            user_id = %user.id,
            "first proof of the address of an unverified account: dropping its password, other \
             identities and sessions"
        );
        // A provider's profile replaces metadata anyone could have set (as GoTrue does); a link
        // brings no profile, so the metadata stays.
        let user_metadata = match &proof {
            Proof::Provider { identity_data, .. } => (*identity_data).clone(),
            _ => user.user_metadata(),
        };
        sqlx::query(
            "UPDATE users SET encrypted_password = NULL, recovery_token = NULL,
                              email_change = NULL, email_change_token = NULL,
                              reauthentication_token = NULL, reauthentication_sent_at = NULL,
                              user_metadata = $1
             WHERE id = $2",
        )
        .bind(user_metadata.to_string())
        .bind(&user.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM identities
             WHERE user_id = $1 AND NOT (provider = $2 AND provider_id = $3)",
        )
        .bind(&user.id)
        .bind(&provider)
        .bind(&subject)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
        app_metadata = json!({ "provider": provider, "providers": [] });
    }
    let linked = sqlx::query(
        "UPDATE identities SET identity_data = $1, updated_at = $2
         WHERE user_id = $3 AND provider = $4 AND provider_id = $5",
    )
    .bind(identity_data.to_string())
    .bind(at)
    .bind(&user.id)
    .bind(&provider)
    .bind(&subject)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if linked == 0 {
        users::insert_identity(
            &mut tx,
            &user.id,
            &provider,
            &subject,
            &identity_data,
            Some(&user.email),
        )
        .await?;
    }
    let providers = app_metadata["providers"].as_array_mut();
    match providers {
        Some(providers) if providers.iter().any(|p| p == provider.as_str()) => {}
        Some(providers) => providers.push(json!(provider)),
        None => app_metadata["providers"] = json!([provider]),
    }
    sqlx::query("UPDATE users SET app_metadata = $1 WHERE id = $2")
        .bind(app_metadata.to_string())
        .bind(&user.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
