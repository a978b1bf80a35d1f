//! Answers as HTML, rendered on the server: Markdown (CommonMark with GFM tables, task lists and
//! strikethrough) through pulldown-cmark, code blocks highlighted by syntect, LaTeX formulas as
//! MathML, and every byte of the result through the sanitiser (`sanitise`).
//!
//! An answer is untrusted text: it may have been steered by a web page or a document the model
//! read. So raw HTML in it is shown as text, never parsed as markup; images are not loaded
//! (a link to them is shown instead); links open in a new tab without the page's referrer or
//! opener. The browser gets finished HTML: no Markdown parser, highlighter or math library is
//! shipped to it. While an answer streams, `StreamRenderer` renders each finished block once.
//!
//! A person's own messages are not rendered: they are shown as they were typed (plain text with
//! its line breaks), as ChatGPT does.

mod highlight;
mod math;
mod sanitise;
mod stream;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::chat::search::escape_html;

pub use stream::{RenderedBlocks, StreamRenderer};

/// The Markdown dialect of answers.
fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_MATH
}

/// An answer's Markdown as safe HTML.
pub fn render_markdown(markdown: &str) -> String {
    let source = math::normalise_delimiters(markdown);
    let mut rewrite = Rewrite::default();
    let events = Parser::new_ext(&source, options()).filter_map(|event| rewrite.event(event));
    let mut html = String::with_capacity(source.len() + source.len() / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    sanitise::clean(&html)
}

/// The changes made to pulldown-cmark's events before they become HTML.
#[derive(Default)]
struct Rewrite {
    /// Inside a code block: its info string and the code so far.
    code: Option<(String, String)>,
    /// Inside an image: its address and its alternative text so far.
    image: Option<(String, String)>,
}

impl Rewrite {
    /// The event to render in place of `event`, if any (the parts of a code block or an image
    /// are gathered and rendered at its end).
    fn event<'a>(&mut self, event: Event<'a>) -> Option<Event<'a>> {
        if let Some((_, code)) = &mut self.code {
            return match event {
                Event::Text(text) => {
                    code.push_str(&text);
                    None
                }
                Event::End(TagEnd::CodeBlock) => {
                    let (info, code) = self.code.take()?;
                    Some(Event::Html(highlight::code_block(&info, &code).into()))
                }
                _ => None,
            };
        }
        if let Some((_, alt)) = &mut self.image {
            return match event {
                Event::Text(text) | Event::Code(text) | Event::InlineMath(text) => {
                    alt.push_str(&text);
                    None
                }
                Event::End(TagEnd::Image) => {
                    let (url, alt) = self.image.take()?;
                    Some(Event::InlineHtml(image_placeholder(&url, &alt).into()))
                }
                _ => None,
            };
        }
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let info = match kind {
                    pulldown_cmark::CodeBlockKind::Fenced(info) => info.to_string(),
                    pulldown_cmark::CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((info, String::new()));
                None
            }
            Event::Start(Tag::Image { dest_url, .. }) => {
                self.image = Some((dest_url.to_string(), String::new()));
                None
            }
            // Raw HTML is shown as the text it is.
            Event::Html(html) | Event::InlineHtml(html) => Some(Event::Text(html)),
            Event::Start(Tag::HtmlBlock) => Some(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::HtmlBlock) => Some(Event::End(TagEnd::Paragraph)),
            Event::InlineMath(latex) => {
                Some(Event::InlineHtml(math::to_mathml(&latex, false).into()))
            }
            Event::DisplayMath(latex) => {
                Some(Event::InlineHtml(math::to_mathml(&latex, true).into()))
            }
            other => Some(other),
        }
    }
}

/// What stands in for an image: a link that opens it in a new tab, so that nothing is fetched
/// unless the reader asks (an image address can carry data out of the conversation). The page's
/// CSP (`img-src 'self' data:`) would block a remote image in the page anyway.
fn image_placeholder(url: &str, alt: &str) -> String {
    let alt = if alt.trim().is_empty() {
        "image"
    } else {
        alt.trim()
    };
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
            let host = parsed.host_str().unwrap_or_default();
            format!(
                r#"<a class="remote-image" href="{}">Show image from {}: {}</a>"#,
                escape_html(parsed.as_str()),
                escape_html(host),
                escape_html(alt),
            )
        }
        // No address to offer (relative, data:, javascript:…): the description alone.
        _ => format!("[{}]", escape_html(alt)),
    }
}

#[cfg(test)]
mod tests;
