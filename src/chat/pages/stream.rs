//! The browser's side of [`super::composer::ChatIsland`]: sends a message to
//! `POST /api/sessions/{id}` (the session cookie authenticates it; the request is same-origin,
//! so the cross-site guard lets it through) and reads the answer as the Vercel AI data stream
//! v1 (`src/chat/data_stream.rs`), one line per part, writing each text part into the page as
//! it comes.
//!
//! Written against web-sys and js-sys directly, with the page's own elements found by id: no
//! view code, no serde, so the island adds little to the bundle every page loads.

use js_sys::{Reflect, Uint8Array, JSON};
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Element, HtmlFormElement, HtmlSelectElement, HtmlTextAreaElement};

use super::composer::ChatState;
use crate::{
    chat::types::{title_from_message, valid_message},
    error::AppError,
};

/// How an answer ended, as the page shows it.
enum Ended {
    Complete,
    Stopped,
    Failed(String),
}

/// Said when the stream breaks off (the server keeps what it had, marked stopped).
const CONNECTION_LOST: &str =
    "The connection was lost before the answer was finished. What arrived is kept.";

pub fn on_submit(event: &leptos::ev::SubmitEvent, state: ChatState) {
    event.prevent_default();
    let content = event
        .target()
        .and_then(|target| target.dyn_into::<HtmlFormElement>().ok())
        .and_then(|form| web_sys::FormData::new_with_form(&form).ok())
        .and_then(|fields| fields.get("content").as_string())
        .unwrap_or_default();
    send(content, state);
}

pub fn on_keydown(event: &leptos::ev::KeyboardEvent, state: ChatState) {
    let in_composer = event
        .target()
        .and_then(|target| target.dyn_into::<Element>().ok())
        .is_some_and(|target| target.id() == "composer-input");
    match event.key().as_str() {
        "Escape" if state.streaming.get_value() => stop(state),
        "Enter" if in_composer && !event.shift_key() && !event.is_composing() => {
            event.prevent_default();
            if let Some(form) = by_id::<HtmlFormElement>("composer") {
                let _ = form.request_submit();
            }
        }
        _ => {}
    }
}

pub fn on_click(event: &leptos::ev::MouseEvent, state: ChatState) {
    let Some(target) = event
        .target()
        .and_then(|target| target.dyn_into::<Element>().ok())
    else {
        return;
    };
    if target.id() == "composer-stop" {
        stop(state);
    } else if let Some(content) = target.get_attribute("data-retry") {
        send(content, state);
    }
}

/// Shows the question and an empty answer, then streams the answer into it.
fn send(content: String, state: ChatState) {
    if state.streaming.get_value() {
        // The button is disabled meanwhile; this covers Enter and the retry buttons.
        return show_error(crate::chat::functions::BUSY);
    }
    if let Err(refusal) = valid_message(&content) {
        return show_error(&refusal.to_string());
    }
    let model = by_id::<HtmlSelectElement>("composer-model")
        .map(|select| select.value())
        .unwrap_or_default();
    let (id, is_new) = match state.session.get_value() {
        Some(id) => (id, false),
        None => match window().crypto() {
            Ok(crypto) => (crypto.random_uuid(), true),
            Err(_) => return show_error(&AppError::Internal.to_string()),
        },
    };
    let (Some(list), Some(input)) = (
        by_id::<Element>("chat-messages"),
        by_id::<HtmlTextAreaElement>("composer-input"),
    ) else {
        return;
    };
    show_error("");
    let question = message_item("user", "You", &content);
    let answer = message_item("assistant", "Answer", "");
    let _ = list.append_with_node_2(&question, &answer);
    input.set_value("");
    set_streaming(state, true);
    leptos::task::spawn_local(async move {
        let ended = stream_answer(&id, &model, &content, &answer, || {
            if is_new {
                show_new_chat(&id, &content, state);
            }
        })
        .await;
        match ended {
            Ok(ended) => mark_ended(&answer, ended, &content),
            Err(refusal) => {
                // Nothing was stored: take the exchange off the page and give the text back.
                question.remove();
                answer.remove();
                input.set_value(&content);
                show_error(&refusal);
            }
        }
        set_streaming(state, false);
        let _ = input.focus();
    });
}

