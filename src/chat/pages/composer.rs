//! The composer, and the script that streams answers into the page.
//!
//! Without JavaScript the composer is a plain form: it posts to `send_message` (or `start_chat`
//! on `/chat`), which answers once the whole answer is stored, and the page comes back with it.
//! With JavaScript, the chat pages' own script (`stream.js`, inline with the CSP nonce) takes
//! over the same form: it posts to the starter's streaming route, `POST /api/sessions/{id}`, and
//! writes each piece of the answer into the page as it arrives.
//!
//! `composer.js`, `follow.js` and `keys.js` are the pages' other scripts, each one concept:
//! the composer's growing box, counter, send state and per-chat draft; following the answer as
//! it streams ("Jump to latest"); the keyboard shortcuts, the drawer's keys and where focus goes.
//! Each only improves what works without it.
//!
//! Why a page script and not a WASM island: every island ships in the one bundle every page
//! loads, and the same logic as an island (web-sys/js-sys, no serde) added 10.2 kB of brotli
//! WASM and 0.7 kB of JS glue to every page, `/login` included, which had 4.2 kB left of its
//! budget (docs/PERFORMANCE.md). Inline on the chat pages it costs `/login` nothing.

use leptos::{prelude::*, server_fn::ServerFn};

use super::textarea_text;

use crate::{
    auth::context::use_auth,
    auth::pages::returned_error,
    chat::{
        functions::{ModelChoice, SendMessage, StartChat, BUSY},
        types::MAX_MESSAGE_CHARS,
    },
};

/// Where the composer's message goes.
pub enum ComposerTarget {
    /// A chat that does not exist yet (`/chat`): the first message creates it.
    NewChat,
    /// The chat with this id.
    Chat(String),
}

impl ComposerTarget {
    /// The chat's id, once there is one.
    pub fn session(&self) -> Option<&str> {
        match self {
            ComposerTarget::NewChat => None,
            ComposerTarget::Chat(id) => Some(id),
        }
    }
}

/// The message form: a textarea, the model picker, Send, and Stop (shown while an answer
/// streams, which only happens with JavaScript). It sticks to the bottom of the window, so it is
/// in reach however long the conversation; "Jump to latest" sits on top of it (`follow.js`).
#[component]
pub fn Composer(
    target: ComposerTarget,
    models: Vec<ModelChoice>,
    /// The model selected at first.
    model: String,
    /// Text to start with (an example prompt picked from the list).
    prompt: String,
) -> impl IntoView {
    let (action, error) = match target {
        ComposerTarget::NewChat => (StartChat::url(), returned_error::<StartChat>()),
        ComposerTarget::Chat(_) => (SendMessage::url(), returned_error::<SendMessage>()),
    };
    let id = target
        .session()
        .map(|id| view! { <input type="hidden" name="id" value=id.to_owned()/> });
    let options = models
        .into_iter()
        .map(|choice| {
            let selected = choice.id == model;
            view! { <option value=choice.id selected=selected>{choice.label}</option> }
        })
        .collect_view();
    view! {
        <form id="composer" class="composer" method="post" action=action>
            <button type="button" id="jump-latest" class="jump-latest" hidden>
                "Jump to latest"
            </button>
            {id}
            <label for="composer-input" class="visually-hidden">"Message"</label>
            <textarea
                id="composer-input"
                name="content"
                rows="3"
                maxlength=MAX_MESSAGE_CHARS
                placeholder="Type a message"
                aria-describedby="composer-count"
                // The draft is composer.js's to restore: the browser's own form restoration
                // could bring back a message already sent.
                autocomplete="off"
                required
            >
                {textarea_text(&prompt)}
            </textarea>
            <p id="composer-error" class="form-error" role="alert" hidden=error.is_none()>
                {error.as_ref().map(ToString::to_string)}
            </p>
            <div class="composer-actions">
                <label class="model-picker">
                    "Model" <select id="composer-model" name="model">{options}</select>
                </label>
                <span class="composer-hint muted">"Enter sends, Shift+Enter starts a new line"</span>
                // How much room is left, shown near the limit (composer.js).
                <span id="composer-count" class="composer-count muted" hidden></span>
                <button type="button" id="composer-stop" class="secondary" hidden>
                    "Stop"
                </button>
                <button type="submit" id="composer-send">"Send"</button>
            </div>
        </form>
    }
}

/// The conversation and composer (`children`), with what the page's scripts need to know:
/// the chat's id (none on `/chat`: the script picks one with the first message) and the
/// person's id (drafts are kept per person and chat, so a shared browser does not show one
/// person's draft to the next).
#[component]
pub fn ChatMain(session: Option<String>, children: Children) -> impl IntoView {
    let user = use_auth().signed_in_user().map(|user| user.id);
    view! {
        <div id="chat-main" class="chat-main" data-session=session data-user=user data-busy=BUSY>
            {children()}
        </div>
        <ChatScripts/>
    }
}

/// The pages' scripts, inline with the response's CSP nonce: the server build holds their text.
#[component]
fn ChatScripts() -> impl IntoView {
    #[cfg(feature = "ssr")]
    let scripts = [
        include_str!("stream.js"),
        include_str!("composer.js"),
        include_str!("follow.js"),
        include_str!("keys.js"),
    ];
    #[cfg(not(feature = "ssr"))]
    let scripts: [&str; 0] = [];
    let nonce = leptos::nonce::use_nonce().map(|nonce| nonce.to_string());
    scripts
        .into_iter()
        .map(|script| view! { <script nonce=nonce.clone() inner_html=script></script> })
        .collect_view()
}
