//! The HTTP API of the FastAPI backend ferrochat replaces, so that its frontend and other clients
//! keep working during a migration: the same routes, JSON shapes and stream format, with the
//! starter's holes closed (every route needs a verified user and touches only their chats; the
//! stream escapes its text; the model sees the conversation, not only the last message; a stop
//! ends the model's request and keeps the partial answer, whichever instance it reaches). See
//! docs/API.md.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/sessions` | the caller's sessions, newest activity first |
//! | `GET /api/sessions/{id}` | the session's messages, oldest first |
//! | `POST /api/sessions/{id}` | `{sessionId, model, messages}`: stores the last (user) message, creates the session if the id is new, streams the answer (data stream v1) |
//! | `PATCH /api/sessions/{id}/title` | `{title}`: the renamed session |
//! | `DELETE /api/sessions/{id}` | `{detail}` |
//! | `DELETE /api/empty-sessions` | `{detail}`: deletes all of the **caller's** chats |
//! | `POST /api/sessions/{id}/stop` | ferrochat's addition: `{stopped}` |
//!
//! Errors are FastAPI's shape, `{"detail": …}`: 401 without a valid token, 404 for a session
//! that is not the caller's (whether or not it exists), 409 while an answer streams, 422 for a
//! malformed id or body.

use std::convert::Infallible;

use axum::{
    body::Body,
    extract::{rejection::JsonRejection, FromRequestParts, Path, State},
    http::{header, request::Parts, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, patch, post},
    Json, Router,
};
use futures_util::{stream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    data_stream,
    functions::BUSY,
    relay::{AnswerEvent, ChatRelay, SendError},
    store::{ChatStoreError, UserId},
    types::{valid_message, valid_title, ChatMessage, ChatSummary, Role, DEFAULT_TITLE},
};
use crate::{auth::session::AuthUser, error::AppError};

/// The most sessions `GET /api/sessions` lists (the starter listed all; this bounds the answer).
const MAX_LISTED_SESSIONS: usize = 1000;
/// Sessions read per query when they are listed (the store's largest page).
const SESSION_PAGE: u32 = 200;
/// Messages read per query when a whole session is returned.
const MESSAGE_PAGE: u32 = 500;

/// An error in FastAPI's shape.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: Value,
}

impl ApiError {
    fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: Value::String(detail.into()),
        }
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Chat session not found")
    }

    /// 422 with FastAPI's validation detail: where, what, which kind.
    fn invalid(location: &[&str], message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{ "loc": location, "msg": message.into(), "type": "value_error" }]),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "detail": self.detail }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<ChatStoreError> for ApiError {
    fn from(error: ChatStoreError) -> Self {
        match error {
            ChatStoreError::NotFound => ApiError::not_found(),
            ChatStoreError::Busy => ApiError::new(StatusCode::CONFLICT, BUSY),
            ChatStoreError::TooManyStreams(_) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, error.to_string())
            }
            ChatStoreError::Database(error) => {
                tracing::error!(%error, "chat store failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The chat could not be reached just now. Please try again.",
                )
            }
        }
    }
}

/// The verified caller, or FastAPI's 401.
pub struct Caller(UserId);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match AuthUser::from_request_parts(parts, state).await {
            Ok(user) => Ok(Caller(UserId::from(&user))),
            Err(AppError::Unavailable) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Your sign-in could not be checked just now. Please try again.",
            )),
            // Signed in with the password alone by someone who set up a second factor.
            Err(error @ AppError::SecondFactorRequired) => {
                Err(ApiError::new(StatusCode::FORBIDDEN, error.to_string()))
            }
            Err(_) if parts.headers.contains_key(header::AUTHORIZATION) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Invalid or expired token",
            )),
            Err(_) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "Not authenticated")),
        }
    }
}

/// A session id from the path: a UUID, as the starter's routes required.
pub struct SessionId(String);