/// Posts the message and writes the answer's text parts into `answer` as they arrive; calls
/// `started` once the server accepted the message. Err: the server refused it (in words).
async fn stream_answer(
    id: &str,
    model: &str,
    content: &str,
    answer: &Element,
    started: impl FnOnce(),
) -> Result<Ended, String> {
    let body = format!(
        r#"{{"model":{},"messages":[{{"role":"user","content":{}}}]}}"#,
        json_string(model),
        json_string(content)
    );
    let response = post(&format!("/api/sessions/{id}"), Some(&body))
        .await
        .map_err(|_| transport_error())?;
    if !response.ok() {
        return Err(refusal(&response).await);
    }
    started();
    let Some(reader) = response.body().map(|body| {
        body.get_reader()
            .unchecked_into::<web_sys::ReadableStreamDefaultReader>()
    }) else {
        return Ok(Ended::Failed(CONNECTION_LOST.into()));
    };
    let text_element = answer.last_element_child();
    let mut parts = Parts::default();
    let mut pending: Vec<u8> = Vec::new();
    // Ends when the server closes the stream (after its finish part) or the connection breaks.
    loop {
        let Ok(chunk) = JsFuture::from(reader.read()).await else {
            return Ok(Ended::Failed(CONNECTION_LOST.into()));
        };
        if field(&chunk, "done").as_bool().unwrap_or(true) {
            break;
        }
        pending.extend(field(&chunk, "value").unchecked_into::<Uint8Array>().to_vec());
        while let Some(end) = pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if parts.read(&String::from_utf8_lossy(&line[..end])) {
                // One update per text part: the answer grows on screen as it is written.
                if let Some(element) = &text_element {
                    element.set_text_content(Some(&parts.text));
                }
            }
        }
    }
    Ok(match (parts.error, parts.status.as_deref()) {
        (Some(error), _) => Ended::Failed(error),
        (None, Some("stopped")) => Ended::Stopped,
        (None, Some("error")) => Ended::Failed(AppError::Internal.to_string()),
        (None, _) if !parts.finished => Ended::Failed(CONNECTION_LOST.into()),
        _ => Ended::Complete,
    })
}

/// What the data stream said so far.
#[derive(Default)]
struct Parts {
    text: String,
    error: Option<String>,
    /// From the data part of an answer that did not complete: `stopped` or `error`.
    status: Option<String>,
    finished: bool,
}

impl Parts {
    /// Takes in one line; true if it added text.
    fn read(&mut self, line: &str) -> bool {
        let Some((code, payload)) = line.split_once(':') else {
            return false;
        };
        let Ok(value) = JSON::parse(payload) else {
            return false;
        };
        match code {
            "0" => {
                self.text.push_str(&value.as_string().unwrap_or_default());
                return true;
            }
            "2" => self.status = field(&field(&value, "0"), "status").as_string(),
            "3" => self.error = value.as_string(),
            "d" => self.finished = true,
            _ => {}
        }
        false
    }
}

/// Marks the answer with how it ended: "Stopped", or what went wrong and a retry.
fn mark_ended(answer: &Element, ended: Ended, question: &str) {
    let (status, note) = match ended {
        Ended::Complete => ("complete", None),
        Ended::Stopped => ("stopped", Some("Stopped".to_owned())),
        Ended::Failed(error) => ("error", Some(error)),
    };
    let _ = answer.set_attribute("data-status", status);
    let Some(note) = note else { return };
    let document = document();
    if let Ok(paragraph) = document.create_element("p") {
        let class = if status == "error" { "message-status message-error" } else { "message-status" };
        paragraph.set_class_name(class);
        paragraph.set_text_content(Some(&note));
        let _ = answer.append_with_node_1(&paragraph);
    }
    if status == "error" {
        if let Ok(retry) = document.create_element("button") {
            retry.set_class_name("retry");
            let _ = retry.set_attribute("type", "button");
            let _ = retry.set_attribute("data-retry", question);
            retry.set_text_content(Some("Retry"));
            let _ = answer.append_with_node_1(&retry);
        }
    }
}

