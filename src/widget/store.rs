//! Widget persistence: the `WidgetStore` trait (conversations and their numbered activities) and
//! an in-memory implementation for unit tests. The durable ones are the service's own stores
//! (`crate::store`), so the history shares their database, pool and durability.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat};
use futures_util::future::BoxFuture;
use serde_json::Value;

/// A widget conversation as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationRecord {
    pub id: String,
    pub site: String,
    pub user_id: String,
    pub user_name: Option<String>,
    pub created_ms: i64,
    /// Sequence number of the newest stored activity (0 when none): the watermark.
    pub last_seq: u64,
    /// Timestamp of the newest stored activity, Unix milliseconds.
    pub last_ts_ms: i64,
    /// Ended conversations cannot be resumed.
    pub ended: bool,
}

/// One stored activity with its per-conversation sequence number (1, 2, 3…).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredActivity {
    pub seq: u64,
    pub activity: Value,
}

/// A store failure; the message is for logs, never for the page.
#[derive(Debug, thiserror::Error)]
#[error("widget store: {0}")]
pub struct WidgetStoreError(pub String);

/// Where widget conversations live, so a restart loses nothing and a reconnecting page replays.
pub trait WidgetStore: Send + Sync + 'static {
    /// Records a new conversation; doing it twice for the same id changes nothing.
    fn create_conversation<'a>(
        &'a self,
        record: &'a ConversationRecord,
    ) -> BoxFuture<'a, Result<(), WidgetStoreError>>;

    /// The conversation with this id.
    fn conversation<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConversationRecord>, WidgetStoreError>>;

    /// Appends an activity: gives it the next sequence number, the id `{conversation}|{seq}` and
    /// the timestamp `max(now, last + 1 ms)`, all in one atomic step.
    fn append<'a>(
        &'a self,
        conversation: &'a str,
        activity: Value,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<StoredActivity, WidgetStoreError>>;

    /// Up to `limit` activities with a sequence number above `after`, oldest first.
    fn activities_after<'a>(
        &'a self,
        conversation: &'a str,
        after: u64,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<StoredActivity>, WidgetStoreError>>;

    /// Marks the conversation ended.
    fn end_conversation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), WidgetStoreError>>;

    /// Conversations that got a new activity from any process sharing this store, for stores
    /// that several replicas share; `None` for one-process stores.
    fn changes(&self) -> BoxFuture<'_, Result<Option<ChangeStream>, WidgetStoreError>>;

    /// The customer activity stored with this `channelData.clientActivityID`, if any (a page
    /// re-sending a message it thinks was lost).
    fn find_client_activity<'a>(
        &'a self,
        conversation: &'a str,
        client_activity_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredActivity>, WidgetStoreError>>;

    /// Retention: deletes every conversation (with its history) whose last activity, or its
    /// start when it has none, is older than `before_ms`; returns how many went.
    fn sweep(&self, before_ms: i64) -> BoxFuture<'_, Result<u64, WidgetStoreError>>;
}

/// What a shared store's change feed reports, as other replicas store activities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// An activity was stored in this conversation.
    Stored(String),
    /// The feed was cut and is back: anything may have been stored meanwhile, in any
    /// conversation, without being reported.
    Resumed,
}

/// A shared store's [`Change`]s; it ends when the store is closed.
pub type ChangeStream = futures_util::stream::BoxStream<'static, Change>;

/// The `channelData.clientActivityID` of an activity.
pub(crate) fn client_activity_id(activity: &Value) -> Option<&str> {
    activity.pointer("/channelData/clientActivityID").and_then(Value::as_str)
}

/// Fills in the fields the store owns.
pub(crate) fn stamp(activity: &mut Value, conversation: &str, seq: u64, ts_ms: i64) {
    let timestamp = DateTime::from_timestamp_millis(ts_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    if let Value::Object(fields) = activity {
        fields.insert("id".into(), Value::String(activity_id(conversation, seq)));
        fields.insert("timestamp".into(), Value::String(timestamp));
        fields.insert("conversation".into(), serde_json::json!({ "id": conversation }));
    }
}

/// The server id of an activity.
pub(crate) fn activity_id(conversation: &str, seq: u64) -> String {
    format!("{conversation}|{seq:07}")
}

/// Keeps everything in memory; for unit tests and throwaway runs only.
#[derive(Default)]
pub struct MemoryWidgetStore {
    conversations: Mutex<HashMap<String, (ConversationRecord, Vec<StoredActivity>)>>,
}

impl MemoryWidgetStore {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, (ConversationRecord, Vec<StoredActivity>)>) -> T,
    ) -> Result<T, WidgetStoreError> {
        let mut guard = self
            .conversations
            .lock()
            .map_err(|_| WidgetStoreError("memory store lock poisoned".into()))?;
        Ok(f(&mut guard))
    }
}

impl WidgetStore for MemoryWidgetStore {
    fn create_conversation<'a>(
        &'a self,
        record: &'a ConversationRecord,
    ) -> BoxFuture<'a, Result<(), WidgetStoreError>> {
        Box::pin(async move {
            self.with(|all| {
                all.entry(record.id.clone()).or_insert_with(|| (record.clone(), Vec::new()));
            })
        })
    }

    fn conversation<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConversationRecord>, WidgetStoreError>> {
        Box::pin(async move { self.with(|all| all.get(id).map(|(record, _)| record.clone())) })
    }

    fn append<'a>(
        &'a self,
        conversation: &'a str,
        mut activity: Value,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<StoredActivity, WidgetStoreError>> {
        Box::pin(async move {
            self.with(|all| {
                let (record, activities) = all
                    .get_mut(conversation)
                    .ok_or_else(|| WidgetStoreError(format!("no conversation `{conversation}`")))?;
                record.last_seq += 1;
                record.last_ts_ms = now_ms.max(record.last_ts_ms + 1);
                stamp(&mut activity, conversation, record.last_seq, record.last_ts_ms);
                let stored = StoredActivity { seq: record.last_seq, activity };
                activities.push(stored.clone());
                Ok(stored)
            })?
        })
    }

    fn activities_after<'a>(
        &'a self,
        conversation: &'a str,
        after: u64,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<StoredActivity>, WidgetStoreError>> {
        Box::pin(async move {
            self.with(|all| {
                all.get(conversation)
                    .map(|(_, activities)| {
                        activities
                            .iter()
                            .filter(|stored| stored.seq > after)
                            .take(limit as usize)
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default()
            })
        })
    }

    /// In memory: one process.
    fn changes(&self) -> BoxFuture<'_, Result<Option<ChangeStream>, WidgetStoreError>> {
        Box::pin(async { Ok(None) })
    }

    fn find_client_activity<'a>(
        &'a self,
        conversation: &'a str,
        client_activity_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredActivity>, WidgetStoreError>> {
        Box::pin(async move {
            self.with(|all| {
                all.get(conversation).and_then(|(_, activities)| {
                    activities
                        .iter()
                        .find(|s| self::client_activity_id(&s.activity) == Some(client_activity_id))
                        .cloned()
                })
            })
        })
    }

    fn end_conversation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), WidgetStoreError>> {
        Box::pin(async move {
            self.with(|all| {
                if let Some((record, _)) = all.get_mut(id) {
                    record.ended = true;
                }
            })
        })
    }

    fn sweep(&self, before_ms: i64) -> BoxFuture<'_, Result<u64, WidgetStoreError>> {
        Box::pin(async move {
            self.with(|all| {
                let before = all.len();
                all.retain(|_, (record, _)| record.created_ms.max(record.last_ts_ms) >= before_ms);
                (before - all.len()) as u64
            })
        })
    }
}
