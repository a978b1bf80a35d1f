//! Forgotten and new passwords: the pages and their server functions.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::components::A;

use super::{returned_error, RequireUser};
use crate::{error::AppError, server_form::ServerForm};

#[server(endpoint = "auth/recover")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let email = actions::valid_email(&email)?;
    let (challenge, verifier_cookie) = actions::pkce(&sessions, false);
    let redirect_to = actions::callback_url("/reset-password");
    sessions
        .client
        .recover(
            &actions::client_identity().await,
            &email,
            &redirect_to,
            &challenge,
        )
        .await
        .map_err(actions::user_message)?;
    actions::set_cookies(vec![verifier_cookie]);
    Ok(())
}

/// Whether the password form must ask for the current password: the sign-in is older than the
/// auth service allows for a change without it.
#[server(endpoint = "auth/needs_current_password")]
pub async fn needs_current_password() -> Result<bool, AppError> {
    use crate::auth::actions::{self, ReauthWindow};
    let user = actions::signed_in_user().await?;
    let window = use_context::<ReauthWindow>().ok_or(AppError::Internal)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Ok(window.needs_current_password(&user, now))
}

/// `current_password` is sent only when the form asked for it (an old sign-in).
#[server(endpoint = "auth/password")]
pub async fn update_password(
    password: String,
    confirm_password: String,
    current_password: Option<String>,
) -> Result<(), AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let user = actions::signed_in_user().await?;
    actions::valid_new_password(&password, &confirm_password)?;
    let mut changes = serde_json::json!({ "password": password });
    if let Some(current) = current_password.filter(|current| !current.is_empty()) {
        changes["current_password"] = serde_json::json!(current);
    }
    sessions
        .client
        .update_user(
            &actions::client_identity().await,
            &user.access_token,
            changes,
        )
        .await
        .map_err(actions::user_message)?;
    leptos_axum::redirect("/account?notice=password-changed");
    Ok(())
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    view! {
        <Title text="Reset your password"/>
        <section class="auth-card">
            <h1>"Reset your password"</h1>
            <ServerForm
                action=RequestPasswordReset::url()
                class="auth-form"
                label="Send reset link"
                button_class="primary"
                // The same words whether or not the address has an account.
                notice="If an account exists for that address, we have sent it a link to reset the password."
                returned_error={returned_error::<RequestPasswordReset>()}
            >
                <label>"Email" <input type="email" name="email" autocomplete="email" required/></label>
            </ServerForm>
            <p class="auth-links"><A href="/login">"Back to sign in"</A></p>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    // Decided when the page is rendered; a sign-in that ages past the window while the form is
    // open is told to reload (see `user_message`).
    let needs_current = Resource::new_blocking(|| (), |_| needs_current_password());
    view! {
        <Title text="Choose a new password"/>
        <RequireUser>
            <section class="auth-card">
                <h1>"Choose a new password"</h1>
                <ServerForm
                    action=UpdatePassword::url()
                    class="auth-form"
                    label="Save password"
                    button_class="primary"
                    returned_error={returned_error::<UpdatePassword>()}
                >
                    <Suspense fallback=|| ()>
                        {move || needs_current.get().and_then(|needs| matches!(needs, Ok(true)).then(|| view! {
                            <label>
                                "Current password"
                                <input type="password" name="current_password" autocomplete="current-password" required/>
                            </label>
                            <p class="form-hint">
                                "You signed in a while ago, so we ask for it again. Never set a password? Sign out, sign in again, and set it right away."
                            </p>
                        }))}
                    </Suspense>
                    <label>
                        "New password"
                        <input type="password" name="password" autocomplete="new-password" required/>
                    </label>
                    <label>
                        "Confirm password"
                        <input type="password" name="confirm_password" autocomplete="new-password" required/>
                    </label>
                </ServerForm>
            </section>
        </RequireUser>
    }
}
