//! `POST /resend`: mails a sign-up confirmation or an email-change link again.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    account, email_flows,
    error::{AuthError, AuthResult},
    flow, redirect,
    request::{Body, Client, RedirectQuery},
    unsupported,
    users::{self, Email},
    AuthState,
};

#[derive(Deserialize)]
pub struct ResendBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// `POST /resend` with `type` `signup` (the address is still unconfirmed) or `email_change` (a
/// change is pending). The answer is 200 `{}` whether or not there was anything to send, and
/// comes before any mail work, so neither body nor timing tells who has an account.
pub async fn resend(
    State(state): State<AuthState>,
    Query(query): Query<RedirectQuery>,
    client: Client,
    Body(body): Body<ResendBody>,
) -> AuthResult<Json<Value>> {
    let given = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.is_empty());
    let kind = body.kind.clone().unwrap_or_default();
    match kind.as_str() {
        "signup" | "email_change" => {}
        "sms" | "phone_change" => {
            return Err(unsupported::phone_disabled(
                StatusCode::BAD_REQUEST,
                "Phone logins are disabled",
            ))
        }
        _ => {
            return Err(AuthError::validation(
                "Missing one of these types: signup, email_change, sms, phone_change",
            ))
        }
    }
    if given(&body.phone) {
        return Err(AuthError::validation(if given(&body.email) {
            "Only an email address or phone number should be provided."
        } else {
            "Type provided requires an email address"
        }));
    }
    let email = body
        .email
        .as_deref()
        .filter(|email| !email.is_empty())
        .ok_or_else(|| AuthError::validation("Type provided requires an email address"))?;
    let email = Email::parse(email)?;
    if let Some(challenge) = &body.code_challenge {
        flow::check_challenge(challenge, body.code_challenge_method.as_deref())?;
    }
    email_flows::limit_email_to(&state, &client, &[email.as_str()]).await?;
    let redirect_to = redirect::resolve(&state.config, query.redirect_to.as_deref());
    tokio::spawn(async move {
        let result = async {
            let Some(user) = users::find_by_email(&state.pool, &email).await? else {
                return Ok(());
            };
            match (kind.as_str(), &user.email_change) {
                ("signup", _) if user.email_confirmed_at.is_none() => {
                    account::send_confirmation(
                        &state,
                        &user.id,
                        &user.email,
                        &query,
                        &body.code_challenge,
                    )
                    .await
                }
                ("email_change", Some(new_email)) => {
                    let new_email = Email::parse(new_email)?;
                    account::send_email_change_link(&state, &user.id, &new_email, &redirect_to)
                        .await
                }
                _ => Ok(()),
            }
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(error = %error.msg, "resend failed");
        }
    });
    Ok(Json(json!({})))
}
