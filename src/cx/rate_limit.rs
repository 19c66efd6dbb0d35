//! Client-side token bucket shared by every clone of a `CxClient`, so botrun stays under CX's
//! per-client request budget \[C: 3,000 per minute\] instead of discovering it through 429s.

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
    /// The configured budget, before it is split among replicas.
    budget: f64,
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
                budget: rate,
                per_second: rate,
                capacity: rate,
                level: rate,
                updated: Instant::now(),
            }))
        });
        Self { bucket }
    }

    /// Waits until one more request is allowed.
    pub(crate) async fn acquire(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes a token at `now` and says how long the caller must wait before using it.
    fn reserve(&self, now: Instant) -> Duration {
        self.with_bucket(|bucket| bucket.reserve(now)).unwrap_or(Duration::ZERO)
    }

    /// Gives this process its share of the budget when `replicas` processes (itself included)
    /// send on behalf of one tenant, so together they stay under the tenant's limit. Saved-up
    /// burst above the new one-second capacity is dropped at once.
    pub(crate) fn share_among(&self, replicas: u32) {
        let replicas = f64::from(replicas.max(1));
        self.with_bucket(|bucket| {
            bucket.per_second = bucket.budget / replicas;
            bucket.capacity = bucket.per_second;
            bucket.level = bucket.level.min(bucket.capacity);
        });
    }

    /// Requests per second this process may send now (`None` when limiting is off).
    #[cfg(test)]
    pub(crate) fn current_rate(&self) -> Option<f64> {
        self.with_bucket(|bucket| bucket.per_second)
    }

    fn with_bucket<T>(&self, work: impl FnOnce(&mut Bucket) -> T) -> Option<T> {
        let bucket = self.bucket.as_ref()?;
        // A poisoned lock only means another caller panicked mid-update; the numbers are still
        // usable, so carry on rather than fail every later call.
        let mut bucket = bucket.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(work(&mut bucket))
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
    fn a_share_of_the_budget_limits_burst_and_rate() {
        let limiter = RateLimiter::new(30);
        limiter.share_among(3);
        assert_eq!(limiter.current_rate(), Some(10.0));
        let start = Instant::now();
        let waits: Vec<Duration> = (0..11).map(|_| limiter.reserve(start)).collect();
        assert!(waits[..10].iter().all(Duration::is_zero), "one second of the share: {waits:?}");
        assert!(waits[10].abs_diff(Duration::from_millis(100)) < Duration::from_millis(1));
        // Back to one replica: the whole budget again, refilling at the full rate.
        limiter.share_among(1);
        let later = start + Duration::from_secs(1);
        assert!((0..29).all(|_| limiter.reserve(later).is_zero()));
        assert!(!limiter.reserve(later).is_zero());
        limiter.share_among(0);
        assert_eq!(limiter.current_rate(), Some(30.0), "zero replicas is read as one");
    }

    #[test]
    fn zero_disables_limiting() {
        let limiter = RateLimiter::new(0);
        let now = Instant::now();
        assert!((0..10_000).all(|_| limiter.reserve(now).is_zero()));
    }
}
