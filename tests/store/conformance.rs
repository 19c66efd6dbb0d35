//! The store conformance suite: every backend must pass every check here. Each check takes an
//! `&dyn Store`, so a new backend only adds one `#[tokio::test]` per check below.

use botrun::store::{
    Cutoffs, DecisionQuery, DecisionRecord, Heartbeat, PostgresStore, Recorded, SqliteStore, Store,
    StoreError, TimerRow, Turn,
};
use chrono::{DateTime, Duration, Utc};

fn t(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

fn turn(conversation: &str, expected: i64, state: &[u8], outbox: &[&str]) -> Turn {
    Turn {
        conversation: conversation.to_owned(),
        expected_version: expected,
        state: state.to_vec(),
        outbox: outbox.iter().map(|s| (*s).to_owned()).collect(),
        ..Turn::default()
    }
}

async fn cas_conflicts(store: &dyn Store) {
    assert_eq!(store.load_conversation("c1").await.unwrap(), None);
    let v1 = store.commit_turn(&turn("c1", 0, b"one", &[]), t(0)).await.unwrap().version;
    assert_eq!(v1, 1);
    // A second writer that also read "nothing" loses, and changes nothing.
    let err = store.commit_turn(&turn("c1", 0, b"stale", &["lost"]), t(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { expected: 0, found: 1, .. }), "{err}");
    assert_eq!(store.next_outbox("c1").await.unwrap(), None);
    let v2 = store.commit_turn(&turn("c1", 1, b"two", &[]), t(2)).await.unwrap().version;
    assert_eq!(v2, 2);
    let snap = store.load_conversation("c1").await.unwrap().unwrap();
    assert_eq!((snap.version, snap.state.as_slice()), (2, &b"two"[..]));
}

async fn dedup(store: &dyn Store) {
    let first = store.record_inbound("msg:1", "c2", "hello", t(0)).await.unwrap();
    assert!(matches!(first, Recorded::Accepted(_)));
    let again = store.record_inbound("msg:1", "c2", "hello", t(1)).await.unwrap();
    assert_eq!(again, Recorded::Duplicate);
    assert_eq!(store.queued_inbound("c2").await.unwrap(), 1);
    // The key stays remembered after the event was processed.
    let inbound = store.next_inbound("c2").await.unwrap().unwrap();
    let mut done = turn("c2", 0, b"s", &[]);
    done.processed = Some(inbound.id);
    store.commit_turn(&done, t(2)).await.unwrap();
    assert_eq!(store.queued_inbound("c2").await.unwrap(), 0);
    let later = store.record_inbound("msg:1", "c2", "hello", t(3)).await.unwrap();
    assert_eq!(later, Recorded::Duplicate);
}

async fn per_conversation_order(store: &dyn Store) {
    for (i, (conversation, text)) in
        [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2"), ("a", "a3")].iter().enumerate()
    {
        store.record_inbound(&format!("k{i}"), conversation, text, t(0)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut version = 0;
    while let Some(inbound) = store.next_inbound("a").await.unwrap() {
        seen.push(inbound.payload.clone());
        let mut next = turn("a", version, b"s", &[]);
        next.processed = Some(inbound.id);
        version = store.commit_turn(&next, t(1)).await.unwrap().version;
    }
    assert_eq!(seen, ["a1", "a2", "a3"]);
    assert_eq!(store.queued_inbound("b").await.unwrap(), 2);
    // A failed commit must not consume the inbound event.
    let head = store.next_inbound("b").await.unwrap().unwrap();
    let mut stale = turn("b", 7, b"s", &[]);
    stale.processed = Some(head.id);
    let err = store.commit_turn(&stale, t(2)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { expected: 7, found: 0, .. }), "{err}");
    assert_eq!(store.next_inbound("b").await.unwrap().unwrap().payload, "b1");
    let mut work = store.conversations_with_work(t(2)).await.unwrap();
    work.sort();
    assert_eq!(work, ["b"]);
}

async fn outbox_order_and_retries(store: &dyn Store) {
    let v = store.commit_turn(&turn("o", 0, b"s", &["r1", "r2"]), t(0)).await.unwrap().version;
    store.commit_turn(&turn("o", v, b"s", &["r3"]), t(1)).await.unwrap();
    store.commit_turn(&turn("other", 0, b"s", &["x1"]), t(1)).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 4);
    let head = store.next_outbox("o").await.unwrap().unwrap();
    assert_eq!((head.payload.as_str(), head.attempts), ("r1", 0));
    // A failure keeps the item at the head, counts the attempt and records when to retry.
    assert_eq!(store.mark_failed(head.id, t(30)).await.unwrap(), 1);
    assert_eq!(store.mark_failed(head.id, t(60)).await.unwrap(), 2);
    let head = store.next_outbox("o").await.unwrap().unwrap();
    assert_eq!((head.payload.as_str(), head.attempts, head.not_before), ("r1", 2, t(60)));
    store.mark_sent(head.id).await.unwrap();
    let mut rest = Vec::new();
    while let Some(item) = store.next_outbox("o").await.unwrap() {
        rest.push(item.payload.clone());
        store.mark_sent(item.id).await.unwrap();
    }
    assert_eq!(rest, ["r2", "r3"]);
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
}

async fn timers(store: &dyn Store) {
    let mut first = turn("tm", 0, b"s", &[]);
    first.add_timers = vec![
        TimerRow { key: "1".into(), due: t(10), payload: "timer 1".into() },
        TimerRow { key: "2".into(), due: t(20), payload: "timer 2".into() },
        TimerRow { key: "3".into(), due: t(5), payload: "timer 3".into() },
    ];
    let v = store.commit_turn(&first, t(0)).await.unwrap().version;
    assert_eq!(store.next_timer_due().await.unwrap(), Some(t(5)));
    let mut cancel = turn("tm", v, b"s", &[]);
    cancel.cancel_timers = vec!["3".into()];
    store.commit_turn(&cancel, t(1)).await.unwrap();
    assert_eq!(store.next_timer_due().await.unwrap(), Some(t(10)));
    assert!(store.fire_due_timers(t(9)).await.unwrap().is_empty());
    assert_eq!(store.fire_due_timers(t(15)).await.unwrap(), ["tm"]);
    assert_eq!(store.next_inbound("tm").await.unwrap().unwrap().payload, "timer 1");
    // Fired timers are gone: firing again queues nothing new.
    assert!(store.fire_due_timers(t(15)).await.unwrap().is_empty());
    assert_eq!(store.queued_inbound("tm").await.unwrap(), 1);
    assert_eq!(store.next_timer_due().await.unwrap(), Some(t(10) + Duration::seconds(10)));
}

fn decision(bot: &str, at: DateTime<Utc>, outcome: &str, text: Option<&str>) -> DecisionRecord {
    DecisionRecord {
        bot: bot.to_owned(),
        at,
        event: "message".to_owned(),
        text: text.map(str::to_owned),
        intent: (outcome == "answered").then(|| "track".to_owned()),
        missed: outcome == "missed",
        question: None,
        state_before: Some("menu".to_owned()),
        state_after: None,
        outcome: outcome.to_owned(),
        rule: Some("state menu / otherwise".to_owned()),
        reason: (outcome == "handoff").then(|| "asked".to_owned()),
        note: (outcome == "handoff").then(|| "wants a person: \"now\"\n".to_owned()),
    }
}

/// Decision records are written with their turn, all or nothing, and read back by period and
/// bot in the order they were made; the sweep deletes them by age alone.
async fn decisions_ride_with_the_turn(store: &dyn Store) {
    let mut first = turn("d1", 0, b"s", &[]);
    first.decisions = vec![
        decision("faq", t(0), "missed", Some("do you sell ÿ bikes")),
        decision("faq", t(0), "handoff", None),
    ];
    store.commit_turn(&first, t(0)).await.unwrap();
    // A turn that loses the compare-and-swap leaves no record behind.
    let mut stale = turn("d1", 0, b"s", &[]);
    stale.decisions = vec![decision("faq", t(1), "answered", None)];
    let err = store.commit_turn(&stale, t(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { expected: 0, found: 1, .. }), "{err}");
    let mut other = turn("d2", 0, b"s", &[]);
    other.decisions = vec![decision("shop", t(5), "answered", Some("track my order"))];
    store.commit_turn(&other, t(5)).await.unwrap();
    let mut later = turn("d1", 1, b"s", &[]);
    later.decisions = vec![decision("faq", t(10), "resolved", None)];
    store.commit_turn(&later, t(10)).await.unwrap();

    let all = store.decisions(&DecisionQuery::default()).await.unwrap();
    let seen: Vec<(&str, &str)> =
        all.iter().map(|d| (d.conversation.as_str(), d.record.outcome.as_str())).collect();
    assert_eq!(seen, [("d1", "missed"), ("d1", "handoff"), ("d2", "answered"), ("d1", "resolved")]);
    assert_eq!(all[0].record, decision("faq", t(0), "missed", Some("do you sell ÿ bikes")));
    assert_eq!(all[1].record, decision("faq", t(0), "handoff", None));
    let faq = DecisionQuery { since: t(0), until: t(10), bot: Some("faq".to_owned()) };
    let outcomes: Vec<String> =
        store.decisions(&faq).await.unwrap().into_iter().map(|d| d.record.outcome).collect();
    assert_eq!(outcomes, ["missed", "handoff"], "until is exclusive, other bots left out");

    let cutoffs = Cutoffs { dedup_keys: t(0), conversations: t(0), decisions: t(5) };
    let swept = store.sweep(cutoffs).await.unwrap();
    assert_eq!((swept.decisions, swept.conversations), (2, 0), "{swept:?}");
    let left = store.decisions(&DecisionQuery::default()).await.unwrap();
    assert_eq!(left.len(), 2);
}

/// Many conversations' turns at once (on a backend that batches, many share a commit): each
/// conversation's events are consumed once and in order, each turn committed once, and every
/// conversation's outbox holds its replies in the order its turns made them.
async fn concurrent_turns_land_once_in_order(store: &dyn Store) {
    let chains = (0..40).map(|c| async move {
        let conversation = format!("g{c}");
        for step in 0..4 {
            let key = format!("g{c}:{step}");
            store.record_inbound(&key, &conversation, &format!("m{step}"), t(step)).await.unwrap();
        }
        let mut version = 0;
        let mut seen = Vec::new();
        let mut numbered = Vec::new();
        while let Some(inbound) = store.next_inbound(&conversation).await.unwrap() {
            seen.push(inbound.payload.clone());
            let replies = [format!("{}a", inbound.payload), format!("{}b", inbound.payload)];
            let replies: Vec<&str> = replies.iter().map(String::as_str).collect();
            let mut next = turn(&conversation, version, inbound.payload.as_bytes(), &replies);
            next.processed = Some(inbound.id);
            let committed = store.commit_turn(&next, t(9)).await.unwrap();
            version = committed.version;
            numbered.extend(committed.outbox);
        }
        (seen, version, numbered)
    });
    let mut numbered = Vec::new();
    for (seen, version, ids) in futures_util::future::join_all(chains).await {
        assert_eq!(seen, ["m0", "m1", "m2", "m3"]);
        assert_eq!(version, 4);
        numbered.push(ids);
    }
    let deliveries = (0..40).map(|c| async move {
        let conversation = format!("g{c}");
        let mut sent = Vec::new();
        let mut ids = Vec::new();
        while let Some(item) = store.next_outbox(&conversation).await.unwrap() {
            sent.push(item.payload.clone());
            ids.push(item.id);
            store.mark_sent(item.id).await.unwrap();
        }
        let state = store.load_conversation(&conversation).await.unwrap().unwrap().state;
        (sent, state, ids)
    });
    let delivered = futures_util::future::join_all(deliveries).await;
    for ((sent, state, ids), numbered) in delivered.into_iter().zip(numbered) {
        assert_eq!(sent, ["m0a", "m0b", "m1a", "m1b", "m2a", "m2b", "m3a", "m3b"]);
        assert_eq!(state, b"m3");
        // The ids each commit answered are its own items', in delivery order, even when many
        // turns shared one group commit.
        assert_eq!(ids, numbered);
    }
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
}

/// A turn that loses its compare-and-swap fails alone: the turns committed with it are kept,
/// and its own outbox items, timers and decisions are not written.
async fn a_conflict_fails_only_its_own_turn(store: &dyn Store) {
    let turns = (0..30).map(|n| async move {
        // Every third turn names a version its conversation never had.
        let expected = if n % 3 == 0 { 7 } else { 0 };
        let mut next = turn(&format!("x{n}"), expected, b"s", &[&format!("reply {n}")]);
        next.add_timers = vec![TimerRow { key: "t".into(), due: t(60), payload: "p".into() }];
        (n, store.commit_turn(&next, t(0)).await)
    });
    for (n, result) in futures_util::future::join_all(turns).await {
        let conversation = format!("x{n}");
        if n % 3 == 0 {
            assert!(matches!(result, Err(StoreError::Conflict { .. })), "{n}: {result:?}");
            assert_eq!(store.load_conversation(&conversation).await.unwrap(), None);
            assert_eq!(store.next_outbox(&conversation).await.unwrap(), None);
        } else {
            let committed = result.unwrap();
            assert_eq!(committed.version, 1, "{n}");
            let item = store.next_outbox(&conversation).await.unwrap().unwrap();
            assert_eq!(item.payload, format!("reply {n}"));
            assert_eq!(committed.outbox, [item.id], "{n}");
        }
    }
    assert_eq!(store.outbox_depth().await.unwrap(), 20);
    assert_eq!(store.fire_due_timers(t(60)).await.unwrap().len(), 20);
}

/// A turn that cancels a timer and schedules it again keeps the new schedule.
async fn a_timer_cancelled_and_rescheduled_in_one_turn_is_kept(store: &dyn Store) {
    let mut first = turn("rs", 0, b"s", &[]);
    first.add_timers = vec![TimerRow { key: "k".into(), due: t(10), payload: "old".into() }];
    let version = store.commit_turn(&first, t(0)).await.unwrap().version;
    let mut again = turn("rs", version, b"s", &[]);
    again.cancel_timers = vec!["k".into()];
    again.add_timers = vec![TimerRow { key: "k".into(), due: t(20), payload: "new".into() }];
    store.commit_turn(&again, t(1)).await.unwrap();
    assert_eq!(store.next_timer_due().await.unwrap(), Some(t(20)));
    assert_eq!(store.fire_due_timers(t(20)).await.unwrap(), ["rs"]);
    assert_eq!(store.next_inbound("rs").await.unwrap().unwrap().payload, "new");
}

async fn memory() -> SqliteStore {
    SqliteStore::open("sqlite::memory:").await.unwrap()
}

/// A fresh schema per test, so tests run side by side in the one database.
async fn postgres(test: &str) -> PostgresStore {
    crate::postgres::store_in(&crate::postgres::fresh_schema(&format!("conf_{test}"))).await
}

macro_rules! conformance {
    ($($check:ident),*) => {
        mod sqlite_backend {
            $(#[tokio::test]
            async fn $check() {
                super::$check(&super::memory().await).await;
            })*
        }
        mod postgres_backend {
            $(#[tokio::test]
            async fn $check() {
                super::$check(&super::postgres(stringify!($check)).await).await;
            })*
        }
    };
}

conformance!(
    cas_conflicts,
    dedup,
    per_conversation_order,
    outbox_order_and_retries,
    timers,
    decisions_ride_with_the_turn,
    concurrent_turns_land_once_in_order,
    a_conflict_fails_only_its_own_turn,
    a_timer_cancelled_and_rescheduled_in_one_turn_is_kept
);

/// Everything queued survives closing and reopening the database file.
#[tokio::test]
async fn sqlite_outbox_and_queue_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sub/botrun.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    store.commit_turn(&turn("r", 0, b"s", &["first", "second"]), t(0)).await.unwrap();
    store.record_inbound("m1", "r", "pending", t(1)).await.unwrap();
    store.close().await;
    drop(store);
    let store = SqliteStore::open(&url).await.unwrap();
    let head = store.next_outbox("r").await.unwrap().unwrap();
    assert_eq!(head.payload, "first");
    store.mark_sent(head.id).await.unwrap();
    assert_eq!(store.next_outbox("r").await.unwrap().unwrap().payload, "second");
    assert_eq!(store.next_inbound("r").await.unwrap().unwrap().payload, "pending");
    assert_eq!(store.record_inbound("m1", "r", "again", t(2)).await.unwrap(), Recorded::Duplicate);
    assert_eq!(store.load_conversation("r").await.unwrap().unwrap().version, 1);
}

/// Concurrent writers on one conversation: exactly one of each pair of racing commits wins.
#[tokio::test]
async fn sqlite_concurrent_commits_serialise() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("race.db").display());
    let store = std::sync::Arc::new(SqliteStore::open(&url).await.unwrap());
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.commit_turn(&turn("race", 0, format!("{i}").as_bytes(), &["x"]), t(0)).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        if task.await.unwrap().is_ok() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
}

