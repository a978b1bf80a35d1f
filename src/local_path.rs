//! Redirect targets that cannot leave the site.

/// Returns `target` if it is a path on this site, `None` if a browser could read it as
/// another origin.
///
/// Only `/path?query#hash` shapes pass. Refused: scheme-relative `//host`, the backslash forms
/// browsers fold into slashes (`/\host`), absolute URLs (`https:x`), and control characters or
/// whitespace, which browsers strip before parsing.
pub fn local_path(target: &str) -> Option<&str> {
    let bytes = target.as_bytes();
    let starts_right = bytes.first() == Some(&b'/') && !matches!(bytes.get(1), Some(b'/' | b'\\'));
    let clean = !target
        .chars()
        .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    (starts_right && clean).then_some(target)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn site_paths_pass() {
        for target in ["/", "/chat", "/chat/42?tab=1#end", "/a%2Fb"] {
            assert_eq!(local_path(target), Some(target));
        }
    }

    #[test]
    fn anything_a_browser_could_take_off_site_is_refused() {
        for target in [
            "",
            "chat",
            "//evil.example",
            "/\\evil.example",
            "/\\/evil.example",
            "https://evil.example",
            "https:evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/ /evil.example",
            "\n/chat",
            "/chat\\..\\x",
        ] {
            assert_eq!(local_path(target), None, "{target:?}");
        }
    }
}
