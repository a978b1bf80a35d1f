//! Regenerate the last answer, or edit the last message and send it again: plain forms under
//! the conversation, so they work without JavaScript (the server waits for the whole answer,
//! then shows the chat). The old answer is replaced, not kept as an alternative.

use leptos::{prelude::*, server_fn::ServerFn};

use super::textarea_text;
use crate::{
    auth::pages::returned_error,
    chat::{
        functions::{EditLastMessage, RegenerateAnswer},
        types::MAX_MESSAGE_CHARS,
    },
};

/// The actions on the last exchange (`id="last-turn"`: the page script removes them once a new
/// message is sent, as they would name the turn before it).
#[component]
pub fn ReviseLastTurn(
    session: String,
    /// The text of the person's last message.
    question: String,
    /// The model that wrote the last answer ("" for the default).
    model: String,
) -> impl IntoView {
    let error = returned_error::<RegenerateAnswer>().or_else(returned_error::<EditLastMessage>);
    let editing = returned_error::<EditLastMessage>().is_some();
    let question = textarea_text(&question);
    view! {
        <div id="last-turn" class="last-turn-actions">
            <form class="regenerate-form" method="post" action=RegenerateAnswer::url()>
                <input type="hidden" name="id" value=session.clone()/>
                <input type="hidden" name="model" value=model.clone()/>
                <button type="submit" class="secondary" id="regenerate">"Regenerate"</button>
            </form>
            <details class="edit-last" open=editing>
                <summary>"Edit your last message"</summary>
                <form class="edit-form" method="post" action=EditLastMessage::url()>
                    <input type="hidden" name="id" value=session/>
                    <input type="hidden" name="model" value=model/>
                    <label>
                        "Your message"
                        <textarea name="content" rows="3" maxlength=MAX_MESSAGE_CHARS required>
                            {question}
                        </textarea>
                    </label>
                    <button type="submit">"Save and resend"</button>
                </form>
            </details>
            <p class="form-error" role="alert" hidden=error.is_none()>
                {error.as_ref().map(ToString::to_string)}
            </p>
        </div>
    }
}
