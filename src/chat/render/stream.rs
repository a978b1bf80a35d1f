//! Rendering while an answer streams. Each token is appended to the text; a block is rendered
//! once, when it is known to be finished: at a line that follows a blank line (or a closing code
//! fence) outside an open fence and is not indented (an indented line may continue a list item
//! or a code block). The unfinished rest, the tail, is shown by the page as escaped plain text,
//! so an open code fence or formula never shows as broken HTML. Each line is scanned once and
//! each block rendered once: the work is linear in the answer's length.
//!
//! Blocks rendered on their own can differ a little from the whole answer rendered at once (two
//! lists instead of one, a reference link defined further down): when the answer ends, the page
//! swaps in the whole answer's HTML (`finish`), the same a reload shows.

use super::{math, render_markdown};

/// Text that became HTML.
#[derive(Debug, PartialEq, Eq)]
pub struct RenderedBlocks {
    /// The finished blocks, rendered.
    pub html: String,
    /// How much of the tail they were, in UTF-16 code units (JavaScript's string length): the
    /// page drops as much from the start of the plain text it shows.
    pub consumed_utf16: usize,
}

/// An answer being written, rendered block by block.
#[derive(Debug, Default)]
pub struct StreamRenderer {
    /// The whole answer so far.
    text: String,
    /// Where the text not rendered yet starts.
    rendered: usize,
    /// Where the first line not scanned yet starts.
    line_start: usize,
    /// How far the current (unfinished) line has been searched for its end.
    searched: usize,
    /// The fence of the open code block, if any.
    fence: Option<(u8, usize)>,
    /// Whether the last scanned line ended a block (it was blank, or closed a fence).
    after_block_end: bool,
}

impl StreamRenderer {
    /// A renderer for a new answer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token; returns the blocks it finished, rendered, if any.
    pub fn push(&mut self, token: &str) -> Option<RenderedBlocks> {
        self.text.push_str(token);
        let mut boundary = None;
        while let Some(end) = self.text[self.searched..].find('\n') {
            let line_end = self.searched + end + 1;
            if self.scan_line(self.line_start, line_end) {
                boundary = Some(self.line_start);
            }
            self.line_start = line_end;
            self.searched = line_end;
        }
        self.searched = self.text.len();
        // A line's first character is enough to know whether a block ended before it.
        if self.line_start < self.text.len()
            && self.after_block_end
            && self.fence.is_none()
            && starts_block(&self.text[self.line_start..])
        {
            boundary = Some(self.line_start);
        }
        let boundary = boundary.filter(|&b| b > self.rendered)?;
        let finished = &self.text[self.rendered..boundary];
        let blocks = RenderedBlocks {
            html: render_markdown(finished),
            consumed_utf16: finished.encode_utf16().count(),
        };
        self.rendered = boundary;
        Some(blocks)
    }

    /// Scans the complete line `start..end`; true if a new block starts with it.
    fn scan_line(&mut self, start: usize, end: usize) -> bool {
        let line = &self.text[start..end];
        if let Some(open) = self.fence {
            if math::closes_fence(line, open) {
                self.fence = None;
                self.after_block_end = true;
            }
            return false;
        }
        if line.trim().is_empty() {
            self.after_block_end = true;
            return false;
        }
        let boundary = self.after_block_end && starts_block(line);
        self.after_block_end = false;
        self.fence = math::opens_fence(line);
        boundary
    }

    /// The whole answer, rendered at once.
    pub fn finish(&self) -> String {
        render_markdown(&self.text)
    }
}

/// Whether a line that follows the end of a block starts a new one (rather than continuing
/// a list item or an indented code block).
fn starts_block(line: &str) -> bool {
    !line.starts_with([' ', '\t', '\n', '\r'])
}
