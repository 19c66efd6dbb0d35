//! Bracket problems inside quoted texts: an optional part `[…`, a choice `(…` or a capture or
//! placeholder `{…` that is never closed, a closer that closes nothing, and `|` choices outside
//! parentheses (`[today|tonight]`). The grammar only sees "expected something at the closing
//! quote", which would read as an unclosed quote; this names the bracket instead.

/// A bracket problem: where (byte offset in the line), the message and the fix.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Problem {
    pub at: usize,
    pub len: usize,
    pub message: String,
    pub label: String,
    pub help: String,
}

/// Which brackets a text may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Texts {
    /// Example phrases: `[optional]`, `(a|b)`, `{capture}`.
    Phrases,
    /// Messages: `{placeholder}` only.
    Messages,
}

/// The first bracket problem in the line's straight-quoted texts.
pub(super) fn first_problem(line: &str, texts: Texts) -> Option<Problem> {
    let mut start = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (c, start) {
            ('\\', Some(_)) => escaped = true,
            ('"', None) => start = Some(i + 1),
            ('"', Some(s)) => {
                if let Some(p) = in_text(&line[s..i], s, texts) {
                    return Some(p);
                }
                start = None;
            }
            _ => {}
        }
    }
    None
}

fn closer(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

fn unclosed_help(open: char, texts: Texts) -> &'static str {
    match (open, texts) {
        ('[', _) => "close the optional words with `]`, as in `\"track [my] order\"`",
        ('(', _) => "close the choices with `)`, as in `\"good (morning|evening)\"`",
        (_, Texts::Phrases) => "close the capture with `}`, as in `\"order {number:digits}\"`",
        (_, Texts::Messages) => {
            "close the placeholder with `}`, as in `\"Hi {name}\"`, or write `\\{` for a brace shown as it is"
        }
    }
}

fn in_text(text: &str, offset: usize, texts: Texts) -> Option<Problem> {
    let opens: &[char] = if texts == Texts::Phrases { &['(', '[', '{'] } else { &['{'] };
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        let at = offset + i;
        if c == '\\' {
            escaped = true;
        } else if opens.contains(&c) {
            stack.push((c, at));
        } else if opens.iter().any(|o| closer(*o) == c) {
            match stack.pop() {
                Some((open, _)) if closer(open) == c => {}
                Some((open, open_at)) => {
                    return Some(Problem {
                        at,
                        len: 1,
                        message: format!("this `{c}` does not match the `{open}` before it"),
                        label: format!("expected `{}` here", closer(open)),
                        help: format!(
                            "the `{open}` at column {} is closed with `{}`",
                            open_at + 1,
                            closer(open)
                        ),
                    });
                }
                None => {
                    return Some(Problem {
                        at,
                        len: 1,
                        message: format!("this `{c}` closes nothing"),
                        label: "no opening bracket before it".into(),
                        help: format!("remove it, or add the opening bracket it belongs to (write `\\{c}` for the character itself)"),
                    });
                }
            }
        } else if c == '|' && texts == Texts::Phrases {
            match stack.last() {
                Some(('(', _)) => {}
                Some(('[', open_at)) => {
                    let inner_start = open_at + 1 - offset;
                    let inner_end = matching_close(text, inner_start).unwrap_or(text.len());
                    let inner = &text[inner_start..inner_end];
                    return Some(Problem {
                        at,
                        len: 1,
                        message: "choices inside `[ ]` need their own parentheses".into(),
                        label: "a choice directly inside `[ ]`".into(),
                        help: format!("write `[({inner})]`: the brackets make it optional, the parentheses hold the choices"),
                    });
                }
                _ => {
                    return Some(Problem {
                        at,
                        len: 1,
                        message: "choices separated by `|` go in parentheses".into(),
                        label: "a choice outside `( )`".into(),
                        help: "write `\"good (morning|evening)\"`, or make each choice its own phrase: `\"yes\", \"yeah\"`".into(),
                    });
                }
            }
        }
    }
    stack.pop().map(|(open, at)| Problem {
        at,
        len: 1,
        message: format!("this `{open}` is never closed"),
        label: "opened here".into(),
        help: unclosed_help(open, texts).into(),
    })
}

/// Where the bracket opened just before `from` closes (byte index in `text`).
fn matching_close(text: &str, from: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text[from..].char_indices() {
        match c {
            '[' | '(' | '{' => depth += 1,
            ']' | ')' | '}' if depth == 0 => return Some(from + i),
            ']' | ')' | '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_bracket_not_the_quote() {
        let p = first_problem("\"track [my order\"", Texts::Phrases).expect("problem");
        assert_eq!((p.at, p.message.as_str()), (7, "this `[` is never closed"));
        let p = first_problem("\"open [today|tonight]\"", Texts::Phrases).expect("problem");
        assert!(p.help.contains("[(today|tonight)]"), "{}", p.help);
        let p = first_problem("\"a (b]\"", Texts::Phrases).expect("problem");
        assert_eq!(p.at, 5);
        assert_eq!(first_problem("\"a (b|c) [d] {e:digits} \\[\"", Texts::Phrases), None);
        assert_eq!(first_problem("\"a [b\"", Texts::Messages), None);
        let p = first_problem("say \"Hi {name\"", Texts::Messages).expect("problem");
        assert_eq!(p.at, 8);
    }
}
