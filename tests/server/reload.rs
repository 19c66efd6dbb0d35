//! Hot reload: a valid edit is swapped in, an invalid one keeps the running bot.

use std::sync::Arc;

use botrun::server::reload::{reload_bot, watch, BotSlot, WatchedBot};
use botrun::server::{Config, ManualClock};
use botrun::store::{SqliteStore, Store};

use super::harness::{customer_message, start_time, Harness};
use crate::wait::until;

fn bot(answer: &str) -> String {
    format!(
        "bot \"Reload\"\n\nintent price\n  \"price\"\n\non start\n  go main\n\nstate main\n  when price\n    say \"{answer}\"\n  otherwise\n    say \"?\"\n"
    )
}

async fn ask_price(h: &Harness, conversation: u64) -> Vec<String> {
    h.post(&customer_message(h.message_id(), conversation, "price")).await;
    h.settle().await;
    Harness::texts(&h.take_calls())
}

async fn harness_for(path: &std::path::Path) -> Harness {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
    Harness::with_store_path(
        path,
        store,
        Config::default(),
        Arc::new(ManualClock::new(start_time())),
    )
}

#[tokio::test]
async fn a_bad_edit_keeps_the_old_bot_and_a_good_one_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reload.bot");
    std::fs::write(&path, bot("ten euros")).unwrap();
    let h = harness_for(&path).await;
    assert_eq!(ask_price(&h, 1).await, ["ten euros"]);

    std::fs::write(&path, "bot \"Reload\"\n\non start\n  go nowhere\n").unwrap();
    let rendered = reload_bot(&h.state, BotSlot::Inbox(0), &path).unwrap_err();
    assert!(rendered.contains("nowhere"), "{rendered}");
    assert!(rendered.contains("reload.bot:4"), "{rendered}");
    assert_eq!(ask_price(&h, 1).await, ["ten euros"]);

    std::fs::write(&path, bot("twelve euros")).unwrap();
    reload_bot(&h.state, BotSlot::Inbox(0), &path).unwrap();
    assert_eq!(ask_price(&h, 1).await, ["twelve euros"]);
}

#[tokio::test]
async fn the_watcher_reloads_on_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("watched.bot");
    std::fs::write(&path, bot("one")).unwrap();
    let h = harness_for(&path).await;
    let metrics = &h.state.metrics;
    let watched =
        [WatchedBot { slot: BotSlot::Inbox(0), entry: path.clone(), files: vec![path.clone()] }];
    let _watcher = watch(&h.state, &watched).unwrap();
    std::fs::write(&path, "bot \"Reload\"\n\non start\n  go nowhere\n").unwrap();
    until("the watcher refuses the broken edit", || async { metrics.reloads_refused() > 0 }).await;
    assert_eq!(ask_price(&h, 1).await, ["one"]);
    std::fs::write(&path, bot("two")).unwrap();
    until("the watcher swaps in the good edit", || async { metrics.reloads() > 0 }).await;
    assert_eq!(ask_price(&h, 1).await, ["two"]);
}

#[tokio::test]
async fn sighup_reloads_every_bot_without_a_watcher_and_keeps_a_broken_edit_out() {
    use botrun::server::reload::reload_on_hangup;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hangup.bot");
    std::fs::write(&path, bot("one")).unwrap();
    let h = harness_for(&path).await;
    let metrics = &h.state.metrics;
    let watched =
        [WatchedBot { slot: BotSlot::Inbox(0), entry: path.clone(), files: vec![path.clone()] }];
    reload_on_hangup(&h.state, &watched).unwrap();
    let hangup = || {
        // The signal goes to this test process: without the handler it would end it.
        let status = std::process::Command::new("kill")
            .args(["-HUP", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };

    // No watcher runs: the edit alone changes nothing, the SIGHUP swaps it in.
    std::fs::write(&path, bot("two")).unwrap();
    assert_eq!(ask_price(&h, 1).await, ["one"]);
    hangup();
    until("SIGHUP swaps in the edit", || async { metrics.reloads() > 0 }).await;
    assert_eq!(ask_price(&h, 1).await, ["two"]);

    // A broken edit is refused on SIGHUP and the running bot stays.
    std::fs::write(&path, "bot \"Reload\"\n\non start\n  go nowhere\n").unwrap();
    hangup();
    until("SIGHUP refuses the broken edit", || async { metrics.reloads_refused() > 0 }).await;
    assert_eq!(ask_price(&h, 1).await, ["two"]);
    assert_eq!(metrics.reloads(), 1, "only the SIGHUP reloaded the bot");
}
