//! Integration tests: `lsp` — `botrun lsp` spoken to over stdio, as an editor would, and once by
//! a real editor (headless Neovim).

mod client;
mod neovim;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use client::{position_of, uri, Client};

const MAIN: &str = "use \"common/talk.bot\"\n\nbot \"Shop\"\n\nintent track\n  \"track [my] order {number:digits}\"\n\non start\n  go menu\n\nstate menu\n  when track\n    say \"Order {number} is on its way.\"\n    go menu\n  when hello\n    go menu\n";
const TALK: &str =
    "intent hello\n  \"hi\"\n  \"good morning\"\n\nanytime hello\n  say \"Hello!\"\n";

/// A bot folder with an entry file and a library it uses; paths are canonical.
fn bots() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().canonicalize().expect("canonical");
    std::fs::create_dir_all(root.join("common")).expect("mkdir");
    let main = root.join("main.bot");
    let talk = root.join("common/talk.bot");
    std::fs::write(&main, MAIN).expect("write");
    std::fs::write(&talk, TALK).expect("write");
    (dir, main, talk)
}

fn root_of(main: &Path) -> &Path {
    main.parent().expect("root")
}

/// What `botrun validate --format json` says about `file`: (message, line) pairs.
fn validate_messages(root: &Path) -> Vec<(String, u64)> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_botrun"))
        .args(["validate", "--format", "json"])
        .arg(root)
        .output()
        .expect("validate runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    report["files"]
        .as_array()
        .expect("files")
        .iter()
        .flat_map(|f| f["diagnostics"].as_array().cloned().unwrap_or_default())
        .map(|d| (d["message"].as_str().unwrap_or("").to_string(), d["line"].as_u64().unwrap_or(0)))
        .collect()
}

#[test]
fn a_mistake_typed_in_the_editor_is_reported_as_validate_reports_it_and_cleared_when_fixed() {
    let (_dir, main, _talk) = bots();
    let mut client = Client::start(root_of(&main));
    client.open(&main, MAIN);
    client.diagnostics_for(&main, <[Value]>::is_empty);
    // The mistake exists only in the unsaved buffer; saving it lets `validate` see the same.
    let broken = MAIN.replace("    go menu\n  when hello", "    go menuu\n  when hello");
    client.change(&main, 2, &broken);
    let diagnostics = client.diagnostics_for(&main, |d| !d.is_empty());
    std::fs::write(&main, &broken).expect("write");
    let expected = validate_messages(root_of(&main));
    let got: Vec<(String, u64)> = diagnostics
        .iter()
        .map(|d| {
            let message =
                d["message"].as_str().unwrap_or("").lines().next().unwrap_or("").to_string();
            (message, d["range"]["start"]["line"].as_u64().unwrap_or(0) + 1)
        })
        .collect();
    assert_eq!(got, expected);
    assert!(got[0].0.contains("unknown state `menuu`"), "{got:?}");
    assert_eq!(diagnostics[0]["code"], "botrun::unknown_state");
    assert!(diagnostics[0]["message"]
        .as_str()
        .unwrap_or("")
        .contains("help: did you mean `menu`?"));
    client.change(&main, 3, MAIN);
    client.diagnostics_for(&main, <[Value]>::is_empty);
    client.stop();
}

#[test]
fn a_used_file_is_checked_with_the_bot_that_uses_it() {
    let (_dir, main, talk) = bots();
    let mut client = Client::start(root_of(&main));
    // `hello` is used by main.bot: alone, talk.bot would not know; with its bot, a typo in the
    // anytime handler is an unknown intent in talk.bot, and main.bot's `when hello` still resolves.
    let broken = TALK.replace("anytime hello", "anytime helo");
    client.open(&talk, &broken);
    let diagnostics = client.diagnostics_for(&talk, |d| !d.is_empty());
    let messages: Vec<&str> = diagnostics.iter().filter_map(|d| d["message"].as_str()).collect();
    assert!(messages.iter().any(|m| m.starts_with("unknown intent `helo`")), "{messages:?}");
    // A syntax error in the used file is reported in it too.
    client.change(&talk, 2, "intent hello\n  \"hi\n");
    let diagnostics =
        client.diagnostics_for(&talk, |d| d.iter().any(|x| x["code"] == "botrun::syntax"));
    assert_eq!(diagnostics[0]["range"]["start"]["line"], 1);
    client.stop();
}

