//! The renderer's tests: what an answer may show, and what it may never do.

use super::*;

/// The rendered answer, with the assertion message showing it.
fn render(markdown: &str) -> String {
    render_markdown(markdown)
}

/// Fails if `html` could run a script, load something or point a link anywhere but the web
/// or a mail address.
fn assert_inert(html: &str) {
    let lower = html.to_ascii_lowercase();
    for forbidden in [
        "<script",
        "<img",
        "<iframe",
        "<svg",
        "<style",
        "<form",
        "<object",
        "<embed",
        "<link",
        "<meta",
        "<base",
        " on",
        "javascript:",
        "vbscript:",
        "data:",
        "srcdoc",
        " src=",
        " style=",
        "<textarea",
        "<select",
        "<video",
        "<audio",
    ] {
        // Escaped text (`&lt;script`) is fine: only markup counts, so look outside text.
        let markup: String = strip_text(&lower);
        assert!(
            !markup.contains(forbidden),
            "{forbidden:?} in markup of {html}"
        );
    }
}

/// The tags of `html` (text between them dropped), so escaped payloads shown as text do not
/// count as markup.
fn strip_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        if c == '<' {
            in_tag = true;
        }
        if in_tag {
            out.push(c);
        }
        if c == '>' {
            in_tag = false;
            out.push(' ');
        }
    }
    out
}

#[test]
fn script_tags_show_as_text() {
    let html = render("Hi <script>alert(1)</script> there\n\n<script>\nalert(2)\n</script>\n");
    assert_inert(&html);
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("alert(2)"), "{html}");
}

#[test]
fn img_with_onerror_shows_as_text() {
    let html = render("<img src=x onerror=alert(1)>\n\ntext <img src=x onerror=\"alert(1)\"> more");
    assert_inert(&html);
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
}

#[test]
fn svg_iframe_style_form_and_event_attributes_show_as_text() {
    for payload in [
        "<svg onload=alert(1)><script>alert(2)</script></svg>",
        "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
        "<iframe src=\"https://example.com\"></iframe>",
        "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
        "<style>body { display: none }</style>",
        "<form action=\"https://evil.example\"><input name=p><button>Go</button></form>",
        "<div onclick=\"alert(1)\" onmouseover=alert(2)>hover</div>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
        "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
        "<details open ontoggle=alert(1)>",
        "<object data=\"x\"></object><embed src=x>",
        "<base href=\"https://evil.example/\"><meta http-equiv=refresh content=0>",
    ] {
        let html = render(&format!("{payload}\n\ninline {payload} too"));
        assert_inert(&html);
        assert!(
            html.contains("&lt;"),
            "{payload} was not shown as text: {html}"
        );
    }
}

#[test]
fn dangerous_link_schemes_lose_their_address_however_spelled() {
    for destination in [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "javascript&#58;alert(1)",
        "&#106;avascript:alert(1)",
        "&#x6A;avascript:alert(1)",
        "java%0Ascript:alert(1)",
        "<java\tscript:alert(1)>",
        "<\u{1}javascript:alert(1)>",
        " javascript:alert(1)",
        "vbscript:msgbox(1)",
        "VBScript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "DATA:text/html,x",
        "file:///etc/passwd",
        "/relative/path",
        "//evil.example/protocol-relative",
    ] {
        let markdown = format!("[click me]({destination})");
        let html = render(&markdown);
        assert_inert(&html);
        assert!(
            !html.contains("href"),
            "{destination:?} kept a link: {html}"
        );
        assert!(
            html.contains("click me"),
            "{destination:?} lost its text: {html}"
        );
    }
}

#[test]
fn reference_and_autolinks_obey_the_same_schemes() {
    let html = render("[x][evil] and <javascript:alert(1)>\n\n[evil]: javascript:alert(1)\n");
    assert_inert(&html);
    assert!(!html.contains("href"), "{html}");
}

#[test]
fn web_and_mail_links_open_in_a_new_tab_without_referrer_or_opener() {
    let html =
        render("[docs](https://example.com/a?b=1&c=2) <mailto:a@example.com> http://x.example");
    assert!(
        html.contains(
            "<a href=\"https://example.com/a?b=1&amp;c=2\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">docs</a>"
        ),
        "{html}"
    );
    assert!(html.contains("href=\"mailto:a@example.com\""), "{html}");
    assert_eq!(html.matches("target=\"_blank\"").count(), 2, "{html}");
}

#[test]
fn images_are_not_loaded_but_offered_as_a_link() {
    let html = render(
        "![a cat](http://127.0.0.1:9/leak?secret=1 \"title\") and ![](https://img.example/x.png)",
    );
    assert_inert(&html);
    assert!(
        html.contains(
            "<a class=\"remote-image\" href=\"http://127.0.0.1:9/leak?secret=1\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">Show image from 127.0.0.1: a cat</a>"
        ),
        "{html}"
    );
    assert!(
        html.contains("Show image from img.example: image</a>"),
        "{html}"
    );
}

