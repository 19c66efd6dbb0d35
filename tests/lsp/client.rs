//! A minimal LSP client over the `botrun lsp` process's stdio: frames JSON-RPC messages with
//! `Content-Length`, remembers notifications, and waits for answers with a deadline.
#![allow(clippy::needless_pass_by_value)] // `json!` values read best passed inline

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
    /// Notifications seen so far, in order.
    pub notifications: Vec<Value>,
}

impl Client {
    /// Starts `botrun lsp` and completes the handshake with `root` as the workspace folder.
    pub fn start(root: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_botrun"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("botrun lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, incoming) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(value) = line.strip_prefix("Content-Length: ") {
                        length = value.parse().expect("length");
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let value: Value = serde_json::from_slice(&body).expect("server sends JSON");
                if sender.send(value).is_err() {
                    return;
                }
            }
        });
        let mut client = Client { child, stdin, incoming, next_id: 0, notifications: Vec::new() };
        let root_uri = uri(root);
        let answer = client.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": root_uri,
                "capabilities": {},
                "workspaceFolders": [{"uri": root_uri, "name": "bots"}],
            }),
        );
        assert!(
            answer["result"]["capabilities"]["hoverProvider"].as_bool().unwrap_or(false),
            "{answer}"
        );
        client.notify("initialized", json!({}));
        client
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns the whole response (with `result` or `error`).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let message = self.receive(deadline).unwrap_or_else(|| panic!("no answer to {method}"));
            if message.get("id") == Some(&json!(id)) {
                return message;
            }
            self.notifications.push(message);
        }
    }

    /// Waits for the diagnostics published for `file` that satisfy `wanted`.
    pub fn diagnostics_for(
        &mut self,
        file: &Path,
        wanted: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let target = uri(file);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut checked = 0;
        loop {
            for message in &self.notifications[checked..] {
                if message["method"] == "textDocument/publishDiagnostics"
                    && message["params"]["uri"] == target
                {
                    let list =
                        message["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
                    if wanted(&list) {
                        return list;
                    }
                }
            }
            checked = self.notifications.len();
            match self.receive(deadline) {
                Some(message) => self.notifications.push(message),
                None => {
                    panic!("no matching diagnostics for {target}; seen {:#?}", self.notifications)
                }
            }
        }
    }

    pub fn open(&mut self, file: &Path, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri(file), "languageId": "botrun", "version": 1, "text": text}}),
        );
    }

    pub fn change(&mut self, file: &Path, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri(file), "version": version}, "contentChanges": [{"text": text}]}),
        );
    }

    /// `textDocument/…` request at a position.
    pub fn at(
        &mut self,
        method: &str,
        file: &Path,
        line: u32,
        character: u32,
        extra: Value,
    ) -> Value {
        let mut params = json!({"textDocument": {"uri": uri(file)}, "position": {"line": line, "character": character}});
        if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            params.extend(extra.clone());
        }
        self.request(method, params)
    }

    /// Shuts the server down cleanly and checks it exits with success.
    pub fn stop(mut self) {
        let answer = self.request("shutdown", Value::Null);
        assert!(answer.get("error").is_none(), "{answer}");
        self.notify("exit", Value::Null);
        let status = self.child.wait().expect("exits");
        assert!(status.success(), "botrun lsp exited with {status}");
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn receive(&self, deadline: Instant) -> Option<Value> {
        self.incoming.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn uri(path: &Path) -> String {
    url::Url::from_file_path(path).expect("absolute path").to_string()
}

/// Line and UTF-16 column of the first occurrence of `needle` (plus `skip` characters) in `text`.
pub fn position_of(text: &str, needle: &str, skip: usize) -> (u32, u32) {
    let at = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in text")) + skip;
    let before = &text[..at];
    let line = before.matches('\n').count();
    let column: usize =
        before[before.rfind('\n').map_or(0, |i| i + 1)..].chars().map(char::len_utf16).sum();
    (u32::try_from(line).expect("line"), u32::try_from(column).expect("column"))
}
