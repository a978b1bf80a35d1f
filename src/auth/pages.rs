//! Sign-in pages and their server functions: login, signup, OAuth buttons, password reset,
//! account. Every form is an `ActionForm`: a plain POST without JavaScript (errors come back in
//! the redirect), an in-place call with it (inline errors, pending state).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Redirect, A},
    hooks::{use_location, use_query_map},
};
use serde::{Deserialize, Serialize};

use super::{context::use_auth, UserInfo};
use crate::error::AppError;

/// The signed-in user of this request, verified on the server.
#[server(endpoint = "auth/current_user")]
pub async fn current_user() -> Result<Option<UserInfo>, AppError> {
    let super::session::MaybeAuthUser(user) = leptos_axum::extract()
        .await
        .map_err(|_| AppError::Internal)?;
    Ok(user.map(|user| user.info()))
}

#[server(endpoint = "auth/login")]
pub async fn login(email: String, password: String, next: String) -> Result<(), AppError> {
    use super::actions;
    let sessions = actions::sessions()?;
    let email = actions::valid_email(&email)?;
    if password.is_empty() {
        return Err(AppError::Refused("Please enter your password.".into()));
    }
    let session = sessions
        .client
        .sign_in_with_password(&email, &password)
        .await
        .map_err(actions::user_message)?;
    actions::set_cookies(sessions.jar.store(&session));
    leptos_axum::redirect(&actions::next_path(&next));
    Ok(())
}

#[server(endpoint = "auth/signup")]
pub async fn signup(
    email: String,
    password: String,
    confirm_password: String,
    next: String,
) -> Result<SignupOutcome, AppError> {
    use super::actions;
    let sessions = actions::sessions()?;
    let email = actions::valid_email(&email)?;
    actions::valid_new_password(&password, &confirm_password)?;
    let (challenge, verifier_cookie) = actions::pkce(&sessions, false);
    let redirect_to = actions::callback_url(&actions::next_path(&next));
    match sessions
        .client
        .sign_up(&email, &password, &redirect_to, &challenge)
        .await
        .map_err(actions::user_message)?
    {
        super::client::SignUp::Session(session) => {
            actions::set_cookies(sessions.jar.store(&session));
            leptos_axum::redirect(&actions::next_path(&next));
            Ok(SignupOutcome::SignedIn)
        }
        super::client::SignUp::ConfirmationSent => {
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

#[server(endpoint = "auth/logout")]
pub async fn logout() -> Result<(), AppError> {
    use super::actions;
    let sessions = actions::sessions()?;
    if let Ok(user) = leptos_axum::extract::<super::session::AuthUser>().await {
        // Signing out locally must work even if the service cannot be reached.
        if let Err(error) = sessions.client.sign_out(&user.access_token, "local").await {
            tracing::info!(code = error.code(), "sign-out at the auth service failed");
        }
    }
    actions::set_cookies(sessions.jar.clear());
    leptos_axum::redirect("/login");
    Ok(())
}

/// Starts an OAuth sign-in: the PKCE verifier goes into an HttpOnly cookie, the browser to the
/// provider through the auth service.
#[server(endpoint = "auth/oauth")]
pub async fn start_oauth(provider: String, next: String) -> Result<(), AppError> {
    use super::actions;
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
    use super::actions;
    let sessions = actions::sessions()?;
    sessions
        .client
        .enabled_providers()
        .await
        .map_err(actions::user_message)
}

#[server(endpoint = "auth/recover")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use super::actions;
    let sessions = actions::sessions()?;
    let email = actions::valid_email(&email)?;
    let (challenge, verifier_cookie) = actions::pkce(&sessions, false);
    let redirect_to = actions::callback_url("/reset-password");
    sessions
        .client
        .recover(&email, &redirect_to, &challenge)
        .await
        .map_err(actions::user_message)?;
    actions::set_cookies(vec![verifier_cookie]);
    Ok(())
}

#[server(endpoint = "auth/password")]
pub async fn update_password(password: String, confirm_password: String) -> Result<(), AppError> {
    use super::actions;
    let sessions = actions::sessions()?;
    let user: super::session::AuthUser = leptos_axum::extract()
        .await
        .map_err(|_| AppError::Unauthorized)?;
    actions::valid_new_password(&password, &confirm_password)?;
    sessions
        .client
        .update_user(
            &user.access_token,
            serde_json::json!({ "password": password }),
        )
        .await
        .map_err(actions::user_message)?;
    leptos_axum::redirect("/account?notice=password-changed");
    Ok(())
}

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
}

#[server(endpoint = "auth/account")]
pub async fn account_overview() -> Result<AccountSummary, AppError> {
    use super::actions;
    let sessions = actions::sessions()?;
    let user: super::session::AuthUser = leptos_axum::extract()
        .await
        .map_err(|_| AppError::Unauthorized)?;
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
    })
}

