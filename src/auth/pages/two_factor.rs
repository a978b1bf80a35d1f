//! Two-factor authentication in the app: the "enter your code" step of signing in
//! (`/login/code`), setting up an authenticator app (`/account/two-factor`), and the account
//! page's list of authenticators with their "Remove" buttons.
//!
//! The rule itself (an `aal1` session of a user with a verified factor reaches nothing but this
//! step) is the session middleware's: see `SessionState::SecondFactorDue`.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use super::{next_from_query, returned_error, Banner, Logout, RequireUser};
use crate::{error::AppError, server_form::ServerForm};

/// One authenticator of the user, as the account page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorView {
    pub id: String,
    pub name: String,
    pub verified: bool,
}

/// The user's factors in GoTrue's user object.
#[cfg(feature = "ssr")]
pub(super) fn factors_of(profile: &serde_json::Value) -> Vec<FactorView> {
    profile["factors"]
        .as_array()
        .map(|factors| {
            factors
                .iter()
                .filter(|factor| factor["factor_type"] == "totp")
                .map(|factor| FactorView {
                    id: factor["id"].as_str().unwrap_or_default().to_owned(),
                    name: factor["friendly_name"]
                        .as_str()
                        .unwrap_or("Authenticator app")
                        .to_owned(),
                    verified: factor["status"] == "verified",
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A six-digit code as typed (spaces allowed), or the reason it is not one.
#[cfg(feature = "ssr")]
fn six_digits(code: &str) -> Result<String, AppError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code)
    } else {
        Err(AppError::Refused(
            "Enter the 6-digit code from your authenticator app.".into(),
        ))
    }
}

/// The second step of signing in: the code of one of the user's verified authenticators raises
/// the session to `aal2` (new cookies), then the browser goes on to `next`.
#[server(endpoint = "auth/second_factor")]
pub async fn second_factor(code: String, next: String) -> Result<(), AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let user = actions::user_owing_second_factor().await?;
    let code = six_digits(&code)?;
    let profile = sessions
        .client
        .get_user(&user.access_token)
        .await
        .map_err(actions::user_message)?;
    let client = actions::client_identity().await;
    let mut outcome = None;
    // Usually one; with several, the code is tried on each until one takes it.
    for factor in factors_of(&profile).into_iter().filter(|f| f.verified) {
        let verified = sessions
            .client
            .verify_totp(&client, &user.access_token, &factor.id, &code)
            .await;
        let wrong = matches!(&verified, Err(error) if error.code() == "mfa_verification_failed");
        outcome = Some(verified);
        if !wrong {
            break;
        }
    }
    let session = outcome
        .ok_or(AppError::Unauthorized)?
        .map_err(actions::user_message)?;
    actions::set_cookies(sessions.jar.store(&session));
    leptos_axum::redirect(&actions::next_path(&next));
    Ok(())
}

/// `/login/code`: "Enter your code", for a session that owes its second factor.
#[component]
pub fn SecondFactorPage() -> impl IntoView {
    let next = next_from_query();
    view! {
        <Title text="Enter your code"/>
        <section class="auth-card">
            <h1>"Enter your code"</h1>
            <p>"Open your authenticator app and enter the 6-digit code it shows for ferrochat."</p>
            <Banner/>
            <ServerForm
                action=SecondFactor::url()
                class="auth-form"
                label="Continue"
                pending_label="Checking…"
                button_class="primary"
                returned_error={returned_error::<SecondFactor>()}
            >
                <input type="hidden" name="next" value=next/>
                <label>
                    "Code"
                    <input
                        type="text"
                        name="code"
                        inputmode="numeric"
                        autocomplete="one-time-code"
                        pattern="[0-9 ]*"
                        maxlength="7"
                        required
                        autofocus
                    />
                </label>
            </ServerForm>
            <p class="auth-links">
                "Lost your device? Ask the administrator of this site to remove your authenticator. "
            </p>
            <ServerForm action=Logout::url() class="inline-form" label="Sign out" button_class="link-button" returned_error=None>
                ""
            </ServerForm>
        </section>
    }
}

/// A new authenticator waiting for its first code: shown once, on the set-up page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    pub factor_id: String,
    /// The QR code, an SVG document drawn by the auth service.
    pub qr_svg: String,
    /// The key in base32, for typing it in by hand.
    pub secret: String,
}

