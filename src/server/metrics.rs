//! Counters and the Prometheus text exposition at `/metrics` (`/readyz` is in `health`).
//! Hand-written: a handful of atomics needs no metrics library.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;

/// Upper bounds (seconds) of the CX latency histogram buckets.
const LATENCY_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Every counter the service exports.
#[derive(Debug, Default)]
pub struct Metrics {
    events_in: AtomicU64,
    ignored: AtomicU64,
    rejected: AtomicU64,
    duplicates: AtomicU64,
    replies_out: AtomicU64,
    handoffs: AtomicU64,
    resolves: AtomicU64,
    misses: AtomicU64,
    cx_errors: AtomicU64,
    escalations: AtomicU64,
    /// Outbox messages found already in CX when read back, so not sent twice.
    resends_skipped: AtomicU64,
    /// Edited bots swapped in, and edits refused because they do not validate.
    reloads: AtomicU64,
    reloads_refused: AtomicU64,
    /// Replicas heard from lately, this one included (0 until the first heartbeat, and with a
    /// store only one process uses).
    live_replicas: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_micros_sum: AtomicU64,
    /// Failed store calls; shared with the store wrapper that counts them.
    store_failures: Arc<AtomicU64>,
    /// What the bots decided, by bot (see [`super::bot_metrics`]).
    by_bot: super::bot_metrics::ByBot,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub(crate) fn count_event_in(&self) {
        bump(&self.events_in);
    }
    pub(crate) fn count_ignored(&self) {
        bump(&self.ignored);
    }
    pub(crate) fn count_rejected(&self) {
        bump(&self.rejected);
    }
    pub(crate) fn count_duplicate(&self) {
        bump(&self.duplicates);
    }
    pub(crate) fn count_reply(&self) {
        bump(&self.replies_out);
    }
    pub(crate) fn count_handoff(&self) {
        bump(&self.handoffs);
    }
    pub(crate) fn count_resolve(&self) {
        bump(&self.resolves);
    }
    pub(crate) fn count_cx_error(&self) {
        bump(&self.cx_errors);
    }
    /// Delivery failed past the retry budget and the conversation went to a human.
    pub(crate) fn count_escalation(&self) {
        bump(&self.escalations);
    }
    /// A message read back from CX before sending it again: it was there, so it was not sent.
    pub(crate) fn count_resent_skipped(&self) {
        bump(&self.resends_skipped);
    }
    /// Messages not sent twice because CX already had them (tests read it).
    pub fn resends_skipped(&self) -> u64 {
        self.resends_skipped.load(Ordering::Relaxed)
    }

    /// An edited bot was loaded (`swapped`), or refused and the previous version kept running.
    pub(crate) fn count_reload(&self, swapped: bool) {
        bump(if swapped { &self.reloads } else { &self.reloads_refused });
    }
    /// Edited bots swapped in so far (tests wait on it).
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }
    /// Edited bots refused so far (tests wait on it).
    pub fn reloads_refused(&self) -> u64 {
        self.reloads_refused.load(Ordering::Relaxed)
    }

    /// Counts what the bots decided in one committed turn.
    pub(crate) fn count_decisions(&self, records: &[crate::store::DecisionRecord]) {
        let misses = records.iter().filter(|r| r.missed).count();
        self.misses.fetch_add(misses as u64, Ordering::Relaxed);
        self.by_bot.count(records);
    }

    /// Records the duration of one CX call.
    pub(crate) fn observe_cx_latency(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            if seconds <= *bound {
                bump(bucket);
            }
        }
        bump(&self.latency_count);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_micros_sum.fetch_add(micros, Ordering::Relaxed);
    }

    /// The counter the store wrapper adds its failures to.
    pub(crate) fn store_failure_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.store_failures)
    }

    /// Duplicate deliveries seen so far (tests read it).
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Conversations escalated to a human after delivery failures.
    pub fn escalations(&self) -> u64 {
        self.escalations.load(Ordering::Relaxed)
    }

    /// Records how many replicas the last heartbeat counted.
    pub(crate) fn set_live_replicas(&self, live: u32) {
        self.live_replicas.store(u64::from(live), Ordering::Relaxed);
    }

    /// The Prometheus text format.
    pub fn render(&self, outbox_depth: u64) -> String {
        let mut out = String::new();
        let counters = [
            ("botrun_events_in_total", "webhook events accepted for decoding", &self.events_in),
            ("botrun_events_ignored_total", "events botrun does not act on", &self.ignored),
            (
                "botrun_requests_rejected_total",
                "webhooks refused (token, signature, JSON)",
                &self.rejected,
            ),
            ("botrun_dedup_hits_total", "duplicate deliveries dropped", &self.duplicates),
            ("botrun_replies_out_total", "messages delivered to CX", &self.replies_out),
            ("botrun_handoffs_total", "conversations delivered to an agent", &self.handoffs),
            ("botrun_resolves_total", "conversations finished by the bot", &self.resolves),
            ("botrun_misses_total", "customer messages no rule matched", &self.misses),
            ("botrun_cx_errors_total", "failed CX calls", &self.cx_errors),
            (
                "botrun_delivery_escalations_total",
                "conversations handed to a human because delivery kept failing",
                &self.escalations,
            ),
            (
                "botrun_resends_skipped_total",
                "messages found already in CX after a restart, so not sent twice",
                &self.resends_skipped,
            ),
            ("botrun_bot_reloads_total", "edited bots swapped in by hot reload", &self.reloads),
            (
                "botrun_bot_reloads_refused_total",
                "edited bots that did not validate; the previous version kept running",
                &self.reloads_refused,
            ),
            (
                "botrun_store_failures_total",
                "store calls that failed (full disk, I/O error, database unreachable)",
                &*self.store_failures,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP botrun_outbox_depth undelivered outbox items\n# TYPE botrun_outbox_depth gauge"
        );
        let _ = writeln!(out, "botrun_outbox_depth {outbox_depth}");
        let _ = writeln!(
            out,
            "# HELP botrun_replicas_live replicas sharing the store heard from in the last 3 s\n\
             # TYPE botrun_replicas_live gauge\nbotrun_replicas_live {}",
            self.live_replicas.load(Ordering::Relaxed)
        );
        let name = "botrun_cx_request_duration_seconds";
        let _ = writeln!(out, "# HELP {name} CX API call latency\n# TYPE {name} histogram");
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            let _ =
                writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", bucket.load(Ordering::Relaxed));
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        #[expect(clippy::cast_precision_loss, reason = "a metric sum tolerates rounding")]
        let sum = self.latency_micros_sum.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
        self.by_bot.render(&mut out);
        out
    }
}

/// `GET /metrics`.
pub async fn exposition(State(state): State<AppState>) -> impl IntoResponse {
    let depth = state.store.outbox_depth().await.unwrap_or(0);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render(depth))
}
