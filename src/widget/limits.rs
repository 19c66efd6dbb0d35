//! The widget's own limits, so a script on the open internet cannot turn them against a site:
//!
//! - anonymous starts (and demo tokens) are counted per client address, apart from the tokens
//!   a site's backend mints, so a flood from one address never blocks the site's real chats;
//! - open streams are capped per conversation and in total;
//! - a refreshed token retires the one it replaced after a short overlap.
//!
//! Every refusal says when to come back (`Retry-After`).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::error::WidgetError;

/// Limits the widget enforces beyond each site's own settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WidgetLimits {
    /// Conversations one client address may start per minute without a minted token
    /// (anonymous starts and the demo page's tokens).
    pub anonymous_starts_per_minute: u32,
    /// WebSocket streams open at once on one conversation (tabs of one customer).
    pub streams_per_conversation: usize,
    /// WebSocket streams open at once on this process.
    pub streams_total: usize,
    /// How long a token replaced by `tokens/refresh` keeps working.
    pub refresh_overlap: Duration,
}

impl Default for WidgetLimits {
    fn default() -> WidgetLimits {
        WidgetLimits {
            anonymous_starts_per_minute: 10,
            streams_per_conversation: 4,
            streams_total: 4096,
            refresh_overlap: Duration::from_secs(30),
        }
    }
}

/// The client's address as the accept loop saw it (none when the app runs without a socket,
/// as in tests: they share one bucket).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddress(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(ClientAddress(address))
    }
}

/// Counts per key within the current minute; a new minute starts every count afresh, so the map
/// holds at most one minute's keys.
#[derive(Debug)]
pub(crate) struct PerMinute<K> {
    minute: i64,
    counts: HashMap<K, u32>,
}

impl<K: Hash + Eq> Default for PerMinute<K> {
    fn default() -> Self {
        PerMinute { minute: 0, counts: HashMap::new() }
    }
}

impl<K: Hash + Eq> PerMinute<K> {
    /// Counts one for `key` at `now_ms` if it is under `limit`; otherwise the seconds until
    /// the next minute, when it may try again.
    pub(crate) fn take(&mut self, key: K, limit: u32, now_ms: i64) -> Result<(), u64> {
        let minute = now_ms.div_euclid(60_000);
        if minute != self.minute {
            self.minute = minute;
            self.counts.clear();
        }
        let count = self.counts.entry(key).or_insert(0);
        if *count >= limit {
            let left_ms = (minute + 1) * 60_000 - now_ms;
            return Err(u64::try_from(left_ms.div_euclid(1000) + 1).unwrap_or(60));
        }
        *count += 1;
        Ok(())
    }
}

/// Open streams, per conversation and in total.
#[derive(Debug, Default)]
pub(crate) struct OpenStreams {
    total: usize,
    by_conversation: HashMap<String, usize>,
}

/// One open stream's place; dropping it frees the place.
#[derive(Debug)]
pub struct StreamPlace {
    streams: Arc<Mutex<OpenStreams>>,
    conversation: String,
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        let mut open = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_conversation.get_mut(&self.conversation) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.by_conversation.remove(&self.conversation);
            }
        }
    }
}

/// Takes a stream place for `conversation`, or says which cap is reached.
pub(crate) fn open_stream(
    streams: &Arc<Mutex<OpenStreams>>,
    conversation: &str,
    limits: &WidgetLimits,
) -> Result<StreamPlace, WidgetError> {
    let mut open = streams.lock().unwrap_or_else(PoisonError::into_inner);
    if open.total >= limits.streams_total {
        return Err(WidgetError::TooManyStreamsTotal);
    }
    let here = open.by_conversation.entry(conversation.to_owned()).or_insert(0);
    if *here >= limits.streams_per_conversation {
        return Err(WidgetError::TooManyStreamsHere);
    }
    *here += 1;
    open.total += 1;
    Ok(StreamPlace { streams: Arc::clone(streams), conversation: conversation.to_owned() })
}

/// Tokens replaced by a refresh: per conversation, tokens issued before `replaced_before`
/// (milliseconds) stop working at `retire_at` (seconds).
#[derive(Debug, Default)]
pub(crate) struct Retired {
    by_conversation: HashMap<String, (i64, i64)>,
}

impl Retired {
    /// A refresh issued a token at `issued_ms`; older ones retire at `retire_at`, and entries
    /// whose tokens have all expired (`forget_before`, seconds) are dropped.
    pub(crate) fn replace(
        &mut self,
        conversation: &str,
        issued_ms: i64,
        retire_at: i64,
        forget_before: i64,
    ) {
        self.by_conversation.retain(|_, (_, at)| *at >= forget_before);
        self.by_conversation.insert(conversation.to_owned(), (issued_ms, retire_at));
    }

    /// Whether a token of `conversation` issued at `issued_ms` is retired at `now` (seconds).
    pub(crate) fn is_retired(&self, conversation: &str, issued_ms: i64, now: i64) -> bool {
        self.by_conversation.get(conversation).is_some_and(|(replaced_before, retire_at)| {
            issued_ms < *replaced_before && now >= *retire_at
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_minute_counts_restart_each_minute_and_say_when() {
        let mut buckets = PerMinute::default();
        let start = 60_000 * 1000 + 15_000;
        for _ in 0..3 {
            assert_eq!(buckets.take("a", 3, start), Ok(()));
        }
        assert_eq!(buckets.take("a", 3, start), Err(46));
        assert_eq!(buckets.take("b", 3, start), Ok(()));
        assert_eq!(buckets.take("a", 3, start + 45_500), Ok(()));
    }
}
