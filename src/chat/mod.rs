//! The chat: conversations with a language model.

pub mod config;
pub mod llm;
