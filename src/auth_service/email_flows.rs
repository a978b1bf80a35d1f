//! Email links: `/recover`, `/otp` (magic link) and `/verify`, which redeems every kind of link.

use std::time::Duration;

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

use super::{
    crypto::{random_token, sha256},
    email_proof::{self, Proof},
    error::{AuthError, AuthResult},
    flow, now,
    rate_limit::Bucket,
    redirect,
    request::{Body, Client, RedirectQuery},
    sessions::{self, IssuedSession, SignInMethod},
    unsupported,
    users::{self, Email, EmailState, NewUser, TokenColumn, User},
    AuthState,
};

/// How long an emailed link works.
const LINK_LIFETIME: Duration = Duration::from_secs(3600);

/// Mails a `/verify` link carrying `token`.
pub(super) async fn send_link(
    state: &AuthState,
    to: &str,
    subject: &str,
    text: &str,
    token: &str,
    kind: &str,
    redirect_to: &Url,
) -> AuthResult<()> {
    let link = action_link(state, token, kind, redirect_to)?;
    let body = format!("{text}\r\n\r\n{link}\r\n");
    state.mailer.send(to, subject, &body).await
}

/// The `/verify` link that redeems `token` as a link of `kind`.
pub(super) fn action_link(
    state: &AuthState,
    token: &str,
    kind: &str,
    redirect_to: &Url,
) -> AuthResult<Url> {
    let mut link =
        Url::parse(&format!("{}/verify", state.config.issuer())).map_err(AuthError::internal)?;
    link.query_pairs_mut()
        .append_pair("token", token)
        .append_pair("type", kind)
        .append_pair("redirect_to", redirect_to.as_str());
    Ok(link)
}

#[derive(Deserialize)]
pub struct EmailBody {
    email: Option<String>,
    /// Phone OTPs are not offered: refused with GoTrue's `phone_provider_disabled`.
    phone: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    #[serde(default = "yes")]
    create_user: bool,
    data: Option<Value>,
}

fn yes() -> bool {
    true
}

/// Counts one request that mails each of `addresses`: against the client's budget (per IP, per
/// five minutes) and each address's (per hour), so nobody can flood a mailbox.
pub(super) async fn limit_email_to(
    state: &AuthState,
    client: &Client,
    addresses: &[&str],
) -> AuthResult<()> {
    state
        .limiter
        .check(Bucket::EmailIp, &client.rate_limit_key())
        .await?;
    for address in addresses {
        state.limiter.check(Bucket::EmailAddress, address).await?;
    }
    Ok(())
}

/// The address a request must name: GoTrue's 400 without one, its error for a malformed one.
pub(super) fn required_email(raw: Option<&str>) -> AuthResult<Email> {
    let raw = raw
        .filter(|email| !email.trim().is_empty())
        .ok_or_else(|| AuthError::validation("An email address is required"))?;
    Ok(Email::parse(raw)?)
}

/// Checks the request and the limits of an email-sending endpoint.
async fn accept_email_request(
    state: &AuthState,
    client: &Client,
    body: &EmailBody,
) -> AuthResult<Email> {
    let email = required_email(body.email.as_deref())?;
    if let Some(challenge) = &body.code_challenge {
        flow::check_challenge(challenge, body.code_challenge_method.as_deref())?;
    }
    limit_email_to(state, client, &[email.as_str()]).await?;
    Ok(email)
}

/// `POST /recover`: mails a recovery link if the address has an account. The answer is the same
/// either way, and comes before any mail work, so neither body nor timing tells.
pub async fn recover(
    State(state): State<AuthState>,
    Query(query): Query<RedirectQuery>,
    client: Client,
    Body(body): Body<EmailBody>,
) -> AuthResult<Json<Value>> {
    let email = accept_email_request(&state, &client, &body).await?;
    let redirect_to = redirect::resolve(&state.config, query.redirect_to.as_deref());
    tokio::spawn(async move {
        if let Err(error) = mail_existing_user(
            &state,
            &email,
            "recovery",
            &redirect_to,
            body.code_challenge,
        )
        .await
        {
            tracing::warn!(error = %error.msg, "recovery mail failed");
        }
    });
    Ok(Json(json!({})))
}

