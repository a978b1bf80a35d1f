//! Sign-up and the signed-in user's own endpoints: `/signup`, `/user`, `/logout`, `/sessions`.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    anonymous,
    crypto::{random_token, sha256},
    email_flows::{self, send_link},
    error::{AuthError, AuthResult},
    flow, mfa, now, password,
    reauthentication::{self, Change, Proof},
    redirect,
    request::{Authenticated, Body, Client, RedirectQuery},
    rfc3339,
    sessions::{self, LogoutScope, SignInMethod},
    unsupported,
    users::{self, Email, EmailState, NewUser, TokenColumn},
    AuthState,
};

#[derive(Deserialize)]
pub struct SignupBody {
    email: Option<String>,
    /// Tells an anonymous sign-up (neither address nor phone) apart; a phone sign-up is refused
    /// with GoTrue's `phone_provider_disabled`.
    phone: Option<String>,
    password: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// `POST /signup`: with autoconfirm, a session at once; otherwise a confirmation link. Without
/// an address or phone: an anonymous user (GoTrue ignores a password given alone).
pub async fn signup(
    State(state): State<AuthState>,
    Query(query): Query<RedirectQuery>,
    client: Client,
    Body(body): Body<SignupBody>,
) -> AuthResult<Response> {
    let blank = |field: &Option<String>| field.as_deref().is_none_or(|v| v.trim().is_empty());
    if blank(&body.email) && blank(&body.phone) {
        return anonymous::sign_up(&state, &client, body.data).await;
    }
    let config = &state.config;
    if body.phone.as_deref().is_some_and(|phone| !phone.is_empty()) {
        return Err(unsupported::phone_disabled(
            StatusCode::BAD_REQUEST,
            "Phone signups are disabled",
        ));
    }
    if config.disable_signup {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "signup_disabled",
            "Signups not allowed for this instance",
        ));
    }
    state.limit_sign_in(&client).await?;
    let email = body
        .email
        .filter(|email| !email.trim().is_empty())
        .ok_or_else(|| AuthError::validation("To signup, please provide your email"))?;
    let email = Email::parse(&email)?;
    let password = body
        .password
        .ok_or_else(|| AuthError::validation("Signup requires a valid password"))?;
    let password = password::normalise(&password);
    password::check_new(&password, config.password_min_length)?;
    let metadata = match body.data {
        None | Some(Value::Null) => json!({}),
        Some(data) => {
            users::check_user_metadata(&data)?;
            data
        }
    };
    if let Some(challenge) = &body.code_challenge {
        flow::check_challenge(challenge, body.code_challenge_method.as_deref())?;
    }
    state.limit_attempts_on(&client, email.as_str()).await?;

    if let Some(existing) = users::find_by_email(&state.pool, &email).await? {
        if config.autoconfirm {
            return Err(users::user_already_exists());
        }
        // With confirmation on, answer exactly as for a new address, so sign-up does not tell
        // who has an account. An unconfirmed owner gets a fresh link.
        if existing.email_confirmed_at.is_none() {
            send_confirmation(
                &state,
                &existing.id,
                existing.email.as_str(),
                &query,
                &body.code_challenge,
            )
            .await?;
        }
        return Ok(Json(obfuscated_user(&email, &metadata)).into_response());
    }

    let user = users::create(
        &state.pool,
        NewUser {
            email: &email,
            password_hash: Some(state.passwords.hash(password).await?),
            user_metadata: metadata,
            // Autoconfirm lets the person in at once; it proves nothing about the address.
            email_state: if config.autoconfirm {
                EmailState::Confirmed
            } else {
                EmailState::Unconfirmed
            },
            provider: "email",
            provider_id: None,
            identity_data: json!({ "email_verified": false, "phone_verified": false }),
        },
    )
    .await?;
    if config.autoconfirm {
        let session = sessions::start(&state, user, SignInMethod::Password, &client).await?;
        let identities = users::identities(&state.pool, &session.user.id).await?;
        return Ok(Json(session.to_json(&identities)).into_response());
    }
    send_confirmation(&state, &user.id, &user.email, &query, &body.code_challenge).await?;
    let user = users::find_by_id(&state.pool, &user.id)
        .await?
        .unwrap_or(user);
    let identities = users::identities(&state.pool, &user.id).await?;
    Ok(Json(user.to_json(&identities)).into_response())
}

