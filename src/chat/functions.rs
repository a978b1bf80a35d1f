//! The chat's server functions: what the pages read and the forms post. Each takes the user from
//! the verified session, never from its arguments; another user's chat reads as a missing one.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    search::Snippet,
    types::{ChatMessage, ChatSummary},
};
use crate::error::AppError;

/// A page of the sidebar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatList {
    pub sessions: Vec<ChatSummary>,
    /// The cursor of the next (older) page, if any.
    pub next: Option<String>,
}

/// A model offered in the picker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelChoice {
    pub id: String,
    pub label: String,
    /// The offline echo, which is not an AI.
    pub offline: bool,
}

/// One chat as its page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatView {
    pub session: ChatSummary,
    /// The newest page of messages, in order.
    pub messages: Vec<ChatMessage>,
    pub has_older: bool,
    pub models: Vec<ModelChoice>,
    /// The model the composer starts with: the one the last answer used, else the default.
    pub model: String,
}

/// A chat that matched a search, and where: its title with the matched words marked, and an
/// extract of the message that matched (None when only the title did).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    pub session: ChatSummary,
    pub title: Snippet,
    pub excerpt: Option<Snippet>,
}

/// The most chats a search shows.
pub const SEARCH_RESULTS: u32 = 50;

/// Messages shown per page of a chat.
pub const MESSAGES_PER_PAGE: u32 = 50;
/// Sessions shown per page of the sidebar.
pub const SESSIONS_PER_PAGE: u32 = 50;

#[cfg(feature = "ssr")]
mod server {
    use super::*;
    use crate::{
        auth::actions::signed_in_user,
        chat::{
            relay::{ChatRelay, SendError},
            store::{ChatStoreError, UserId},
            types::InputError,
        },
    };

    /// The verified user and the chat service.
    pub async fn caller() -> Result<(UserId, ChatRelay), AppError> {
        let user = signed_in_user().await?;
        let relay = use_context::<ChatRelay>().ok_or(AppError::Internal)?;
        Ok((UserId::from(&user), relay))
    }

    impl From<ChatStoreError> for AppError {
        fn from(error: ChatStoreError) -> Self {
            match error {
                ChatStoreError::NotFound => AppError::NotFound,
                ChatStoreError::Busy => AppError::Refused(BUSY.into()),
                ChatStoreError::TooManyStreams(_)
                | ChatStoreError::NoQuestion
                | ChatStoreError::GuestQuotaReached(_) => AppError::Refused(error.to_string()),
                ChatStoreError::Database(error) => {
                    tracing::error!(%error, "chat store failure");
                    AppError::Unavailable
                }
            }
        }
    }

    impl From<SendError> for AppError {
        fn from(error: SendError) -> Self {
            match error {
                SendError::NotFound => AppError::NotFound,
                SendError::Busy => AppError::Refused(BUSY.into()),
                SendError::UnknownModel(_) => {
                    AppError::Refused("That model is not available. Choose another one.".into())
                }
                SendError::Store(error) => error.into(),
            }
        }
    }

    impl From<InputError> for AppError {
        fn from(error: InputError) -> Self {
            AppError::Refused(error.to_string())
        }
    }

    /// Sends `content` with `model` (the default if empty) and waits until the answer ends.
    pub async fn send_and_wait(
        relay: &ChatRelay,
        user: &UserId,
        id: &str,
        content: &str,
        model: &str,
    ) -> Result<(), AppError> {
        let exchange = relay
            .send(user, id, content, Some(model).filter(|m| !m.is_empty()))
            .await?;
        wait_for_end(exchange).await;
        Ok(())
    }

    /// Waits until an answer ends.
    pub async fn wait_for_end(mut exchange: crate::chat::relay::Exchange) {
        use crate::chat::relay::AnswerEvent;
        // The answer is saved by the relay whatever happens; this only waits for its end.
        while let Some(event) = exchange.events.recv().await {
            if let AnswerEvent::Ended { .. } = event {
                break;
            }
        }
    }

    pub fn models(relay: &ChatRelay) -> Vec<ModelChoice> {
        relay
            .models()
            .list()
            .iter()
            .map(|model| ModelChoice {
                id: model.id.clone(),
                label: model.label.clone(),
                offline: model.offline,
            })
            .collect()
    }
}

/// What a second send during a stream is told.
pub const BUSY: &str =
    "An answer is still being written in this chat. Stop it or wait for it to finish.";

