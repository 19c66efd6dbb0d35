//! The `botrun` binary as a shell pipeline sees it.

mod dev_state;

use std::process::{Command, Stdio};

/// `botrun test bots/ | head -0`: the reader is gone before the first line is written.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_botrun"))
        .args(["test", "bots/"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert!(output.status.success(), "status {:?}, stderr: {stderr}", output.status);
}

#[test]
fn report_on_a_store_that_does_not_exist_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.db");
    let out = Command::new(env!("CARGO_BIN_EXE_botrun"))
        .args(["report", "--store", &format!("sqlite://{}", path.display())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no store at"), "{stderr}");
    assert!(!path.exists(), "the report must not create an empty store");
}