/// Mails the user a sign-up confirmation link (with a PKCE flow if the client sent a challenge).
pub(super) async fn send_confirmation(
    state: &AuthState,
    user_id: &str,
    email: &str,
    query: &RedirectQuery,
    code_challenge: &Option<String>,
) -> AuthResult<()> {
    let redirect_to = redirect::resolve(&state.config, query.redirect_to.as_deref());
    if let Some(challenge) = code_challenge {
        flow::create(
            &state.pool,
            flow::NewFlow {
                code_challenge: challenge,
                provider: "email",
                method: "signup",
                redirect_to: redirect_to.as_str(),
                oauth_state_hash: None,
                provider_verifier: None,
                user_id: Some(user_id),
            },
        )
        .await?;
    }
    let token = random_token();
    users::set_token(
        &state.pool,
        user_id,
        TokenColumn::Confirmation,
        &sha256(token.as_bytes()),
    )
    .await?;
    send_link(
        state,
        email,
        "Confirm your signup",
        "Follow this link to confirm your email address:",
        &token,
        "signup",
        &redirect_to,
    )
    .await
}

/// What sign-up returns for an address that already has an account, when confirmation is on.
fn obfuscated_user(email: &Email, metadata: &Value) -> Value {
    let at = rfc3339(now());
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "aud": "authenticated",
        "role": "authenticated",
        "email": email.as_str(),
        "phone": "",
        "confirmation_sent_at": at,
        "app_metadata": { "provider": "email", "providers": ["email"] },
        "user_metadata": metadata,
        "identities": [],
        "created_at": at,
        "updated_at": at,
        "is_anonymous": false,
    })
}

/// `GET /user`.
pub async fn get_user(
    State(state): State<AuthState>,
    auth: Authenticated,
) -> AuthResult<Json<Value>> {
    let identities = users::identities(&state.pool, &auth.user.id).await?;
    let factors = mfa::list(&state.pool, &auth.user.id).await?;
    Ok(Json(mfa::with_factors(
        auth.user.to_json(&identities),
        &factors,
    )))
}

#[derive(Deserialize)]
pub struct UpdateUserBody {
    email: Option<String>,
    password: Option<String>,
    data: Option<Value>,
    /// Proves the person when the sign-in is too old for a password or email change.
    current_password: Option<String>,
    /// A code from `GET /reauthenticate`, the other proof.
    nonce: Option<String>,
}

/// `PUT /user`: metadata, password, email. Everything is checked before anything is written, so
/// a refused request changes nothing.
pub async fn update_user(
    State(state): State<AuthState>,
    Query(query): Query<RedirectQuery>,
    client: Client,
    auth: Authenticated,
    Body(body): Body<UpdateUserBody>,
) -> AuthResult<Json<Value>> {
    let user = &auth.user;
    let pool = &state.pool;
    let metadata = body
        .data
        .as_ref()
        .map(|data| users::merged_user_metadata(user, data))
        .transpose()?;
    let new_password = body
        .password
        .as_deref()
        .map(|new_password| {
            let new_password = password::normalise(new_password);
            password::check_new(&new_password, state.config.password_min_length)
                .map(|()| new_password)
        })
        .transpose()?;
    let new_email = match body.email.as_deref() {
        Some(new_email) => Some(Email::parse(new_email)?).filter(|e| e.as_str() != user.email),
        None => None,
    };
    if user.is_anonymous() && new_password.is_some() && new_email.is_none() {
        // GoTrue's rule: a password alone would be one nobody could ever sign in with.
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Updating password of an anonymous user without an email or phone is not allowed",
        ));
    }
    let change = match (&new_password, &new_email) {
        (Some(_), _) => Some(Change::Password),
        (None, Some(_)) => Some(Change::Email),
        (None, None) => None,
    };
    if change.is_some()
        && auth.session.aal != "aal2"
        && mfa::has_verified_factor(pool, &user.id).await?
    {
        // GoTrue's rule: with a second factor, the first alone cannot take the account over.
        return Err(AuthError::new(
            StatusCode::UNAUTHORIZED,
            "insufficient_aal",
            "AAL2 session is required to update email or password when MFA is enabled.",
        ));
    }
    // A guest has neither a password nor an address to prove itself with, and holding its
    // session already is holding the whole account: adding credentials needs no re-proof.
    if let Some(change) = change.filter(|_| !user.is_anonymous()) {
        let proof = Proof {
            current_password: body.current_password.as_deref(),
            nonce: body.nonce.as_deref(),
        };
        reauthentication::require(&state, &client, &auth, proof, change).await?;
    }
    if let Some(new_password) = &new_password {
        if state
            .passwords
            .verify(new_password.clone(), user.encrypted_password.clone())
            .await?
        {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "same_password",
                "New password should be different from the old password.",
            ));
        }
    }
    if let Some(new_email) = &new_email {
        if users::find_by_email(pool, new_email).await?.is_some() {
            return Err(users::email_exists());
        }
        // Counted before anything changes: the change mails the old address, and without
        // autoconfirm the new one too.
        // A guest has no old address to tell.
        let mut addresses: Vec<&str> = Some(user.email.as_str())
            .filter(|old| !old.is_empty())
            .into_iter()
            .collect();
        if !state.config.autoconfirm {
            addresses.push(new_email.as_str());
        }
        email_flows::limit_email_to(&state, &client, &addresses).await?;
    }

    if let Some(metadata) = &metadata {
        users::set_user_metadata(pool, &user.id, metadata).await?;
    }
    if let Some(new_password) = new_password {
        let hash = state.passwords.hash(new_password).await?;
        users::change_password(pool, &user.id, &auth.claims.session_id, &hash).await?;
    }
    if let Some(new_email) = new_email {
        let redirect_to = redirect::resolve(&state.config, query.redirect_to.as_deref());
        change_email(&state, user, &new_email, &redirect_to).await?;
    }
    let user = users::find_by_id(pool, &user.id)
        .await?
        .ok_or_else(|| AuthError::internal("user vanished during update"))?;
    let identities = users::identities(pool, &user.id).await?;
    let factors = mfa::list(pool, &user.id).await?;
    Ok(Json(mfa::with_factors(user.to_json(&identities), &factors)))
}

