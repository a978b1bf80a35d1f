//! The sidebar as a drawer on narrow screens. A checkbox (`#chat-drawer`) before the sidebar
//! and labels for it open and close the drawer with CSS alone (`:checked ~ .chat-sidebar`), so
//! it works without JavaScript; `keys.js` adds Esc to close it and keeps focus where a keyboard
//! or screen-reader user expects it. On wide screens all of this is hidden and the sidebar is a
//! column.

use leptos::prelude::*;

/// The drawer's switch and the button-like label that opens it; goes right before the sidebar.
#[component]
pub fn DrawerSwitch() -> impl IntoView {
    view! {
        <input type="checkbox" id="chat-drawer" class="drawer-switch"/>
        <label for="chat-drawer" class="drawer-open">
            <span aria-hidden="true">"☰ "</span>
            "Chats"
        </label>
    }
}

/// The shade over the rest of the page while the drawer is open: a tap on it closes the drawer.
/// Goes right after the sidebar. Hidden from screen readers: the switch itself closes it too.
#[component]
pub fn DrawerShade() -> impl IntoView {
    view! { <label for="chat-drawer" class="drawer-shade" aria-hidden="true"></label> }
}
