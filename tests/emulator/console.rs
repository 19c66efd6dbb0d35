//! The console pages are served with the ids browser tests rely on, and the control API behind
//! them works over HTTP.

use serde_json::{json, Value};

use super::harness::Cx;

#[tokio::test]
async fn console_pages_carry_their_ids() {
    let cx = Cx::start().await;
    let agent = cx.http.get(cx.emulator.console_url()).send().await.unwrap();
    assert_eq!(agent.status(), 200);
    assert!(agent.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = agent.text().await.unwrap();
    for id in [
        "conversation-list",
        "transcript",
        "agent-name",
        "reply-text",
        "reply-private",
        "reply-send",
        "btn-resolve",
        "btn-reopen",
        "btn-hand-back",
        "selected-status",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "agent console lacks #{id}");
    }
    let customer = cx
        .http
        .get(format!("{}/customer", cx.emulator.console_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for id in ["customer-name", "start-chat", "chat-log", "chat-input", "chat-send", "chat-status"]
    {
        assert!(customer.contains(&format!("id=\"{id}\"")), "customer page lacks #{id}");
    }
    for asset in ["console.css", "agent.js", "customer.js"] {
        let response =
            cx.http.get(format!("{}/{asset}", cx.emulator.console_url())).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(!response.text().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn control_api_acts_as_customer_and_agent() {
    let cx = Cx::start().await;
    let root = cx.emulator.console_url().replace("/console", "");
    let post = |path: String, body: Value| {
        let http = cx.http.clone();
        async move {
            let response = http.post(path).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, started) = post(
        format!("{root}/_control/conversations"),
        json!({"inbox_id": 2, "name": "Casey", "content": "hello"}),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_u64().unwrap();
    assert_eq!(started["contact_name"], "Casey");
    assert_eq!(started["message_count"], 1);

    let (status, reply) = post(
        format!("{root}/_control/conversations/{id}/reply"),
        json!({"agent": "Alex", "content": "How can I help?"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(reply["sender"]["type"], "user");
    assert_eq!(reply["sender"]["name"], "Alex");

    let (status, _) = post(format!("{root}/_control/conversations/{id}/resolve"), json!({})).await;
    assert_eq!(status, 200);
    let detail: Value = cx
        .http
        .get(format!("{root}/_control/conversations/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["conversation"]["status"], "resolved");
    assert_eq!(detail["messages"].as_array().unwrap().len(), 2);

    let (status, error) =
        post(format!("{root}/_control/conversations/99999/incoming"), json!({"content": "x"}))
            .await;
    assert_eq!(status, 404);
    assert!(error["error"].as_str().unwrap().contains("99999"));
    let (status, _) =
        post(format!("{root}/_control/faults"), json!({"fault": {"type": "explode"}})).await;
    assert_eq!(status, 422);
}
