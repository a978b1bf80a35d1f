//! The hostile-input suite: each test is one attack, named after what it tries, and fails if the
//! defence it names is removed. Run it alone with
//! `cargo test --features ssr --test server hostile::`; docs/SECURITY.md maps every case (these
//! and the older ones in the other modules) to its defence.

mod cookies;
pub(crate) mod cross_site;
mod headers;
mod inputs;
mod jwt;
mod logs;
mod passwords;
mod redirects;