/// Two replicas racing on one PostgreSQL conversation: exactly one commit wins.
#[tokio::test]
async fn postgres_concurrent_commits_serialise() {
    let store = std::sync::Arc::new(postgres("race").await);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.commit_turn(&turn("race", 0, format!("{i}").as_bytes(), &["x"]), t(0)).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        if task.await.unwrap().is_ok() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
}

/// Leases on PostgreSQL: one owner at a time, renewable by its owner, free once released or
/// expired.
#[tokio::test]
async fn postgres_leases_are_exclusive_until_released_or_expired() {
    let store = postgres("leases").await;
    assert!(store.shared_by_replicas());
    assert!(store.claim("cx:1", "a", t(0), t(60)).await.unwrap());
    assert!(!store.claim("cx:1", "b", t(1), t(61)).await.unwrap(), "held by a");
    assert!(store.claim("cx:1", "a", t(2), t(62)).await.unwrap(), "a renews");
    assert!(store.claim("cx:2", "b", t(2), t(62)).await.unwrap(), "another lane is free");
    assert!(!store.claim("cx:1", "b", t(61), t(121)).await.unwrap(), "renewed until 62");
    assert!(store.claim("cx:1", "b", t(63), t(123)).await.unwrap(), "expired: b takes over");
    assert!(!store.claim("cx:1", "a", t(64), t(124)).await.unwrap());
    store.release("cx:1", "a").await.unwrap();
    assert!(!store.claim("cx:1", "a", t(65), t(125)).await.unwrap(), "a cannot release b's");
    store.release("cx:1", "b").await.unwrap();
    assert!(store.claim("cx:1", "a", t(66), t(126)).await.unwrap(), "released: free");
}