#[test]
fn images_without_a_web_address_show_only_their_description() {
    for destination in [
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "/local.png",
    ] {
        let html = render(&format!("![the <b>alt</b>]({destination})"));
        assert_inert(&html);
        assert!(!html.contains("href"), "{html}");
        assert!(html.contains("[the alt]"), "{html}");
    }
}

#[test]
fn tables_task_lists_and_strikethrough_render() {
    let html = render(
        "| Name | Qty |\n|:-----|----:|\n| apple | 3 |\n| pear | 5 |\n\n- [x] done\n- [ ] to do\n\n~~old~~ new\n",
    );
    assert!(html.contains("<table>"), "{html}");
    assert!(html.contains("<th>Name</th>"), "{html}");
    assert!(html.contains("<td>pear</td>"), "{html}");
    assert!(
        html.contains("<input type=\"checkbox\" checked=\"\" disabled=\"\">")
            || html.contains("<input disabled=\"\" type=\"checkbox\" checked=\"\">"),
        "{html}"
    );
    assert_eq!(html.matches("<input").count(), 2, "{html}");
    assert!(html.contains("<del>old</del>"), "{html}");
}

#[test]
fn code_blocks_are_highlighted_with_their_language_and_a_copy_button() {
    let html = render("```rust\nfn main() {\n    let answer = 42; // the answer\n}\n```\n");
    assert!(
        html.contains("<span class=\"code-language\">rust</span>"),
        "{html}"
    );
    assert!(
        html.contains("<button type=\"button\" class=\"code-copy\">Copy</button>"),
        "{html}"
    );
    assert!(
        html.contains("class=\"hl-storage hl-type hl-function hl-rust\">fn</span>"),
        "{html}"
    );
    assert!(html.contains("hl-comment"), "{html}");
    assert!(html.contains("hl-constant hl-numeric"), "{html}");
    assert_inert(&html);
}

#[test]
fn code_in_an_unknown_language_or_none_is_shown_plain_and_escaped() {
    let html = render("```klingon\n<script>alert(1)</script>\n```\n\n    indented <b>code</b>\n");
    assert!(
        html.contains("<span class=\"code-language\">klingon</span>"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"code-language\">text</span>"),
        "{html}"
    );
    assert!(html.contains("indented &lt;b&gt;code&lt;/b&gt;"), "{html}");
    assert_inert(&html);
}

#[test]
fn a_hostile_language_name_is_only_text() {
    let html = render("```\"><script>alert(1)</script>\nx\n```\n");
    assert_inert(&html);
}

#[test]
fn math_in_all_four_delimiters_becomes_mathml() {
    let html =
        render("Inline $x^2$ and \\(a+b\\).\n\n$$\\frac{1}{2}$$\n\n\\[\n\\sum_{i=1}^n i\n\\]\n");
    assert_eq!(html.matches("<math").count(), 4, "{html}");
    assert_eq!(html.matches("display=\"block\"").count(), 2, "{html}");
    assert!(html.contains("<mfrac>"), "{html}");
    assert!(html.contains("<msup>"), "{html}");
}

#[test]
fn prices_are_not_math() {
    let html = render("It costs $5 and $10 today.");
    assert!(!html.contains("<math"), "{html}");
    assert!(html.contains("$5 and $10"), "{html}");
}

#[test]
fn delimiters_in_code_are_left_alone() {
    let html = render("`\\(x\\)` and\n\n```\n\\[y\\]\n$z$\n```\n");
    assert!(!html.contains("<math"), "{html}");
    assert!(html.contains("\\(x\\)"), "{html}");
    assert!(html.contains("\\[y\\]"), "{html}");
}

#[test]
fn an_escaped_backslash_or_an_unpaired_delimiter_is_not_math() {
    let html = render("a \\\\(b\\\\) and \\( unclosed");
    assert!(!html.contains("<math"), "{html}");
}

#[test]
fn a_formula_that_does_not_parse_shows_its_source_and_the_rest_renders() {
    let html = render("Bad $\\frac{1}$ and good $y$.\n\n$$\\begin{nothing} x$$\n\nAfter **bold**.");
    assert!(
        html.contains("<code class=\"math-error\" title=\"This formula could not be shown\">$\\frac{1}$</code>"),
        "{html}"
    );
    assert!(html.contains("$$\\begin{nothing} x$$</code>"), "{html}");
    assert_eq!(html.matches("<math").count(), 1, "{html}");
    assert!(html.contains("<strong>bold</strong>"), "{html}");
}

#[test]
fn a_formula_cannot_inject_markup() {
    let html = render("$\\text{<script>alert(1)</script>}$ and $\\href{javascript:alert(1)}{x}$");
    assert_inert(&html);
}

#[test]
fn user_ids_and_names_cannot_clobber_the_page() {
    let html = render("<a id=chat-messages name=composer>x</a>\n\n# Heading");
    assert!(!strip_text(&html).contains(" id="), "{html}");
    assert!(html.contains("<h1>Heading</h1>"), "{html}");
}

mod streaming {
    use super::super::*;

