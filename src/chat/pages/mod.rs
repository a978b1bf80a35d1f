//! The chat pages, `/chat` (a new chat) and `/chat/:id` (one of the person's chats), rendered on
//! the server: the sidebar and the history are in the HTML before any script runs, and the
//! composer is a plain form. With JavaScript, the pages' script streams answers in place
//! (see `composer.rs`).

mod composer;
mod conversation;
mod drawer;
mod enhance;
mod guest;
mod revise;
mod search;
mod sidebar;
mod transfer;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{
    functions::{list_chats, list_models, open_chat, search_chats, ChatView, ModelChoice},
    types::DEFAULT_TITLE,
};
use crate::{app::NotFound, auth::pages::RequireUser, error::AppError};
use composer::{Composer, ComposerTarget};
use conversation::{Conversation, Examples};
use drawer::{DrawerShade, DrawerSwitch};
use sidebar::Sidebar;

/// `/chat` and `/chat/:id`: the sidebar beside the conversation (or the start of a new one).
#[component]
pub fn ChatPage() -> impl IntoView {
    view! {
        <RequireUser>
            <ChatLayout/>
        </RequireUser>
    }
}

/// The page's data, read before the page is sent: the status of an unknown chat (404) must be
/// set before the first byte goes out, so these resources block the response.
#[component]
fn ChatLayout() -> impl IntoView {
    let id = use_params_map().read_untracked().get("id");
    let query = use_query_map();
    let before = query.read_untracked().get("before");
    let prompt = query.read_untracked().get("prompt").unwrap_or_default();
    let search_query = query.read_untracked().get("q").unwrap_or_default();
    let sessions = Resource::new_blocking(|| (), |_| list_chats(None));
    let found = {
        let search_query = search_query.clone();
        Resource::new_blocking(
            || (),
            move |_| {
                let search_query = search_query.clone();
                async move {
                    match search_query.trim() {
                        "" => Ok(None),
                        _ => search_chats(search_query).await.map(Some),
                    }
                }
            },
        )
    };
    let chat = {
        let id = id.clone();
        Resource::new_blocking(
            || (),
            move |_| {
                let (id, before) = (id.clone(), before.clone());
                async move {
                    match id {
                        Some(id) => open_chat(id, before).await.map(Opened::Chat),
                        None => list_models().await.map(Opened::New),
                    }
                }
            },
        )
    };
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let (id, prompt) = (id.clone(), prompt.clone());
                let search_query = search_query.clone();
                Suspend::new(async move {
                    let sidebar = match (sessions.await, found.await) {
                        (Ok(list), Ok(found)) => Ok((list, found)),
                        (Err(error), _) | (_, Err(error)) => Err(error),
                    };
                    match (chat.await, sidebar) {
                        (Err(AppError::NotFound), _) => not_found().into_any(),
                        (Err(error), _) | (_, Err(error)) => {
                            view! { <p class="form-error" role="alert">{error.to_string()}</p> }
                                .into_any()
                        }
                        (Ok(opened), Ok((list, found))) => view! {
                            <div class="chat-layout">
                                <DrawerSwitch/>
                                <Sidebar sessions=list.sessions current=id search_query found/>
                                <DrawerShade/>
                                <ChatColumn opened prompt/>
                            </div>
                            <enhance::ToastRegion/>
                            <enhance::ConversationsScript/>
                        }
                        .into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// What the main column shows.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum Opened {
    /// One of the person's chats.
    Chat(ChatView),
    /// A chat not started yet, with the models to start it with.
    New(Vec<ModelChoice>),
}

/// The conversation (or the invitation to start one) and the composer.
#[component]
fn ChatColumn(opened: Opened, prompt: String) -> impl IntoView {
    let (title, messages, has_older, models, model, target) = match opened {
        Opened::Chat(chat) => (
            chat.session.title,
            chat.messages,
            chat.has_older,
            chat.models,
            chat.model,
            ComposerTarget::Chat(chat.session.id),
        ),
        Opened::New(models) => {
            let model = models.first().map(|m| m.id.clone()).unwrap_or_default();
            (
                DEFAULT_TITLE.to_owned(),
                Vec::new(),
                false,
                models,
                model,
                ComposerTarget::NewChat,
            )
        }
    };
    let session = target.session().map(str::to_owned);
    let empty = messages.is_empty();
    view! {
        <Title text=title.clone()/>
        <composer::ChatMain session>
            <section class="conversation" aria-labelledby="chat-title">
                <h1 id="chat-title">{title}</h1>
                <Conversation messages has_older/>
                {empty.then(|| view! { <Examples/> })}
                <guest::GuestBanner/>
                <Composer target models model prompt/>
            </section>
        </composer::ChatMain>
    }
}

/// The 404 page for a chat that is not the person's, whether or not it exists, with its status.
fn not_found() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! { <NotFound/> }
}

/// Text to put inside a `<textarea>`. Leptos writes a textarea's children unescaped (tachys:
/// `ESCAPE_CHILDREN = false`), so a text containing `</textarea>` (a `?prompt=` link anyone can
/// send, an imported message) would end the element and inject markup. The browser decodes the
/// entities back into the text.
fn textarea_text(text: &str) -> String {
    crate::chat::search::escape_html(text).into_owned()
}
