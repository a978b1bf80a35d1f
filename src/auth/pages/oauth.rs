//! The OAuth buttons and the server functions that list providers and start a sign-in.

use leptos::prelude::*;

use super::{returned_error, ActionError};
use crate::error::AppError;

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
    // Asked on the server while it renders: the list reaches the browser as the island's prop.
    let providers = Resource::new(|| (), |_| oauth_providers());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let next = next.clone();
                Suspend::new(async move {
                    let providers = providers.await.unwrap_or_default();
                    (!providers.is_empty()).then(|| view! {
                        <OAuthButtons
                            providers
                            next
                            returned_error={returned_error::<StartOauth>()}
                        />
                    })
                })
            }}
        </Suspense>
    }
}

/// The provider buttons: each starts a sign-in with its provider.
#[island]
fn OAuthButtons(
    providers: Vec<String>,
    next: String,
    returned_error: Option<AppError>,
) -> impl IntoView {
    let start = ServerAction::<StartOauth>::new();
    view! {
        <div class="oauth">
            <p class="divider">"or continue with"</p>
            {providers.into_iter().map(|provider| {
                let label = provider_label(&provider);
                let next = next.clone();
                view! {
                    <ActionForm action=start attr:class="oauth-form">
                        <input type="hidden" name="provider" value=provider.clone()/>
                        <input type="hidden" name="next" value=next/>
                        <button type="submit" class=format!("oauth-button {provider}")>
                            {format!("Continue with {label}")}
                        </button>
                    </ActionForm>
                }
            }).collect_view()}
            <ActionError value=start.value() returned=returned_error/>
        </div>
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