#[test]
fn go_to_definition_and_references_cross_files() {
    let (_dir, main, talk) = bots();
    let mut client = Client::start(root_of(&main));
    client.open(&main, MAIN);
    // `go menu` → `state menu`.
    let (line, column) = position_of(MAIN, "go menu", 4);
    let answer = client.at("textDocument/definition", &main, line, column, json!({}));
    let target = &answer["result"][0];
    assert_eq!(target["uri"], uri(&main));
    assert_eq!(target["range"]["start"]["line"], json!(position_of(MAIN, "state menu", 6).0));
    // `when hello` → the intent in the used file.
    let (line, column) = position_of(MAIN, "when hello", 6);
    let answer = client.at("textDocument/definition", &main, line, column, json!({}));
    assert_eq!(answer["result"][0]["uri"], uri(&talk));
    assert_eq!(answer["result"][0]["range"]["start"], json!({"line": 0, "character": 7}));
    let answer = client.at(
        "textDocument/references",
        &main,
        line,
        column,
        json!({"context": {"includeDeclaration": true}}),
    );
    let places: Vec<(String, u64)> = answer["result"]
        .as_array()
        .expect("references")
        .iter()
        .map(|l| {
            (
                l["uri"].as_str().unwrap_or("").rsplit('/').next().unwrap_or("").to_string(),
                l["range"]["start"]["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        places,
        vec![("main.bot".into(), 14), ("talk.bot".into(), 0), ("talk.bot".into(), 4)]
    );
    // A variable's definition is where it gets its value: the capture.
    let (line, column) = position_of(MAIN, "{number}", 2);
    let answer = client.at("textDocument/definition", &main, line, column, json!({}));
    assert_eq!(answer["result"][0]["range"]["start"], json!({"line": 5, "character": 21}));
    client.stop();
}

#[test]
fn renaming_an_intent_edits_every_file_and_the_result_validates() {
    let (_dir, main, talk) = bots();
    let mut client = Client::start(root_of(&main));
    client.open(&main, MAIN);
    let (line, column) = position_of(MAIN, "when hello", 6);
    let prepared = client.at("textDocument/prepareRename", &main, line, column, json!({}));
    assert_eq!(prepared["result"]["placeholder"], "hello");
    let answer = client.at("textDocument/rename", &main, line, column, json!({"newName": "greet"}));
    let changes = answer["result"]["changes"].as_object().expect("changes");
    for (file, text) in [(&main, MAIN), (&talk, TALK)] {
        let edits = changes.get(&uri(file)).and_then(Value::as_array).expect("edits for file");
        std::fs::write(file, apply(text, edits)).expect("write");
    }
    assert_eq!(changes[&uri(&talk)].as_array().map(Vec::len), Some(2));
    assert_eq!(changes[&uri(&main)].as_array().map(Vec::len), Some(1));
    assert!(validate_messages(root_of(&main)).is_empty());
    assert!(std::fs::read_to_string(&talk).expect("read").contains("anytime greet"));
    // Bad names and taken names are refused with a reason.
    let bad =
        client.at("textDocument/rename", &main, line, column, json!({"newName": "two words"}));
    assert!(bad["error"]["message"].as_str().unwrap_or("").contains("not a valid name"), "{bad}");
    let taken = client.at("textDocument/rename", &main, line, column, json!({"newName": "track"}));
    assert!(taken["error"]["message"].as_str().unwrap_or("").contains("already exists"), "{taken}");
    let (line, column) = position_of(MAIN, "say", 1);
    let keyword = client.at("textDocument/rename", &main, line, column, json!({"newName": "x"}));
    assert!(keyword.get("error").is_some(), "{keyword}");
    client.stop();
}

/// Applies LSP text edits (non-overlapping) to `text`.
fn apply(text: &str, edits: &[Value]) -> String {
    let offset = |position: &Value| -> usize {
        let line = usize::try_from(position["line"].as_u64().unwrap_or(0)).unwrap_or(0);
        let column = usize::try_from(position["character"].as_u64().unwrap_or(0)).unwrap_or(0);
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        start + text[start..].chars().take(column).map(char::len_utf8).sum::<usize>()
    };
    let mut edits: Vec<(usize, usize, &str)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().unwrap_or(""),
            )
        })
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, new) in edits {
        out.replace_range(start..end, new);
    }
    out
}