impl<S: Send + Sync> FromRequestParts<S> for SessionId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        #[derive(Deserialize)]
        struct Params {
            id: String,
        }
        let Path(Params { id }) = Path::<Params>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ApiError::invalid(&["path", "session_id"], "Input should be a valid UUID")
            })?;
        uuid::Uuid::parse_str(&id)
            .map(|uuid| SessionId(uuid.hyphenated().to_string()))
            .map_err(|_| ApiError::invalid(&["path", "session_id"], "Input should be a valid UUID"))
    }
}

/// A JSON body, or FastAPI's 422.
pub struct Body422<T>(T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for Body422<T> {
    type Rejection = ApiError;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body422(value)),
            Err(JsonRejection::BytesRejection(_)) => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request is too large.",
            )),
            Err(rejection) => Err(ApiError::invalid(&["body"], rejection.body_text())),
        }
    }
}

/// ISO 8601, as the starter's datetimes serialised.
fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn session_json(session: &ChatSummary) -> Value {
    json!({
        "id": session.id,
        "title": session.title,
        "created_at": iso(session.created_at),
        "updated_at": iso(session.updated_at),
    })
}

fn message_json(message: &ChatMessage) -> Value {
    json!({
        "id": message.id,
        "chat_session_id": message.chat_session_id,
        "role": message.role.as_str(),
        "content": message.content,
        "created_at": iso(message.created_at),
    })
}

/// The starter's routes (and the stop), for the app's router.
pub fn router<S>(relay: ChatRelay) -> Router<S> {
    Router::new()
        .route("/api/sessions", get(list_sessions))
        .route(
            "/api/sessions/{id}",
            get(session_messages).post(send).delete(delete_session),
        )
        .route("/api/sessions/{id}/title", patch(rename))
        .route("/api/sessions/{id}/stop", post(stop))
        .route("/api/empty-sessions", delete(delete_all))
        .with_state(relay)
}

async fn list_sessions(
    State(relay): State<ChatRelay>,
    Caller(user): Caller,
) -> Result<Json<Value>, ApiError> {
    // Page by page: one query returns at most the store's page size.
    let mut sessions = Vec::new();
    let mut after = None;
    loop {
        let page = relay
            .store()
            .list_sessions(&user, after.as_ref(), SESSION_PAGE)
            .await?;
        sessions.extend(page.sessions.iter().map(session_json));
        after = page.next;
        if after.is_none() || sessions.len() >= MAX_LISTED_SESSIONS {
            break;
        }
    }
    sessions.truncate(MAX_LISTED_SESSIONS);
    Ok(Json(Value::Array(sessions)))
}

async fn session_messages(
    State(relay): State<ChatRelay>,
    Caller(user): Caller,
    SessionId(id): SessionId,
) -> Result<Json<Value>, ApiError> {
    let store = relay.store();
    let mut pages = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let page = store
            .messages(&user, &id, before.as_deref(), MESSAGE_PAGE)
            .await?
            .ok_or_else(ApiError::not_found)?;
        before = page.messages.first().map(|m| m.id.clone());
        let more = page.has_older;
        pages.push(page.messages);
        if !more {
            break;
        }
    }
    let messages: Vec<Value> = pages.iter().rev().flatten().map(message_json).collect();
    Ok(Json(Value::Array(messages)))
}

/// The starter's body: the whole conversation, of which only the last message is new.
#[derive(Deserialize)]
pub struct SendBody {
    // `sessionId` is accepted and ignored, as the path names the session.
    model: Option<String>,
    messages: Vec<IncomingMessage>,
}

#[derive(Deserialize)]
pub struct IncomingMessage {
    role: String,
    content: String,
}

