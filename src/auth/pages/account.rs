//! The account page: sign-in methods, sessions, sign out elsewhere, delete the account.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use super::{
    guest::AddEmailSection,
    returned_error,
    two_factor::{FactorView, TwoFactorSection},
    Banner, RequireUser,
};
use crate::{error::AppError, server_form::ServerForm};

/// One of the user's sessions, as the account page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: String,
    pub device: String,
    pub last_used: String,
    pub current: bool,
}

/// The account page's data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub email: String,
    pub providers: Vec<String>,
    /// None when the auth service does not list sessions (a remote Supabase project).
    pub sessions: Option<Vec<SessionView>>,
    /// The authenticator apps set up for two-factor authentication.
    pub factors: Vec<FactorView>,
}

#[server(endpoint = "auth/account")]
pub async fn account_overview() -> Result<AccountSummary, AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let user = actions::signed_in_user().await?;
    let profile = sessions
        .client
        .get_user(&user.access_token)
        .await
        .map_err(actions::user_message)?;
    let providers = profile["identities"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id["provider"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let list = sessions
        .client
        .sessions(&user.access_token)
        .await
        .ok()
        .map(|list| {
            list.iter()
                .map(|session| SessionView {
                    id: session["id"].as_str().unwrap_or_default().to_owned(),
                    device: session["user_agent"]
                        .as_str()
                        .unwrap_or("Unknown device")
                        .to_owned(),
                    last_used: session["refreshed_at"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    current: session["current"].as_bool().unwrap_or(false),
                })
                .collect()
        });
    Ok(AccountSummary {
        email: user.claims.email.clone(),
        providers,
        sessions: list,
        factors: super::two_factor::factors_of(&profile),
    })
}

#[server(endpoint = "auth/revoke_session")]
pub async fn revoke_session(session_id: String) -> Result<(), AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let user = actions::signed_in_user().await?;
    sessions
        .client
        .revoke_session(&user.access_token, &session_id)
        .await
        .map_err(actions::user_message)
}

/// Signs out the other sessions (`others`) or all of them (`global`).
#[server(endpoint = "auth/sign_out_sessions")]
pub async fn sign_out_sessions(scope: String) -> Result<(), AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let user = actions::signed_in_user().await?;
    let scope = match scope.as_str() {
        "others" | "global" => scope,
        _ => {
            return Err(AppError::Refused(
                "Choose which sessions to sign out.".into(),
            ))
        }
    };
    sessions
        .client
        .sign_out(&user.access_token, &scope)
        .await
        .map_err(actions::user_message)?;
    if scope == "global" {
        actions::set_cookies(sessions.jar.clear());
        leptos_axum::redirect("/login");
    }
    Ok(())
}

/// Deletes the account and everything of the user's, after they typed their email to confirm.
#[server(endpoint = "auth/delete_account")]
pub async fn delete_account(confirm_email: String) -> Result<(), AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let user = actions::signed_in_user().await?;
    if !confirm_email
        .trim()
        .eq_ignore_ascii_case(&user.claims.email)
    {
        return Err(AppError::Refused(
            "Type your email address exactly to confirm.".into(),
        ));
    }
    // The chats go first: should the account's deletion fail, the person can try again, while
    // chats left behind by a deleted account would have no one left to delete them.
    let chats = use_context::<crate::chat::relay::ChatRelay>().ok_or(AppError::Internal)?;
    chats
        .delete_all(&crate::chat::store::UserId::from(&user))
        .await?;
    sessions
        .client
        .delete_user(&user.access_token, &user.claims.sub)
        .await
        .map_err(actions::user_message)?;
    actions::set_cookies(sessions.jar.clear());
    leptos_axum::redirect("/?notice=account-deleted");
    Ok(())
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| account_overview());
    view! {
        <Title text="Account"/>
        <RequireUser>
            <section class="account">
                <h1>"Your account"</h1>
                <Banner/>
                <AddEmailSection/>
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match overview.await {
                            Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                            Ok(overview) => view! { <AccountFacts overview/> }.into_any(),
                        }
                    })}
                </Suspense>
                <SignOutSessionsButtons/>
                <p><A href="/reset-password">"Change password"</A></p>
                <h2>"Delete account"</h2>
                <p>"This removes your account and all of your chats. It cannot be undone."</p>
                <DeleteAccountForm/>
            </section>
        </RequireUser>
    }
}

/// The email, the sign-in methods and the sessions, each other session with its own sign-out.
#[component]
fn AccountFacts(overview: AccountSummary) -> impl IntoView {
    view! {
        <dl class="account-facts">
            <dt>"Email"</dt>
            <dd data-testid="account-email">{overview.email}</dd>
            <dt>"Sign-in methods"</dt>
            <dd>{overview.providers.join(", ")}</dd>
        </dl>
        <TwoFactorSection factors=overview.factors/>
        <h2>"Active sessions"</h2>
        {match overview.sessions {
            None => view! { <p>"This auth service does not list sessions."</p> }.into_any(),
            Some(list) => view! {
                <ul class="sessions">
                    {list.into_iter().map(|session| view! {
                        <li>
                            <span class="device">{session.device}</span>
                            <span class="last-used">{format!("last used {}", session.last_used)}</span>
                            {if session.current {
                                view! { <strong>"this device"</strong> }.into_any()
                            } else {
                                view! { <RevokeSessionButton session_id=session.id/> }.into_any()
                            }}
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any(),
        }}
    }
}

/// Signs out one other session; the page then shows the list without it.
#[component]
fn RevokeSessionButton(session_id: String) -> impl IntoView {
    view! {
        <ServerForm
            action=RevokeSession::url()
            class="inline-form"
            label="Sign out this one"
            returned_error=None
        >
            <input type="hidden" name="session_id" value=session_id/>
        </ServerForm>
    }
}

/// "Sign out all others" (the page then shows this session alone) and "Sign out everywhere"
/// (which redirects to the login page).
#[component]
fn SignOutSessionsButtons() -> impl IntoView {
    let returned_error = returned_error::<SignOutSessions>();
    view! {
        <div class="account-actions">
            <ServerForm
                action=SignOutSessions::url()
                class="inline-form"
                label="Sign out all others"
                returned_error
            >
                <input type="hidden" name="scope" value="others"/>
            </ServerForm>
            <ServerForm
                action=SignOutSessions::url()
                class="inline-form"
                label="Sign out everywhere"
                returned_error=None
            >
                <input type="hidden" name="scope" value="global"/>
            </ServerForm>
        </div>
    }
}

/// Deletes the account once the person typed their email address.
#[component]
fn DeleteAccountForm() -> impl IntoView {
    view! {
        <ServerForm
            action=DeleteAccount::url()
            class="auth-form"
            label="Delete my account"
                button_class="danger"
            returned_error={returned_error::<DeleteAccount>()}
        >
            <label>
                "Type your email address to confirm"
                <input type="email" name="confirm_email" autocomplete="off" required/>
            </label>
        </ServerForm>
    }
}