/// Starts setting up an authenticator app. An earlier set-up that was never finished is dropped
/// first (its key was shown once and is gone), so reloading the page gives a fresh QR code.
#[server(endpoint = "auth/begin_two_factor")]
pub async fn begin_two_factor() -> Result<Enrolment, AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let user = actions::signed_in_user().await?;
    let profile = sessions
        .client
        .get_user(&user.access_token)
        .await
        .map_err(actions::user_message)?;
    let factors = factors_of(&profile);
    for pending in factors.iter().filter(|factor| !factor.verified) {
        sessions
            .client
            .unenroll(&user.access_token, &pending.id)
            .await
            .map_err(actions::user_message)?;
    }
    let taken = |name: &str| factors.iter().any(|factor| factor.name == name);
    let name = (1..)
        .map(|n| match n {
            1 => "Authenticator app".to_owned(),
            n => format!("Authenticator app {n}"),
        })
        .find(|name| !taken(name))
        .unwrap_or_default();
    let enrolled = sessions
        .client
        .enroll_totp(&user.access_token, &name)
        .await
        .map_err(actions::user_message)?;
    let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
    Ok(Enrolment {
        factor_id: text(&enrolled["id"]),
        qr_svg: text(&enrolled["totp"]["qr_code"]),
        secret: text(&enrolled["totp"]["secret"]),
    })
}

/// Finishes the set-up with the first code: the authenticator is verified and this session is
/// raised to `aal2`; the browser goes back to the account page.
#[server(endpoint = "auth/confirm_two_factor")]
pub async fn confirm_two_factor(factor_id: String, code: String) -> Result<(), AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let user = actions::signed_in_user().await?;
    let code = six_digits(&code)?;
    let session = sessions
        .client
        .verify_totp(
            &actions::client_identity().await,
            &user.access_token,
            &factor_id,
            &code,
        )
        .await
        .map_err(actions::user_message)?;
    actions::set_cookies(sessions.jar.store(&session));
    leptos_axum::redirect("/account?notice=two-factor-on");
    Ok(())
}

/// Removes one of the user's authenticators (a verified one needs this session's code to have
/// been given, which the account page, reachable only then, guarantees).
#[server(endpoint = "auth/remove_two_factor")]
pub async fn remove_two_factor(factor_id: String) -> Result<(), AppError> {
    use crate::auth::actions;
    let sessions = actions::sessions()?;
    let user = actions::signed_in_user().await?;
    sessions
        .client
        .unenroll(&user.access_token, &factor_id)
        .await
        .map_err(actions::user_message)
}

/// `/account/two-factor`: the QR code, the key to type in by hand, and the first code.
#[component]
pub fn TwoFactorSetupPage() -> impl IntoView {
    let enrolment = Resource::new(|| (), |_| begin_two_factor());
    view! {
        <Title text="Set up two-factor authentication"/>
        <RequireUser>
            <section class="auth-card two-factor-setup">
                <h1>"Set up an authenticator app"</h1>
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match enrolment.await {
                            Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                            Ok(enrolment) => view! { <EnrolmentForm enrolment/> }.into_any(),
                        }
                    })}
                </Suspense>
                <p><A href="/account">"Back to your account"</A></p>
            </section>
        </RequireUser>
    }
}

#[component]
fn EnrolmentForm(enrolment: Enrolment) -> impl IntoView {
    view! {
        <p>"1. Scan this QR code with your authenticator app (for example Aegis, Google Authenticator or 1Password)."</p>
        // The SVG comes from the auth service's QR encoder, not from a person: safe to inline.
        <div class="qr-code" role="img" aria-label="QR code of your new authenticator key" inner_html=enrolment.qr_svg></div>
        <p>"Or type this key into the app:"</p>
        <p><code class="totp-secret" data-testid="totp-secret">{enrolment.secret}</code></p>
        <p>"2. Enter the 6-digit code the app shows."</p>
        <ServerForm
            action=ConfirmTwoFactor::url()
            class="auth-form"
            label="Turn on two-factor authentication"
            pending_label="Checking…"
            button_class="primary"
            returned_error={returned_error::<ConfirmTwoFactor>()}
        >
            <input type="hidden" name="factor_id" value=enrolment.factor_id/>
            <label>
                "Code"
                <input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="7" required/>
            </label>
        </ServerForm>
    }
}

/// The account page's section: the authenticators, each with "Remove", or the set-up link.
#[component]
pub fn TwoFactorSection(factors: Vec<FactorView>) -> impl IntoView {
    let verified: Vec<FactorView> = factors.into_iter().filter(|f| f.verified).collect();
    view! {
        <h2>"Two-factor authentication"</h2>
        {if verified.is_empty() {
            view! {
                <p data-testid="two-factor-status">"Off. Add a code from an authenticator app to every sign-in."</p>
                <p><A href="/account/two-factor">"Set up an authenticator app"</A></p>
            }.into_any()
        } else {
            view! {
                <p data-testid="two-factor-status">"On: every sign-in asks for a code from your authenticator app."</p>
                <ul class="factors">
                    {verified.into_iter().map(|factor| view! {
                        <li>
                            <span>{factor.name}</span>
                            <ServerForm
                                action=RemoveTwoFactor::url()
                                class="inline-form"
                                label="Remove"
                                returned_error=None
                            >
                                <input type="hidden" name="factor_id" value=factor.id/>
                            </ServerForm>
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_six_digits_spaces_aside() {
        assert_eq!(six_digits(" 123 456 "), Ok("123456".into()));
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert!(six_digits(bad).is_err(), "{bad}");
        }
    }
}
