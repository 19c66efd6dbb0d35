//! Flow B conversations end to end through the app: webhooks in, CX calls out, in order.

use chrono::Duration;
use serde_json::json;

use super::harness::{conversation_created, customer_message, status_changed, Call, Harness};
use crate::wait::until;

#[tokio::test]
async fn greeting_buttons_and_replies() {
    let h = Harness::new("faq.bot").await;
    h.post(&conversation_created(1)).await;
    h.settle().await;
    let calls = h.take_calls();
    // The greeting and its buttons are one `input_select` message: the question as content, the
    // labels only as items (Chatwoot's widget would show a numbered list in content twice).
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        matches!(&calls[0], Call::Buttons { conversation, text, values }
        if conversation == "1" && text.contains("Acme help centre bot") && !text.contains("1. ")
            && values[0] == "Plans and prices" && values.len() == 4),
        "{calls:?}"
    );
    let id = h.message_id();
    h.post(&customer_message(id, 1, "how long does delivery take")).await;
    h.settle().await;
    assert_eq!(
        Harness::texts(&h.take_calls()),
        ["Deliveries take 2–4 working days within the EU."]
    );
}

#[tokio::test]
async fn a_first_message_without_conversation_created_starts_the_bot() {
    let h = Harness::new("faq.bot").await;
    let id = h.message_id();
    h.post(&customer_message(id, 5, "payment methods")).await;
    h.settle().await;
    let texts = Harness::texts(&h.take_calls());
    assert!(texts[0].contains("Acme help centre bot"), "{texts:?}");
    assert_eq!(texts.last().unwrap(), "You can pay by credit card, PayPal or invoice.");
}

#[tokio::test]
async fn every_event_delivered_twice_gives_each_reply_once_in_order() {
    let h = Harness::new("faq.bot").await;
    let questions = [
        ("how long does delivery take", "Deliveries take 2–4 working days within the EU."),
        ("can I pay with paypal", "You can pay by credit card, PayPal or invoice."),
        ("shipping to France", "Yes, we deliver to france. Delivery takes 2–4 working days."),
    ];
    let mut events = vec![conversation_created(1), conversation_created(2)];
    for (question, _) in questions {
        for conversation in [1, 2] {
            events.push(customer_message(h.message_id(), conversation, question));
        }
    }
    // Deliveries interleave across conversations and each comes twice, the copy late.
    for (i, event) in events.iter().enumerate() {
        h.post(event).await;
        if i >= 2 {
            h.post(&events[i - 2]).await;
        }
    }
    for event in &events {
        let (_, answer) = h.post(event).await;
        assert_eq!(answer["status"], "duplicate");
    }
    h.settle().await;
    let calls = h.take_calls();
    for conversation in ["1", "2"] {
        let mine: Vec<Call> = calls
            .iter()
            .filter(|c| matches!(c, Call::Text { conversation: x, .. } | Call::Buttons { conversation: x, .. } if x == conversation))
            .cloned()
            .collect();
        let texts = Harness::texts(&mine);
        assert_eq!(texts.len(), 1 + questions.len(), "{texts:?}");
        let answers: Vec<&str> = texts[1..].iter().map(String::as_str).collect();
        let expected: Vec<&str> = questions.iter().map(|(_, a)| *a).collect();
        assert_eq!(answers, expected);
    }
    assert!(h.state.metrics.duplicates() >= u64::try_from(events.len()).unwrap());
}

#[tokio::test]
async fn handoff_then_silence_then_agent_hands_back() {
    let h = Harness::new("faq.bot").await;
    h.post(&conversation_created(1)).await;
    h.settle().await;
    h.take_calls();
    h.post(&customer_message(h.message_id(), 1, "talk to a person")).await;
    h.settle().await;
    let calls = h.take_calls();
    assert_eq!(
        calls,
        [
            Call::Note { conversation: "1".into(), text: "customer asked for a person".into() },
            Call::DeliverToAgent { conversation: "1".into() },
        ][calls.len() - 2..]
    );
    // CX still posts the customer's messages; pending status means CX has not yet moved it,
    // and the engine itself stays silent while a human owns the conversation.
    h.post(&status_changed(1, "pending", "open", 1)).await;
    h.post(&customer_message(h.message_id(), 1, "how long does delivery take")).await;
    h.settle().await;
    assert!(h.take_calls().is_empty());
    // The agent gives it back: `on return` (faq has none) runs and the bot answers again.
    h.post(&status_changed(1, "open", "pending", 2)).await;
    h.post(&customer_message(h.message_id(), 1, "payment methods")).await;
    h.settle().await;
    let texts = Harness::texts(&h.take_calls());
    assert_eq!(texts.last().unwrap(), "You can pay by credit card, PayPal or invoice.");
}

#[tokio::test]
async fn agent_resolves_and_the_customer_returns() {
    let h = Harness::new("appointments.bot").await;
    h.post(&conversation_created(1)).await;
    h.post(&customer_message(h.message_id(), 1, "book a check-up")).await;
    h.settle().await;
    assert!(Harness::texts(&h.take_calls()).last().unwrap().starts_with("Which day suits you"));
    h.post(&status_changed(1, "pending", "resolved", 1)).await;
    h.settle().await;
    assert!(h.take_calls().is_empty());
    h.post(&customer_message(h.message_id(), 1, "opening hours")).await;
    h.settle().await;
    let texts = Harness::texts(&h.take_calls());
    assert_eq!(
        texts[0], "Back with the booking assistant. What would you like to do?",
        "{texts:?}"
    );
}

