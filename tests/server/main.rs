//! Integration tests: the real router on a loopback port with a fresh SQLite database per test.

#[macro_use]
mod databases;
mod fake_provider;
mod harness;
mod key_confusion;
mod process;
mod proxy;

mod app_auth;
mod assets;
mod auth_accounts;
mod auth_admin;
mod auth_anonymous;
mod auth_github;
mod auth_hardening_accounts;
mod auth_hardening_limits;
mod auth_imported_keys;
mod auth_keys;
mod auth_mail;
mod auth_mfa;
mod auth_oauth_rules;
mod auth_oidc;
mod auth_python_interop;
mod auth_resend;

mod auth_sessions;
mod binary;
mod chat_api;
mod chat_conversations;
mod chat_llm;
mod chat_search;
mod chat_store;
mod chat_ui;
mod cors;
mod guest_chat;
mod pages;
mod probes;
mod realistic;
mod scale_out;
mod theme;

// The hostile-input, fault and load suites (scripts/test.sh runs them as their own step).
mod faults;
mod hostile;
mod load;
