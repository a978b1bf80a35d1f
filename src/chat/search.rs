//! Searching a person's chats: what they typed turned into words both databases match safely,
//! and the snippet that shows where a chat matched.
//!
//! A query is never handed to a database's query language as typed: it is cut into words
//! (runs of letters and digits), and each word becomes a quoted prefix term (`"word"*` for
//! SQLite FTS5, `'word':*` for Postgres). Quotes, `*`, `NEAR(`, `-`, `:`, NUL bytes and the like
//! are separators, so no input can be a syntax error or an operator. A chat matches when every
//! word starts a word of its title, or every word starts a word of one of its messages.
//!
//! The snippet is built here rather than by the databases' highlighters (FTS5 `snippet()`,
//! Postgres `ts_headline`), which return HTML-ish text with the message's own characters
//! unescaped: here it is a list of plain-text parts, some marked, that the page renders as text
//! nodes inside `<mark>` elements. A message's `<script>` stays text.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The longest query considered, in characters; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most words of a query that are matched; the rest are ignored.
const MAX_TERMS: usize = 8;
/// The longest word matched, in characters (longer ones are cut: a prefix still matches).
const MAX_TERM_CHARS: usize = 64;
/// How many characters of context a snippet shows before its first match.
const CONTEXT_BEFORE: usize = 40;
/// How long a snippet is at most, in characters.
const SNIPPET_CHARS: usize = 160;

/// The words of a search, lowercased, in the order typed, without repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchTerms(Vec<String>);

impl SearchTerms {
    /// The words of `query` (see the module's documentation for what counts as one).
    pub fn parse(query: &str) -> SearchTerms {
        let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
        let mut terms: Vec<String> = Vec::new();
        for word in query.split(|c: char| !c.is_alphanumeric()) {
            if word.is_empty() {
                continue;
            }
            let term: String = word.to_lowercase().chars().take(MAX_TERM_CHARS).collect();
            if !terms.contains(&term) {
                terms.push(term);
            }
            if terms.len() == MAX_TERMS {
                break;
            }
        }
        SearchTerms(terms)
    }

    /// Whether there is nothing to search for (a query of only punctuation, or blank).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The words, lowercased.
    pub fn words(&self) -> &[String] {
        &self.0
    }

    /// The query for an FTS5 `MATCH`: every word as a quoted prefix, all required.
    pub fn fts5_query(&self) -> String {
        // A word holds only letters and digits, so it holds no `"`; quoting still makes FTS5
        // read it as a string, never as a keyword such as AND, OR, NOT or NEAR.
        self.0
            .iter()
            .map(|term| format!("\"{term}\"*"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The text for Postgres's `to_tsquery('simple', …)`: every word as a quoted prefix, all
    /// required.
    pub fn tsquery(&self) -> String {
        self.0
            .iter()
            .map(|term| format!("'{term}':*"))
            .collect::<Vec<_>>()
            .join(" & ")
    }

    /// Whether `word` (as found in a text) is one that matched: it starts with a search word.
    fn matches(&self, word: &str) -> bool {
        let word = word.to_lowercase();
        self.0.iter().any(|term| word.starts_with(term.as_str()))
    }
}

/// A piece of a snippet: text, marked when it is a word that matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnippetPart {
    pub text: String,
    pub marked: bool,
}

/// A short extract of a text around what matched, as parts the page shows as text (escaped by
/// construction) with the matched words in `<mark>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    pub parts: Vec<SnippetPart>,
}

impl Snippet {
    /// Whether any word of the snippet is marked.
    pub fn has_match(&self) -> bool {
        self.parts.iter().any(|part| part.marked)
    }

    /// The snippet as HTML: the text escaped, matched words in `<mark>`.
    pub fn to_html(&self) -> String {
        let mut html = String::new();
        for part in &self.parts {
            let text = escape_html(&part.text);
            if part.marked {
                html.push_str("<mark>");
                html.push_str(&text);
                html.push_str("</mark>");
            } else {
                html.push_str(&text);
            }
        }
        html
    }

