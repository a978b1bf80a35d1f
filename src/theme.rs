//! The colour theme: follows the system until the person picks one, then remembers it.
//!
//! The choice lives in a cookie, so the server renders `<html data-theme=…>` before the first
//! paint: no script has to run early and the page never flashes the wrong theme. The switcher is
//! a form that works without JavaScript and, as an island, is handled in place once it has
//! hydrated.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Name of the cookie that remembers the theme.
pub const THEME_COOKIE: &str = "theme";

/// A colour theme choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Follow `prefers-color-scheme`.
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    /// Every choice, in the order the switcher shows them.
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    /// The value used in the cookie, the form and the `data-theme` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// Parses the value of the cookie or the form field.
    pub fn parse(value: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|theme| theme.as_str() == value)
    }

    /// Reads the theme from a `Cookie` header; anything unreadable means the default.
    pub fn from_cookie_header(header: &str) -> Theme {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == THEME_COOKIE)
            .and_then(|(_, value)| Theme::parse(value))
            .unwrap_or_default()
    }

    /// The `Set-Cookie` value (also what the browser writes to `document.cookie`).
    pub fn cookie(self) -> String {
        format!(
            "{THEME_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            self.as_str()
        )
    }

    fn label(self) -> &'static str {
        match self {
            Theme::System => "System theme",
            Theme::Light => "Light theme",
            Theme::Dark => "Dark theme",
        }
    }

    fn icon(self) -> &'static str {
        match self {
            Theme::System => "◐",
            Theme::Light => "☀",
            Theme::Dark => "☾",
        }
    }
}

/// The theme of the page being rendered: from the request's cookie on the server, from the
/// attribute the server rendered when hydrating, so both render the same markup.
pub fn current_theme() -> Theme {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>()
            .and_then(|parts| {
                let header = parts.headers.get(axum::http::header::COOKIE)?;
                Some(Theme::from_cookie_header(header.to_str().ok()?))
            })
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        document()
            .document_element()
            .and_then(|root| root.get_attribute("data-theme"))
            .and_then(|value| Theme::parse(&value))
            .unwrap_or_default()
    }
}

/// Applies and remembers a choice in the browser without a round trip.
#[cfg(feature = "hydrate")]
fn apply_in_browser(theme: Theme) {
    use wasm_bindgen::JsCast;
    let document = document();
    if let Some(root) = document.document_element() {
        let _ = root.set_attribute("data-theme", theme.as_str());
    }
    if let Ok(html) = document.dyn_into::<web_sys::HtmlDocument>() {
        let _ = html.set_cookie(&theme.cookie());
    }
}

/// Three buttons (system, light, dark) in the navbar, showing `theme`; without JavaScript the
/// form posts the choice and comes back to `return_to`.
#[island]
pub fn ThemeSwitcher(theme: Theme, return_to: String) -> impl IntoView {
    let theme = RwSignal::new(theme);
    let buttons = Theme::ALL.map(|option| {
        view! {
            <button
                type="submit"
                name="theme"
                value=option.as_str()
                title=option.label()
                aria-label=option.label()
                aria-pressed=move || (theme.get() == option).to_string()
                on:click=move |event| {
                    event.prevent_default();
                    theme.set(option);
                    #[cfg(feature = "hydrate")]
                    apply_in_browser(option);
                }
            >
                {option.icon()}
            </button>
        }
    });
    view! {
        <form class="theme-switcher" method="post" action="/theme" aria-label="Colour theme">
            <input type="hidden" name="return_to" value=return_to/>
            {buttons.into_iter().collect_view()}
        </form>
    }
}

/// `POST /theme`: the switcher without JavaScript.
#[cfg(feature = "ssr")]
pub mod form {
    use axum::{
        http::{header, StatusCode},
        response::{IntoResponse, Response},
        Form,
    };
    use serde::Deserialize;

    use super::Theme;
    use crate::local_path::local_path;

    /// The switcher's form fields.
    #[derive(Deserialize)]
    pub struct ThemeForm {
        theme: String,
        return_to: Option<String>,
    }

    /// Remembers the theme and sends the browser back to the page it came from.
    pub async fn set_theme(Form(form): Form<ThemeForm>) -> Response {
        let Some(theme) = Theme::parse(&form.theme) else {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unknown theme: choose system, light or dark.",
            )
                .into_response();
        };
        let back = form
            .return_to
            .as_deref()
            .and_then(local_path)
            .unwrap_or("/");
        (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, back.to_owned()),
                (header::SET_COOKIE, theme.cookie()),
            ],
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_round_trips_every_theme() {
        for theme in Theme::ALL {
            let set_cookie = theme.cookie();
            let pair = set_cookie.split(';').next().unwrap();
            assert_eq!(Theme::from_cookie_header(&format!("a=b; {pair}")), theme);
        }
    }

    #[test]
    fn unreadable_cookies_follow_the_system() {
        assert_eq!(Theme::from_cookie_header(""), Theme::System);
        assert_eq!(Theme::from_cookie_header("theme=purple"), Theme::System);
        assert_eq!(Theme::from_cookie_header("xtheme=dark"), Theme::System);
    }
}
