//! Small repairs for a line that does not parse: the habits of people who have written code or
//! other bot tools (`=` and `==`, `&&`, a `:` at the end of a line), a filler word (`go to menu`),
//! a missing keyword (`handoff "…"` without `note`) and a name written with spaces. A repair is
//! only offered when the repaired line parses, so the help always shows a line that works.

/// One token of a line: a word, an operator or a whole quoted text.
#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

fn tokens(line: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
        } else {
            while i < bytes.len() && bytes[i] != b' ' {
                i += 1;
            }
        }
        out.push(Token { text: &line[start..i], start, end: i });
    }
    out
}

/// What was wrong and how it was fixed; the message names the problem in the author's words.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Repair {
    /// Byte range in the line the message points at.
    pub at: (usize, usize),
    pub message: String,
    pub label: String,
    /// The whole line, repaired.
    pub fixed: String,
    /// Extra advice after "write `…`", when there is some.
    pub note: Option<&'static str>,
}

/// Words that people put between a keyword and a name, which the language does not use.
const FILLERS: &[&str] = &["to", "the", "a", "an", "state", "intent", "list", "calendar", "into"];

/// Operators from programming languages and what the language writes instead.
fn operator_word(op: &str, first_word: &str) -> Option<&'static str> {
    Some(match op {
        "=" if first_word == "set" => "to",
        ":=" | "<-" => "to",
        "=" | "==" | "===" => "is",
        "!=" | "<>" | "!==" | "=/=" | "≠" => "is not",
        "&&" | "&" => "and",
        "||" => "or",
        "!" => "not",
        "=<" | "≤" => "<=",
        "=>" | "≥" => ">=",
        _ => return None,
    })
}

fn operator_message(op: &str, word: &str) -> String {
    match word {
        "to" => format!("`set` puts `to` between the name and the value, not `{op}`"),
        "is" => format!("a condition compares with `is`, not `{op}`"),
        "is not" => format!("a condition says `is not`, not `{op}`"),
        "and" | "or" | "not" => {
            format!("conditions are joined with the words `and`, `or` and `not`, not `{op}`")
        }
        _ => format!("write `{word}` instead of `{op}`"),
    }
}

fn rebuild(line: &str, edits: &[(usize, usize, String)]) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut last = 0;
    for (start, end, text) in edits {
        out.push_str(&line[last..*start]);
        out.push_str(text);
        last = *end;
    }
    out.push_str(&line[last..]);
    out
}

