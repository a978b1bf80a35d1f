//! The composer, and the island around the conversation that streams answers in place.
//!
//! Without JavaScript the composer is a plain form: it posts to `send_message` (or `start_chat`
//! on `/chat`), which answers once the whole answer is stored, and the page comes back with it.
//! With JavaScript, [`ChatIsland`] takes over the same form: it posts to the starter's streaming
//! route, `POST /api/sessions/{id}`, and writes each piece of the answer into the page as it
//! arrives (see `stream.rs`). The island renders no markup of its own besides one wrapper: the
//! form and the messages are its server-rendered children, and it listens to the events that
//! bubble up from them. That keeps it small, which matters because every island ships in the
//! one bundle every page loads (docs/PERFORMANCE.md).

use leptos::{prelude::*, server_fn::ServerFn};

use crate::{
    auth::pages::returned_error,
    chat::{
        functions::{ModelChoice, SendMessage, StartChat},
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
/// streams, which only happens with JavaScript).
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
            {id}
            <label for="composer-input" class="visually-hidden">"Message"</label>
            <textarea
                id="composer-input"
                name="content"
                rows="3"
                maxlength=MAX_MESSAGE_CHARS
                placeholder="Type a message"
                required
            >
                {prompt}
            </textarea>
            <p id="composer-error" class="form-error" role="alert" hidden=error.is_none()>
                {error.as_ref().map(ToString::to_string)}
            </p>
            <div class="composer-actions">
                <label class="model-picker">
                    "Model" <select id="composer-model" name="model">{options}</select>
                </label>
                <span class="composer-hint muted">"Enter sends, Shift+Enter starts a new line"</span>
                <button type="button" id="composer-stop" class="secondary" hidden>
                    "Stop"
                </button>
                <button type="submit" id="composer-send">"Send"</button>
            </div>
        </form>
    }
}

/// What the island remembers between events (read only by the browser's event handlers).
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub struct ChatState {
    /// The chat's id; on `/chat`, None until the first message picks one.
    pub session: StoredValue<Option<String>>,
    /// Whether an answer is streaming (a second send is refused until it ends).
    pub streaming: StoredValue<bool>,
}

/// Streams answers into the conversation it wraps (`children`: the messages and the composer,
/// rendered on the server). `session` is the chat's id, None on `/chat`.
#[island]
pub fn ChatIsland(session: Option<String>, children: Children) -> impl IntoView {
    let state = ChatState {
        session: StoredValue::new(session),
        streaming: StoredValue::new(false),
    };
    view! {
        <div
            class="chat-main"
            on:submit=move |event| on_submit(event, state)
            on:keydown=move |event| on_keydown(event, state)
            on:click=move |event| on_click(event, state)
        >
            {children()}
        </div>
    }
}

/// A form in the conversation was submitted (the composer, or a retry): stream its message.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
fn on_submit(event: leptos::ev::SubmitEvent, state: ChatState) {
    #[cfg(feature = "hydrate")]
    super::stream::on_submit(&event, state);
}

/// Enter sends, Shift+Enter is a new line, Esc stops.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
fn on_keydown(event: leptos::ev::KeyboardEvent, state: ChatState) {
    #[cfg(feature = "hydrate")]
    super::stream::on_keydown(&event, state);
}

/// Stop, and the retry of an answer that failed while streaming.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
fn on_click(event: leptos::ev::MouseEvent, state: ChatState) {
    #[cfg(feature = "hydrate")]
    super::stream::on_click(&event, state);
}