/// Changes the address at once (autoconfirm; the new address is then unverified) or mails a
/// confirmation link to it. Either way the old address is told, so that its owner learns of a
/// change they did not make.
async fn change_email(
    state: &AuthState,
    user: &users::User,
    new_email: &Email,
    redirect_to: &url::Url,
) -> AuthResult<()> {
    let (subject, body) = if state.config.autoconfirm {
        users::apply_email_change(&state.pool, &user.id, new_email.as_str(), false).await?;
        (
            "Your email address was changed",
            format!(
                "The email address of your account was changed to {new_email}.\r\n\r\nIf this \
                 wasn't you, someone else may have access to your account: contact the site's \
                 administrators at once.\r\n",
                new_email = new_email.as_str()
            ),
        )
    } else {
        send_email_change_link(state, &user.id, new_email, redirect_to).await?;
        (
            "Your email address is about to change",
            format!(
                "Someone signed in to your account asked to change its email address to \
                 {new_email}. It changes when the link sent there is followed.\r\n\r\nIf this \
                 wasn't you, sign in and change your password: that cancels the change.\r\n",
                new_email = new_email.as_str()
            ),
        )
    };
    if user.email.is_empty() {
        // A guest adding its first address: there is no old address to tell.
        return Ok(());
    }
    // The change stands even if the notice cannot be sent; the failure is logged.
    if let Err(error) = state.mailer.send(&user.email, subject, &body).await {
        tracing::warn!(error = %error.msg, "email change notice failed");
    }
    Ok(())
}

/// Records a pending change of the user's address to `new_email` (replacing any earlier one)
/// and mails the new address its confirmation link.
pub(super) async fn send_email_change_link(
    state: &AuthState,
    user_id: &str,
    new_email: &Email,
    redirect_to: &url::Url,
) -> AuthResult<()> {
    let token = random_token();
    users::request_email_change(&state.pool, user_id, new_email, &sha256(token.as_bytes())).await?;
    send_link(
        state,
        new_email.as_str(),
        "Confirm your new email address",
        "Follow this link to confirm the change of your email address:",
        &token,
        "email_change",
        redirect_to,
    )
    .await
}

#[derive(Deserialize)]
pub struct LogoutQuery {
    scope: Option<String>,
}

/// `POST /logout?scope=global|local|others`: 204.
pub async fn logout(
    State(state): State<AuthState>,
    Query(query): Query<LogoutQuery>,
    auth: Authenticated,
) -> AuthResult<StatusCode> {
    let scope = LogoutScope::parse(query.scope.as_deref())?;
    sessions::logout(&state.pool, &auth.user.id, &auth.claims.session_id, scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /sessions`: the user's sessions, for the account page (not in GoTrue's public API).
pub async fn list_sessions(
    State(state): State<AuthState>,
    auth: Authenticated,
) -> AuthResult<Json<Value>> {
    let sessions = sessions::list(&state.pool, &auth.user.id).await?;
    Ok(Json(json!(sessions
        .iter()
        .map(|session| session.to_json(&auth.claims.session_id))
        .collect::<Vec<_>>())))
}

/// `DELETE /sessions/{id}`: signs one of the user's sessions out.
pub async fn revoke_session(
    State(state): State<AuthState>,
    Path(session_id): Path<String>,
    auth: Authenticated,
) -> AuthResult<StatusCode> {
    if sessions::revoke(&state.pool, &auth.user.id, &session_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AuthError::new(
            StatusCode::NOT_FOUND,
            "session_not_found",
            "Session not found",
        ))
    }
}

/// `DELETE /user`: the signed-in user deletes their own account, with every session and
/// identity (not in GoTrue's public API, where only admins delete users).
pub async fn delete_user(
    State(state): State<AuthState>,
    auth: Authenticated,
) -> AuthResult<StatusCode> {
    state.delete_user(&auth.user.id).await?;
    tracing::info!(user_id = %auth.user.id, "account deleted by its owner");
    Ok(StatusCode::NO_CONTENT)
}
