//! Who a provider identity signs in as: the linked user, an existing account with the same
//! verified email, or a new user.

use axum::http::StatusCode;

use super::providers::ProviderUser;
use crate::auth_service::{
    email_proof::{self, Proof},
    error::{AuthError, AuthResult},
    users::{self, Email, EmailState, NewUser},
    AuthState,
};

/// The user behind a provider identity: the linked one, an existing account with the same
/// email if the provider verified it (linked now), or a new user.
pub(super) async fn find_or_create_user(
    state: &AuthState,
    provider: &str,
    upstream: &ProviderUser,
) -> AuthResult<users::User> {
    let pool = &state.pool;
    if let Some(identity) = users::find_identity(pool, provider, &upstream.id).await? {
        users::touch_sign_in(pool, &identity.user_id, Some(&identity.id)).await?;
        return users::find_by_id(pool, &identity.user_id)
            .await?
            .ok_or_else(|| AuthError::internal("identity without user"));
    }
    let email = upstream
        .email
        .as_deref()
        .map(Email::parse)
        .transpose()?
        .ok_or_else(|| {
            AuthError::new(
                StatusCode::BAD_REQUEST,
                "provider_email_needs_verification",
                "The sign-in provider did not share an email address",
            )
        })?;
    if let Some(existing) = users::find_by_email(pool, &email).await? {
        if !upstream.email_verified {
            // Linking on an unverified address would hand the account to whoever typed it in.
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "email_exists",
                "An account with this email exists; sign in to it first",
            ));
        }
        // The provider vouches for the address: a never-verified account is taken over by the
        // address's owner (see `email_proof`), a verified one gains a sign-in method.
        let proof = Proof::Provider {
            name: provider,
            subject: &upstream.id,
            identity_data: &upstream.data,
        };
        email_proof::record(pool, &existing, proof).await?;
        return users::find_by_id(pool, &existing.id)
            .await?
            .ok_or_else(|| AuthError::internal("user vanished while linking"));
    }
    if state.config.disable_signup {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "signup_disabled",
            "Signups not allowed for this instance",
        ));
    }
    users::create(
        pool,
        NewUser {
            email: &email,
            password_hash: None,
            user_metadata: upstream.data.clone(),
            email_state: if upstream.email_verified {
                EmailState::Verified
            } else {
                EmailState::Unconfirmed
            },
            provider,
            provider_id: Some(&upstream.id),
            identity_data: upstream.data.clone(),
        },
    )
    .await
}
