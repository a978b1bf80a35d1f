//! Who the user is, for the app: the session in cookies, verified locally, and the pages and
//! context that sign people in and out.
//!
//! Server-only parts talk to the Supabase Auth API (the embedded service or a real project)
//! through one client and verify access tokens without a network call per request.

pub mod context;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod actions;
#[cfg(feature = "ssr")]
pub mod client;
#[cfg(feature = "ssr")]
pub mod memory;
#[cfg(feature = "ssr")]
pub mod remote;
#[cfg(feature = "ssr")]
pub mod remote_status;
#[cfg(feature = "ssr")]
pub mod routes;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod verify;

use serde::{Deserialize, Serialize};

/// What the browser may know about the signed-in user (never a token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: String,
    /// Empty for a guest.
    pub email: String,
    /// Signed in anonymously ("Try it without an account"): no email address or password yet.
    #[serde(default)]
    pub guest: bool,
}

/// Why a sign-in came back to the login page (`/login?error=<code>`). The page shows its own
/// words for each code: text in a URL is anyone's to write, so it is never shown as such.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInError {
    /// The emailed link or the sign-in code was used, wrong, or too old.
    LinkExpired,
    /// A provider's address belongs to an account it may not be linked to.
    EmailExists,
    /// The PKCE verifier cookie is missing: another browser, or too late.
    OtherBrowser,
    /// The provider or the service refused, for a reason not worth a message of its own.
    Incomplete,
    /// The sign-in service could not be reached.
    Unavailable,
}

impl SignInError {
    const ALL: [SignInError; 5] = [
        SignInError::LinkExpired,
        SignInError::EmailExists,
        SignInError::OtherBrowser,
        SignInError::Incomplete,
        SignInError::Unavailable,
    ];

    /// The code in the URL.
    pub fn code(self) -> &'static str {
        match self {
            SignInError::LinkExpired => "link-expired",
            SignInError::EmailExists => "email-exists",
            SignInError::OtherBrowser => "other-browser",
            SignInError::Incomplete => "incomplete",
            SignInError::Unavailable => "unavailable",
        }
    }

    /// The error a code names; anything else reads as an incomplete sign-in.
    pub fn from_code(code: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|error| error.code() == code)
            .unwrap_or(SignInError::Incomplete)
    }

    /// What the login page says.
    pub fn message(self) -> &'static str {
        match self {
            SignInError::LinkExpired => {
                "That link is invalid or has expired. Please request a new one."
            }
            SignInError::EmailExists => {
                "An account with this email already exists. Sign in with your password first."
            }
            SignInError::OtherBrowser => {
                "This sign-in was started in another browser or has expired. Please try again."
            }
            SignInError::Incomplete => "Sign-in did not complete. Please try again.",
            SignInError::Unavailable => {
                "The sign-in service is unavailable. Please try again shortly."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SignInError;

    #[test]
    fn sign_in_error_codes_round_trip_and_strangers_read_as_incomplete() {
        for error in SignInError::ALL {
            assert_eq!(SignInError::from_code(error.code()), error);
        }
        let injected = SignInError::from_code("Your account is locked. Call +1 555 0100.");
        assert_eq!(injected, SignInError::Incomplete);
    }
}