/// A heartbeat renews every lease of its replica in one call (so leases can be short and a
/// crashed replica's conversations move on within seconds) and counts the live replicas.
#[tokio::test]
async fn postgres_heartbeat_renews_leases_and_counts_live_replicas() {
    let store = postgres("heartbeat").await;
    let beat =
        |owner, at: i64| Heartbeat { owner, now: t(at), until: t(at + 3), alive_since: t(at - 3) };
    assert!(store.claim("cx:1", "a", t(0), t(3)).await.unwrap());
    assert!(store.claim("cx:2", "a", t(0), t(3)).await.unwrap());
    assert_eq!(store.heartbeat(beat("a", 0)).await.unwrap(), 1, "alone");
    assert_eq!(store.heartbeat(beat("b", 1)).await.unwrap(), 2, "a and b");
    assert_eq!(store.heartbeat(beat("a", 2)).await.unwrap(), 2);
    // a's beat at 2 s renewed both leases to 5 s: b cannot take them at 4 s.
    assert!(!store.claim("cx:1", "b", t(4), t(7)).await.unwrap(), "renewed by the heartbeat");
    assert!(!store.claim("cx:2", "b", t(4), t(7)).await.unwrap(), "renewed by the heartbeat");
    // a stops beating (crashed): b alone counts itself, and takes a's lanes once they lapse.
    assert_eq!(store.heartbeat(beat("b", 6)).await.unwrap(), 1, "a is gone");
    assert!(store.claim("cx:1", "b", t(6), t(9)).await.unwrap(), "a's lease lapsed");
    // b's heartbeat renews the lane it took, and not a lane a still holds on paper.
    assert!(store.claim("cx:3", "a", t(6), t(7)).await.unwrap());
    store.heartbeat(beat("b", 7)).await.unwrap();
    assert!(
        store.claim("cx:3", "b", t(8), t(11)).await.unwrap(),
        "b's beat did not renew a's lane"
    );
    assert!(!store.claim("cx:1", "a", t(9), t(12)).await.unwrap(), "b's beat renewed cx:1 to 10");
}

