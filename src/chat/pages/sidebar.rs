//! The sidebar: "New chat", the person's chats by recency, and the open chat's rename and
//! delete forms.

use leptos::{prelude::*, server_fn::ServerFn};

use crate::{
    auth::{context::use_auth, pages::returned_error},
    chat::{
        functions::{DeleteChat, DeleteEmptyChats, RenameChat, SearchResult},
        types::{ChatSummary, MAX_TITLE_CHARS},
    },
    server_form::ServerForm,
};

use super::{
    search::{SearchBox, SearchResults},
    transfer::{ExportLinks, ImportForm},
};

/// The list of chats (`id="chat-list"`: the page script adds a chat it starts to the top).
#[component]
pub fn Sidebar(
    sessions: Vec<ChatSummary>,
    current: Option<String>,
    /// The search being shown (`?q=`), empty if none.
    search_query: String,
    /// What it found.
    found: Option<Vec<SearchResult>>,
) -> impl IntoView {
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
            <SearchBox query=search_query.clone()/>
            {found.map(|results| view! { <SearchResults query=search_query results/> })}
            {by_recency(sessions, now_ms())
                .into_iter()
                .map(|(group, sessions)| {
                    let heading_id = format!("chat-group-{}", group.id());
                    // Today's list is `#chat-list`, always there: the page script puts a chat it
                    // starts at its top.
                    let list_id = (group == Recency::Today).then_some("chat-list");
                    let hidden = sessions.is_empty();
                    view! {
                        <h3 class="chat-group" id=heading_id.clone() hidden=hidden>
                            {group.label()}
                        </h3>
                        <ul id=list_id class="chat-list" aria-labelledby=heading_id>
                            {sessions
                                .into_iter()
                                .map(|session| {
                                    let is_current = current.as_deref()
                                        == Some(session.id.as_str());
                                    view! { <ChatItem session is_current/> }
                                })
                                .collect_view()}
                        </ul>
                    }
                })
                .collect_view()}
            {empty.then(|| view! { <p id="no-chats" class="muted">"No chats yet."</p> })}
            <ImportForm/>
            {(!empty).then(|| view! { <DeleteEmptyForm/> })}
            <p class="muted signed-in">
                "Signed in as " <strong data-testid="signed-in-email">{email}</strong>
            </p>
        </aside>
    }
    // Type-erased: the sidebar's view type nested inside the chat layout's grew past what
    // rustc can lay out for the WASM build ("queries overflow the depth limit").
    .into_any()
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
            <ExportLinks id=session.id.clone()/>
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
            <p>{format!("Delete “{title}” and all of its messages?")}</p>
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

/// Deletes the person's chats that have no messages (a plain form: it works without JavaScript).
#[component]
fn DeleteEmptyForm() -> impl IntoView {
    view! {
        <form class="delete-empty-form" method="post" action=DeleteEmptyChats::url()>
            <button type="submit" class="secondary">"Delete empty chats"</button>
        </form>
    }
}

/// How long ago a chat was last active, as the sidebar groups chats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recency {
    Today,
    Yesterday,
    PreviousWeek,
    Older,
}

impl Recency {
    const ALL: [Recency; 4] = [
        Recency::Today,
        Recency::Yesterday,
        Recency::PreviousWeek,
        Recency::Older,
    ];

    fn label(self) -> &'static str {
        match self {
            Recency::Today => "Today",
            Recency::Yesterday => "Yesterday",
            Recency::PreviousWeek => "Previous 7 days",
            Recency::Older => "Older",
        }
    }

    fn id(self) -> &'static str {
        match self {
            Recency::Today => "today",
            Recency::Yesterday => "yesterday",
            Recency::PreviousWeek => "week",
            Recency::Older => "older",
        }
    }

    /// The group of a chat last active at `at`, seen at `now` (unix milliseconds). Days are UTC
    /// days: the page is rendered on the server, which does not know the person's time zone.
    pub fn of(at: i64, now: i64) -> Recency {
        const DAY: i64 = 24 * 60 * 60 * 1000;
        let today = now.div_euclid(DAY) * DAY;
        if at >= today {
            Recency::Today
        } else if at >= today - DAY {
            Recency::Yesterday
        } else if at >= today - 7 * DAY {
            Recency::PreviousWeek
        } else {
            Recency::Older
        }
    }
}

/// The chats in their groups, every group listed (empty ones too), newest first within each.
fn by_recency(sessions: Vec<ChatSummary>, now: i64) -> Vec<(Recency, Vec<ChatSummary>)> {
    let mut groups: Vec<(Recency, Vec<ChatSummary>)> = Recency::ALL
        .iter()
        .map(|group| (*group, Vec::new()))
        .collect();
    for session in sessions {
        let group = Recency::of(session.updated_at, now);
        if let Some((_, list)) = groups.iter_mut().find(|(g, _)| *g == group) {
            list.push(session);
        }
    }
    groups
}

/// Unix milliseconds now. The sidebar is rendered on the server only (it is not an island): the
/// browser build never calls this.
fn now_ms() -> i64 {
    #[cfg(feature = "ssr")]
    return crate::chat::store::now_ms();
    #[cfg(not(feature = "ssr"))]
    0
}

#[cfg(test)]
mod tests {
    use super::Recency;

    #[test]
    fn chats_are_grouped_by_utc_day() {
        const HOUR: i64 = 60 * 60 * 1000;
        // 2026-11-30T10:00:00Z
        let now = 1_795_996_800_000 + 10 * HOUR;
        let midnight = now - 10 * HOUR;
        assert_eq!(Recency::of(now, now), Recency::Today);
        assert_eq!(Recency::of(midnight, now), Recency::Today);
        assert_eq!(Recency::of(midnight - 1, now), Recency::Yesterday);
        assert_eq!(Recency::of(midnight - 24 * HOUR, now), Recency::Yesterday);
        assert_eq!(
            Recency::of(midnight - 24 * HOUR - 1, now),
            Recency::PreviousWeek
        );
        assert_eq!(
            Recency::of(midnight - 7 * 24 * HOUR, now),
            Recency::PreviousWeek
        );
        assert_eq!(
            Recency::of(midnight - 7 * 24 * HOUR - 1, now),
            Recency::Older
        );
    }
}
