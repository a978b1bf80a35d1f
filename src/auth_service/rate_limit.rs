//! Fixed-window request limits, per client IP and per email, kept in memory.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use super::error::{AuthError, AuthResult};

/// Keys tracked at most; beyond it, expired windows are swept, then the oldest dropped, so a
/// flood of distinct keys cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

/// For each (bucket, key): when its window started and how many requests it has seen.
type Windows = HashMap<(&'static str, String), (Instant, u32)>;

/// Counts requests per (bucket, key) in fixed windows.
#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<Windows>,
}

impl RateLimiter {
    /// Counts one request; refuses it with 429 and `Retry-After` once `limit` is reached within
    /// `window`.
    pub fn check(
        &self,
        bucket: &'static str,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> AuthResult<()> {
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= MAX_KEYS {
            windows.retain(|_, (start, _)| now.duration_since(*start) < window);
            if windows.len() >= MAX_KEYS {
                if let Some(oldest) = windows
                    .iter()
                    .min_by_key(|(_, (start, _))| *start)
                    .map(|(k, _)| k.clone())
                {
                    windows.remove(&oldest);
                }
            }
        }
        let entry = windows.entry((bucket, key.to_owned())).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let retry_after = window.saturating_sub(now.duration_since(entry.0));
            return Err(AuthError::rate_limited(retry_after.as_secs()));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_applies_per_key_and_says_when_to_retry() {
        let limiter = RateLimiter::default();
        let window = Duration::from_secs(300);
        for _ in 0..3 {
            limiter.check("token", "10.0.0.1", 3, window).unwrap();
        }
        let refused = limiter.check("token", "10.0.0.1", 3, window).unwrap_err();
        assert_eq!(refused.code, "over_request_rate_limit");
        limiter.check("token", "10.0.0.2", 3, window).unwrap();
        limiter.check("signup", "10.0.0.1", 3, window).unwrap();
    }

    #[test]
    fn a_new_window_starts_afresh() {
        let limiter = RateLimiter::default();
        let window = Duration::from_millis(20);
        limiter.check("token", "a", 1, window).unwrap();
        assert!(limiter.check("token", "a", 1, window).is_err());
        std::thread::sleep(Duration::from_millis(30));
        limiter.check("token", "a", 1, window).unwrap();
    }
}
