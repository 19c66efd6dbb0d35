//! Replicas sharing a PostgreSQL store. Leases on conversations' work are short and renewed by
//! a heartbeat every second, so a crashed replica's conversations move to a live one within
//! seconds instead of minutes; the same heartbeat counts the live replicas, so that together
//! they stay within the CX tenant's request budget (`cx.rate_limit_scope: tenant`).

use std::time::Duration;

use super::AppState;
use crate::cx::{RateLimitScope, RateLimiter};
use crate::store::Heartbeat;

/// How long a lease lasts without renewal. The heartbeat renews it every [`BEAT`], so a live
/// replica loses a lease only after missing three beats in a row; a crashed replica's leases
/// lapse within this long, and its conversations are taken over at the next
/// [`LOOK_FOR_WORK`] of a live replica.
pub(crate) const LEASE: Duration = Duration::from_secs(3);

/// How often a replica sharing the store looks for queued work nobody holds (a crashed
/// replica's, or work it recorded while another replica held the conversation).
pub(crate) const LOOK_FOR_WORK: Duration = Duration::from_millis(500);

/// How often a replica says it is alive (and renews every lease it holds).
pub(crate) const BEAT: Duration = Duration::from_secs(1);

/// A replica silent for this long no longer counts when the tenant's budget is split.
const ALIVE_WINDOW: Duration = Duration::from_secs(3);

/// This process's one name in the store: every lease it takes, every heartbeat and the
/// `replicas` row carry it. Host and listening address say to an operator which replica holds
/// what; the random part makes each start a new replica, so two processes can never pass for
/// one (two containers may share a host name) and a restarted process does not renew leases it
/// has not resumed: its predecessor's lapse within [`LEASE`] like any crashed replica's.
pub(crate) fn process_name(addr: std::net::SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "localhost".to_owned(), |name| name.trim().to_owned());
    let start = &super::config::generate_token()[..8];
    format!("{host}@{addr}/{start}")
}

/// Beats until the process ends. Does nothing with a store that only one process uses.
pub async fn run_heartbeat_loop(state: AppState, limiter: Option<RateLimiter>) {
    if !state.store.shared_by_replicas() {
        return;
    }
    let split = state.config.cx.rate_limit_scope == RateLimitScope::Tenant;
    let mut ticker = tokio::time::interval(BEAT);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = state.clock.now();
        let beat = Heartbeat {
            owner: state.owner(),
            now,
            until: now + chrono_duration(LEASE),
            alive_since: now - chrono_duration(ALIVE_WINDOW),
        };
        match state.store.heartbeat(beat).await {
            Ok(live) => {
                state.metrics.set_live_replicas(live);
                if let (true, Some(limiter)) = (split, &limiter) {
                    limiter.share_among(live);
                }
            }
            Err(error) => tracing::warn!(
                %error,
                "heartbeat failed: this replica's leases lapse in {LEASE:?} unless it recovers"
            ),
        }
    }
}

pub(crate) fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}
