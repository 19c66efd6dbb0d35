//! Client-side token bucket shared by every clone of a `CxClient`, so botrun stays under CX's
//! per-client request budget [C: 3,000 per minute] instead of discovering it through 429s.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket holding up to one second's worth of requests. Callers that find it empty take a
/// token anyway (the level goes negative) and sleep until it would have refilled: this keeps
/// waiting callers in arrival order without a queue.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    bucket: Option<Arc<Mutex<Bucket>>>,
}

#[derive(Debug)]
struct Bucket {
    per_second: f64,
    capacity: f64,
    level: f64,
    updated: Instant,
}

impl RateLimiter {
    /// `per_second == 0` disables limiting.
    pub fn new(per_second: u32) -> Self {
        let bucket = (per_second > 0).then(|| {
            let rate = f64::from(per_second);
            Arc::new(Mutex::new(Bucket {
                per_second: rate,
                capacity: rate,
                level: rate,
                updated: Instant::now(),
            }))
        });
        Self { bucket }
    }

    /// Waits until one more request is allowed.
    pub async fn acquire(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes a token at `now` and says how long the caller must wait before using it.
    fn reserve(&self, now: Instant) -> Duration {
        let Some(bucket) = &self.bucket else {
            return Duration::ZERO;
        };
        // A poisoned lock only means another caller panicked mid-update; the numbers are still
        // usable, so carry on rather than fail every later call.
        let mut bucket = bucket.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        bucket.reserve(now)
    }
}

impl Bucket {
    fn reserve(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.level = (self.level + elapsed * self.per_second).min(self.capacity);
        self.updated = now.max(self.updated);
        self.level -= 1.0;
        if self.level >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.level / self.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_of_one_second_then_steady_rate() {
        let limiter = RateLimiter::new(10);
        let start = Instant::now();
        let waits: Vec<Duration> = (0..15).map(|_| limiter.reserve(start)).collect();
        assert!(waits[..10].iter().all(Duration::is_zero));
        for (n, wait) in waits[10..].iter().enumerate() {
            let expected = Duration::from_millis(100 * (n as u64 + 1));
            assert!(wait.abs_diff(expected) < Duration::from_millis(1), "{wait:?} vs {expected:?}");
        }
    }

    #[test]
    fn clones_share_one_bucket_and_refill_over_time() {
        let limiter = RateLimiter::new(2);
        let clone = limiter.clone();
        let start = Instant::now();
        assert!(limiter.reserve(start).is_zero());
        assert!(clone.reserve(start).is_zero());
        assert!(!limiter.reserve(start).is_zero());
        // After a long pause the bucket is full again but never above capacity.
        let later = start + Duration::from_secs(60);
        assert!(clone.reserve(later).is_zero());
        assert!(clone.reserve(later).is_zero());
        assert!(!clone.reserve(later).is_zero());
    }

    #[test]
    fn zero_disables_limiting() {
        let limiter = RateLimiter::new(0);
        let now = Instant::now();
        assert!((0..10_000).all(|_| limiter.reserve(now).is_zero()));
    }
}