async fn send(
    State(relay): State<ChatRelay>,
    Caller(user): Caller,
    SessionId(id): SessionId,
    Body422(body): Body422<SendBody>,
) -> Result<Response, ApiError> {
    let last = body
        .messages
        .last()
        .filter(|message| Role::parse(&message.role) == Some(Role::User))
        .ok_or_else(|| {
            ApiError::invalid(&["body", "messages"], "The last message must be the user's")
        })?;
    let content = valid_message(&last.content)
        .map_err(|error| ApiError::invalid(&["body", "messages", "content"], error.to_string()))?;
    // Checked before the session is created: a refused request leaves nothing behind.
    let model = relay.model_id(body.model.as_deref())?;
    relay.store().has_stream_room(&user).await?;
    // The starter created a session for an id it did not know; so does this, for the caller.
    relay
        .store()
        .create_session(&user, Some(&id), DEFAULT_TITLE)
        .await?;
    let exchange = relay.send(&user, &id, content, Some(&model)).await?;
    Ok(data_stream_response(&exchange.answer.id, exchange.events))
}

impl From<SendError> for ApiError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::NotFound => ApiError::not_found(),
            SendError::Busy => ApiError::new(StatusCode::CONFLICT, BUSY),
            SendError::UnknownModel(model) => ApiError::invalid(
                &["body", "model"],
                format!("The model {model:?} is not available here"),
            ),
            SendError::Store(error) => ApiError::from(error),
        }
    }
}

/// The answer's events as a data stream response; the response body owns the receiver, so a
/// client that goes away drops it and stops the answer.
pub fn data_stream_response(
    answer_id: &str,
    events: tokio::sync::mpsc::Receiver<AnswerEvent>,
) -> Response {
    let first = data_stream::start(answer_id);
    let parts = stream::once(async move { Ok::<_, Infallible>(first) })
        .chain(stream::unfold(events, |mut events| async move {
            let part = match events.recv().await? {
                AnswerEvent::Token(token) => data_stream::text(&token),
                AnswerEvent::Ended {
                    status,
                    error,
                    usage,
                } => {
                    let mut out = error.map(|e| data_stream::error(&e)).unwrap_or_default();
                    out.push_str(&data_stream::finish(status, usage));
                    out
                }
            };
            Some((Ok(part), events))
        }))
        // Hyper may poll a body once more after its end (seen with browsers); `unfold` panics then.
        .fuse();
    let (name, value) = data_stream::HEADER;
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(name, value)
        .header(header::CACHE_CONTROL, "no-store")
        // Proxies must pass tokens on as they come.
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(parts))
        .expect("a valid streaming response")
}

#[derive(Deserialize)]
pub struct TitleBody {
    title: String,
}

async fn rename(
    State(relay): State<ChatRelay>,
    Caller(user): Caller,
    SessionId(id): SessionId,
    Body422(body): Body422<TitleBody>,
) -> Result<Json<Value>, ApiError> {
    let title = valid_title(&body.title)
        .map_err(|error| ApiError::invalid(&["body", "title"], error.to_string()))?;
    let session = relay
        .store()
        .rename(&user, &id, &title)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(session_json(&session)))
}

async fn delete_session(
    State(relay): State<ChatRelay>,
    Caller(user): Caller,
    SessionId(id): SessionId,
) -> Result<Json<Value>, ApiError> {
    if !relay.delete(&user, &id).await? {
        return Err(ApiError::not_found());
    }
    Ok(Json(
        json!({ "detail": "Chat session and its messages have been deleted" }),
    ))
}

async fn delete_all(
    State(relay): State<ChatRelay>,
    Caller(user): Caller,
) -> Result<Json<Value>, ApiError> {
    relay.delete_all(&user).await?;
    Ok(Json(
        json!({ "detail": "All of your chat sessions and messages have been deleted" }),
    ))
}

async fn stop(
    State(relay): State<ChatRelay>,
    Caller(user): Caller,
    SessionId(id): SessionId,
) -> Result<Json<Value>, ApiError> {
    if relay.store().session(&user, &id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    Ok(Json(json!({ "stopped": relay.stop(&user, &id).await? })))
}
