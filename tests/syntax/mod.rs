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
