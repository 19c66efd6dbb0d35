//! Fault injection does what it says: 429 with both Retry-After forms, 5xx, latency, stall,
//! connection reset, counted and seeded-share rules.

use std::time::{Duration, Instant};

use botrun::emulator::{Fault, FaultSpec};

use super::harness::Cx;

fn rule(path: &str, fault: Fault, times: Option<u32>) -> FaultSpec {
    FaultSpec { path: path.into(), fault, times, share: None, seed: 0 }
}

#[tokio::test]
async fn too_many_requests_in_seconds_and_http_date() {
    let cx = Cx::start().await;
    let control = cx.emulator.control();
    control
        .add_fault(rule(
            "/inboxes",
            Fault::TooManyRequests { retry_after_secs: 7, http_date: false },
            Some(1),
        ))
        .unwrap();
    let response = cx.http.get(cx.url("inboxes/")).bearer_auth(&cx.token).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(cx.get("inboxes/").await.0, 200, "the rule fired once only");

    control
        .add_fault(rule(
            "/inboxes",
            Fault::TooManyRequests { retry_after_secs: 30, http_date: true },
            Some(1),
        ))
        .unwrap();
    let response = cx.http.get(cx.url("inboxes/")).bearer_auth(&cx.token).send().await.unwrap();
    assert_eq!(response.status(), 429);
    let date = response.headers()["retry-after"].to_str().unwrap();
    let when = httpdate::parse_http_date(date).unwrap();
    let ahead = when.duration_since(std::time::SystemTime::now()).unwrap();
    assert!(ahead > Duration::from_secs(20) && ahead <= Duration::from_secs(31));
}

#[tokio::test]
async fn server_errors_for_the_next_n_calls_on_a_pattern() {
    let cx = Cx::start().await;
    let control = cx.emulator.control();
    control.add_fault(rule("*/inboxes*", Fault::ServerError { status: 503 }, Some(2))).unwrap();
    assert_eq!(cx.get("inboxes/").await.0, 503);
    assert_eq!(cx.get("inboxes/").await.0, 503);
    assert_eq!(cx.get("inboxes/").await.0, 200);
    let calls = control.calls();
    let faulted: Vec<_> = calls.iter().filter(|c| c.fault.is_some()).collect();
    assert_eq!(faulted.len(), 2);
    assert_eq!(faulted[0].status, Some(503));
    assert!(control.faults().is_empty(), "spent rules retire");
}

#[tokio::test]
async fn latency_delays_but_answers() {
    let cx = Cx::start().await;
    cx.emulator
        .control()
        .add_fault(rule("/inboxes", Fault::Latency { millis: 300 }, Some(1)))
        .unwrap();
    let started = Instant::now();
    assert_eq!(cx.get("inboxes/").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn stall_never_answers_until_the_client_gives_up() {
    let cx = Cx::start().await;
    cx.emulator.control().add_fault(rule("/inboxes", Fault::Stall, Some(1))).unwrap();
    let started = Instant::now();
    let result = cx
        .http
        .get(cx.url("inboxes/"))
        .bearer_auth(&cx.token)
        .timeout(Duration::from_millis(400))
        .send()
        .await;
    let error = result.expect_err("a stalled call must not answer");
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(cx.get("inboxes/").await.0, 200);
    cx.emulator.shutdown().await;
}

#[tokio::test]
async fn reset_closes_the_connection_without_an_answer() {
    let cx = Cx::start().await;
    cx.emulator.control().add_fault(rule("/inboxes", Fault::Reset, Some(1))).unwrap();
    let result = cx.http.get(cx.url("inboxes/")).bearer_auth(&cx.token).send().await;
    let error = result.expect_err("a reset call must not answer");
    assert!(!error.is_timeout() && error.status().is_none(), "{error:?}");
    assert_eq!(cx.get("inboxes/").await.0, 200, "the next call works");
}

#[tokio::test]
async fn seeded_share_is_reproducible() {
    async fn pattern(seed: u64) -> Vec<u16> {
        let cx = Cx::start().await;
        cx.emulator
            .control()
            .add_fault(FaultSpec {
                path: "/inboxes".into(),
                fault: Fault::ServerError { status: 500 },
                times: None,
                share: Some(0.5),
                seed,
            })
            .unwrap();
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(cx.get("inboxes/").await.0);
        }
        statuses
    }
    let first = pattern(7).await;
    assert_eq!(first, pattern(7).await, "same seed, same pattern");
    let failures = first.iter().filter(|s| **s == 500).count();
    assert!((8..=32).contains(&failures), "about half fail: {failures}/40");
    assert!(first.iter().all(|s| *s == 500 || *s == 200));
}

#[tokio::test]
async fn bad_fault_rules_are_refused() {
    let cx = Cx::start().await;
    let control = cx.emulator.control();
    let mut spec = rule("", Fault::Stall, None);
    spec.share = Some(1.5);
    assert!(control.add_fault(spec).is_err());
    assert!(control.add_fault(rule("", Fault::ServerError { status: 404 }, None)).is_err());
}
