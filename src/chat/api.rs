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
//! | `POST /api/sessions/{id}/regenerate` | ferrochat's addition: `{model?, content?}`: answers the last user message again (its text replaced by `content` if given), replacing the last answer; streams like a send |
//! | `GET /api/sessions/{id}/export?format=markdown\|json` | ferrochat's addition: the chat as a download |
//! | `POST /api/sessions/import` | ferrochat's addition: a JSON export becomes a new chat of the caller (201, the session) |
//!
//! Errors are FastAPI's shape, `{"detail": …}`: 401 without a valid token, 404 for a session
//! that is not the caller's (whether or not it exists), 409 while an answer streams, 422 for a
//! malformed id or body.

use std::convert::Infallible;

use axum::{
    body::Body,
    extract::{
        rejection::JsonRejection, DefaultBodyLimit, FromRequestParts, Path, Query, RawQuery, State,
    },
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
    render::StreamRenderer,
    store::{ChatStoreError, UserId},
    transfer::{self, ChatExport, ImportError, MAX_IMPORT_BYTES},
    types::{valid_message, valid_title, ChatMessage, ChatSummary, Role, DEFAULT_TITLE},
};
use crate::{auth::session::AuthUser, error::AppError};

/// The most sessions `GET /api/sessions` lists (the starter listed all; this bounds the answer).
const MAX_LISTED_SESSIONS: usize = 1000;
/// Sessions read per query when they are listed (the store's largest page).
const SESSION_PAGE: u32 = 200;

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
            ChatStoreError::NoQuestion => ApiError::new(StatusCode::CONFLICT, error.to_string()),
            ChatStoreError::TooManyStreams(_) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, error.to_string())
            }
            // Not 429: waiting does not help, adding an email address does.
            ChatStoreError::GuestQuotaReached(_) => {
                ApiError::new(StatusCode::FORBIDDEN, error.to_string())
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
        .route("/api/sessions/{id}/regenerate", post(regenerate))
        .route("/api/sessions/{id}/export", get(export))
        .route(
            "/api/sessions/import",
            post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
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
    let messages = relay
        .store()
        .all_messages(&user, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(Value::Array(
        messages.iter().map(message_json).collect(),
    )))
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
    RawQuery(query): RawQuery,
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
    relay.has_stream_room(&user).await?;
    // The starter created a session for an id it did not know; so does this, for the caller.
    relay
        .store()
        .create_session(&user, Some(&id), DEFAULT_TITLE)
        .await?;
    let exchange = relay.send(&user, &id, content, Some(&model)).await?;
    Ok(data_stream_response(
        &exchange.answer.id,
        exchange.events,
        renderer_if_asked(query),
    ))
}

/// ferrochat's chat page asks for the answer rendered too, with `?render=html` (see
/// `data_stream`); the starter's clients never do, and get the starter's stream unchanged.
fn renderer_if_asked(query: Option<String>) -> Option<StreamRenderer> {
    query
        .is_some_and(|query| query.split('&').any(|pair| pair == "render=html"))
        .then(StreamRenderer::new)
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

/// The answer's events as a data stream response, with its HTML if `renderer` is given; the
/// response body owns the receiver, so a client that goes away drops it and stops the answer.
pub fn data_stream_response(
    answer_id: &str,
    events: tokio::sync::mpsc::Receiver<AnswerEvent>,
    renderer: Option<StreamRenderer>,
) -> Response {
    let first = data_stream::start(answer_id);
    let parts = stream::once(async move { Ok::<_, Infallible>(first) })
        .chain(stream::unfold(
            (events, renderer),
            |(mut events, mut renderer)| async move {
                let part = match events.recv().await? {
                    AnswerEvent::Token(token) => {
                        let mut out = data_stream::text(&token);
                        if let Some(blocks) = renderer.as_mut().and_then(|r| r.push(&token)) {
                            out.push_str(&data_stream::rendered_blocks(&blocks));
                        }
                        out
                    }
                    AnswerEvent::Ended {
                        status,
                        error,
                        usage,
                    } => {
                        let mut out = renderer
                            .as_ref()
                            .map(|r| data_stream::rendered_answer(&r.finish()))
                            .unwrap_or_default();
                        if let Some(error) = error {
                            out.push_str(&data_stream::error(&error));
                        }
                        out.push_str(&data_stream::finish(status, usage));
                        out
                    }
                };
                Some((Ok(part), (events, renderer)))
            },
        ))
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

/// `?format=` of an export: `markdown` or `json`; JSON (the one that imports again) if absent.
#[derive(Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
}

/// One of the caller's chats as a file to download: Markdown to read, JSON to import again.
async fn export(
    State(relay): State<ChatRelay>,
    Caller(user): Caller,
    SessionId(id): SessionId,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let (extension, content_type) = match query.format.as_deref().unwrap_or("json") {
        "markdown" => ("md", "text/markdown; charset=utf-8"),
        "json" => ("json", "application/json"),
        _ => {
            return Err(ApiError::invalid(
                &["query", "format"],
                "The format must be markdown or json",
            ))
        }
    };
    let store = relay.store();
    let session = store
        .session(&user, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let messages = store
        .all_messages(&user, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let export = ChatExport::new(&session, &messages, iso(super::store::now_ms()));
    let body = match extension {
        "md" => export.to_markdown(),
        _ => serde_json::to_string_pretty(&export).expect("an export serialises"),
    };
    let disposition = format!(
        "attachment; filename=\"{}\"",
        transfer::file_name(&session.title, extension)
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// A JSON export (someone's, maybe another person's) stored as a new chat of the caller.
async fn import(
    State(relay): State<ChatRelay>,
    Caller(user): Caller,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // The only way to fail reading a body here is its size (DefaultBodyLimit on the route).
    let body = body.map_err(|_| ApiError::from(ImportError::TooBig))?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid(&["body"], "The export is not UTF-8 text"))?;
    let valid = transfer::parse_export(text).map_err(ApiError::from)?;
    let session = relay.store().import(&user, &valid).await?;
    Ok((StatusCode::CREATED, Json(session_json(&session))))
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::TooBig => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, error.to_string()),
            other => ApiError::invalid(&["body"], other.to_string()),
        }
    }
}

/// `POST /api/sessions/{id}/regenerate`: the model to answer with, and the last message's new
/// text for an edit.
#[derive(Deserialize)]
pub struct RegenerateBody {
    model: Option<String>,
    content: Option<String>,
}

async fn regenerate(
    State(relay): State<ChatRelay>,
    Caller(user): Caller,
    SessionId(id): SessionId,
    RawQuery(query): RawQuery,
    Body422(body): Body422<RegenerateBody>,
) -> Result<Response, ApiError> {
    let edited = body
        .content
        .as_deref()
        .map(valid_message)
        .transpose()
        .map_err(|error| ApiError::invalid(&["body", "content"], error.to_string()))?;
    let exchange = relay
        .regenerate(&user, &id, edited, body.model.as_deref())
        .await?;
    Ok(data_stream_response(
        &exchange.answer.id,
        exchange.events,
        renderer_if_asked(query),
    ))
}
