//! A store that fails now and then, as a database restarting does: a stream whose replay failed
//! tries again instead of waiting for the conversation's next activity.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use botrun::widget::store::{ChangeStream, StoredActivity, WidgetStoreError};
use botrun::widget::{ConversationRecord, MemoryWidgetStore, WidgetStore};
use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{next_frame, serve_with, site, texts};

/// The in-memory store, with the next `failing_reads` history reads failing.
#[derive(Default)]
struct FlakyStore {
    inner: MemoryWidgetStore,
    failing_reads: AtomicUsize,
}

impl WidgetStore for FlakyStore {
    fn create_conversation<'a>(
        &'a self,
        record: &'a ConversationRecord,
    ) -> BoxFuture<'a, Result<(), WidgetStoreError>> {
        self.inner.create_conversation(record)
    }

    fn conversation<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConversationRecord>, WidgetStoreError>> {
        self.inner.conversation(id)
    }

    fn append<'a>(
        &'a self,
        conversation: &'a str,
        activity: Value,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<StoredActivity, WidgetStoreError>> {
        self.inner.append(conversation, activity, now_ms)
    }

    fn activities_after<'a>(
        &'a self,
        conversation: &'a str,
        after: u64,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<StoredActivity>, WidgetStoreError>> {
        let fail = self
            .failing_reads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            return Box::pin(async { Err(WidgetStoreError("connection reset".into())) });
        }
        self.inner.activities_after(conversation, after, limit)
    }

    fn end_conversation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), WidgetStoreError>> {
        self.inner.end_conversation(id)
    }

    fn changes(&self) -> BoxFuture<'_, Result<Option<ChangeStream>, WidgetStoreError>> {
        self.inner.changes()
    }

    fn find_client_activity<'a>(
        &'a self,
        conversation: &'a str,
        client_activity_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredActivity>, WidgetStoreError>> {
        self.inner.find_client_activity(conversation, client_activity_id)
    }

    fn sweep(&self, before_ms: i64) -> BoxFuture<'_, Result<u64, WidgetStoreError>> {
        self.inner.sweep(before_ms)
    }
}

#[tokio::test]
async fn a_stream_whose_replay_failed_tries_again() {
    let store = Arc::new(FlakyStore::default());
    let server = serve_with(Arc::clone(&store) as Arc<dyn WidgetStore>, site(false, 100)).await;
    let (_, _, started) = server.start().await;
    // The socket's first replay (the greeting) fails twice, then the store answers again.
    store.failing_reads.store(2, Ordering::SeqCst);
    let (mut socket, _) =
        tokio_tungstenite::connect_async(started["streamUrl"].as_str().unwrap()).await.unwrap();
    // Keep-alives come every 300 ms, so wait for the frame itself at most 5 s.
    let greeting = tokio::time::timeout(Duration::from_secs(5), next_frame(&mut socket)).await;
    let greeting = greeting.expect("the stream never replayed after the store came back");
    assert_eq!(texts(greeting["activities"].as_array().unwrap()), ["Hello!"]);
    server.task.abort();
}
