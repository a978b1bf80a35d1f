//! LaTeX formulas as MathML (pulldown-latex), which browsers render natively: no KaTeX or
//! MathJax download. A formula that does not parse is shown as its source in a code span.

use pulldown_latex::{
    config::DisplayMode, mathml::push_mathml, Parser, ParserError, RenderConfig, Storage,
};

use super::escape_html;

/// Longer formulas are shown as source: a chat formula is a few hundred bytes, and this bounds
/// the work an answer can ask for.
const MAX_FORMULA_BYTES: usize = 8 * 1024;

/// The formula as `<math>`, or, if it does not parse, its source with its delimiters in
/// `<code class="math-error">`.
pub fn to_mathml(latex: &str, display: bool) -> String {
    mathml(latex, display).unwrap_or_else(|| {
        let delimiter = if display { "$$" } else { "$" };
        format!(
            "<code class=\"math-error\" title=\"This formula could not be shown\">{delimiter}{}{delimiter}</code>",
            escape_html(latex)
        )
    })
}

fn mathml(latex: &str, display: bool) -> Option<String> {
    if latex.len() > MAX_FORMULA_BYTES || latex.trim().is_empty() {
        return None;
    }
    let storage = Storage::new();
    let events: Vec<_> = Parser::new(latex, &storage)
        .collect::<Result<_, ParserError>>()
        .ok()?;
    let config = RenderConfig {
        display_mode: if display {
            DisplayMode::Block
        } else {
            DisplayMode::Inline
        },
        ..RenderConfig::default()
    };
    let mut out = String::new();
    push_mathml(
        &mut out,
        events.into_iter().map(Ok::<_, ParserError>),
        config,
    )
    .ok()?;
    Some(out)
}

/// `\(…\)` and `\[…\]` (the delimiters models often write) as pulldown-cmark's `$…$` and
/// `$$…$$`, outside code. In CommonMark `\(` is an escaped parenthesis, so this has to happen
/// before parsing; a delimiter without its closing partner in the same paragraph is left alone.
pub fn normalise_delimiters(markdown: &str) -> std::borrow::Cow<'_, str> {
    if !markdown.contains("\\(") && !markdown.contains("\\[") {
        return markdown.into();
    }
    let mut out = String::with_capacity(markdown.len());
    let mut fence: Option<(u8, usize)> = None;
    // The text since the last fenced code block.
    let mut prose_start = 0;
    let mut offset = 0;
    for line in markdown.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        if let Some(open) = fence {
            if closes_fence(line, open) {
                fence = None;
            }
        } else if let Some(open) = opens_fence(line) {
            fence = Some(open);
            for paragraph in paragraphs(&markdown[prose_start..line_start]) {
                convert_paragraph(paragraph, &mut out);
            }
        } else {
            continue;
        }
        out.push_str(line);
        prose_start = offset;
    }
    for paragraph in paragraphs(&markdown[prose_start..]) {
        convert_paragraph(paragraph, &mut out);
    }
    out.into()
}

/// `text` cut after each blank line.
fn paragraphs(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = 0;
        for line in rest.split_inclusive('\n') {
            end += line.len();
            if line.trim().is_empty() {
                break;
            }
        }
        let (paragraph, after) = rest.split_at(end);
        rest = after;
        Some(paragraph)
    })
}

/// Writes `paragraph` to `out` with its paired `\(…\)` and `\[…\]` converted, code spans
/// and other escapes (`\\` included) left as they are.
fn convert_paragraph(paragraph: &str, out: &mut String) {
    let bytes = paragraph.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    // Once a closing delimiter is missing from the rest, it is missing for every later opening
    // one too: remembering that keeps the scan linear.
    let mut unclosed = [false; 2];
    while i < bytes.len() {
        match bytes[i] {
            b'`' => {
                let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
                i += run;
                if let Some(close) = find_backtick_run(&bytes[i..], run) {
                    i += close + run;
                }
            }
            b'\\' if i + 1 < bytes.len() => {
                let (kind, close, delimiter) = match bytes[i + 1] {
                    b'(' => (0, "\\)", "$"),
                    b'[' => (1, "\\]", "$$"),
                    _ => {
                        i += 2;
                        continue;
                    }
                };
                let found = (!unclosed[kind])
                    .then(|| paragraph[i + 2..].find(close))
                    .flatten();
                let Some(length) = found else {
                    unclosed[kind] = true;
                    i += 2;
                    continue;
                };
                let inner = &paragraph[i + 2..i + 2 + length];
                out.push_str(&paragraph[copied..i]);
                out.push_str(delimiter);
                // Inline math may not start or end with a space in pulldown-cmark's rules.
                out.push_str(if delimiter == "$" {
                    inner.trim()
                } else {
                    inner
                });
                out.push_str(delimiter);
                i += 2 + length + close.len();
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&paragraph[copied..]);
}

/// Where the next run of exactly `length` backticks starts in `bytes`.
fn find_backtick_run(bytes: &[u8], length: usize) -> Option<usize> {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
            if run == length {
                return Some(i);
            }
            i += run;
        } else {
            i += 1;
        }
    }
    None
}

/// A fence opening `line` (up to three spaces, then three or more backticks or tildes): its
/// character and length.
pub fn opens_fence(line: &str) -> Option<(u8, usize)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let c = *trimmed.as_bytes().first()?;
    if c != b'`' && c != b'~' {
        return None;
    }
    let run = trimmed.bytes().take_while(|&b| b == c).count();
    // A backtick fence's info string may not contain a backtick (it would be a code span).
    (run >= 3 && !(c == b'`' && trimmed[run..].contains('`'))).then_some((c, run))
}

/// Whether `line` closes a fence opened with `open`.
pub fn closes_fence(line: &str, (c, length): (u8, usize)) -> bool {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return false;
    }
    let run = trimmed.bytes().take_while(|&b| b == c).count();
    run >= length && trimmed[run..].trim().is_empty()
}
