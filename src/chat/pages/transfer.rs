//! Export links for the open chat and the import form. Both work without JavaScript: the
//! exports are plain downloads, and the import form takes the export's JSON pasted in; with
//! JavaScript (`conversations.js`) a file picked in the form fills it in.

use leptos::{prelude::*, server_fn::ServerFn};

use crate::{auth::pages::returned_error, chat::functions::ImportChat, server_form::ServerForm};

/// Download links for one chat.
#[component]
pub fn ExportLinks(id: String) -> impl IntoView {
    let markdown = format!("/api/sessions/{id}/export?format=markdown");
    let json = format!("/api/sessions/{id}/export?format=json");
    view! {
        <p class="chat-action chat-export">
            "Export: " <a href=markdown download>"Markdown"</a> " · "
            <a href=json download>"JSON"</a>
        </p>
    }
}

/// Imports a JSON export as a new chat.
#[component]
pub fn ImportForm() -> impl IntoView {
    let returned_error = returned_error::<ImportChat>();
    let open = returned_error.is_some();
    view! {
        <details class="chat-action chat-import" open=open>
            <summary>"Import a chat"</summary>
            <label class="import-file" hidden>
                "JSON export file" <input type="file" id="import-file" accept=".json,application/json"/>
            </label>
            <ServerForm
                action=ImportChat::url()
                class="inline-form import-form"
                label="Import"
                pending_label="Importing…"
                returned_error
            >
                <label>
                    "Paste a JSON export"
                    <textarea id="import-json" name="export" rows="4" required></textarea>
                </label>
            </ServerForm>
        </details>
    }
}
