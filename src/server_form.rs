//! Forms that call a server function. Without JavaScript each is a plain form post: the server
//! function redirects, or sends the browser back to the page with its refusal in the URL, which
//! the server renders. With JavaScript the form is an island that makes the same call in place:
//! the button shows it pending, a refusal appears in the form without a reload, and a redirect
//! (in this app a server function redirects only when the session changed) loads the next page
//! in full and tells the other tabs.
//!
//! One island serves every form, and it sends the form's own fields as they are: the bundle holds
//! one copy of this code whatever the number of forms and server functions. (Leptos' `ActionForm`
//! compiles the typed client and form decoding once per server function, about 8 kB of brotli
//! each: see docs/PERFORMANCE.md.)

use leptos::{ev::SubmitEvent, prelude::*};

use crate::error::AppError;

/// A form posting its fields (`children`, rendered on the server) to the server function at
/// `action`, with an error slot and the submit button after them.
#[island]
pub fn ServerForm(
    /// The server function's URL, e.g. `Login::url()`.
    #[prop(into)]
    action: String,
    /// The form's class.
    #[prop(into)]
    class: String,
    /// What the submit button reads.
    #[prop(into)]
    label: String,
    /// What it reads while the call is under way, if not the same.
    #[prop(optional, into)]
    pending_label: Option<String>,
    /// The submit button's class.
    #[prop(optional, into)]
    button_class: Option<String>,
    /// What the form gives way to after a call that succeeds without redirecting; without it,
    /// the page loads again (what the call changed is rendered by the server).
    #[prop(optional, into)]
    notice: Option<String>,
    /// The refusal a post of this form without JavaScript came back with (see
    /// `auth::pages::returned_error`).
    returned_error: Option<AppError>,
    children: Children,
) -> impl IntoView {
    let state = FormState {
        pending: RwSignal::new(false),
        error: RwSignal::new(returned_error),
        notice: RwSignal::new(None),
    };
    let label = move || match (&pending_label, state.pending.get()) {
        (Some(pending_label), true) => pending_label.clone(),
        _ => label.clone(),
    };
    let submit_to = action.clone();
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if !state.pending.get_untracked() {
            submit_in_place(&event, &submit_to, notice.clone(), state);
        }
    };
    view! {
        {move || {
            state.notice.get().map(|text| view! { <p class="form-notice" role="status">{text}</p> })
        }}
        <form
            class=class
            action=action
            method="post"
            novalidate=true
            hidden=move || state.notice.with(Option::is_some)
            on:submit=on_submit
        >
            {children()}
            {move || {
                state.error.get().map(|error| {
                    view! { <p class="form-error" role="alert">{error.to_string()}</p> }
                })
            }}
            <button type="submit" class=button_class disabled=move || state.pending.get()>
                {label}
            </button>
        </form>
    }
}

/// What a [`ServerForm`] shows besides its fields.
#[derive(Clone, Copy)]
struct FormState {
    pending: RwSignal<bool>,
    error: RwSignal<Option<AppError>>,
    notice: RwSignal<Option<String>>,
}

/// Makes the call of a submitted form in place. (Only the browser runs event handlers.)
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
fn submit_in_place(event: &SubmitEvent, action: &str, notice: Option<String>, state: FormState) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(form) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlFormElement>().ok())
        else {
            return;
        };
        state.pending.set(true);
        state.error.set(None);
        let action = action.to_owned();
        leptos::task::spawn_local(async move {
            match browser::submit(&action, &form).await {
                // The next page is loading: the button stays pending until it replaces this one.
                Ok(browser::Reply::Redirect) => return,
                Ok(browser::Reply::Done(_)) => match notice {
                    None => browser::reload(),
                    Some(text) => state.notice.set(Some(text)),
                },
                Err(refusal) => state.error.set(Some(refusal)),
            }
            state.pending.set(false);
        });
    }
}

/// Server function calls from the browser, without the typed client.
#[cfg(feature = "hydrate")]
pub mod browser {
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    use crate::error::AppError;

    /// What a server function answered.
    pub enum Reply {
        /// It redirected; the browser is on its way there.
        Redirect,
        /// It succeeded with this body (JSON).
        Done(String),
    }

    /// Posts `form`'s fields to the server function at `action`.
    pub async fn submit(action: &str, form: &web_sys::HtmlFormElement) -> Result<Reply, AppError> {
        let fields = web_sys::FormData::new_with_form(form)
            .and_then(|data| web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data))
            .map_err(transport)?;
        post(action, &fields).await
    }

    /// Posts `body` (URL-encoded fields) to the server function at `url`. A redirect (which in
    /// this app means the session changed) is followed in full and announced to the other tabs.
    pub async fn post(url: &str, body: &JsValue) -> Result<Reply, AppError> {
        let headers = web_sys::Headers::new().map_err(transport)?;
        // Not text/html: the server function answers a redirect with a header, not a 302.
        headers
            .set("Accept", "application/json")
            .map_err(transport)?;
        headers
            .set("Content-Type", "application/x-www-form-urlencoded")
            .map_err(transport)?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_headers(&headers);
        init.set_body(body);
        let response: web_sys::Response =
            JsFuture::from(leptos::prelude::window().fetch_with_str_and_init(url, &init))
                .await
                .and_then(JsValue::dyn_into)
                .map_err(transport)?;
        let headers = response.headers();
        if headers.has("serverfnredirect").unwrap_or(false) {
            if let Ok(Some(location)) = headers.get("location") {
                crate::auth::context::leave_after_session_change(&location);
                return Ok(Reply::Redirect);
            }
        }
        let text = response
            .text()
            .map(JsFuture::from)
            .map_err(transport)?
            .await
            .map_err(transport)?
            .as_string()
            .unwrap_or_default();
        if response.ok() {
            Ok(Reply::Done(text))
        } else {
            Err(serde_json::from_str(&text).unwrap_or(AppError::Internal))
        }
    }

    /// Loads the page again.
    pub fn reload() {
        let _ = leptos::prelude::window().location().reload();
    }

    /// The request could not be made or answered (offline, say). The browser's own words are
    /// for developers; people are told what happened.
    fn transport(_: JsValue) -> AppError {
        AppError::Transport("the network request failed".into())
    }
}