    /// Feeds `tokens` to a stream renderer; returns each step's output and the renderer.
    fn feed(tokens: &[&str]) -> (Vec<Option<RenderedBlocks>>, StreamRenderer) {
        let mut renderer = StreamRenderer::new();
        let steps = tokens.iter().map(|token| renderer.push(token)).collect();
        (steps, renderer)
    }

    #[test]
    fn finished_paragraphs_are_rendered_once_and_the_tail_waits() {
        let (steps, renderer) = feed(&["Hello ", "**world**", "\n\n", "Next", " para"]);
        assert_eq!(steps[..3], [None, None, None]);
        assert_eq!(
            steps[3],
            Some(RenderedBlocks {
                html: "<p>Hello <strong>world</strong></p>\n".into(),
                consumed_utf16: "Hello **world**\n\n".len(),
            })
        );
        assert_eq!(steps[4], None);
        assert_eq!(
            renderer.finish(),
            "<p>Hello <strong>world</strong></p>\n<p>Next para</p>\n"
        );
    }

    #[test]
    fn an_open_code_fence_is_never_rendered_until_it_closes() {
        let (steps, renderer) = feed(&[
            "Intro\n\n",
            "```rust\n",
            "fn main() {}\n\n",
            "\n// still code\n\n",
            "```\n",
            "After",
        ]);
        // "Intro" is rendered when the fence line starts; nothing inside the fence after that.
        assert_eq!(steps[1].as_ref().unwrap().html, "<p>Intro</p>\n");
        assert_eq!(steps[2], None);
        assert_eq!(steps[3], None);
        assert_eq!(steps[4], None);
        let code = steps[5].as_ref().expect("the closed block is rendered");
        assert!(code.html.contains("code-block"), "{}", code.html);
        assert!(code.html.contains("still code"), "{}", code.html);
        assert_eq!(
            code.consumed_utf16,
            "```rust\nfn main() {}\n\n\n// still code\n\n```\n".len()
        );
        assert!(renderer.finish().ends_with("<p>After</p>\n"));
    }

    #[test]
    fn an_unfinished_formula_stays_text_until_its_paragraph_ends() {
        let (steps, _) = feed(&["Euler: $e^{i", "\\pi} + 1", " = 0$", "\n\n", "Done"]);
        assert_eq!(steps[..4], [None, None, None, None]);
        let html = &steps[4].as_ref().unwrap().html;
        assert!(html.contains("<math"), "{html}");
        let (steps, _) = feed(&["\\[\n\\frac{1}{", "2}\n", "\\]\n\n", "x"]);
        assert_eq!(steps[..3], [None, None, None]);
        assert!(steps[3]
            .as_ref()
            .unwrap()
            .html
            .contains("display=\"block\""));
    }

    #[test]
    fn indented_continuations_do_not_split_a_list_item() {
        let (steps, _) = feed(&["- item\n\n", "  continued\n\n", "Para"]);
        assert_eq!(steps[..2], [None, None]);
        let html = &steps[2].as_ref().unwrap().html;
        assert_eq!(html.matches("<li>").count(), 1, "{html}");
        assert!(html.contains("continued"), "{html}");
    }

    #[test]
    fn consumed_counts_utf16_units_as_javascript_does() {
        let (steps, _) = feed(&["🦀 é\n\n", "x"]);
        assert_eq!(steps[1].as_ref().unwrap().consumed_utf16, 2 + 1 + 1 + 2);
    }

    #[test]
    fn streamed_blocks_add_up_to_the_whole_answer() {
        let answer = "# Title\n\nSome *text*.\n\n```python\nprint('hi')\n```\nAfter fence.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nThe end $x$.\n";
        let mut renderer = StreamRenderer::new();
        let mut consumed = 0;
        let mut html = String::new();
        // One character per token: every possible cut.
        for c in answer.chars() {
            if let Some(blocks) = renderer.push(&c.to_string()) {
                consumed += blocks.consumed_utf16;
                html.push_str(&blocks.html);
            }
        }
        let tail = &answer[consumed..];
        assert_eq!(tail, "The end $x$.\n");
        html.push_str(&render_markdown(tail));
        assert_eq!(html, render_markdown(answer));
        assert_eq!(renderer.finish(), render_markdown(answer));
    }
}

#[test]
fn the_sanitiser_alone_removes_what_the_renderer_never_writes() {
    let html = sanitise::clean(
        "<img src=x onerror=alert(1)><script>alert(1)</script><svg><script>alert(1)</script></svg>\
         <iframe src=x></iframe><style>*{}</style><form><input type=text name=q></form>\
         <a href=\"javascript:alert(1)\" onclick=\"x()\" id=\"composer\">a</a>\
         <button type=submit formaction=\"https://evil.example\">b</button>\
         <p class=\"evil hl-keyword\" style=\"color:red\">c</p>",
    );
    assert_eq!(
        html,
        "<input disabled=\"\"><a target=\"_blank\" rel=\"noopener noreferrer nofollow\">a</a>\
         <button type=\"button\">b</button><p class=\"hl-keyword\">c</p>"
    );
}
