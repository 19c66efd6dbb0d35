//! Every example in the language reference (`grammar/README.md`), the docs (`docs/*.md`) and the
//! README is checked, so the reference cannot drift from the language again.
//!
//! The convention: a fenced block marked ```` ```bot ```` is a `.bot` example. One with a `bot`
//! line and an `on start` is a whole bot and must validate without errors. Any other is a fragment: top-level items
//! (`intent`, `state`, `hours`…) are checked as a library; statements (`say`, `ask`, `if`…) are
//! checked inside an `on start` of a library. Fragments may name states, intents and variables
//! they do not declare (a library may too), but everything else is checked: syntax, types,
//! timers, dates, regexes, limits. In the reference every fenced block must say what it is.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use botrun::check::report::{render_human, Style};
use botrun::check::{check, Bundle, CheckOptions};
use botrun::source::{FileId, SourceFile};

/// One example: where it starts (`file:line`) and its text.
#[derive(Clone)]
struct Example {
    at: String,
    language: String,
    text: String,
}

fn fenced_blocks(path: &Path) -> Vec<Example> {
    let text = std::fs::read_to_string(path).expect("doc readable");
    let mut out = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match (&mut open, trimmed.strip_prefix("```")) {
            (None, Some(language)) => {
                open = Some((index + 1, language.trim().into(), String::new()))
            }
            (Some(_), Some(_)) => {
                let (line, language, text) = open.take().expect("open block");
                out.push(Example { at: format!("{}:{line}", path.display()), language, text });
            }
            (Some((_, _, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir("docs")
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    docs.insert(0, PathBuf::from("grammar/README.md"));
    docs.push(PathBuf::from("README.md"));
    docs
}

const TOP_LEVEL: &[&str] = &["bot", "use", "hours", "list", "intent", "on", "anytime", "state"];

/// The example as a file to check, and whether it is a library (a fragment).
fn as_file(example: &str) -> (String, bool) {
    let first = example
        .lines()
        .map(str::trim_end)
        .find(|l| !l.is_empty() && !l.trim_start().starts_with('#'))
        .unwrap_or("");
    let word = first.split([' ', '"']).next().unwrap_or("");
    let top_level = !first.starts_with(' ') && TOP_LEVEL.contains(&word);
    let whole_bot = example.lines().any(|l| l.starts_with("bot "))
        && example.lines().any(|l| l.starts_with("on start"));
    if top_level {
        (example.to_string(), !whole_bot)
    } else {
        let indented: String = example
            .lines()
            .map(|l| if l.is_empty() { "\n".to_string() } else { format!("  {l}\n") })
            .collect();
        (format!("on start\n{indented}"), true)
    }
}

/// Problems a fragment may have because it is only a piece of a bot.
const FRAGMENT_ONLY: &[&str] = &[
    "botrun::unknown_state",
    "botrun::unknown_intent",
    "botrun::unknown_list",
    "botrun::unknown_calendar",
    "botrun::unknown_variable",
    "botrun::unreachable_state",
    "botrun::unused_intent",
    "botrun::dead_end",
];

fn problems(example: &Example) -> Option<String> {
    let (text, library) = as_file(&example.text);
    let source = SourceFile::new(FileId(0), format!("{} (example)", example.at), text.as_str());
    let style = Style { colour: false, width: 100 };
    let file = match botrun::syntax::parse(&source) {
        Ok(file) => file,
        Err(diagnostics) => {
            return Some(render_human(&diagnostics, std::slice::from_ref(&source), style))
        }
    };
    let bundle =
        Bundle { entry: FileId(0), file: Arc::new(file), members: vec![FileId(0)], library };
    let errors: Vec<_> = check(&bundle, &CheckOptions::default())
        .into_iter()
        .filter(|d| d.is_error() && !(library && FRAGMENT_ONLY.contains(&d.code)))
        .collect();
    (!errors.is_empty()).then(|| render_human(&errors, std::slice::from_ref(&source), style))
}

/// The examples in the reference's tables: the `Example` column of the phrase table (each is
/// checked as a phrase of an intent) and of the statement table (checked as a statement).
fn table_examples(path: &Path) -> Vec<Example> {
    let text = std::fs::read_to_string(path).expect("doc readable");
    let mut out = Vec::new();
    let mut heading = "";
    let mut column: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        if let Some(h) = line.strip_prefix("## ") {
            heading = h;
            column = None;
            continue;
        }
        if !line.starts_with('|') {
            column = None;
            continue;
        }
        // Cells, with `\|` (a `|` inside a cell) kept inside its cell.
        let cells: Vec<String> = line
            .replace("\\|", "\u{1}")
            .split('|')
            .map(|c| c.trim().replace('\u{1}', "|"))
            .collect();
        let Some(col) = column else {
            column = cells.iter().position(|c| c == "Example");
            continue;
        };
        let Some(cell) = cells.get(col) else { continue };
        let Some(code) = cell.strip_prefix('`').and_then(|c| c.strip_suffix('`')) else { continue };
        let text = match heading {
            "Intents and phrases" => format!("intent example\n  {code}\n"),
            "Statements" => format!("{code}\n"),
            _ => continue,
        };
        out.push(Example {
            at: format!("{}:{}", path.display(), index + 1),
            language: "bot".into(),
            text,
        });
    }
    out
}

#[test]
fn every_bot_example_in_the_reference_and_the_docs_is_valid() {
    let mut checked = 0;
    let mut failures = Vec::new();
    let tables = table_examples(Path::new("grammar/README.md"));
    assert!(tables.len() >= 12, "only {} table examples found", tables.len());
    for doc in documents() {
        let fenced = fenced_blocks(&doc).into_iter().filter(|e| e.language == "bot");
        let from_tables =
            if doc == Path::new("grammar/README.md") { tables.clone() } else { Vec::new() };
        for example in fenced.chain(from_tables) {
            checked += 1;
            if let Some(report) = problems(&example) {
                failures.push(format!("{}:\n{}\n{report}", example.at, example.text));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} example(s) do not validate:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The reference alone has dozens of examples: finding few means the convention broke.
    assert!(checked >= 25, "only {checked} `bot` examples found");
}

#[test]
fn every_block_in_the_reference_says_what_it_is() {
    let unlabelled: Vec<String> = fenced_blocks(Path::new("grammar/README.md"))
        .into_iter()
        .filter(|e| e.language.is_empty())
        .map(|e| e.at)
        .collect();
    assert!(unlabelled.is_empty(), "mark these blocks ```bot (or ```text): {unlabelled:?}");
}

#[test]
fn a_broken_example_is_caught() {
    let bad = Example {
        at: "x.md:1".into(),
        language: "bot".into(),
        text: "say \"{\\\"id\\\": 1}\"\n".into(),
    };
    assert!(problems(&bad).is_some());
    let good = Example {
        at: "x.md:1".into(),
        language: "bot".into(),
        text: "say \"hi\"\ngo menu\n".into(),
    };
    assert_eq!(problems(&good), None);
}