/// `POST /otp`: mails a magic link; with `create_user` (the default) a new address gets an
/// account first, unless sign-ups are off. Same answer whether or not the address existed.
/// Without a PKCE challenge it is refused unless the implicit flow is on.
pub async fn otp(
    State(state): State<AuthState>,
    Query(query): Query<RedirectQuery>,
    client: Client,
    Body(body): Body<EmailBody>,
) -> AuthResult<Json<Value>> {
    if body.phone.as_deref().is_some_and(|phone| !phone.is_empty()) {
        return Err(unsupported::phone_disabled(
            StatusCode::BAD_REQUEST,
            "Unsupported phone provider",
        ));
    }
    // A magic link signs in: without PKCE, its session could only travel in a URL.
    flow::require_pkce(&state.config, body.code_challenge.as_deref())?;
    if let Some(data) = body.data.as_ref().filter(|data| !data.is_null()) {
        users::check_user_metadata(data)?;
    }
    let email = accept_email_request(&state, &client, &body).await?;
    let redirect_to = redirect::resolve(&state.config, query.redirect_to.as_deref());
    tokio::spawn(async move {
        let result = async {
            if users::find_by_email(&state.pool, &email).await?.is_none() {
                if !body.create_user || state.config.disable_signup {
                    return Ok(());
                }
                let metadata = body
                    .data
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!({}));
                users::create(
                    &state.pool,
                    NewUser {
                        email: &email,
                        password_hash: None,
                        user_metadata: metadata,
                        email_state: EmailState::Unconfirmed,
                        provider: "email",
                        provider_id: None,
                        identity_data: json!({ "email_verified": false, "phone_verified": false }),
                    },
                )
                .await?;
            }
            mail_existing_user(
                &state,
                &email,
                "magiclink",
                &redirect_to,
                body.code_challenge,
            )
            .await
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(error = %error.msg, "magic link mail failed");
        }
    });
    Ok(Json(json!({})))
}

async fn mail_existing_user(
    state: &AuthState,
    email: &Email,
    kind: &str,
    redirect_to: &Url,
    code_challenge: Option<String>,
) -> AuthResult<()> {
    let Some(user) = users::find_by_email(&state.pool, email).await? else {
        return Ok(());
    };
    if let Some(challenge) = &code_challenge {
        flow::create(
            &state.pool,
            flow::NewFlow {
                code_challenge: challenge,
                provider: "email",
                method: kind,
                redirect_to: redirect_to.as_str(),
                oauth_state_hash: None,
                provider_verifier: None,
                user_id: Some(&user.id),
            },
        )
        .await?;
    }
    let token = random_token();
    users::set_token(
        &state.pool,
        &user.id,
        TokenColumn::Recovery,
        &sha256(token.as_bytes()),
    )
    .await?;
    let (subject, text) = match kind {
        "recovery" => (
            "Reset your password",
            "Follow this link to reset your password:",
        ),
        _ => ("Your magic link", "Follow this link to sign in:"),
    };
    send_link(state, &user.email, subject, text, &token, kind, redirect_to).await
}

fn link_invalid() -> AuthError {
    AuthError::new(
        StatusCode::FORBIDDEN,
        "otp_expired",
        "Email link is invalid or has expired",
    )
}

/// Redeems a link token of `kind`: the user it belongs to, with the link's effect applied.
async fn redeem(state: &AuthState, kind: &str, token: &str) -> AuthResult<(User, SignInMethod)> {
    const CONFIRMATION: (TokenColumn, SignInMethod) =
        (TokenColumn::Confirmation, SignInMethod::EmailSignup);
    const MAGIC_LINK: (TokenColumn, SignInMethod) =
        (TokenColumn::Recovery, SignInMethod::MagicLink);
    let candidates: &[(TokenColumn, SignInMethod)] = match kind {
        "signup" | "invite" => &[CONFIRMATION],
        "recovery" => &[(TokenColumn::Recovery, SignInMethod::Recovery)],
        "magiclink" => &[MAGIC_LINK],
        "email_change" => &[(TokenColumn::EmailChange, SignInMethod::EmailSignup)],
        // GoTrue's `email` type: the token of a sign-up confirmation or of a magic link.
        "email" => &[CONFIRMATION, MAGIC_LINK],
        _ => return Err(AuthError::validation("Unsupported verification type")),
    };
    let mut redeemed = None;
    for &(column, method) in candidates {
        let hash = sha256(token.as_bytes());
        if let Some(user) = users::redeem_token(&state.pool, column, &hash).await? {
            redeemed = Some((user, column, method));
            break;
        }
    }
    let (user, column, method) = redeemed.ok_or_else(link_invalid)?;
    let sent_at = match column {
        TokenColumn::Confirmation => user.confirmation_sent_at,
        TokenColumn::Recovery => user.recovery_sent_at,
        TokenColumn::EmailChange => user.email_change_sent_at,
    };
    if sent_at.is_none_or(|sent| now() - sent > LINK_LIFETIME.as_secs() as i64) {
        return Err(link_invalid());
    }
    // Following any emailed link proves the address it was sent to.
    match column {
        TokenColumn::EmailChange => {
            let new_email = user.email_change.clone().ok_or_else(link_invalid)?;
            users::apply_email_change(&state.pool, &user.id, &new_email, true).await?;
        }
        TokenColumn::Confirmation => {
            email_proof::record(&state.pool, &user, Proof::ConfirmationLink).await?;
        }
        TokenColumn::Recovery => email_proof::record(&state.pool, &user, Proof::SignInLink).await?,
    }
    let user = users::find_by_id(&state.pool, &user.id)
        .await?
        .ok_or_else(link_invalid)?;
    Ok((user, method))
}

#[derive(Deserialize)]
pub struct VerifyLinkQuery {
    token: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    redirect_to: Option<String>,
}

