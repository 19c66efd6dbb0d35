//! `botrun cx …` run as a process: exit codes and messages when it cannot run.

use std::process::{Command, Output};

fn botrun(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_botrun"));
    command.args(args);
    for var in [
        "BOTRUN_CX_CLIENT_ID",
        "BOTRUN_CX_CLIENT_SECRET",
        "BOTRUN_CX_BASE_URL",
        "BOTRUN_CX_AUTH_URL",
        "BOTRUN_CX_TENANT",
    ] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    command.output().expect("botrun runs")
}

/// stderr on one line: the report handler may wrap long messages and draw a margin.
fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .replace(['│', '×'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn refused_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

#[test]
fn missing_credentials_exit_2_naming_the_variable() {
    let output = botrun(&["cx", "token", "--tenant", "acme.cx.sangoma.com"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("environment variable BOTRUN_CX_CLIENT_ID is not set"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_tenant_exits_2_with_help() {
    let output = botrun(
        &["cx", "inboxes"],
        &[("BOTRUN_CX_CLIENT_ID", "a"), ("BOTRUN_CX_CLIENT_SECRET", "b")],
    );
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains("`tenant_domain` is not set"), "{text}");
    assert!(text.contains("--tenant"), "{text}");
}

#[test]
fn network_down_exits_2() {
    let root = refused_address();
    let auth = format!("{root}/oauth/token");
    let output = botrun(
        &[
            "cx",
            "inboxes",
            "--json",
            "--base-url",
            &format!("{root}/cx/"),
            "--auth-url",
            &auth,
            "--tenant",
            "t.example",
        ],
        &[("BOTRUN_CX_CLIENT_ID", "a"), ("BOTRUN_CX_CLIENT_SECRET", "secret-value")],
    );
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains("could not reach CX for token"), "{text}");
    assert!(!text.contains("secret-value"), "{text}");
    assert!(output.stdout.is_empty());
}

#[test]
fn config_file_section_is_strict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("botrun.yaml");
    std::fs::write(&path, "listen: 127.0.0.1:8080\ncx:\n  tenant: acme\n").unwrap();
    let output = botrun(&["cx", "token", "--config", path.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains("invalid `cx` section") && text.contains("unknown field `tenant`"),
        "{text}"
    );
}

#[test]
fn bad_url_flag_is_refused_before_any_call() {
    let output = botrun(
        &["cx", "webhook", "create", "--url", "not a url", "--tenant", "t"],
        &[("BOTRUN_CX_CLIENT_ID", "a"), ("BOTRUN_CX_CLIENT_SECRET", "b")],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--url \"not a url\" is not a valid URL"),
        "{}",
        stderr(&output)
    );
}

/// Runs `botrun cx … --json` against a running emulator, off the async runtime's threads.
async fn botrun_against(emulator: &botrun::emulator::RunningEmulator, args: &[&str]) -> Output {
    let mut full: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    full.extend(
        [
            "--json",
            "--base-url",
            &emulator.base_url(),
            "--auth-url",
            &emulator.auth_url(),
            "--tenant",
            "dev.cx.localhost",
        ]
        .map(str::to_owned),
    );
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = full.iter().map(String::as_str).collect();
        botrun(
            &args,
            &[
                ("BOTRUN_CX_CLIENT_ID", super::harness::CLIENT_ID),
                ("BOTRUN_CX_CLIENT_SECRET", super::harness::CLIENT_SECRET),
            ],
        )
    })
    .await
    .unwrap()
}

fn stdout_json(output: &Output) -> serde_json::Value {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_against_the_emulator_with_json() {
    let emulator = super::harness::emulator().await;

    let token = stdout_json(&botrun_against(&emulator, &["cx", "token"]).await);
    assert_eq!(token["ok"], true);
    assert_eq!(token["token_type"], "bearer");
    assert!(!token.to_string().contains("access_token"));

    let inboxes = stdout_json(&botrun_against(&emulator, &["cx", "inboxes"]).await);
    assert_eq!(inboxes[0]["id"], 1);
    assert_eq!(inboxes[0]["channel_type"], "Channel::Api");

    let webhook = stdout_json(
        &botrun_against(
            &emulator,
            &[
                "cx",
                "webhook",
                "create",
                "--url",
                "http://127.0.0.1:9/hook/t",
                "--events",
                "message_created,conversation_status_changed",
            ],
        )
        .await,
    );
    assert_eq!(
        webhook["subscriptions"],
        serde_json::json!(["message_created", "conversation_status_changed"])
    );

    let bot = stdout_json(
        &botrun_against(
            &emulator,
            &[
                "cx",
                "agent-bot",
                "create",
                "--url",
                "http://127.0.0.1:9/hook/t",
                "--name",
                "Helper",
            ],
        )
        .await,
    );
    let bot_id = bot["id"].as_u64().unwrap().to_string();
    let assigned = stdout_json(
        &botrun_against(
            &emulator,
            &["cx", "agent-bot", "assign", "--inbox", "2", "--bot", &bot_id],
        )
        .await,
    );
    assert_eq!(assigned["ok"], true);
    let on_inbox = emulator.control().read(|world| world.inbox(2).map(|i| i.agent_bot_id).unwrap());
    assert_eq!(on_inbox.map(|id| id.to_string()), Some(bot_id.clone()));

    let unknown = botrun_against(
        &emulator,
        &["cx", "agent-bot", "assign", "--inbox", "999", "--bot", &bot_id],
    )
    .await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("CX answered 404 to assign_agent_bot"),
        "{}",
        stderr(&unknown)
    );
    assert!(stderr(&unknown).contains("inbox 999 not found"), "{}", stderr(&unknown));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_against_the_emulator_exit_2() {
    let emulator = super::harness::emulator().await;
    let args = [
        "cx".to_owned(),
        "token".to_owned(),
        "--base-url".to_owned(),
        emulator.base_url(),
        "--auth-url".to_owned(),
        emulator.auth_url(),
        "--tenant".to_owned(),
        "dev.cx.localhost".to_owned(),
    ];
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        botrun(
            &args,
            &[("BOTRUN_CX_CLIENT_ID", "botrun-dev"), ("BOTRUN_CX_CLIENT_SECRET", "nope-secret")],
        )
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains("CX rejected the credentials (401) — check BOTRUN_CX_CLIENT_ID and BOTRUN_CX_CLIENT_SECRET"), "{text}");
    assert!(!text.contains("nope-secret"));
}
