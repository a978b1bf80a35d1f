//! Fixed-window request limits, per client IP, per address and per address and client, counted
//! in the database.
//!
//! Every instance shares the database, so a limit holds across instances. Each check is one
//! atomic upsert of the `(bucket, key)` row, whatever the number of keys: a flood of made-up
//! addresses adds rows (pruned by `maintenance`), it cannot push a real client's counter out.
//! Keys are client IPs and email addresses, personal data: only their keyed hash is stored.

use std::time::Duration;

use super::{
    config::RateLimits,
    error::{AuthError, AuthResult},
    now,
};
use crate::{
    crypto::{base64url, hmac_sha256},
    store::Pool,
};

const FIVE_MINUTES: Duration = Duration::from_secs(300);
const ONE_HOUR: Duration = Duration::from_secs(3600);

/// What is counted: each bucket has its own window and its own limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// Password and PKCE sign-ins, sign-ups, link redemptions, per client IP.
    SignIn,
    /// Password attempts per email address and client IP (see `AuthState::limit_attempts_on`).
    SignInEmail,
    /// Refresh-token grants per client IP.
    Refresh,
    /// Requests for recovery and magic-link emails per client IP.
    EmailIp,
    /// Recovery and magic-link emails per address.
    EmailAddress,
    /// OAuth starts (`/authorize`, which stores a flow state) per client IP.
    Authorize,
    /// Anonymous sign-ups per client IP (GoTrue's separate, hourly limit).
    Anonymous,
    /// Second-factor codes tried per user, from any address.
    MfaVerify,
}

impl Bucket {
    /// Every bucket, for pruning.
    pub const ALL: [Bucket; 8] = [
        Bucket::SignIn,
        Bucket::SignInEmail,
        Bucket::Refresh,
        Bucket::EmailIp,
        Bucket::EmailAddress,
        Bucket::Authorize,
        Bucket::Anonymous,
        Bucket::MfaVerify,
    ];

    /// The name stored in `rate_limits.bucket`.
    pub fn name(self) -> &'static str {
        match self {
            Bucket::SignIn => "sign_in",
            Bucket::SignInEmail => "sign_in_email",
            Bucket::Refresh => "refresh",
            Bucket::EmailIp => "email_ip",
            Bucket::EmailAddress => "email_address",
            Bucket::Authorize => "authorize",
            Bucket::Anonymous => "anonymous",
            Bucket::MfaVerify => "mfa_verify",
        }
    }

    /// The length of one counting window.
    pub fn window(self) -> Duration {
        match self {
            Bucket::EmailAddress | Bucket::Anonymous => ONE_HOUR,
            _ => FIVE_MINUTES,
        }
    }

    /// Requests allowed per window.
    fn limit(self, limits: &RateLimits) -> u32 {
        match self {
            // An OAuth start is a sign-in attempt like any other.
            Bucket::SignIn | Bucket::EmailIp | Bucket::Authorize => limits.sign_in_per_ip,
            // A code guess is a password guess: the same budget, per user.
            Bucket::SignInEmail | Bucket::MfaVerify => limits.sign_in_per_email,
            Bucket::Refresh => limits.refresh_per_ip,
            Bucket::EmailAddress => limits.email_per_address,
            Bucket::Anonymous => limits.anonymous_per_ip,
        }
    }
}

/// Counts requests per (bucket, key) in the `rate_limits` table.
pub struct RateLimiter {
    pool: Pool,
    limits: RateLimits,
    /// Keys the stored hashes, so they cannot be reversed by hashing every IPv4 address.
    secret: Vec<u8>,
}

impl RateLimiter {
    /// A limiter with these limits; `secret` is a server secret shared by every instance.
    pub fn new(pool: Pool, limits: RateLimits, secret: Vec<u8>) -> Self {
        RateLimiter {
            pool,
            limits,
            secret,
        }
    }

    /// Counts one request of `key`; refuses it with 429 and `Retry-After` (the seconds left in
    /// the window) once the bucket's limit is reached within the window.
    pub async fn check(&self, bucket: Bucket, key: &str) -> AuthResult<()> {
        let at = now();
        let window = bucket.window().as_secs() as i64;
        // One statement, atomic on both databases: a new row, a new window once the old one
        // has passed, or one more hit. The SET expressions all read the row as it was.
        let (hits, window_start): (i64, i64) = sqlx::query_as(
            "INSERT INTO rate_limits (bucket, key, window_start, hits) VALUES ($1, $2, $3, 1)
             ON CONFLICT (bucket, key) DO UPDATE SET
                 window_start = CASE WHEN rate_limits.window_start <= $4
                                     THEN $3 ELSE rate_limits.window_start END,
                 hits = CASE WHEN rate_limits.window_start <= $4
                             THEN 1 ELSE rate_limits.hits + 1 END
             RETURNING hits, window_start",
        )
        .bind(bucket.name())
        .bind(self.stored_key(key))
        .bind(at)
        .bind(at - window)
        .fetch_one(&self.pool)
        .await?;
        if hits > i64::from(bucket.limit(&self.limits)) {
            let left = (window_start + window - at).max(1);
            return Err(AuthError::rate_limited(left as u64));
        }
        Ok(())
    }

    /// The form in which `key` is stored.
    fn stored_key(&self, key: &str) -> String {
        base64url(&hmac_sha256(&self.secret, key.as_bytes()))
    }
}
