//! Guest chat: "Try it without an account" signs in anonymously and opens the chat; a guest
//! later adds an email address and a password on the account page and becomes an ordinary
//! user with the same id, so their chats stay theirs.

use leptos::{prelude::*, server_fn::ServerFn};

use super::returned_error;
use crate::{auth::context::use_auth, error::AppError, server_form::ServerForm};

/// Signs in as a new guest (an anonymous user) and opens the chat.
#[server(endpoint = "auth/guest")]
pub async fn start_as_guest() -> Result<(), AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let session = sessions
        .client
        .sign_in_anonymously(&actions::client_identity().await)
        .await
        .map_err(actions::user_message)?;
    actions::set_cookies(sessions.jar.store(&session));
    leptos_axum::redirect("/chat");
    Ok(())
}

/// Whether the auth service lets people in as guests.
#[server(endpoint = "auth/guest_offered")]
pub async fn guest_chat_offered() -> Result<bool, AppError> {
    use crate::auth::actions;
    actions::sessions()?
        .client
        .anonymous_sign_ins()
        .await
        .map_err(actions::user_message)
}

/// Gives the signed-in guest an email address and a password (`updateUser`). With
/// confirmation off they are an ordinary user at once, and the session is refreshed now so
/// that its token says so (no more guest quota); otherwise the address is confirmed by the
/// link mailed to it.
#[server(endpoint = "auth/add_email")]
pub async fn add_email(email: String, password: String, confirm: String) -> Result<(), AppError> {
    use crate::{
        auth::actions,
        contract::cookies::{cookie_header, CookieTokens},
    };
    let sessions = actions::sessions()?;
    let user = actions::signed_in_user().await?;
    if !user.claims.is_anonymous {
        return Err(AppError::Refused(
            "Your account has an email address already.".into(),
        ));
    }
    let email = actions::valid_email(&email)?;
    actions::valid_new_password(&password, &confirm)?;
    let client = actions::client_identity().await;
    let updated = sessions
        .client
        .update_user(
            &client,
            &user.access_token,
            serde_json::json!({ "email": email, "password": password }),
        )
        .await
        .map_err(actions::user_message)?;
    if updated["is_anonymous"].as_bool() != Some(false) {
        leptos_axum::redirect("/account?notice=check-email");
        return Ok(());
    }
    let headers: axum::http::HeaderMap = leptos_axum::extract().await.unwrap_or_default();
    let cookies = cookie_header(&headers);
    if let Some(session) = sessions.jar.load::<CookieTokens>(&cookies) {
        match sessions.refresh(&client, &session.refresh_token).await {
            Ok(refreshed) => actions::set_cookies(sessions.jar.store(&refreshed)),
            // The account is saved; the session catches up at its next refresh.
            Err(error) => tracing::warn!(code = error.code(), "refresh after adding an email"),
        }
    }
    leptos_axum::redirect("/account?notice=email-added");
    Ok(())
}

/// "Try it without an account": one button, a plain form post, shown when the service allows
/// guests.
#[component]
pub(super) fn GuestStart() -> impl IntoView {
    let offered = Resource::new(|| (), |_| guest_chat_offered());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                offered.await.unwrap_or(false).then(|| view! {
                    <div class="guest-start">
                        <p class="divider">"or"</p>
                        <ServerForm
                            action=StartAsGuest::url()
                            class="guest-form"
                            label="Try it without an account"
                            pending_label="Starting…"
                            returned_error={returned_error::<StartAsGuest>()}
                        >
                            <p class="hint">
                                "A guest can send a few messages. Add an email address later to keep your chats."
                            </p>
                        </ServerForm>
                    </div>
                })
            })}
        </Suspense>
    }
}

/// For a guest: add an email address and a password to keep the account and its chats.
#[component]
pub(super) fn AddEmailSection() -> impl IntoView {
    let guest = use_auth().signed_in_user().is_some_and(|user| user.guest);
    guest.then(|| {
        view! {
            <section class="add-email" id="add-email">
                <h2>"Keep your chats"</h2>
                <p>
                    "You are using the chat as a guest. Add an email address and a password to "
                    "keep your chats and sign in to them later."
                </p>
                <ServerForm
                    action=AddEmail::url()
                    class="auth-form"
                    label="Save email and password"
                    pending_label="Saving…"
                    button_class="primary"
                    returned_error={returned_error::<AddEmail>()}
                >
                    <label>"Email" <input type="email" name="email" autocomplete="email" required/></label>
                    <label>
                        "Password"
                        <input type="password" name="password" autocomplete="new-password" required/>
                    </label>
                    <label>
                        "Confirm password"
                        <input type="password" name="confirm" autocomplete="new-password" required/>
                    </label>
                </ServerForm>
            </section>
        }
    })
}