#[server(endpoint = "auth/revoke_session")]
pub async fn revoke_session(session_id: String) -> Result<(), AppError> {
    use super::actions;
    let sessions = actions::sessions()?;
    let user: super::session::AuthUser = leptos_axum::extract()
        .await
        .map_err(|_| AppError::Unauthorized)?;
    sessions
        .client
        .revoke_session(&user.access_token, &session_id)
        .await
        .map_err(actions::user_message)
}

/// Signs out the other sessions (`others`) or all of them (`global`).
#[server(endpoint = "auth/sign_out_sessions")]
pub async fn sign_out_sessions(scope: String) -> Result<(), AppError> {
    use super::actions;
    let sessions = actions::sessions()?;
    let user: super::session::AuthUser = leptos_axum::extract()
        .await
        .map_err(|_| AppError::Unauthorized)?;
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
    use super::actions;
    let sessions = actions::sessions()?;
    let user: super::session::AuthUser = leptos_axum::extract()
        .await
        .map_err(|_| AppError::Unauthorized)?;
    if !confirm_email
        .trim()
        .eq_ignore_ascii_case(&user.claims.email)
    {
        return Err(AppError::Refused(
            "Type your email address exactly to confirm.".into(),
        ));
    }
    sessions
        .client
        .delete_user(&user.access_token)
        .await
        .map_err(actions::user_message)?;
    actions::set_cookies(sessions.jar.clear());
    leptos_axum::redirect("/?notice=account-deleted");
    Ok(())
}

/// Shows an action's error, if its last call failed.
#[component]
fn ActionError<T, S>(value: S) -> impl IntoView
where
    T: Send + Sync + Clone + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    move || {
        value.get().and_then(Result::err).map(|error| {
            view! { <p class="form-error" role="alert">{error.to_string()}</p> }
        })
    }
}

/// A message from the query string (`?notice=` or `?error=`), in words a person understands.
#[component]
pub fn Banner() -> impl IntoView {
    let query = use_query_map();
    move || {
        let query = query.read();
        if let Some(error) = query.get("error") {
            return Some(view! { <p class="form-error" role="alert">{error}</p> }.into_any());
        }
        let text = match query.get("notice").as_deref() {
            Some("check-email") => "Check your email for a link to continue.",
            Some("password-changed") => "Your password has been changed.",
            Some("account-deleted") => "Your account and all its data have been deleted.",
            Some("signed-out") => "You have been signed out.",
            _ => return None,
        };
        Some(view! { <p class="form-notice" role="status">{text}</p> }.into_any())
    }
}