/// The user's chats, most recently active first.
#[server(endpoint = "chat/list")]
pub async fn list_chats(cursor: Option<String>) -> Result<ChatList, AppError> {
    use crate::chat::store::SessionCursor;
    let (user, relay) = server::caller().await?;
    let after = match cursor.as_deref() {
        None | Some("") => None,
        Some(token) => Some(
            SessionCursor::decode(token)
                .ok_or_else(|| AppError::Refused("That page of chats does not exist.".into()))?,
        ),
    };
    let page = relay
        .store()
        .list_sessions(&user, after.as_ref(), SESSIONS_PER_PAGE)
        .await?;
    Ok(ChatList {
        sessions: page.sessions,
        next: page.next.map(|next| next.encode()),
    })
}

/// The user's chats whose title or messages contain every word of `query` (as the start of a
/// word), most recently active first. Any text is a valid query: what is not a letter or a
/// digit only separates words.
#[server(endpoint = "chat/search")]
pub async fn search_chats(query: String) -> Result<Vec<SearchResult>, AppError> {
    use crate::chat::search::{snippet, SearchTerms};
    let (user, relay) = server::caller().await?;
    let terms = SearchTerms::parse(&query);
    let hits = relay.store().search(&user, &terms, SEARCH_RESULTS).await?;
    Ok(hits
        .into_iter()
        .map(|hit| SearchResult {
            title: snippet(&hit.session.title, &terms),
            excerpt: hit.message.map(|message| snippet(&message, &terms)),
            session: hit.session,
        })
        .collect())
}

/// One chat with its newest messages, or the page of them before `before` (a message id);
/// `NotFound` if it is not the user's.
#[server(endpoint = "chat/open")]
pub async fn open_chat(id: String, before: Option<String>) -> Result<ChatView, AppError> {
    let (user, relay) = server::caller().await?;
    let store = relay.store();
    let session = store.session(&user, &id).await?.ok_or(AppError::NotFound)?;
    let before = before.filter(|before| !before.is_empty());
    let page = store
        .messages(&user, &id, before.as_deref(), MESSAGES_PER_PAGE)
        .await?
        .ok_or(AppError::NotFound)?;
    let models = server::models(&relay);
    let model = page
        .messages
        .iter()
        .rev()
        .find_map(|message| message.model.clone())
        .filter(|used| models.iter().any(|m| &m.id == used))
        .unwrap_or_else(|| relay.models().default_model().id.clone());
    Ok(ChatView {
        session,
        messages: page.messages,
        has_older: page.has_older,
        models,
        model,
    })
}

/// The page of a chat's messages before `before` (a message id).
#[server(endpoint = "chat/older")]
pub async fn older_messages(
    id: String,
    before: String,
) -> Result<(Vec<ChatMessage>, bool), AppError> {
    let (user, relay) = server::caller().await?;
    let page = relay
        .store()
        .messages(&user, &id, Some(&before), MESSAGES_PER_PAGE)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((page.messages, page.has_older))
}

/// The models the picker offers.
#[server(endpoint = "chat/models")]
pub async fn list_models() -> Result<Vec<ModelChoice>, AppError> {
    let (_, relay) = server::caller().await?;
    Ok(server::models(&relay))
}

/// Starts a new chat and goes to it.
#[server(endpoint = "chat/new")]
pub async fn new_chat() -> Result<(), AppError> {
    let (user, relay) = server::caller().await?;
    let session = relay
        .store()
        .create_session(&user, None, crate::chat::types::DEFAULT_TITLE)
        .await?;
    leptos_axum::redirect(&format!("/chat/{}", session.id));
    Ok(())
}

/// Renames one of the user's chats.
#[server(endpoint = "chat/rename")]
pub async fn rename_chat(id: String, title: String) -> Result<ChatSummary, AppError> {
    let (user, relay) = server::caller().await?;
    let title = crate::chat::types::valid_title(&title)?;
    relay
        .store()
        .rename(&user, &id, &title)
        .await?
        .ok_or(AppError::NotFound)
}

/// Deletes one of the user's chats with its messages, and goes to the chat list.
#[server(endpoint = "chat/delete")]
pub async fn delete_chat(id: String) -> Result<(), AppError> {
    let (user, relay) = server::caller().await?;
    if !relay.delete(&user, &id).await? {
        return Err(AppError::NotFound);
    }
    leptos_axum::redirect("/chat");
    Ok(())
}

