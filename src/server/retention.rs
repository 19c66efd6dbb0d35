//! Retention: a background sweep that deletes what the service no longer needs, so the store
//! levels off instead of growing for ever — dedup keys past CX's redelivery window,
//! conversations idle for long with nothing pending, and widget histories nobody will replay.
//! Lifetimes are the `retention:` section of `botrun.yaml` (docs/configuration.md).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::AppState;
use crate::store::{Cutoffs, Swept};
use crate::widget::WidgetStore;

/// `retention:` — lifetimes in days (`0` keeps for ever) and how often the sweep runs.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Days a delivery's dedup key is kept (CX redelivers within minutes to hours).
    pub dedup_keys_days: u64,
    /// Days a conversation with nothing queued, nothing to deliver and no timer is kept after
    /// its last turn; a later message starts it afresh.
    pub conversations_days: u64,
    /// Days a decision record (what the bot decided in one turn, read by `botrun report`) is
    /// kept.
    pub decisions_days: u64,
    /// Days a widget conversation's history is kept after its last activity.
    pub widget_history_days: u64,
    /// Minutes between sweeps.
    pub sweep_every_mins: u64,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            dedup_keys_days: 7,
            conversations_days: 30,
            decisions_days: 90,
            widget_history_days: 30,
            sweep_every_mins: 60,
        }
    }
}

impl Retention {
    /// Problems serde cannot see.
    pub fn validate(&self) -> Result<(), String> {
        if self.sweep_every_mins == 0 {
            return Err("retention.sweep_every_mins must be at least 1".into());
        }
        Ok(())
    }
}

/// What one sweep removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Removed {
    pub store: Swept,
    pub widget_conversations: u64,
}

/// `days` back from now, or the beginning of time when `days` is 0 (keep for ever).
fn cutoff(now: chrono::DateTime<chrono::Utc>, days: u64) -> chrono::DateTime<chrono::Utc> {
    if days == 0 {
        return chrono::DateTime::<chrono::Utc>::MIN_UTC;
    }
    let days = i64::try_from(days).unwrap_or(i64::MAX / 86_400_000);
    now - chrono::Duration::days(days)
}

/// Runs one sweep of the service store and, when given, the widget store.
pub(crate) async fn sweep_once(
    state: &AppState,
    widget: Option<&dyn WidgetStore>,
) -> Result<Removed, String> {
    let retention = &state.config.retention;
    let now = state.clock.now();
    let cutoffs = Cutoffs {
        dedup_keys: cutoff(now, retention.dedup_keys_days),
        conversations: cutoff(now, retention.conversations_days),
        decisions: cutoff(now, retention.decisions_days),
    };
    let store = state.store.sweep(cutoffs).await.map_err(|e| e.to_string())?;
    let widget_conversations = match widget {
        Some(widget) if retention.widget_history_days > 0 => {
            let before = cutoff(now, retention.widget_history_days).timestamp_millis();
            widget.sweep(before).await.map_err(|e| e.0)?
        }
        _ => 0,
    };
    Ok(Removed { store, widget_conversations })
}

/// Sweeps now and then every `retention.sweep_every_mins`, for as long as the service runs.
pub(crate) async fn run_sweeps(state: AppState, widget: Option<Arc<dyn WidgetStore>>) {
    let every = Duration::from_secs(state.config.retention.sweep_every_mins.saturating_mul(60));
    loop {
        match sweep_once(&state, widget.as_deref()).await {
            Ok(removed) => tracing::info!(
                dedup_keys = removed.store.dedup_keys,
                conversations = removed.store.conversations,
                decisions = removed.store.decisions,
                widget_conversations = removed.widget_conversations,
                "retention sweep done"
            ),
            Err(error) => tracing::warn!(%error, "retention sweep failed; trying again later"),
        }
        tokio::time::sleep(every).await;
    }
}
