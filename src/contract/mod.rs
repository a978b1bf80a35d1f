//! What the app's auth and the embedded auth service agree on, and nothing else: the claims of
//! an access token and how they are validated, PKCE, the `Email` type, the session as GoTrue
//! returns it and as the `@supabase/ssr` cookies store it, who the client is, and how the app
//! asks whether a session was signed out.
//!
//! Both sides depend on this module; it depends on neither (a leaf, like `settings`).

pub mod claims;
pub mod client;
pub mod cookies;
pub mod email;
pub mod pkce;
pub mod session;

pub use client::ClientIdentity;
pub use email::Email;
pub use session::{SessionStatus, SessionTokens, Standing};