/// `GET /verify`: the link in the email. Redirects to `redirect_to` with `?code=` when the
/// client started a PKCE flow. Without one, the implicit flow (if switched on) puts the session
/// in the URL fragment; when it is off, no token goes into a URL: the link's effect is applied
/// (the address confirmed and verified) and the browser lands on `redirect_to?verified=<type>`,
/// the sign for the site to ask the person to sign in. Errors come back in the fragment.
pub async fn verify_link(
    State(state): State<AuthState>,
    Query(query): Query<VerifyLinkQuery>,
    client: Client,
) -> Response {
    let target = redirect::resolve(&state.config, query.redirect_to.as_deref());
    if let Err(error) = state.limit_sign_in(&client).await {
        return error.into_response();
    }
    let kind = query.kind.unwrap_or_default();
    let redeemed = match query.token.as_deref() {
        Some(token) => redeem(&state, &kind, token).await,
        None => Err(link_invalid()),
    };
    let (user, method) = match redeemed {
        Ok(redeemed) => redeemed,
        Err(error) => return redirect_with_error(target, &error, true),
    };
    let flow_kind = if kind == "email_change" {
        "signup"
    } else {
        kind.as_str()
    };
    let result = async {
        if let Some(flow_id) = flow::pending_for_user(&state.pool, &user.id, flow_kind).await? {
            let code = flow::issue_code(&state.pool, &flow_id, &user.id).await?;
            let mut target = target.clone();
            target.query_pairs_mut().append_pair("code", &code);
            return Ok::<_, AuthError>(target);
        }
        if !state.config.implicit_flow {
            let mut target = target.clone();
            target.query_pairs_mut().append_pair("verified", &kind);
            return Ok(target);
        }
        let session = sessions::start(&state, user, method, &client).await?;
        Ok(with_fragment(target.clone(), &session, &kind))
    }
    .await;
    match result {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(error) => redirect_with_error(target, &error, true),
    }
}

fn with_fragment(mut target: Url, session: &IssuedSession, kind: &str) -> Url {
    let fragment = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(session.to_params(kind))
        .finish();
    target.set_fragment(Some(&fragment));
    target
}

/// Sends the browser back with GoTrue's error parameters, in the fragment or the query.
pub(super) fn redirect_with_error(
    mut target: Url,
    error: &AuthError,
    in_fragment: bool,
) -> Response {
    let kind = if error.status.is_server_error() {
        "server_error"
    } else {
        "access_denied"
    };
    let pairs = [
        ("error", kind),
        ("error_code", error.code),
        ("error_description", error.msg.as_ref()),
    ];
    if in_fragment {
        let fragment = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        target.set_fragment(Some(&fragment));
    } else {
        target.query_pairs_mut().extend_pairs(pairs);
    }
    Redirect::to(target.as_str()).into_response()
}

#[derive(Deserialize)]
pub struct VerifyBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    token: Option<String>,
    token_hash: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

/// `POST /verify`: redeems a link token (`token_hash`, or `token` with the `email` it was sent
/// to) and answers with the session. Checks and messages in GoTrue's order; a wrong or used
/// `token` is GoTrue's "Token has expired or is invalid", a `token_hash` its "Email link is
/// invalid or has expired" (both 403 `otp_expired`).
pub async fn verify(
    State(state): State<AuthState>,
    client: Client,
    Body(body): Body<VerifyBody>,
) -> AuthResult<Json<Value>> {
    let given = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.is_empty());
    let kind = body
        .kind
        .clone()
        .filter(|kind| !kind.is_empty())
        .ok_or_else(|| AuthError::validation("Verify requires a verification type"))?;
    if given(&body.token) == given(&body.token_hash) {
        return Err(AuthError::validation(
            "Verify requires either a token or a token hash",
        ));
    }
    if given(&body.phone) || kind == "sms" || kind == "phone_change" {
        return Err(unsupported::phone_disabled(
            StatusCode::BAD_REQUEST,
            "Phone logins are disabled",
        ));
    }
    // An OTP-style request names the address; a token hash stands alone.
    let (token, expired) = if given(&body.token_hash) {
        if given(&body.email) {
            return Err(AuthError::validation(
                "Only the token_hash and type should be provided",
            ));
        }
        (body.token_hash.unwrap_or_default(), link_invalid())
    } else {
        // GoTrue needs the address to find a six-digit code; this service's tokens are unique
        // on their own, so the address is optional, but checked when given.
        if let Some(email) = body.email.as_deref().filter(|e| !e.is_empty()) {
            Email::parse(email).map_err(|_| {
                AuthError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "Invalid email format",
                )
            })?;
        }
        let expired = AuthError::new(
            StatusCode::FORBIDDEN,
            "otp_expired",
            "Token has expired or is invalid",
        );
        (body.token.unwrap_or_default(), expired)
    };
    state.limit_sign_in(&client).await?;
    let (user, method) = redeem(&state, &kind, &token)
        .await
        .map_err(|error| match error.code {
            "otp_expired" => expired,
            _ => error,
        })?;
    let session = sessions::start(&state, user, method, &client).await?;
    let identities = users::identities(&state.pool, &session.user.id).await?;
    Ok(Json(session.to_json(&identities)))
}
