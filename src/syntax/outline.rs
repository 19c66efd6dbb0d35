//! The outline pass: splits a file into lines, strips `#` comments, checks indentation (no tabs,
//! dedents that land on an open block) and builds the tree of lines that blocks are made of.
//! Runs before pest, so nesting depth is bounded and pest never recurses on indentation.

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};

use super::ast::Comment;

/// Deepest indentation accepted; deeper files get `botrun::too_deep`.
pub(crate) const MAX_DEPTH: usize = 48;

/// One non-blank line and the lines indented under it.
#[derive(Debug)]
pub struct Line {
    /// The content without indentation, comment or trailing spaces.
    pub span: Span,
    /// Column (0-based, in bytes = spaces) where the content starts.
    pub indent: usize,
    pub children: Vec<Line>,
}

/// Lines at the top level, every comment, and indentation problems.
#[derive(Debug, Default)]
pub(crate) struct Outline {
    pub lines: Vec<Line>,
    pub comments: Vec<Comment>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Builds the outline of `text`.
pub(crate) fn outline(file: FileId, text: &str) -> Outline {
    let mut out = Outline::default();
    // Stack of open blocks: (indent of their lines, lines collected so far).
    let mut stack: Vec<(usize, Vec<Line>)> = vec![(0, Vec::new())];
    // A byte-order mark (which some Windows editors write) is not part of the first line.
    let mut offset = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let mut too_deep_at: Option<usize> = None;
    for raw in text[offset..].split_inclusive('\n') {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let (content_end, comment) = split_comment(line);
        if let Some(hash) = comment {
            out.comments.push(Comment {
                text: line[hash + 1..].trim_end().to_string(),
                span: Span::new(file, line_start + hash, line_start + line.trim_end().len()),
            });
        }
        let content = line[..content_end].trim_end();
        if content.len() <= indent {
            continue; // blank or comment-only
        }
        if let Some(tab) = line[..indent].find('\t') {
            out.diagnostics.push(
                Diagnostic::error("botrun::tab_indent", "a tab is used for indentation")
                    .at(Span::new(file, line_start + tab, line_start + tab + 1), "tab here")
                    .with_help("indent with spaces only: two spaces per level is the usual form (`botrun fmt` rewrites a file that way)"),
            );
            continue;
        }
        let span = Span::new(file, line_start + indent, line_start + content.len());
        if too_deep_at.is_some_and(|limit| indent >= limit) {
            continue; // already reported: one message for the whole over-deep run of lines
        }
        too_deep_at = None;
        if let Err(diagnostic) = place(&mut stack, Line { span, indent, children: Vec::new() }) {
            if diagnostic.code == "botrun::too_deep" {
                too_deep_at = Some(indent);
            }
            out.diagnostics.push(diagnostic);
        }
    }
    while stack.len() > 1 {
        close_block(&mut stack);
    }
    out.lines = stack.pop().map(|(_, lines)| lines).unwrap_or_default();
    out
}

/// Puts `line` in the right block: deeper than the open block → child of the previous line;
/// shallower → closes blocks until one matches, or reports a dedent that matches none.
fn place(stack: &mut Vec<(usize, Vec<Line>)>, line: Line) -> Result<(), Diagnostic> {
    loop {
        let Some(&(open_indent, ref lines)) = stack.last() else {
            return Ok(());
        };
        if line.indent == open_indent {
            if let Some(top) = stack.last_mut() {
                top.1.push(line);
            }
            return Ok(());
        }
        if line.indent > open_indent {
            if lines.is_empty() {
                // Indented first line of the file: treat it as the top level's indentation.
                if let Some(top) = stack.last_mut() {
                    top.0 = line.indent;
                    top.1.push(line);
                }
                return Ok(());
            }
            if stack.len() > MAX_DEPTH {
                return Err(Diagnostic::error(
                    "botrun::too_deep",
                    "this line is nested too deeply",
                )
                .at(line.span, format!("more than {MAX_DEPTH} levels deep"))
                .with_help(
                    "split the block: move part of it into its own `state` and `go` there",
                ));
            }
            stack.push((line.indent, vec![line]));
            return Ok(());
        }
        // Dedent: the line must line up with an enclosing block.
        if stack.len() == 1 || stack.iter().all(|(indent, _)| *indent != line.indent) {
            let columns: Vec<String> =
                stack.iter().map(|(indent, _)| (indent + 1).to_string()).collect();
            let expected = columns.join(", ");
            return Err(Diagnostic::error(
                "botrun::bad_indent",
                "this line's indentation does not match any block above it",
            )
            .at(
                Span::new(line.span.file, line.span.start - line.indent, line.span.start),
                format!("starts at column {}", line.indent + 1),
            )
            .with_help(format!(
                "start the line at one of the columns the blocks above use: {expected} (`botrun fmt` moves it to the nearest one)"
            )));
        }
        close_block(stack);
    }
}

fn close_block(stack: &mut Vec<(usize, Vec<Line>)>) {
    if let Some((_, children)) = stack.pop() {
        if let Some(parent) = stack.last_mut().and_then(|(_, lines)| lines.last_mut()) {
            parent.children = children;
        }
    }
}

/// Characters that may make up a line's indentation in a file `botrun fmt` repairs: spaces, tabs,
/// and the non-breaking space that text pasted from a word processor, a web page or a chat brings.
const INDENT_CHARS: [char; 3] = [' ', '\t', '\u{a0}'];

/// The text with its indentation repaired, for `botrun fmt`: a tab counts as one level (the width
/// of the file's narrowest space indentation, 2 when there is none), a non-breaking space as a
/// space, a line deeper than the one above by less than a level lines up with it, and a line that
/// lines up with no open block moves to the nearest one (the deeper one on a tie, as the line
/// usually continues the block above it). `None` when nothing needed repair.
pub(crate) fn reindent(text: &str) -> Option<String> {
    let leading = |line: &str| line.len() - line.trim_start_matches(INDENT_CHARS).len();
    let unit = text
        .lines()
        .filter(|l| split_comment(l).0 > leading(l))
        .map(|l| &l[..leading(l)])
        .filter(|ws| !ws.is_empty() && !ws.contains('\t'))
        .map(|ws| ws.chars().count())
        .min()
        .unwrap_or(2);
    let width = |ws: &str| ws.chars().map(|c| if c == '\t' { unit } else { 1 }).sum::<usize>();
    let mut open: Vec<usize> = vec![0];
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    for raw in text.split_inclusive('\n') {
        let line = raw.trim_end_matches(['\n', '\r']);
        let ws = &line[..leading(line)];
        let mut column = width(ws);
        if split_comment(line).0 > ws.len() {
            let top = open.last().copied().unwrap_or(0);
            if column > top && column - top < unit {
                // Deeper than the line above by less than a level: a slip, not a new block.
                column = top;
            } else if column > top {
                open.push(column);
            } else if !open.contains(&column) {
                let nearest = open
                    .iter()
                    .copied()
                    .min_by_key(|c| (c.abs_diff(column), usize::MAX - c))
                    .unwrap_or(0);
                column = nearest;
            }
            while open.last().is_some_and(|top| *top > column) {
                open.pop();
            }
        }
        if ws.contains(['\t', '\u{a0}']) || column != ws.len() {
            changed = true;
        }
        out.push_str(&" ".repeat(column));
        out.push_str(&raw[ws.len()..]);
    }
    changed.then_some(out)
}

/// Finds a `#` comment outside quotes and `/regex/`; returns where the content ends and, if there
/// is one, the byte index of the `#`.
fn split_comment(line: &str) -> (usize, Option<usize>) {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut previous = b' ';
    while i < bytes.len() {
        match bytes[i] {
            b'#' => return (i, Some(i)),
            quote @ (b'"' | b'/') if quote == b'"' || matches!(previous, b' ' | b',') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        previous = bytes.get(i).copied().unwrap_or(b' ');
        i += 1;
    }
    (line.len(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(lines: &[Line], text: &str) -> String {
        lines
            .iter()
            .map(|l| {
                let inner = shape(&l.children, text);
                let own = &text[l.span.start..l.span.end];
                if inner.is_empty() {
                    own.to_string()
                } else {
                    format!("{own}[{inner}]")
                }
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn builds_nested_blocks_and_keeps_comments() {
        let text = "a # one\n  b\n    c\n\n  d\ne\n# last\n";
        let out = outline(FileId(0), text);
        assert!(out.diagnostics.is_empty());
        assert_eq!(shape(&out.lines, text), "a[b[c];d];e");
        assert_eq!(out.comments.len(), 2);
        assert_eq!(out.comments[0].text, " one");
    }

    #[test]
    fn hash_inside_quotes_or_regex_is_not_a_comment() {
        assert_eq!(split_comment(r##"say "#1 \" # fan" # c"##), (18, Some(18)));
        assert_eq!(split_comment("/order #?(\\d+)/ # c"), (16, Some(16)));
        assert_eq!(split_comment("ask x as yes/no # c"), (16, Some(16)));
    }

    #[test]
    fn reports_tabs_and_stray_dedents() {
        let out = outline(FileId(0), "a\n\tb\nc\n    d\n  e\n");
        let codes: Vec<_> = out.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["botrun::tab_indent", "botrun::bad_indent"]);
    }

    #[test]
    fn reindent_turns_tabs_into_levels_and_snaps_stray_lines() {
        let text = "state menu\n\twhen yes\n    say \"a\"\n   say \"b\"\n  otherwise\n";
        let fixed = reindent(text).expect("changed");
        assert_eq!(fixed, "state menu\n  when yes\n    say \"a\"\n    say \"b\"\n  otherwise\n");
        assert!(outline(FileId(0), &fixed).diagnostics.is_empty());
        assert_eq!(reindent("a\n  b\n"), None);
    }

    #[test]
    fn reindent_turns_non_breaking_spaces_into_spaces() {
        let text = "on start\n\u{a0}\u{a0}say \"hi\"\n\u{a0} say \"there\"\n";
        let fixed = reindent(text).expect("changed");
        assert_eq!(fixed, "on start\n  say \"hi\"\n  say \"there\"\n");
        assert!(outline(FileId(0), &fixed).diagnostics.is_empty());
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let text: String = (0..200).map(|i| " ".repeat(i) + "x\n").collect();
        let out = outline(FileId(0), &text);
        assert_eq!(out.diagnostics.len(), 1);
        assert_eq!(out.diagnostics[0].code, "botrun::too_deep");
    }
}
