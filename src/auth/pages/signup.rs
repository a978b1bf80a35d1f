//! The sign-up page and its server function.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use super::{next_from_query, oauth::OAuthChoices, returned_error, with_next};
use crate::{error::AppError, server_form::ServerForm};

#[server(endpoint = "auth/signup")]
pub async fn signup(
    email: String,
    password: String,
    confirm_password: String,
    next: String,
) -> Result<SignupOutcome, AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let email = actions::valid_email(&email)?;
    actions::valid_new_password(&password, &confirm_password)?;
    let (challenge, verifier_cookie) = actions::pkce(&sessions, false);
    let redirect_to = actions::callback_url(&actions::next_path(&next));
    match sessions
        .client
        .sign_up(
            &actions::client_identity().await,
            &email,
            &password,
            &redirect_to,
            &challenge,
        )
        .await
        .map_err(actions::user_message)?
    {
        crate::auth::client::SignUp::Session(session) => {
            actions::set_cookies(sessions.jar.store(&session));
            leptos_axum::redirect(&actions::next_path(&next));
            Ok(SignupOutcome::SignedIn)
        }
        crate::auth::client::SignUp::ConfirmationSent => {
            actions::set_cookies(vec![verifier_cookie]);
            Ok(SignupOutcome::CheckEmail)
        }
    }
}

/// What sign-up led to, for the page to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignupOutcome {
    SignedIn,
    CheckEmail,
}

/// The shortest password the auth service accepts, when the app knows it: the browser's hint.
/// The page is rendered on the server only.
fn min_password_length() -> Option<usize> {
    #[cfg(feature = "ssr")]
    {
        crate::auth::actions::password_min_length()
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let next = next_from_query();
    let next_field = next.clone();
    view! {
        <Title text="Sign up"/>
        <section class="auth-card">
            <h1>"Create your account"</h1>
            <ServerForm
                action=Signup::url()
                class="auth-form"
                label="Sign up"
                pending_label="Creating account…"
                button_class="primary"
                // A success without a redirect is an address to confirm (CheckEmail).
                notice="Check your email: we have sent you a link to confirm your address."
                returned_error={returned_error::<Signup>()}
            >
                <input type="hidden" name="next" value=next_field/>
                <label>"Email" <input type="email" name="email" autocomplete="email" required/></label>
                <label>
                    "Password"
                    <input
                        type="password"
                        name="password"
                        autocomplete="new-password"
                        minlength=min_password_length().map(|min| min.to_string())
                        required
                    />
                </label>
                <label>
                    "Confirm password"
                    <input type="password" name="confirm_password" autocomplete="new-password" required/>
                </label>
            </ServerForm>
            <OAuthChoices next=next.clone()/>
            <p class="auth-links">
                "Already have an account? "
                <A href=with_next("/login", &next)>"Sign in"</A>
            </p>
        </section>
    }
}
