//! The sidebar: "New chat", the person's chats by recency, and the open chat's rename and
//! delete forms.

use leptos::{prelude::*, server_fn::ServerFn};

use crate::{
    auth::{context::use_auth, pages::returned_error},
    chat::{
        functions::{DeleteChat, RenameChat},
        types::{ChatSummary, MAX_TITLE_CHARS},
    },
    server_form::ServerForm,
};

/// The list of chats (`id="chat-list"`: the page script adds a chat it starts to the top).
#[component]
pub fn Sidebar(sessions: Vec<ChatSummary>, current: Option<String>) -> impl IntoView {
    let email = use_auth().signed_in_user().map(|user| {
        if user.guest {
            "a guest".to_owned()
        } else {
            user.email
        }
    });
    let empty = sessions.is_empty();
    view! {
        <aside class="chat-sidebar" aria-label="Your chats">
            <h2>"Your chats"</h2>
            <a class="button new-chat" href="/chat">"New chat"</a>
            <ul id="chat-list" class="chat-list">
                {sessions
                    .into_iter()
                    .map(|session| {
                        let is_current = current.as_deref() == Some(session.id.as_str());
                        view! { <ChatItem session is_current/> }
                    })
                    .collect_view()}
            </ul>
            {empty.then(|| view! { <p id="no-chats" class="muted">"No chats yet."</p> })}
            <p class="muted signed-in">
                "Signed in as " <strong data-testid="signed-in-email">{email}</strong>
            </p>
        </aside>
    }
}

/// One chat in the list; the open one is marked and carries its rename and delete forms (one
/// pair on the page, so a refusal of either shows where it was made).
#[component]
fn ChatItem(session: ChatSummary, is_current: bool) -> impl IntoView {
    let href = format!("/chat/{}", session.id);
    let actions = is_current.then(|| {
        view! {
            <RenameForm id=session.id.clone() title=session.title.clone()/>
            <DeleteForm id=session.id.clone() title=session.title.clone()/>
        }
    });
    view! {
        <li class="chat-item">
            <a href=href aria-current=is_current.then_some("page")>{session.title}</a>
            {actions}
        </li>
    }
}

/// Renames the chat: a form that opens in place (a `<details>`, so no script is needed).
#[component]
fn RenameForm(id: String, title: String) -> impl IntoView {
    let returned_error = returned_error::<RenameChat>();
    let open = returned_error.is_some();
    view! {
        <details class="chat-action" open=open>
            <summary>"Rename"</summary>
            <ServerForm
                action=RenameChat::url()
                class="inline-form rename-form"
                label="Save"
                pending_label="Saving…"
                returned_error
            >
                <input type="hidden" name="id" value=id/>
                <label>
                    "New title"
                    <input
                        type="text"
                        name="title"
                        value=title
                        maxlength=MAX_TITLE_CHARS
                        required
                        autocomplete="off"
                    />
                </label>
            </ServerForm>
        </details>
    }
}

/// Deletes the chat after a second click on a button that says what it does.
#[component]
fn DeleteForm(id: String, title: String) -> impl IntoView {
    let returned_error = returned_error::<DeleteChat>();
    let open = returned_error.is_some();
    view! {
        <details class="chat-action" open=open>
            <summary>"Delete"</summary>
            <p>{format!("Delete “{title}” and all of its messages? This cannot be undone.")}</p>
            <ServerForm
                action=DeleteChat::url()
                class="inline-form delete-form"
                label="Delete for good"
                pending_label="Deleting…"
                button_class="danger"
                returned_error
            >
                <input type="hidden" name="id" value=id/>
            </ServerForm>
        </details>
    }
}
