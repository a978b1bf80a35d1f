//! The sign-in page and its server function.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::components::A;

use super::{
    guest::GuestStart, next_from_query, oauth::OAuthChoices, returned_error, with_next, Banner,
};
use crate::{error::AppError, server_form::ServerForm};

#[server(endpoint = "auth/login")]
pub async fn login(email: String, password: String, next: String) -> Result<(), AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let email = actions::valid_email(&email)?;
    if password.is_empty() {
        return Err(AppError::Refused("Please enter your password.".into()));
    }
    let session = sessions
        .client
        .sign_in_with_password(&actions::client_identity().await, &email, &password)
        .await
        .map_err(actions::user_message)?;
    actions::set_cookies(sessions.jar.store(&session));
    leptos_axum::redirect(&actions::next_path(&next));
    Ok(())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let next = next_from_query();
    let next_field = next.clone();
    view! {
        <Title text="Sign in"/>
        <section class="auth-card">
            <h1>"Sign in"</h1>
            <Banner/>
            <ServerForm
                action=Login::url()
                class="auth-form"
                label="Sign in"
                pending_label="Signing in…"
                button_class="primary"
                returned_error={returned_error::<Login>()}
            >
                <input type="hidden" name="next" value=next_field/>
                <label>"Email" <input type="email" name="email" autocomplete="email" required/></label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required/>
                </label>
            </ServerForm>
            <OAuthChoices next=next.clone()/>
            <GuestStart/>
            <p class="auth-links">
                <A href="/forgot-password">"Forgot your password?"</A>
                " · "
                <A href=with_next("/signup", &next)>"Create an account"</A>
            </p>
        </section>
    }
}