#[test]
fn hover_explains_keywords_intents_and_variables() {
    let (_dir, main, _talk) = bots();
    let mut client = Client::start(root_of(&main));
    client.open(&main, MAIN);
    let hover = |client: &mut Client, needle: &str, skip: usize| -> String {
        let (line, column) = position_of(MAIN, needle, skip);
        let answer = client.at("textDocument/hover", &main, line, column, json!({}));
        answer["result"]["contents"]["value"].as_str().unwrap_or("").to_string()
    };
    let intent = hover(&mut client, "when hello", 6);
    assert!(intent.contains("\"good morning\""), "{intent}");
    assert!(intent.contains("talk.bot:1"), "{intent}");
    let variable = hover(&mut client, "{number}", 2);
    assert!(variable.contains("a capture in intent track (digits)"), "{variable}");
    let keyword = hover(&mut client, "go menu", 0);
    assert!(keyword.contains("Moves the conversation to a state"), "{keyword}");
    assert!(keyword.contains("#statements"), "{keyword}");
    client.stop();
}

#[test]
fn completion_offers_what_fits_the_place_even_while_the_line_is_unfinished() {
    let (_dir, main, _talk) = bots();
    let mut client = Client::start(root_of(&main));
    let mut version = 1;
    // Each case is the bot with one unfinished line at the end, the cursor after it.
    let mut labels = |line: &str| -> Vec<String> {
        let text = format!("{MAIN}\nstate extra\n  ask size as digits\n    say \"?\"\n{line}");
        if version == 1 {
            client.open(&main, &text);
        } else {
            client.change(&main, version, &text);
        }
        version += 1;
        let row = u32::try_from(text.lines().count() - 1).expect("row");
        let column = u32::try_from(line.len()).expect("column");
        let answer = client.at("textDocument/completion", &main, row, column, json!({}));
        answer["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|i| i["label"].as_str().map(str::to_string))
            .collect()
    };
    let types = labels("  ask size2 as ");
    assert!(
        types.contains(&"digits".to_string()) && types.contains(&"yes/no".to_string()),
        "{types:?}"
    );
    assert_eq!(labels("  go "), vec!["menu", "extra"]);
    assert_eq!(labels("  when "), vec!["track", "hello"]);
    assert_eq!(labels("  when track or h"), vec!["track", "hello"]);
    let placeholders = labels("  say \"Your {");
    assert!(
        placeholders.contains(&"number".to_string()) && placeholders.contains(&"size".to_string()),
        "{placeholders:?}"
    );
    assert!(placeholders.contains(&"contact.name".to_string()), "{placeholders:?}");
    let keywords = labels("  ");
    assert!(
        keywords.contains(&"ask".to_string()) && !keywords.contains(&"state".to_string()),
        "{keywords:?}"
    );
    let top = labels("st");
    assert!(top.contains(&"state".to_string()) && !top.contains(&"ask".to_string()), "{top:?}");
    client.stop();
}

#[test]
fn formatting_matches_fmt_and_the_outline_lists_the_file() {
    let (_dir, main, _talk) = bots();
    let mut client = Client::start(root_of(&main));
    let messy = MAIN
        .replace("  when track\n", "  when   track\n")
        .replace("state menu\n", "state    menu\n");
    std::fs::write(&main, &messy).expect("write");
    client.open(&main, &messy);
    let answer = client.request("textDocument/formatting", json!({"textDocument": {"uri": uri(&main)}, "options": {"tabSize": 2, "insertSpaces": true}}));
    let edits = answer["result"].as_array().expect("edits");
    let formatted = apply(&messy, edits);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_botrun"))
        .args(["fmt"])
        .arg(&main)
        .output()
        .expect("fmt");
    assert!(status.status.success());
    assert_eq!(formatted, std::fs::read_to_string(&main).expect("read"));
    let answer =
        client.request("textDocument/documentSymbol", json!({"textDocument": {"uri": uri(&main)}}));
    let names: Vec<&str> = answer["result"]
        .as_array()
        .expect("symbols")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, vec!["use common/talk.bot", "bot Shop", "track", "on start", "menu"]);
    let menu = &answer["result"][4]["children"];
    assert_eq!(menu[0]["name"], "when track");
    client.stop();
}

#[test]
fn unknown_requests_get_an_error_and_the_server_keeps_going() {
    let (_dir, main, _talk) = bots();
    let mut client = Client::start(root_of(&main));
    let answer =
        client.request("textDocument/codeLens", json!({"textDocument": {"uri": uri(&main)}}));
    assert_eq!(answer["error"]["code"], -32601);
    let answer = client.request("textDocument/hover", json!({"nonsense": true}));
    assert_eq!(answer["error"]["code"], -32602);
    client.open(&main, "state\n\u{0}");
    client.diagnostics_for(&main, |d| !d.is_empty());
    client.stop();
}
