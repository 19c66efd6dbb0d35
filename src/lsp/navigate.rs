//! Go to definition, find references and rename, all read from the bundle's [`NameIndex`](super::index::NameIndex), so a
//! name used in one file and declared in another (`use`) is found in both.

use std::collections::HashMap;

use lsp_types::{Location, TextEdit, Uri};

use super::analysis::Analysis;
use super::index::{NameKind, Occurrence};
use super::lines::range;
use super::uri::uri_of;

/// Where the name under the cursor is declared (for a variable: every place that sets it).
pub(crate) fn definition(analysis: &Analysis, offset: usize) -> Vec<Location> {
    let Some(at) = analysis.index.at(analysis.target, offset) else { return Vec::new() };
    analysis
        .index
        .all(at.kind, &at.name)
        .filter(|o| o.definition)
        .filter_map(|o| location(analysis, o))
        .collect()
}

/// Every place the name under the cursor is written.
pub(crate) fn references(
    analysis: &Analysis,
    offset: usize,
    with_declaration: bool,
) -> Vec<Location> {
    let Some(at) = analysis.index.at(analysis.target, offset) else { return Vec::new() };
    analysis
        .index
        .all(at.kind, &at.name)
        .filter(|o| with_declaration || !o.definition)
        .filter_map(|o| location(analysis, o))
        .collect()
}

/// Why a rename cannot be done.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum RenameError {
    #[error("only states and intents can be renamed; put the cursor on a state or intent name")]
    NotRenamable,
    #[error("`{0}` is not a valid name: use letters, digits, `_` and `-`, starting with a letter or `_`")]
    InvalidName(String),
    #[error("{kind} `{name}` already exists")]
    Taken { kind: &'static str, name: String },
}

/// The name under the cursor, if it can be renamed: its span in the analysed file.
pub(crate) fn renamable(analysis: &Analysis, offset: usize) -> Result<&Occurrence, RenameError> {
    match analysis.index.at(analysis.target, offset) {
        Some(at) if matches!(at.kind, NameKind::State | NameKind::Intent) => Ok(at),
        _ => Err(RenameError::NotRenamable),
    }
}

// `Uri` caches its parse in a cell, which clippy counts as mutable; keys are never changed, and
// `WorkspaceEdit` wants exactly this map.
#[allow(clippy::mutable_key_type)]
/// The edits, per file, that rename the state or intent under the cursor everywhere it is written.
pub(crate) fn rename(
    analysis: &Analysis,
    offset: usize,
    new_name: &str,
) -> Result<HashMap<Uri, Vec<TextEdit>>, RenameError> {
    let at = renamable(analysis, offset)?;
    if !is_name(new_name) {
        return Err(RenameError::InvalidName(new_name.to_string()));
    }
    if new_name != at.name && analysis.index.all(at.kind, new_name).any(|o| o.definition) {
        return Err(RenameError::Taken { kind: at.kind.word(), name: new_name.to_string() });
    }
    let mut edits: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for occurrence in analysis.index.all(at.kind, &at.name) {
        let Some(source) = analysis.source(occurrence.span.file) else { continue };
        let Some(uri) = uri_of(&source.path) else { continue };
        edits.entry(uri).or_default().push(TextEdit {
            range: range(&source.text, occurrence.span.start, occurrence.span.end),
            new_text: new_name.to_string(),
        });
    }
    Ok(edits)
}

/// The language's rule for names.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

fn location(analysis: &Analysis, occurrence: &Occurrence) -> Option<Location> {
    let source = analysis.source(occurrence.span.file)?;
    Some(Location {
        uri: uri_of(&source.path)?,
        range: range(&source.text, occurrence.span.start, occurrence.span.end),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_the_language_rule() {
        assert!(super::is_name("order_status-2"));
        assert!(super::is_name("_x"));
        assert!(!super::is_name("2x"));
        assert!(!super::is_name("a b"));
        assert!(!super::is_name(""));
    }
}
