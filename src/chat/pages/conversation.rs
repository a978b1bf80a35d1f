//! The messages of a chat, oldest first, and the example prompts of an empty one.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::chat::types::{ChatMessage, MessageStatus, Role};

/// Example prompts offered on an empty chat: links that put the prompt into the composer, so
/// they work without JavaScript.
const EXAMPLES: [&str; 3] = [
    "Explain the difference between a process and a thread.",
    "Suggest three names for a bakery that sells sourdough.",
    "Write a haiku about the first snow of the year.",
];

/// The messages, in a live region: screen readers hear the answer as it is written. The
/// page script (`stream.js`) appends to this list (`id="chat-messages"`).
#[component]
pub fn Conversation(messages: Vec<ChatMessage>, has_older: bool) -> impl IntoView {
    let older = has_older
        .then(|| messages.first().map(|first| first.id.clone()))
        .flatten()
        .map(|before| {
            let href = format!(
                "{}?before={before}",
                use_location().pathname.get_untracked()
            );
            view! { <a class="older-messages" href=href>"Show older messages"</a> }
        });
    let last_question = messages
        .iter()
        .rev()
        .find(|message| message.role == Role::User)
        .map(|message| message.content.clone())
        .unwrap_or_default();
    // Offered once the last answer has ended.
    let revise = messages
        .last()
        .filter(|last| last.role == Role::Assistant && last.status != MessageStatus::Streaming)
        .map(|last| {
            view! {
                <super::revise::ReviseLastTurn
                    session=last.chat_session_id.clone()
                    question=last_question.clone()
                    model=last.model.clone().unwrap_or_default()
                />
            }
            .into_any()
        });
    view! {
        {older}
        <ol id="chat-messages" class="messages" role="log" aria-live="polite">
            {messages
                .into_iter()
                .map(|message| view! { <Message message last_question=last_question.clone()/> })
                .collect_view()}
        </ol>
        {revise}
    }
}

/// One message; an answer that did not complete says so, and a failed one offers a retry.
#[component]
fn Message(message: ChatMessage, last_question: String) -> impl IntoView {
    let status = match message.status {
        MessageStatus::Complete => None,
        MessageStatus::Streaming => Some(
            view! {
                <p class="message-status">"Still being written… reload to see more."</p>
            }
            .into_any(),
        ),
        MessageStatus::Stopped => {
            Some(view! { <p class="message-status">"Stopped"</p> }.into_any())
        }
        MessageStatus::Error => Some(
            view! {
                <p class="message-status message-error">
                    {message.error.clone().unwrap_or_else(|| "The answer failed.".into())}
                </p>
                <RetryForm session=message.chat_session_id.clone() content=last_question/>
            }
            .into_any(),
        ),
    };
    // A person's words are shown as typed; an answer is rendered (see `crate::chat::render`).
    let content = match message.role {
        Role::Assistant => view! {
            <div class="message-content markdown" inner_html=answer_html(&message.content)></div>
        }
        .into_any(),
        Role::User | Role::System => {
            view! { <div class="message-content">{message.content}</div> }.into_any()
        }
    };
    view! {
        <li class=format!("message {}", message.role.as_str()) data-status=message.status.as_str()>
            <span class="message-author">{author(message.role)}</span>
            {content}
            {status}
        </li>
    }
}

/// An answer as sanitised HTML. The chat pages are rendered on the server only (no island
/// contains them), so the browser build needs no renderer.
#[cfg(feature = "ssr")]
fn answer_html(markdown: &str) -> String {
    crate::chat::render::render_markdown(markdown)
}

#[cfg(not(feature = "ssr"))]
fn answer_html(_markdown: &str) -> String {
    String::new()
}

/// Sends the last question again (a plain form: it works without JavaScript too).
#[component]
fn RetryForm(session: String, content: String) -> impl IntoView {
    use crate::chat::functions::SendMessage;
    use leptos::server_fn::ServerFn;
    view! {
        <form class="retry-form" method="post" action=SendMessage::url()>
            <input type="hidden" name="id" value=session/>
            <input type="hidden" name="content" value=content/>
            <input type="hidden" name="model" value=""/>
            <button type="submit" class="retry">"Retry"</button>
        </form>
    }
}

/// Who wrote a message, as a person reads it.
pub fn author(role: Role) -> &'static str {
    match role {
        Role::User => "You",
        Role::Assistant => "Answer",
        Role::System => "System",
    }
}

/// The example prompts (`id="chat-examples"`: the page script removes them once a message is sent).
#[component]
pub fn Examples() -> impl IntoView {
    let path = use_location().pathname.get_untracked();
    view! {
        <div id="chat-examples" class="chat-examples">
            <p>"Not sure where to start? Try one of these:"</p>
            <ul>
                {EXAMPLES
                    .iter()
                    .map(|example| {
                        let href = format!("{path}?prompt={}", crate::auth::pages::urlencoding(example));
                        view! { <li><a href=href>{*example}</a></li> }
                    })
                    .collect_view()}
            </ul>
        </div>
    }
}
