//! The last step of every render: ammonia keeps only the elements and attributes an answer
//! needs, whatever the steps before produced. Raw HTML in an answer is already text by then
//! (see `Rewrite`); this is the guarantee behind it.

use std::{borrow::Cow, collections::HashSet, sync::LazyLock};

use ammonia::{Builder, UrlRelative};

/// The MathML Core elements pulldown-latex writes.
const MATHML_ELEMENTS: [&str; 25] = [
    "math",
    "mi",
    "mn",
    "mo",
    "ms",
    "mspace",
    "mtext",
    "mrow",
    "mfrac",
    "msqrt",
    "mroot",
    "mstyle",
    "mpadded",
    "mphantom",
    "msub",
    "msup",
    "msubsup",
    "munder",
    "mover",
    "munderover",
    "mmultiscripts",
    "mprescripts",
    "mtable",
    "mtr",
    "mtd",
];

/// MathML's presentation attributes: none takes a URL or a script.
const MATHML_ATTRIBUTES: [&str; 19] = [
    "display",
    "mathvariant",
    "stretchy",
    "fence",
    "separator",
    "lspace",
    "rspace",
    "largeop",
    "movablelimits",
    "minsize",
    "maxsize",
    "symmetric",
    "width",
    "height",
    "depth",
    "accent",
    "accentunder",
    "linethickness",
    "displaystyle",
];

/// Classes the renderer writes (anything else is dropped): the code blocks' parts, the
/// highlighter's `hl-…` and pulldown-latex's table classes (`menv-…`, `cell-…`).
fn allowed_class(class: &str) -> bool {
    const NAMES: [&str; 6] = [
        "code-block",
        "code-header",
        "code-language",
        "code-copy",
        "remote-image",
        "math-error",
    ];
    NAMES.contains(&class)
        || ["hl-", "menv-", "cell-"]
            .iter()
            .any(|p| class.starts_with(p))
}

static SANITISER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut builder = Builder::default();
    builder
        // Nothing is loaded from an answer: images become links before this step.
        .rm_tags(["img", "area", "map"])
        .add_tags(MATHML_ELEMENTS)
        .add_tags(["input", "button"])
        .add_generic_attributes(["class"])
        .add_generic_attributes(MATHML_ATTRIBUTES)
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tag_attributes("button", ["type"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .set_tag_attribute_value("a", "target", "_blank")
        .set_tag_attribute_value("input", "disabled", "")
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            (_, "class") => {
                let kept: Vec<&str> = value
                    .split_whitespace()
                    .filter(|c| allowed_class(c))
                    .collect();
                (!kept.is_empty()).then(|| Cow::Owned(kept.join(" ")))
            }
            // Only the task list's read-only checkboxes; a button only as a plain button.
            ("input", "type") => (value == "checkbox").then_some(Cow::Borrowed(value)),
            ("button", "type") => Some(Cow::Borrowed("button")),
            _ => Some(Cow::Borrowed(value)),
        });
    builder
});

/// `html` with everything an answer may not contain removed.
pub fn clean(html: &str) -> String {
    SANITISER.clean(html).to_string()
}