#[tokio::test]
async fn sqlite_is_one_process_and_needs_no_leases() {
    let store = memory().await;
    assert!(!store.shared_by_replicas());
    assert!(store.claim("cx:1", "a", t(0), t(60)).await.unwrap());
    assert!(store.claim("cx:1", "b", t(0), t(60)).await.unwrap());
    let beat = Heartbeat { owner: "a", now: t(0), until: t(3), alive_since: t(-3) };
    assert_eq!(store.heartbeat(beat).await.unwrap(), 1, "one process is the only replica");
}

/// A replica's look for unheld work leaves a conversation another replica holds to it (waking a
/// worker there only to be refused its lease cost both replicas a round each time), and finds
/// it again once that lease is given up or lapses.
#[tokio::test]
async fn postgres_work_under_a_live_lease_is_left_to_its_holder() {
    let store = postgres("work_leased").await;
    store.record_inbound("k1", "held", "m", t(0)).await.unwrap();
    store.record_inbound("k2", "free", "m", t(0)).await.unwrap();
    assert!(store.claim("held", "a", t(0), t(3)).await.unwrap());
    assert_eq!(store.conversations_with_work(t(1)).await.unwrap(), ["free"]);
    let mut lapsed = store.conversations_with_work(t(4)).await.unwrap();
    lapsed.sort();
    assert_eq!(lapsed, ["free", "held"], "a's lease lapsed at 3 s");
    assert!(store.claim("held", "a", t(4), t(7)).await.unwrap());
    store.release("held", "a").await.unwrap();
    let mut released = store.conversations_with_work(t(5)).await.unwrap();
    released.sort();
    assert_eq!(released, ["free", "held"], "given up");
}