fn is_word(text: &str) -> bool {
    text.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// The first repair that makes `line` parse, given the position the parser stopped at and the
/// keywords it expected there.
pub(super) fn suggest(
    line: &str,
    stop: usize,
    expected: &[String],
    parses: &dyn Fn(&str) -> bool,
) -> Option<Repair> {
    let toks = tokens(line);
    let first_word = toks.first().map_or("", |t| t.text);
    // The token the parser stopped in (or the next one), and the one before it.
    let here = toks.iter().position(|t| t.end > stop).unwrap_or(toks.len());

    // 1. Operators from programming languages, all at once (a line may have several).
    let ops: Vec<(Token<'_>, &str)> =
        toks.iter().filter_map(|t| operator_word(t.text, first_word).map(|w| (*t, w))).collect();
    if let Some((op, word)) = ops.first() {
        let edits: Vec<_> = ops.iter().map(|(t, w)| (t.start, t.end, (*w).to_string())).collect();
        let fixed = rebuild(line, &edits);
        if parses(&fixed) {
            return Some(Repair {
                at: (op.start, op.end),
                message: operator_message(op.text, word),
                label: format!("write `{word}` here"),
                fixed,
                note: None,
            });
        }
    }

    // 2. A `:` at the end of a word, as in YAML or Python.
    if let Some(colon) = toks.iter().find(|t| t.text.len() > 1 && t.text.ends_with(':')) {
        let fixed = rebuild(line, &[(colon.end - 1, colon.end, String::new())]);
        if parses(&fixed) {
            return Some(Repair {
                at: (colon.end - 1, colon.end),
                message: "a line does not end with `:` in a .bot file".into(),
                label: "remove this `:`".into(),
                fixed,
                note: Some("the lines indented under a line belong to it without a colon"),
            });
        }
    }

    // 3. A filler word between a keyword and a name (`go to menu`).
    for index in [here.saturating_sub(1), here] {
        let Some(filler) = toks.get(index).filter(|t| index > 0 && FILLERS.contains(&t.text))
        else {
            continue;
        };
        let end = toks.get(index + 1).map_or(filler.end, |next| next.start);
        let fixed = rebuild(line, &[(filler.start, end, String::new())]);
        if parses(&fixed) {
            return Some(Repair {
                at: (filler.start, filler.end),
                message: format!(
                    "`{first_word}` is followed directly by the name; `{}` is one word too many",
                    filler.text
                ),
                label: "not needed".into(),
                fixed,
                note: None,
            });
        }
    }

    // 4. A missing keyword the parser expected here (`handoff note "…"`, `ask x as digits`).
    if let Some(token) = toks.get(here) {
        for word in expected.iter().filter(|w| is_word(w)) {
            let fixed = rebuild(line, &[(token.start, token.start, format!("{word} "))]);
            if parses(&fixed) {
                let what = if token.text.starts_with('"') {
                    "the text".to_string()
                } else {
                    format!("`{}`", token.text)
                };
                return Some(Repair {
                    at: (token.start, token.end),
                    message: format!("`{first_word}` needs the word `{word}` before {what}"),
                    label: format!("`{word}` goes before this"),
                    fixed,
                    note: hint(first_word, word),
                });
            }
        }
    }

    // 5. A name written as several words (`state main menu`).
    if here >= 2 && toks[here - 1..].iter().all(|t| is_word(t.text)) && here < toks.len() {
        let name = toks[here - 1..].iter().map(|t| t.text).collect::<Vec<_>>().join("_");
        let start = toks[here - 1].start;
        let fixed = rebuild(line, &[(start, line.len(), name)]);
        if parses(&fixed) {
            return Some(Repair {
                at: (start, line.len()),
                message: "a name cannot contain spaces".into(),
                label: "one name written as several words".into(),
                fixed,
                note: Some("join the words with `_` or `-`, and write the name the same way wherever it is used"),
            });
        }
    }
    None
}

/// Advice for a keyword that is easy to misread.
fn hint(keyword: &str, inserted: &str) -> Option<&'static str> {
    match (keyword, inserted) {
        ("handoff", "note") => Some("the note is private, for the agent; to tell the customer something, `say` it before the `handoff`"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(good: &'static [&'static str]) -> impl Fn(&str) -> bool {
        move |line: &str| good.contains(&line)
    }

    #[test]
    fn repairs_only_into_lines_that_parse() {
        let r = suggest("set size = \"small\"", 9, &[], &accepts(&["set size to \"small\""]))
            .expect("repair");
        assert_eq!(r.fixed, "set size to \"small\"");
        let r = suggest("go to menu", 6, &[], &accepts(&["go menu"])).expect("repair");
        assert_eq!((r.fixed.as_str(), r.at), ("go menu", (3, 5)));
        let r = suggest("handoff \"x\"", 8, &["note".into()], &accepts(&["handoff note \"x\""]))
            .expect("repair");
        assert!(r.note.is_some());
        let r =
            suggest("state main menu", 11, &[], &accepts(&["state main_menu"])).expect("repair");
        assert_eq!(r.message, "a name cannot contain spaces");
        let r = suggest("state menu:", 10, &[], &accepts(&["state menu"])).expect("repair");
        assert_eq!(r.at, (10, 11));
        assert_eq!(suggest("go to menu", 6, &[], &accepts(&[])), None);
    }
}
