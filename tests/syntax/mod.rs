//! Integration tests: `syntax` — the parser on real files and on hostile input.

use botrun::source::{FileId, SourceFile};
use botrun::syntax::{ast, parse};

pub fn parse_text(text: &str) -> Result<ast::File, Vec<botrun::diagnostic::Diagnostic>> {
    parse(&SourceFile::new(FileId(0), "test.bot", text))
}

#[test]
fn the_language_md_example_parses() {
    let text = include_str!("examples/language_md.bot");
    let file = match parse_text(text) {
        Ok(file) => file,
        Err(diagnostics) => panic!("{diagnostics:#?}"),
    };
    assert_eq!(file.items.len(), 14);
    let states: Vec<_> = file
        .items
        .iter()
        .filter_map(|i| match i {
            ast::Item::State(s) => Some(s.name.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(states, ["menu", "tracking"]);
}

use botrun::check::{check, CheckOptions, Workspace};
use botrun::syntax::print::format;
use proptest::prelude::*;

/// Parses, checks and formats `text`; the point is that none of it panics. When the text
/// parses, formatting must be idempotent and keep the tree.
fn exercise(text: &str) {
    let source = SourceFile::new(FileId(0), "prop.bot", text);
    let Ok(file) = parse(&source) else { return };
    let bundle = botrun::check::Bundle {
        entry: FileId(0),
        file: std::sync::Arc::new(file.clone()),
        members: vec![FileId(0)],
        library: false,
    };
    let _ = check(&bundle, &CheckOptions::default());
    let once = format(&file, text);
    let reparsed = parse_text(&once)
        .unwrap_or_else(|d| panic!("formatted text does not parse: {d:?}\n{once}"));
    assert_eq!(reparsed, file, "formatting changed the tree:\n{once}");
    assert_eq!(format(&reparsed, &once), once, "formatting is not idempotent");
}

fn example_texts() -> Vec<String> {
    let mut workspace = Workspace::default();
    let mut texts = vec![include_str!("examples/language_md.bot").to_string()];
    for path in botrun::check::find_bot_files(&["bots".into()]).expect("bots") {
        let id = workspace.load_file(&path).expect("readable");
        texts.push(workspace.source(id).expect("source").text.to_string());
    }
    texts
}

#[test]
fn formatting_examples_is_idempotent_and_keeps_the_tree() {
    for text in example_texts() {
        exercise(&text);
        assert!(parse_text(&text).is_ok());
    }
}

#[test]
fn hostile_inputs_get_diagnostics_not_panics() {
    let long_line = format!("say \"{}\"", "a".repeat(10 * 1024 * 1024));
    let deep_parens = format!("intent x\n  \"{}\"\n", "(".repeat(100_000));
    let binary: String = (0u8..=255).map(char::from).collect();
    for text in
        [String::new(), "\n\n\n".into(), long_line, deep_parens, binary, "\u{feff}bot \"x\"".into()]
    {
        let result = parse_text(&text);
        exercise(&text);
        if let Err(diagnostics) = result {
            assert!(!diagnostics.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        exercise(&text);
    }

    #[test]
    fn bot_like_text_never_panics(text in "([a-z\"{}()\\[\\]|@*/#:,. \\n]|  |say |ask |go |when |state |intent |if |else|otherwise|after |timeout |fetch ){0,80}") {
        exercise(&text);
    }

    #[test]
    fn mutated_examples_never_panic(index in 0usize..5, cut in 0usize..4000, len in 0usize..40, insert in "\\PC{0,5}") {
        let texts = example_texts();
        let text = &texts[index % texts.len()];
        let mut start = cut.min(text.len());
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        let mutated = format!("{}{}{}", &text[..start], insert, &text[end..]);
        exercise(&mutated);
    }
}

/// Cases the property tests found, kept as plain tests so they run on every machine.
#[test]
fn mutations_the_property_tests_found_format_to_text_that_parses() {
    let text = include_str!("examples/language_md.bot");
    for (cut, len, insert) in [(591, 25, "\\"), (2158, 34, "\"")] {
        let start = cut.min(text.len());
        let end = (start + len).min(text.len());
        exercise(&format!("{}{insert}{}", &text[..start], &text[end..]));
    }
}