/// Deletes the user's chats that have no messages, and goes to the chat list (the chat on
/// screen may have been one of them); how many.
#[server(endpoint = "chat/delete_empty")]
pub async fn delete_empty_chats() -> Result<u64, AppError> {
    let (user, relay) = server::caller().await?;
    let deleted = relay.store().delete_empty(&user).await?;
    leptos_axum::redirect("/chat");
    Ok(deleted)
}

/// Sends a message and waits for the whole answer, then shows the chat again: the form that
/// works without JavaScript (with it, the page streams through `POST /api/sessions/{id}`).
#[server(endpoint = "chat/send")]
pub async fn send_message(id: String, content: String, model: String) -> Result<(), AppError> {
    let (user, relay) = server::caller().await?;
    let content = crate::chat::types::valid_message(&content)?;
    server::send_and_wait(&relay, &user, &id, content, &model).await?;
    leptos_axum::redirect(&format!("/chat/{id}"));
    Ok(())
}

/// Starts a chat with its first message, waits for the whole answer and goes to the chat: the
/// composer of `/chat` without JavaScript (with it, the page picks the new chat's id itself and
/// streams).
#[server(endpoint = "chat/start")]
pub async fn start_chat(content: String, model: String) -> Result<(), AppError> {
    use crate::chat::types::DEFAULT_TITLE;
    let (user, relay) = server::caller().await?;
    // Checked before the chat exists: a refused message leaves no empty chat behind.
    let content = crate::chat::types::valid_message(&content)?;
    relay.model_id(Some(model.as_str()))?;
    relay.has_stream_room(&user).await?;
    let session = relay
        .store()
        .create_session(&user, None, DEFAULT_TITLE)
        .await?;
    server::send_and_wait(&relay, &user, &session.id, content, &model).await?;
    leptos_axum::redirect(&format!("/chat/{}", session.id));
    Ok(())
}

/// Stores a JSON export (pasted, or read from a file by the page's script) as a new chat of
/// the user, and goes to it.
#[server(endpoint = "chat/import")]
pub async fn import_chat(export: String) -> Result<(), AppError> {
    let (user, relay) = server::caller().await?;
    let valid = crate::chat::transfer::parse_export(&export)
        .map_err(|error| AppError::Refused(error.to_string()))?;
    let session = relay.store().import(&user, &valid).await?;
    leptos_axum::redirect(&format!("/chat/{}", session.id));
    Ok(())
}

/// Answers the last message of a chat again, replacing the last answer, waits for the whole
/// answer and shows the chat: the form that works without JavaScript.
#[server(endpoint = "chat/regenerate")]
pub async fn regenerate_answer(id: String, model: String) -> Result<(), AppError> {
    let (user, relay) = server::caller().await?;
    let exchange = relay
        .regenerate(
            &user,
            &id,
            None,
            Some(model.as_str()).filter(|m| !m.is_empty()),
        )
        .await?;
    server::wait_for_end(exchange).await;
    leptos_axum::redirect(&format!("/chat/{id}"));
    Ok(())
}

/// Replaces the text of the last message of a chat and answers it again (the old answer is
/// replaced), waits for the whole answer and shows the chat.
#[server(endpoint = "chat/edit")]
pub async fn edit_last_message(id: String, content: String, model: String) -> Result<(), AppError> {
    let (user, relay) = server::caller().await?;
    let content = crate::chat::types::valid_message(&content)?;
    let exchange = relay
        .regenerate(
            &user,
            &id,
            Some(content),
            Some(model.as_str()).filter(|m| !m.is_empty()),
        )
        .await?;
    server::wait_for_end(exchange).await;
    leptos_axum::redirect(&format!("/chat/{id}"));
    Ok(())
}

/// What a guest (signed in anonymously) may still send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestQuota {
    pub left: u32,
    pub limit: u32,
}

/// The guest's allowance; None for a person with an account.
#[server(endpoint = "chat/guest_allowance")]
pub async fn guest_allowance() -> Result<Option<GuestQuota>, AppError> {
    let (user, relay) = server::caller().await?;
    let store = relay.store();
    let Some(limit) = store.guest_limit(&user) else {
        return Ok(None);
    };
    let left = store.guest_messages_left(&user).await?.unwrap_or(0);
    Ok(Some(GuestQuota { left, limit }))
}