#[tokio::test]
async fn ask_with_retries_then_timeouts_fire_from_durable_timers() {
    let h = Harness::new("appointments.bot").await;
    h.post(&conversation_created(1)).await;
    h.post(&customer_message(h.message_id(), 1, "book an appointment")).await;
    h.post(&customer_message(h.message_id(), 1, "a haircut")).await;
    h.settle().await;
    let texts = Harness::texts(&h.take_calls());
    assert_eq!(texts.last().unwrap(), "Please choose one of: check-up, vaccination, blood test.");
    // Nothing before the timeout; the 5-minute timeout fires after the clock passes it.
    h.clock.advance(Duration::minutes(4));
    assert_eq!(h.state.fire_timers().await.unwrap(), 0);
    h.clock.advance(Duration::minutes(2));
    assert_eq!(h.state.fire_timers().await.unwrap(), 1);
    h.settle().await;
    assert_eq!(Harness::texts(&h.take_calls()), ["Take your time — which service would you like?"]);
    // The customer answers: the ask's timers are cancelled, nothing fires for them later.
    h.post(&customer_message(h.message_id(), 1, "vaccination")).await;
    h.settle().await;
    assert!(Harness::texts(&h.take_calls())[0].starts_with("Which day suits you"));
    h.clock.advance(Duration::minutes(5) + Duration::seconds(1));
    h.state.fire_timers().await.unwrap();
    h.settle().await;
    assert_eq!(Harness::texts(&h.take_calls()), ["Still there? Tell me a day and I'll check it."]);
}

#[tokio::test]
async fn api_faults_are_retried_and_replies_stay_in_order() {
    let h = Harness::new("faq.bot").await;
    h.cx.fail_next(3, true);
    h.post(&conversation_created(1)).await;
    for question in ["delivery time", "payment methods", "warranty"] {
        h.post(&customer_message(h.message_id(), 1, question)).await;
    }
    h.settle().await;
    let texts = Harness::texts(&h.take_calls());
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert_eq!(
        texts[1..],
        [
            "Deliveries take 2–4 working days within the EU.",
            "You can pay by credit card, PayPal or invoice.",
            "All devices come with a two-year warranty.",
        ]
    );
    assert_eq!(h.state.metrics.escalations(), 0);
}

#[tokio::test]
async fn delivery_past_the_retry_budget_hands_the_conversation_to_a_human() {
    let h = Harness::new("faq.bot").await;
    h.cx.fail_next(1, false);
    h.post(&conversation_created(1)).await;
    h.settle().await;
    let calls = h.take_calls();
    assert_eq!(calls[0], Call::DeliverToAgent { conversation: "1".into() }, "{calls:?}");
    assert_eq!(h.state.metrics.escalations(), 1);
    let metrics = h.state.metrics.render(0);
    assert!(metrics.contains("botrun_delivery_escalations_total 1"), "{metrics}");
}

#[tokio::test]
async fn queued_work_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("botrun.db").display());
    {
        let h = Harness::with("faq.bot", &url, botrun::server::Config::default()).await;
        // CX calls never return, as if the process froze and was killed mid-call: the
        // replies and the queued message wait in the store.
        h.cx.hang.store(true, std::sync::atomic::Ordering::SeqCst);
        h.post(&conversation_created(1)).await;
        h.post(&customer_message(2001, 1, "delivery time")).await;
        // The greeting is committed and stuck on its way out; the message waits behind it.
        until("the greeting in the outbox and the message still queued", || async {
            h.store.outbox_depth().await.unwrap() > 0
                && h.store.queued_inbound("cx:1").await.unwrap() == 1
        })
        .await;
    }
    let h = Harness::with("faq.bot", &url, botrun::server::Config::default()).await;
    assert_eq!(h.state.resume().await.unwrap(), 1);
    h.settle().await;
    let texts = Harness::texts(&h.take_calls());
    assert!(texts[0].contains("Acme help centre bot"), "{texts:?}");
    assert_eq!(texts.last().unwrap(), "Deliveries take 2–4 working days within the EU.");
    assert_eq!(texts.iter().filter(|t| t.contains("Deliveries")).count(), 1);
    let (_, answer) = h.post(&customer_message(2001, 1, "delivery time")).await;
    assert_eq!(answer, json!({"status": "duplicate"}));
}

/// For channels that cannot show buttons (`buttons: false`), the question and its numbered
/// options are one plain text, in that order.
#[tokio::test]
async fn without_buttons_the_question_and_the_numbered_options_are_one_text() {
    let config = botrun::server::config::Config { buttons: false, ..Default::default() };
    let h = Harness::with("faq.bot", "sqlite::memory:", config).await;
    h.post(&conversation_created(1)).await;
    h.settle().await;
    let calls = h.take_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let Call::Text { text, .. } = &calls[0] else { panic!("{calls:?}") };
    assert!(text.starts_with("Hallo! I'm the Acme help centre bot."), "{text}");
    assert!(
        text.ends_with("\n1. Plans and prices\n2. Delivery\n3. Device help\n4. Talk to a person"),
        "{text}"
    );
}
