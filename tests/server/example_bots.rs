//! One complete Flow B conversation per example bot, driven as a customer (and as a human
//! agent) through the real CX emulator: greeting, replies, button picks, an `ask` with a wrong
//! answer and a retry, question timeouts on a manual clock, handoff then silence, the agent
//! resolving and the customer coming back. Plus every webhook delivered twice, the copies late.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use botrun::server::ManualClock;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::emulator_harness::{start, Served, Setup};

/// Tuesday 2026-11-24 15:00 UTC: 10:00 in New York and 15:00 in London, both offices open.
fn tuesday_afternoon() -> Arc<ManualClock> {
    let start: DateTime<Utc> = "2026-11-24T15:00:00Z".parse().unwrap();
    Arc::new(ManualClock::new(start))
}

/// Moves the app's clock on and fires the timers that came due; returns how many fired.
async fn after(served: &Served, clock: &ManualClock, by: Duration) -> usize {
    served.settle().await;
    clock.advance(by);
    served.fire_timers().await
}

#[tokio::test]
async fn faq_answers_picks_a_plan_hands_off_and_welcomes_the_customer_back() {
    let served = start(Setup::new("faq.bot", tuesday_afternoon())).await;
    let ada = served.customer_starts("Ada");
    let mut expected = vec![
        "bot: Hallo! I'm the Acme help centre bot. Ask me about plans, deliveries, devices or billing. [Plans and prices | Delivery | Device help | Talk to a person]",
    ];
    served.expect_transcript(ada, &expected).await;

    served.customer_says(ada, "how long does delivery take");
    expected.extend([
        "> how long does delivery take",
        "bot: Deliveries take 2–4 working days within the EU.",
    ]);
    served.expect_transcript(ada, &expected).await;

    // An `ask` with buttons: a wrong answer gets the retry, then the customer clicks a button.
    served.customer_says(ada, "change my plan");
    expected.extend([
        "> change my plan",
        "bot: Which plan would you like: basic, plus or premium? [basic | plus | premium]",
    ]);
    served.expect_transcript(ada, &expected).await;
    served.customer_says(ada, "gold");
    expected.extend(["> gold", "bot: Please pick basic, plus or premium."]);
    served.expect_transcript(ada, &expected).await;
    served.customer_picks(ada, "premium");
    expected.extend([
        "> premium",
        "bot: I've noted your request to switch to premium. You'll get a confirmation email within a day.",
    ]);
    served.expect_transcript(ada, &expected).await;

    // Handoff: a note for the agents, the conversation is theirs, the bot falls silent.
    served.customer_says(ada, "talk to a person");
    expected.extend(["> talk to a person", "note: customer asked for a person"]);
    served.expect_transcript(ada, &expected).await;
    served.settle().await;
    assert_eq!(served.status(ada), "open");
    served.customer_says(ada, "hello? how long does delivery take");
    served.agent_says(ada, "Sam", "Hi, Sam here. Your plan change is on its way.");
    served.customer_says(ada, "can I pay with paypal");
    served.settle().await;
    expected.extend([
        "> hello? how long does delivery take",
        "Sam: Hi, Sam here. Your plan change is on its way.",
        "> can I pay with paypal",
    ]);
    served.expect_transcript(ada, &expected).await;

    // The agent resolves; the customer writes again and the bot's `on return` greets them.
    served.control().resolve(ada).unwrap();
    served.settle().await;
    served.expect_transcript(ada, &expected).await;
    served.customer_says(ada, "is my router under warranty");
    expected.extend([
        "> is my router under warranty",
        "bot: Anything else I can help with?",
        "bot: All devices come with a two-year warranty.",
    ]);
    served.expect_transcript(ada, &expected).await;
    assert_eq!(served.status(ada), "pending");
    served.emulator.shutdown().await;
}