/// `next` from the query, for links and hidden fields.
fn next_from_query() -> impl Fn() -> String + Copy {
    let query = use_query_map();
    move || query.read().get("next").unwrap_or_default()
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let next = next_from_query();
    view! {
        <Title text="Sign in"/>
        <section class="auth-card">
            <h1>"Sign in"</h1>
            <Banner/>
            <ActionForm action=login attr:class="auth-form" attr:novalidate=true>
                <input type="hidden" name="next" value=next/>
                <label>"Email" <input type="email" name="email" autocomplete="email" required/></label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required/>
                </label>
                <ActionError value=login.value()/>
                <button type="submit" class="primary" disabled=move || login.pending().get()>
                    {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
            <OAuthButtons next=next/>
            <p class="auth-links">
                <A href="/forgot-password">"Forgot your password?"</A>
                " · "
                <A href=move || with_next("/signup", &next())>"Create an account"</A>
            </p>
        </section>
    }
}

fn with_next(path: &str, next: &str) -> String {
    if next.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?next={}", urlencoding(next))
    }
}

fn urlencoding(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let signup = ServerAction::<Signup>::new();
    let next = next_from_query();
    let check_email = move || matches!(signup.value().get(), Some(Ok(SignupOutcome::CheckEmail)));
    view! {
        <Title text="Sign up"/>
        <section class="auth-card">
            <h1>"Create your account"</h1>
            <Show when=check_email>
                <p class="form-notice" role="status">
                    "Check your email: we have sent you a link to confirm your address."
                </p>
            </Show>
            <ActionForm action=signup attr:class="auth-form" attr:novalidate=true>
                <input type="hidden" name="next" value=next/>
                <label>"Email" <input type="email" name="email" autocomplete="email" required/></label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="new-password" minlength="8" required/>
                </label>
                <label>
                    "Confirm password"
                    <input type="password" name="confirm_password" autocomplete="new-password" required/>
                </label>
                <ActionError value=signup.value()/>
                <button type="submit" class="primary" disabled=move || signup.pending().get()>
                    {move || if signup.pending().get() { "Creating account…" } else { "Sign up" }}
                </button>
            </ActionForm>
            <OAuthButtons next=next/>
            <p class="auth-links">
                "Already have an account? "
                <A href=move || with_next("/login", &next())>"Sign in"</A>
            </p>
        </section>
    }
}

