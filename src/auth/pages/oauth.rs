//! The OAuth buttons and the server functions that list providers and start a sign-in.

use leptos::{prelude::*, server_fn::ServerFn};

use super::returned_error;
use crate::{error::AppError, server_form::ServerForm};

/// Starts an OAuth sign-in: the PKCE verifier goes into an HttpOnly cookie, the browser to the
/// provider through the auth service.
#[server(endpoint = "auth/oauth")]
pub async fn start_oauth(provider: String, next: String) -> Result<(), AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let enabled = sessions
        .client
        .enabled_providers()
        .await
        .map_err(actions::user_message)?;
    if !enabled.contains(&provider) {
        return Err(AppError::Refused(
            "That sign-in provider is not available.".into(),
        ));
    }
    let (challenge, verifier_cookie) = actions::pkce(&sessions, true);
    actions::set_cookies(vec![verifier_cookie]);
    let redirect_to = actions::callback_url(&actions::next_path(&next));
    leptos_axum::redirect(
        &sessions
            .client
            .authorize_url(&provider, &redirect_to, &challenge),
    );
    Ok(())
}

/// The OAuth providers the auth service has switched on.
#[server(endpoint = "auth/providers")]
pub async fn oauth_providers() -> Result<Vec<String>, AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    sessions
        .client
        .enabled_providers()
        .await
        .map_err(actions::user_message)
}

/// One button per provider the auth service reports enabled; nothing if there are none.
#[component]
pub(super) fn OAuthChoices(next: String) -> impl IntoView {
    // Asked on the server while it renders: the browser gets the buttons as HTML.
    let providers = Resource::new(|| (), |_| oauth_providers());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let next = next.clone();
                Suspend::new(async move {
                    let providers = providers.await.unwrap_or_default();
                    // A refusal of a post without JavaScript is shown once, under the first.
                    let mut returned_error = returned_error::<StartOauth>();
                    (!providers.is_empty()).then(|| view! {
                        <div class="oauth">
                            <p class="divider">"or continue with"</p>
                            {providers.into_iter().map(|provider| view! {
                                <OAuthButton provider next=next.clone() returned_error=returned_error.take()/>
                            }).collect_view()}
                        </div>
                    })
                })
            }}
        </Suspense>
    }
}

/// Starts a sign-in with `provider`.
#[component]
fn OAuthButton(provider: String, next: String, returned_error: Option<AppError>) -> impl IntoView {
    let label = format!("Continue with {}", provider_label(&provider));
    let button_class = format!("oauth-button {provider}");
    view! {
        <ServerForm
            action=StartOauth::url()
            class="oauth-form"
            label
            button_class
            returned_error
        >
            <input type="hidden" name="provider" value=provider/>
            <input type="hidden" name="next" value=next/>
        </ServerForm>
    }
}

fn provider_label(provider: &str) -> String {
    match provider {
        "google" => "Google".into(),
        "github" => "GitHub".into(),
        "facebook" => "Facebook".into(),
        "oidc" => "single sign-on".into(),
        other => other.to_owned(),
    }
}
