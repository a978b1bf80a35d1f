//! Code blocks: highlighted by syntect with CSS classes (`hl-…`, styled in style/main.css, so
//! the page's CSP needs no inline styles), under a header with the language and a copy button
//! (the chat page's script makes it copy).

use std::sync::LazyLock;

use syntect::{
    html::{ClassStyle, ClassedHTMLGenerator},
    parsing::SyntaxSet,
    util::LinesWithEndings,
};

use super::escape_html;

/// Sublime Text's grammars that come with syntect (Rust, Python, JavaScript, C, Go, shell, SQL,
/// HTML, JSON, YAML… about 75), loaded once.
static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);

/// The prefix of the highlighter's classes: a scope `keyword.control` becomes
/// `hl-keyword hl-control`.
const CLASS_STYLE: ClassStyle = ClassStyle::SpacedPrefixed { prefix: "hl-" };

/// Code longer than this is shown plain: highlighting costs about a microsecond per byte, and a
/// huge block is read for its text rather than its colours.
const MAX_HIGHLIGHTED_BYTES: usize = 64 * 1024;

/// A fenced or indented code block as HTML: the language (the info string's first word, "text"
/// without one), a copy button and the code.
pub fn code_block(info: &str, code: &str) -> String {
    let language = info
        .split(|c: char| c.is_whitespace() || c == ',' || c == '{')
        .next()
        .filter(|word| !word.is_empty());
    let body = language
        .and_then(|language| highlighted(language, code))
        .unwrap_or_else(|| escape_html(code).into_owned());
    format!(
        "<div class=\"code-block\"><div class=\"code-header\"><span class=\"code-language\">{}</span>\
         <button type=\"button\" class=\"code-copy\">Copy</button></div><pre><code>{}</code></pre></div>\n",
        escape_html(language.unwrap_or("text")),
        body,
    )
}

/// The code as highlighted HTML, if its language is known.
fn highlighted(language: &str, code: &str) -> Option<String> {
    if code.len() > MAX_HIGHLIGHTED_BYTES {
        return None;
    }
    let syntax = SYNTAXES.find_syntax_by_token(language)?;
    let mut generator = ClassedHTMLGenerator::new_with_class_style(syntax, &SYNTAXES, CLASS_STYLE);
    for line in LinesWithEndings::from(code) {
        generator
            .parse_html_for_line_which_includes_newline(line)
            .ok()?;
    }
    Some(generator.finalize())
}