/// The shop's order API the bot fetches from: order 12345 has shipped, others are unknown.
async fn serve_shop() -> String {
    async fn order(Path(number): Path<String>) -> (StatusCode, Json<Value>) {
        if number == "12345" {
            (StatusCode::OK, Json(json!({"status": "shipped", "shipped_on": "November 20"})))
        } else {
            (StatusCode::NOT_FOUND, Json(json!({"error": "no such order"})))
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shop = Router::new().route("/orders/{number}", get(order));
    tokio::spawn(async move { axum::serve(listener, shop).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn order_tracking_nudges_on_timeout_looks_up_the_order_and_hands_billing_to_people() {
    let clock = tuesday_afternoon();
    let mut setup = Setup::new("order_tracking.bot", clock.clone());
    setup.env.insert("SHOP_API".into(), serve_shop().await);
    setup.config.fetch.allow_hosts = vec!["127.0.0.1".into()];
    let served = start(setup).await;
    let ana = served.customer_starts("Ana");
    let mut expected = vec![
        "bot: Hi Ana! I can track orders or connect you with our team. [Track my order | Talk to a person]",
    ];
    served.expect_transcript(ana, &expected).await;

    served.customer_picks(ana, "Track my order");
    expected.extend(["> Track my order", "bot: What's your order number?"]);
    served.expect_transcript(ana, &expected).await;

    // The question's 3-minute timeout, on the app's clock.
    assert_eq!(after(&served, &clock, Duration::minutes(2)).await, 0);
    assert_eq!(after(&served, &clock, Duration::minutes(1) + Duration::seconds(1)).await, 1);
    expected.push("bot: Still there? Just type the order number.");
    served.expect_transcript(ana, &expected).await;

    served.customer_says(ana, "no idea");
    expected.extend([
        "> no idea",
        "bot: Order numbers are digits only — could you type just the number?",
    ]);
    served.expect_transcript(ana, &expected).await;
    served.customer_says(ana, "12345");
    expected.extend(["> 12345", "bot: Order 12345 shipped on November 20."]);
    served.expect_transcript(ana, &expected).await;

    served.customer_says(ana, "I was charged twice");
    expected.extend([
        "> I was charged twice",
        "bot: Connecting you to a teammate…",
        "note: billing question: I was charged twice",
    ]);
    served.expect_transcript(ana, &expected).await;
    served.settle().await;
    assert_eq!(served.status(ana), "open");
    served.customer_says(ana, "hello?");
    served.agent_says(ana, "Lee", "Hi Ana, I see the double charge and refunded one.");
    served.customer_says(ana, "track my order");
    served.settle().await;
    expected.extend([
        "> hello?",
        "Lee: Hi Ana, I see the double charge and refunded one.",
        "> track my order",
    ]);
    served.expect_transcript(ana, &expected).await;
    // Past every question timeout and idle policy: still silent while people own the chat.
    after(&served, &clock, Duration::minutes(45)).await;
    served.settle().await;
    served.expect_transcript(ana, &expected).await;

    served.control().resolve(ana).unwrap();
    served.settle().await;
    served.customer_says(ana, "track my order");
    expected.extend([
        "> track my order",
        "bot: Anything else I can help with?",
        "bot: What's your order number?",
    ]);
    served.expect_transcript(ana, &expected).await;
    served.emulator.shutdown().await;
}

#[tokio::test]
async fn appointments_books_by_buttons_then_reception_takes_over_and_resolves() {
    let clock = tuesday_afternoon();
    let served = start(Setup::new("appointments.bot", clock.clone())).await;
    let cy = served.customer_starts("Cy");
    let mut expected = vec![
        "bot: Welcome to the clinic. I can book or cancel appointments, or tell you our opening hours. [Book an appointment | Cancel an appointment | Opening hours]",
    ];
    served.expect_transcript(cy, &expected).await;

    served.customer_picks(cy, "Book an appointment");
    expected.extend([
        "> Book an appointment",
        "bot: Which service would you like: a check-up, a vaccination or a blood test? [check-up | vaccination | blood test]",
    ]);
    served.expect_transcript(cy, &expected).await;
    served.customer_says(cy, "a massage");
    expected
        .extend(["> a massage", "bot: Please choose one of: check-up, vaccination, blood test."]);
    served.expect_transcript(cy, &expected).await;

    assert_eq!(after(&served, &clock, Duration::minutes(4)).await, 0);
    assert_eq!(after(&served, &clock, Duration::minutes(2)).await, 1);
    expected.push("bot: Take your time — which service would you like?");
    served.expect_transcript(cy, &expected).await;

    served.customer_picks(cy, "blood test");
    expected.extend([
        "> blood test",
        "bot: Which day suits you for the blood test? (for example 2026-12-02, today or tomorrow)",
    ]);
    served.expect_transcript(cy, &expected).await;
    served.customer_says(cy, "tomorrow");
    expected.extend(["> tomorrow", "bot: Shall I book a blood test on 2026-11-25? [Yes | No]"]);
    served.expect_transcript(cy, &expected).await;
    served.customer_picks(cy, "Yes");
    expected.extend([
        "> Yes",
        "bot: Booked: blood test on 2026-11-25. We'll send a reminder the day before.",
    ]);
    served.expect_transcript(cy, &expected).await;
    served.settle().await;
    assert_eq!(served.status(cy), "resolved");

    // Back after the bot resolved: `on return`, then reception takes over.
    served.customer_says(cy, "talk to someone");
    expected.extend([
        "> talk to someone",
        "bot: Back with the booking assistant. What would you like to do?",
        "bot: I'm passing you to our reception team.",
        "note: patient asked for reception",
    ]);
    served.expect_transcript(cy, &expected).await;
    served.settle().await;
    assert_eq!(served.status(cy), "open");
    served.agent_says(cy, "Reception", "Hello Cy, how can I help?");
    served.customer_says(cy, "book an appointment");
    served.settle().await;
    expected.extend(["Reception: Hello Cy, how can I help?", "> book an appointment"]);
    served.expect_transcript(cy, &expected).await;

    served.control().resolve(cy).unwrap();
    served.settle().await;
    served.customer_says(cy, "are you open");
    expected.extend([
        "> are you open",
        "bot: Back with the booking assistant. What would you like to do?",
        "bot: We're open right now, until the end of today's session.",
    ]);
    served.expect_transcript(cy, &expected).await;
    served.emulator.shutdown().await;
}

/// The bot's lines of a conversation.
fn bot_lines(served: &Served, conversation: u64) -> Vec<String> {
    served.transcript(conversation).into_iter().filter(|line| line.starts_with("bot: ")).collect()
}

#[tokio::test]
async fn every_webhook_delivered_twice_and_late_gives_each_reply_once_in_order() {
    let served = start(Setup::new("faq.bot", tuesday_afternoon())).await;
    served.control().set_replay_lag(3);
    let questions = [
        ("how long does delivery take", "Deliveries take 2–4 working days within the EU."),
        ("can I pay with paypal", "You can pay by credit card, PayPal or invoice."),
        ("shipping to France", "Yes, we deliver to france. Delivery takes 2–4 working days."),
        ("is my router under warranty", "All devices come with a two-year warranty."),
    ];
    let ada = served.customer_starts("Ada");
    let bo = served.customer_starts("Bo");
    for (question, _) in questions {
        served.customer_says(ada, question);
        served.customer_says(bo, question);
    }
    served.settle().await;
    let greeting = [
        "bot: Hallo! I'm the Acme help centre bot. Ask me about plans, deliveries, devices or billing. [Plans and prices | Delivery | Device help | Talk to a person]",
    ];
    let mut expected: Vec<String> = greeting.iter().map(|line| (*line).to_owned()).collect();
    expected.extend(questions.iter().map(|(_, answer)| format!("bot: {answer}")));
    assert_eq!(bot_lines(&served, ada), expected);
    assert_eq!(bot_lines(&served, bo), expected);

    // Status events come twice too: resolving and returning runs `on return` once.
    served.control().resolve(ada).unwrap();
    served.settle().await;
    served.customer_says(ada, "can I pay with paypal");
    served.settle().await;
    expected.extend([
        "bot: Anything else I can help with?".to_owned(),
        "bot: You can pay by credit card, PayPal or invoice.".to_owned(),
    ]);
    assert_eq!(bot_lines(&served, ada), expected);

    let deliveries = served.control().deliveries();
    let copies = deliveries.iter().filter(|d| d.replayed).count();
    assert!(deliveries.iter().all(|d| d.delivered), "{deliveries:#?}");
    assert_eq!(copies * 2, deliveries.len(), "every event should have gone out twice");
    served.emulator.shutdown().await;
}
