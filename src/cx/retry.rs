//! Retry timing: capped exponential backoff with full jitter, and `Retry-After` parsing (both the
//! delta-seconds and the HTTP-date forms of RFC 9110 §10.2.3).

use std::time::{Duration, SystemTime};

use rand::Rng;

use super::config::RetryConfig;

/// Longest wait a `Retry-After` may impose; larger values are treated as this \[G\]. A server that
/// asks for an hour would otherwise stall the outbox behind one message.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// Backoff ceiling before retry number `retry` (1 = the first retry): `base · 2^(retry-1)`,
/// capped at `max_delay_ms`.
pub(crate) fn backoff_ceiling(policy: &RetryConfig, retry: u32) -> Duration {
    let exponent = retry.saturating_sub(1).min(32);
    let ceiling = policy.base_delay_ms.saturating_mul(1_u64 << exponent).min(policy.max_delay_ms);
    Duration::from_millis(ceiling)
}

/// Full jitter: a uniformly random wait in `[0, ceiling]`, so many clients that failed together do
/// not retry together.
pub(crate) fn jittered_backoff(policy: &RetryConfig, retry: u32) -> Duration {
    let ceiling = backoff_ceiling(policy, retry);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::thread_rng().gen_range(0..=millis))
}

/// Parses a `Retry-After` header value: delta-seconds (`"120"`) or an HTTP-date
/// (`"Wed, 21 Oct 2026 07:28:00 GMT"`). Dates in the past give zero; anything above
/// [`RETRY_AFTER_CAP`] gives the cap. `None` when the value is neither form.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits to fit is still "a very long time".
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds).min(RETRY_AFTER_CAP));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let wait = date.duration_since(now).unwrap_or(Duration::ZERO);
    Some(wait.min(RETRY_AFTER_CAP))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryConfig {
        RetryConfig { max_attempts: 10, base_delay_ms: 100, max_delay_ms: 1_000 }
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let p = policy();
        let ceilings: Vec<u64> = (1..=6)
            .map(|retry| u64::try_from(backoff_ceiling(&p, retry).as_millis()).unwrap())
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(backoff_ceiling(&p, u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_the_ceiling() {
        let p = policy();
        for retry in 1..=8 {
            for _ in 0..50 {
                assert!(jittered_backoff(&p, retry) <= backoff_ceiling(&p, retry));
            }
        }
    }

    #[test]
    fn retry_after_seconds_form() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("86400", now), Some(RETRY_AFTER_CAP));
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(RETRY_AFTER_CAP));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retry_after_http_date_form() {
        let now = httpdate::parse_http_date("Tue, 24 Nov 2026 10:00:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 10:00:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after("Tue, 24 Nov 2026 09:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 25 Nov 2026 10:00:00 GMT", now), Some(RETRY_AFTER_CAP));
        assert_eq!(parse_retry_after("Tue, 99 Nov 2026 10:00:00 GMT", now), None);
    }
}