/// One button per provider the auth service reports enabled.
#[component]
fn OAuthButtons(next: impl Fn() -> String + Copy + Send + Sync + 'static) -> impl IntoView {
    let providers = Resource::new(|| (), |_| oauth_providers());
    let start = ServerAction::<StartOauth>::new();
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let providers = providers.get().and_then(Result::ok).unwrap_or_default();
                (!providers.is_empty()).then(|| view! {
                    <div class="oauth">
                        <p class="divider">"or continue with"</p>
                        {providers.into_iter().map(|provider| {
                            let label = provider_label(&provider);
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
                        <ActionError value=start.value()/>
                    </div>
                })
            }}
        </Suspense>
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

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let reset = ServerAction::<RequestPasswordReset>::new();
    let sent = move || matches!(reset.value().get(), Some(Ok(())));
    view! {
        <Title text="Reset your password"/>
        <section class="auth-card">
            <h1>"Reset your password"</h1>
            <Show
                when=sent
                fallback=move || view! {
                    <ActionForm action=reset attr:class="auth-form" attr:novalidate=true>
                        <label>"Email" <input type="email" name="email" autocomplete="email" required/></label>
                        <ActionError value=reset.value()/>
                        <button type="submit" class="primary" disabled=move || reset.pending().get()>
                            "Send reset link"
                        </button>
                    </ActionForm>
                }
            >
                <p class="form-notice" role="status">
                    "If an account exists for that address, we have sent it a link to reset the password."
                </p>
            </Show>
            <p class="auth-links"><A href="/login">"Back to sign in"</A></p>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let update = ServerAction::<UpdatePassword>::new();
    view! {
        <Title text="Choose a new password"/>
        <RequireUser>
            <section class="auth-card">
                <h1>"Choose a new password"</h1>
                <ActionForm action=update attr:class="auth-form" attr:novalidate=true>
                    <label>
                        "New password"
                        <input type="password" name="password" autocomplete="new-password" required/>
                    </label>
                    <label>
                        "Confirm password"
                        <input type="password" name="confirm_password" autocomplete="new-password" required/>
                    </label>
                    <ActionError value=update.value()/>
                    <button type="submit" class="primary">"Save password"</button>
                </ActionForm>
            </section>
        </RequireUser>
    }
}

/// Renders its children for a signed-in user; sends anyone else to the login page. (The server
/// redirects before rendering too; this covers navigation inside the hydrated app.)
#[component]
pub fn RequireUser(children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    let location = use_location();
    view! {
        <Transition fallback=|| ()>
            {move || {
                let children = children.clone();
                auth.user.get().map(move |result| match result {
                    Ok(Some(_)) => children().into_any(),
                    _ => {
                        let here = format!("{}{}", location.pathname.get_untracked(), location.search.get_untracked());
                        view! { <Redirect path=with_next("/login", &here)/> }.into_any()
                    }
                })
            }}
        </Transition>
    }
}

/// The navbar's part: the user menu, or the sign-in and sign-up links.
#[component]
pub fn UserMenu() -> impl IntoView {
    let auth = use_auth();
    let logout = ServerAction::<Logout>::new();
    view! {
        <Transition fallback=|| ()>
            {move || match auth.signed_in_user() {
                Some(user) => view! {
                    <div class="user-menu">
                        <A href="/chat">"Chats"</A>
                        <A href="/account" attr:class="user-email">{user.email}</A>
                        <ActionForm action=logout attr:class="inline-form">
                            <button type="submit" class="link-button">"Sign out"</button>
                        </ActionForm>
                    </div>
                }.into_any(),
                None => view! {
                    <div class="user-menu">
                        <A href="/login">"Sign in"</A>
                        <A href="/signup" attr:class="button">"Sign up"</A>
                    </div>
                }.into_any(),
            }}
        </Transition>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let sign_out = ServerAction::<SignOutSessions>::new();
    let delete = ServerAction::<DeleteAccount>::new();
    let overview = Resource::new(
        move || (revoke.version().get(), sign_out.version().get()),
        |_| account_overview(),
    );
    view! {
        <Title text="Account"/>
        <RequireUser>
            <section class="account">
                <h1>"Your account"</h1>
                <Banner/>
                <Transition fallback=|| view! { <p>"Loading…"</p> }>
                    {move || overview.get().map(|result| match result {
                        Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                        Ok(overview) => view! {
                            <dl class="account-facts">
                                <dt>"Email"</dt>
                                <dd data-testid="account-email">{overview.email}</dd>
                                <dt>"Sign-in methods"</dt>
                                <dd>{overview.providers.join(", ")}</dd>
                            </dl>
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
                                                    view! {
                                                        <ActionForm action=revoke attr:class="inline-form">
                                                            <input type="hidden" name="session_id" value=session.id/>
                                                            <button type="submit">"Sign out this one"</button>
                                                        </ActionForm>
                                                    }.into_any()
                                                }}
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                }.into_any(),
                            }}
                        }.into_any(),
                    })}
                </Transition>
                <div class="account-actions">
                    <ActionForm action=sign_out attr:class="inline-form">
                        <input type="hidden" name="scope" value="others"/>
                        <button type="submit">"Sign out all others"</button>
                    </ActionForm>
                    <ActionForm action=sign_out attr:class="inline-form">
                        <input type="hidden" name="scope" value="global"/>
                        <button type="submit">"Sign out everywhere"</button>
                    </ActionForm>
                </div>
                <ActionError value=sign_out.value()/>
                <p><A href="/reset-password">"Change password"</A></p>
                <h2>"Delete account"</h2>
                <p>"This removes your account and all of your chats. It cannot be undone."</p>
                <ActionForm action=delete attr:class="auth-form" attr:novalidate=true>
                    <label>
                        "Type your email address to confirm"
                        <input type="email" name="confirm_email" autocomplete="off" required/>
                    </label>
                    <ActionError value=delete.value()/>
                    <button type="submit" class="danger">"Delete my account"</button>
                </ActionForm>
            </section>
        </RequireUser>
    }
}
