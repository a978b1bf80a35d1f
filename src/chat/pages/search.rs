//! The sidebar's search: a plain GET form (`?q=…` on the page it is on, so it works without
//! JavaScript and the open chat stays open) and the chats it found, with the matched words
//! marked. Snippets are rendered as text nodes: nothing of a message becomes markup.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::chat::{
    functions::SearchResult,
    search::{Snippet, MAX_QUERY_CHARS},
};

/// The search box, holding the query being shown.
#[component]
pub fn SearchBox(query: String) -> impl IntoView {
    let path = use_location().pathname.get_untracked();
    let clear = (!query.is_empty())
        .then(|| view! { <a class="clear-search" href=path.clone()>"Clear"</a> });
    view! {
        <form class="chat-search" role="search" method="get" action=path>
            <label for="chat-search-input" class="visually-hidden">"Search your chats"</label>
            <input
                id="chat-search-input"
                type="search"
                name="q"
                value=query.clone()
                maxlength=MAX_QUERY_CHARS
                placeholder="Search your chats"
                autocomplete="off"
            />
            <button type="submit" class="secondary">"Search"</button>
            {clear}
        </form>
    }
}

/// What a search found (`id="search-results"`).
#[component]
pub fn SearchResults(query: String, results: Vec<SearchResult>) -> impl IntoView {
    let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
    let count = results.len();
    let summary = match count {
        0 => format!("No chats match “{query}”."),
        1 => format!("1 chat matches “{query}”."),
        n => format!("{n} chats match “{query}”."),
    };
    view! {
        <section id="search-results" class="search-results" aria-label="Search results">
            <p class="muted" role="status">{summary}</p>
            <ul class="chat-list">
                {results
                    .into_iter()
                    .map(|result| {
                        let href = format!("/chat/{}", result.session.id);
                        view! {
                            <li class="chat-item search-hit">
                                <a href=href>
                                    <span class="search-title"><Marked snippet=result.title/></span>
                                    {result.excerpt.map(|excerpt| view! {
                                        <span class="search-excerpt"><Marked snippet=excerpt/></span>
                                    })}
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

/// A snippet as text, its matched words in `<mark>`.
#[component]
fn Marked(snippet: Snippet) -> impl IntoView {
    snippet
        .parts
        .into_iter()
        .map(|part| {
            if part.marked {
                view! { <mark>{part.text}</mark> }.into_any()
            } else {
                part.text.into_any()
            }
        })
        .collect_view()
}