/// A chat started on `/chat` exists once its stream starts: the address, the title and the
/// sidebar say so, and the next messages go to it.
fn show_new_chat(id: &str, first_message: &str, state: ChatState) {
    state.session.set_value(Some(id.to_owned()));
    let path = format!("/chat/{id}");
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&path));
    }
    let title = title_from_message(first_message);
    if let Some(heading) = by_id::<Element>("chat-title") {
        heading.set_text_content(Some(&title));
    }
    if let Some(empty) = by_id::<Element>("no-chats") {
        empty.remove();
    }
    let document = document();
    if let (Some(list), Ok(item), Ok(link)) = (
        by_id::<Element>("chat-list"),
        document.create_element("li"),
        document.create_element("a"),
    ) {
        item.set_class_name("chat-item");
        let _ = link.set_attribute("href", &path);
        let _ = link.set_attribute("aria-current", "page");
        link.set_text_content(Some(&title));
        let _ = item.append_with_node_1(&link);
        let _ = list.prepend_with_node_1(&item);
    }
}

/// Asks the server to stop the answer; the stream then ends with what was written, marked
/// stopped.
fn stop(state: ChatState) {
    if let Some(id) = state.session.get_value() {
        leptos::task::spawn_local(async move {
            let _ = post(&format!("/api/sessions/{id}/stop"), None).await;
        });
    }
}

/// While an answer streams: Send is disabled and Stop shown.
fn set_streaming(state: ChatState, streaming: bool) {
    state.streaming.set_value(streaming);
    if let Some(send) = by_id::<Element>("composer-send") {
        let _ = send.toggle_attribute_with_force("disabled", streaming);
    }
    if let Some(stop) = by_id::<Element>("composer-stop") {
        let _ = stop.toggle_attribute_with_force("hidden", !streaming);
    }
    if let Some(examples) = by_id::<Element>("chat-examples") {
        examples.remove();
    }
}

/// Shows `text` under the composer (hides the slot when empty).
fn show_error(text: &str) {
    if let Some(slot) = by_id::<Element>("composer-error") {
        slot.set_text_content(Some(text));
        let _ = slot.toggle_attribute_with_force("hidden", text.is_empty());
    }
}

/// `<li class="message {role}">` with its author and `content`.
fn message_item(role: &str, author: &str, content: &str) -> Element {
    let document = document();
    let item = document.create_element("li").expect("an element");
    item.set_class_name(&format!("message {role}"));
    let status = if role == "user" { "complete" } else { "streaming" };
    let _ = item.set_attribute("data-status", status);
    for (tag, class, text) in [("span", "message-author", author), ("div", "message-content", content)] {
        let part = document.create_element(tag).expect("an element");
        part.set_class_name(class);
        part.set_text_content(Some(text));
        let _ = item.append_with_node_1(&part);
    }
    item
}

/// A same-origin POST with the page's cookies; `body` is JSON.
async fn post(url: &str, body: Option<&str>) -> Result<web_sys::Response, JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    if let Some(body) = body {
        let headers = web_sys::Headers::new()?;
        headers.set("Content-Type", "application/json")?;
        init.set_headers(&headers);
        init.set_body(&JsValue::from_str(body));
    }
    JsFuture::from(window().fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()
}

/// The refusal in an error answer (FastAPI's `{"detail": …}`), in words a person understands.
async fn refusal(response: &web_sys::Response) -> String {
    if response.status() == 401 {
        return AppError::Unauthorized.to_string();
    }
    let body = match response.text() {
        Ok(text) => JsFuture::from(text).await.ok(),
        Err(_) => None,
    };
    let detail = body
        .and_then(|body| body.as_string())
        .and_then(|body| JSON::parse(&body).ok())
        .map(|value| field(&value, "detail"));
    detail
        .as_ref()
        .and_then(|detail| {
            // A string, or a validation error's list: its first message.
            detail
                .as_string()
                .or_else(|| field(&field(detail, "0"), "msg").as_string())
        })
        .unwrap_or_else(|| AppError::Internal.to_string())
}

fn transport_error() -> String {
    AppError::Transport("the network request failed".into()).to_string()
}

/// `value[key]`, undefined when absent.
fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    JSON::stringify(&JsValue::from_str(text))
        .ok()
        .and_then(|json| json.as_string())
        .unwrap_or_else(|| "\"\"".into())
}

fn by_id<T: JsCast>(id: &str) -> Option<T> {
    document().get_element_by_id(id)?.dyn_into().ok()
}
