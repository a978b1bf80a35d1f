//! The app shell, its routes and its layout. Rendered on the server only: what runs in the
//! browser are the islands inside it (the auth provider, the forms, the theme switcher).

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    path, SsrMode,
};

use crate::{
    auth::{
        context::{request_user, AuthProvider},
        pages::{
            current_path, AccountPage, Banner, ForgotPasswordPage, LoginPage, ResetPasswordPage,
            SecondFactorPage, SignupPage, TwoFactorSetupPage, UserMenu,
        },
    },
    chat::pages::ChatPage,
    theme::{current_theme, ThemeSwitcher},
};

/// The HTML document around the app.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    use leptos_meta::MetaTags;
    let stylesheet = expect_context::<std::sync::Arc<crate::assets::SiteAssets>>()
        .stylesheet_href()
        .to_owned();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=current_theme().as_str()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                // `id="leptos"`: the stylesheet `cargo leptos watch` swaps when the CSS changes.
                <link id="leptos" rel="stylesheet" href=stylesheet/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root component: layout and routes, inside the island that knows who is signed in.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml"/>
        <Title formatter=page_title/>
        <AuthProvider user=request_user()>
            <Router>
                <Navbar/>
                <main>
                    <ErrorBoundary fallback=|errors| view! { <ErrorPage errors/> }>
                        // In order: the user menu and every page's data are in the HTML itself,
                        // so pages work without JavaScript (out-of-order streaming needs it).
                        <Routes fallback=NotFound>
                            <Route path=path!("/") view=HomePage ssr=SsrMode::InOrder/>
                            <Route path=path!("/login") view=LoginPage ssr=SsrMode::InOrder/>
                            <Route path=path!("/login/code") view=SecondFactorPage ssr=SsrMode::InOrder/>
                            <Route path=path!("/signup") view=SignupPage ssr=SsrMode::InOrder/>
                            <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::InOrder/>
                            <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::InOrder/>
                            <Route path=path!("/account") view=AccountPage ssr=SsrMode::InOrder/>
                            <Route path=path!("/account/two-factor") view=TwoFactorSetupPage ssr=SsrMode::InOrder/>
                            // Whole: the chat's `<title>` and the 404 status come from its data.
                            // leptos_meta injects the title into the first chunk of a stream, and
                            // an in-order stream's first chunk sometimes left before the data's
                            // Suspense had rendered its `Title` (seen: a chat page without a
                            // title); an async render sends nothing until all of it is done.
                            <Route path=path!("/chat") view=ChatPage ssr=SsrMode::Async/>
                            <Route path=path!("/chat/:id") view=ChatPage ssr=SsrMode::Async/>
                        </Routes>
                    </ErrorBoundary>
                </main>
            </Router>
        </AuthProvider>
    }
}

/// The document title of a page titled `page`, as `<title>` text. leptos_meta writes it into the
/// server's HTML as it is, and some titles are people's own words (a chat's): `</title><script>`
/// must stay text, so every title is escaped here, once.
fn page_title(page: String) -> String {
    let title = if page.is_empty() {
        "ferrochat".to_owned()
    } else {
        format!("{page} · ferrochat")
    };
    title.replace('&', "&amp;").replace('<', "&lt;")
}

#[component]
fn Navbar() -> impl IntoView {
    view! {
        <header class="navbar">
            <A href="/" attr:class="brand">
                "ferrochat"
            </A>
            <nav class="navbar-actions">
                <UserMenu/>
                <ThemeSwitcher theme=current_theme() return_to=current_path()/>
            </nav>
        </header>
    }
}

#[component]
fn HomePage() -> impl IntoView {
    view! {
        <Title text=""/>
        <Banner/>
        <section class="hero">
            <h1>"Chat with language models, in Rust from end to end."</h1>
            <p class="lead">
                "ferrochat streams answers token by token, keeps every conversation private to "
                "its owner and signs you in the Supabase way: email and password, or Google, "
                "GitHub and Facebook."
            </p>
            <ul class="features">
                <li>"Rendered on the server: pages work before, and without, JavaScript."</li>
                <li>"Runs with nothing else installed: embedded auth, SQLite and an offline model."</li>
                <li>"Points at a real Supabase project, Postgres and model provider by configuration."</li>
            </ul>
        </section>
    }
}

/// The page of an address with nothing at it (and of a chat that is not the visitor's).
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Title text="Page not found"/>
        <section class="message-page">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have moved, or the link may be wrong."</p>
            <A href="/">"Back to the start page"</A>
        </section>
    }
}

/// Shown in place of a page whose rendering failed.
#[component]
fn ErrorPage(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <Title text="Something went wrong"/>
        <section class="message-page" role="alert">
            <h1>"Something went wrong"</h1>
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, error)| view! { <li>{error.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
            <A href="/">"Back to the start page"</A>
        </section>
    }
}