    fn push(&mut self, text: &str, marked: bool) {
        match self.parts.last_mut() {
            Some(last) if last.marked == marked && !marked => last.text.push_str(text),
            _ => self.parts.push(SnippetPart {
                text: text.to_owned(),
                marked,
            }),
        }
    }
}

/// The text with HTML's special characters escaped; borrowed when it has none.
pub fn escape_html(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// An extract of `text` (whitespace folded to single spaces) of at most [`SNIPPET_CHARS`]
/// characters, starting a little before the first word that matches `terms`, with the
/// matching words marked and `…` where text was left out. Without a matching word, its start.
pub fn snippet(text: &str, terms: &SearchTerms) -> Snippet {
    let folded: Vec<char> = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect();
    let words = word_spans(&folded);
    let first = words
        .iter()
        .find(|&&(start, end)| terms.matches(&folded[start..end].iter().collect::<String>()))
        .map(|&(start, _)| start)
        .unwrap_or(0);
    let from = first.saturating_sub(CONTEXT_BEFORE);
    // Start on a word's beginning when the cut falls inside one.
    let from = words
        .iter()
        .find(|&&(start, end)| start < from && from < end)
        .map_or(from, |&(_, end)| end.min(first));
    let to = (from + SNIPPET_CHARS).min(folded.len());
    let mut snippet = Snippet::default();
    if from > 0 {
        snippet.push("…", false);
    }
    let mut at = from;
    for &(start, end) in words
        .iter()
        .filter(|&&(start, _)| start >= from && start < to)
    {
        let end = end.min(to);
        let word: String = folded[start..end].iter().collect();
        if terms.matches(&word) {
            snippet.push(&folded[at..start].iter().collect::<String>(), false);
            snippet.push(&word, true);
            at = end;
        }
    }
    snippet.push(&folded[at..to].iter().collect::<String>(), false);
    if to < folded.len() {
        snippet.push("…", false);
    }
    snippet.parts.retain(|part| !part.text.is_empty());
    snippet
}

/// Where the words (runs of letters and digits) of `text` start and end, in characters.
fn word_spans(text: &[char]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (at, c) in text.iter().enumerate() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(at),
            (false, Some(begun)) => {
                spans.push((begun, at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begun) = start {
        spans.push((begun, text.len()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_becomes_its_words_and_nothing_of_any_query_language() {
        let terms = SearchTerms::parse(r#"  "Sourdough" NEAR(starter* -rye) col:umn\0 AND "#);
        assert_eq!(
            terms.words(),
            [
                "sourdough",
                "near",
                "starter",
                "rye",
                "col",
                "umn",
                "0",
                "and"
            ]
        );
        assert_eq!(
            SearchTerms::parse("a b").fts5_query(),
            r#""a"* "b"*"#.to_owned()
        );
        assert_eq!(SearchTerms::parse("a b").tsquery(), "'a':* & 'b':*");
        assert!(SearchTerms::parse(r#" "*:-()' "#).is_empty());
        assert!(SearchTerms::parse("\0").is_empty());
    }

    #[test]
    fn a_long_query_is_bounded_in_words_length_and_characters() {
        let many = SearchTerms::parse(&"word ".repeat(2_000));
        assert_eq!(many.words(), ["word"]);
        let distinct: String = (0..50).map(|n| format!("w{n} ")).collect();
        assert_eq!(SearchTerms::parse(&distinct).words().len(), MAX_TERMS);
        let long = SearchTerms::parse(&"x".repeat(10_000));
        assert_eq!(long.words(), ["x".repeat(MAX_TERM_CHARS)]);
    }

    #[test]
    fn the_snippet_marks_words_that_start_with_a_term_and_escapes_the_rest() {
        let terms = SearchTerms::parse("bread");
        let snippet = snippet("<script>alert(1)</script> Breadcrumbs & bread", &terms);
        assert_eq!(
            snippet.to_html(),
            "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Breadcrumbs</mark> &amp; <mark>bread</mark>"
        );
    }

    #[test]
    fn the_snippet_is_a_window_around_the_first_match() {
        let text = format!("{} needle {}", "hay ".repeat(100), "straw ".repeat(100));
        let snippet = snippet(&text, &SearchTerms::parse("needle"));
        let html = snippet.to_html();
        assert!(
            html.starts_with("… hay") || html.starts_with("…hay"),
            "{html}"
        );
        assert!(html.contains("<mark>needle</mark>"), "{html}");
        assert!(html.ends_with('…'), "{html}");
        let shown: usize = snippet.parts.iter().map(|p| p.text.chars().count()).sum();
        assert!(shown <= SNIPPET_CHARS + 2, "{shown}");
    }

    #[test]
    fn a_text_without_a_match_shows_its_start_unmarked() {
        let snippet = snippet("Nothing\n\nhere", &SearchTerms::parse("absent"));
        assert!(!snippet.has_match());
        assert_eq!(snippet.to_html(), "Nothing here");
    }
}
