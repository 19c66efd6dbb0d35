//! Flow B end to end over real sockets: the CX emulator posts agent-bot webhooks to the served
//! app, and the replies come back through the real CX client into the emulator's conversation.

use std::sync::Arc;
use std::time::Duration;

use botrun::emulator::{MessageType, RunningEmulator};
use botrun::server::SystemClock;

use super::emulator_harness::{start, Setup, WIDGET_INBOX};

/// The bot's public messages in a conversation, waiting until there are `count`.
async fn bot_messages(emulator: &RunningEmulator, conversation: u64, count: usize) -> Vec<String> {
    let mut texts = Vec::new();
    for _ in 0..300 {
        texts = emulator
            .control()
            .messages(conversation)
            .unwrap()
            .into_iter()
            .filter(|m| m.message_type == MessageType::Outgoing && !m.private)
            .map(|m| m.content)
            .collect();
        if texts.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    texts
}

#[tokio::test]
async fn flow_b_greeting_and_answers_through_the_emulator() {
    let served = start(Setup::new("faq.bot", Arc::new(SystemClock))).await;
    let emulator = &served.emulator;
    let conversation = emulator.control().customer_start(WIDGET_INBOX, "Ada").unwrap();
    let greeting = bot_messages(emulator, conversation.id, 1).await;
    if greeting.is_empty() {
        eprintln!("deliveries: {:#?}", emulator.control().deliveries());
        eprintln!("calls: {:#?}", emulator.control().calls());
    }
    assert!(greeting[0].contains("Acme help centre bot"), "{greeting:?}");
    emulator.control().customer_says(conversation.id, "how long does delivery take").unwrap();
    emulator.control().customer_says(conversation.id, "can I pay with paypal").unwrap();
    let texts = bot_messages(emulator, conversation.id, 3).await;
    assert_eq!(
        texts[1..],
        [
            "Deliveries take 2–4 working days within the EU.",
            "You can pay by credit card, PayPal or invoice.",
        ],
        "{texts:?}"
    );
    served.emulator.shutdown().await;
}

#[tokio::test]
async fn api_faults_at_the_emulator_still_deliver_every_reply_in_order() {
    use botrun::emulator::{Fault, FaultSpec};
    let served = start(Setup::new("faq.bot", Arc::new(SystemClock))).await;
    let emulator = &served.emulator;
    let faults = [
        Fault::ServerError { status: 500 },
        Fault::TooManyRequests { retry_after_secs: 0, http_date: false },
    ];
    for fault in faults {
        emulator
            .control()
            .add_fault(FaultSpec {
                path: "messages".into(),
                fault,
                times: None,
                share: Some(0.3),
                seed: 7,
            })
            .unwrap();
    }
    let conversation = emulator.control().customer_start(WIDGET_INBOX, "Bo").unwrap();
    let questions = [
        ("how long does delivery take", "Deliveries take 2–4 working days within the EU."),
        ("can I pay with paypal", "You can pay by credit card, PayPal or invoice."),
        ("is my router under warranty", "All devices come with a two-year warranty."),
    ];
    for (question, _) in questions {
        emulator.control().customer_says(conversation.id, question).unwrap();
    }
    let texts = bot_messages(emulator, conversation.id, 4).await;
    let expected: Vec<&str> = questions.iter().map(|(_, a)| *a).collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert_eq!(texts[1..], expected[..], "{texts:?}");
    let faulted = emulator.control().calls().iter().filter(|c| c.fault.is_some()).count();
    assert!(faulted > 0, "no fault fired, the test proves nothing");
    served.emulator.shutdown().await;
}
