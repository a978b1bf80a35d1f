//! Chat: each person's conversations with a model, stored per user and streamed as they are
//! written. `types` and the server functions are shared with the browser; the rest runs on the
//! server.

pub mod functions;
pub mod pages;
pub mod search;
pub mod transfer;
pub mod types;

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod data_stream;
#[cfg(feature = "ssr")]
pub mod llm;
#[cfg(feature = "ssr")]
pub mod quota;
#[cfg(feature = "ssr")]
pub mod relay;
#[cfg(feature = "ssr")]
pub mod render;
#[cfg(feature = "ssr")]
pub mod store;
