//! Characters that look like the ones the language uses but are not: non-breaking and other
//! Unicode spaces, invisible joiners, curly quotes and long dashes. They arrive when a bot is
//! pasted from a word processor, a web page or a chat, and the author cannot see what is wrong,
//! so a syntax error caused by one names the character and its plain replacement.

/// A character the author probably did not mean, and what they meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Lookalike {
    pub ch: char,
    /// The character in words ("a non-breaking space").
    pub name: &'static str,
    /// What to type instead; empty when the character should simply go.
    pub plain: &'static str,
    /// Whether it shows on screen (invisible ones are named with their code point).
    pub visible: bool,
}

const fn invisible(ch: char, name: &'static str, plain: &'static str) -> Lookalike {
    Lookalike { ch, name, plain, visible: false }
}

const fn visible(ch: char, name: &'static str, plain: &'static str) -> Lookalike {
    Lookalike { ch, name, plain, visible: true }
}

const TABLE: &[Lookalike] = &[
    invisible('\u{00A0}', "a non-breaking space", " "),
    invisible('\u{202F}', "a narrow non-breaking space", " "),
    invisible('\u{2007}', "a figure space", " "),
    invisible('\u{2002}', "an en space", " "),
    invisible('\u{2003}', "an em space", " "),
    invisible('\u{2009}', "a thin space", " "),
    invisible('\u{200A}', "a hair space", " "),
    invisible('\u{3000}', "an ideographic space", " "),
    invisible('\u{200B}', "a zero-width space", ""),
    invisible('\u{200C}', "a zero-width non-joiner", ""),
    invisible('\u{200D}', "a zero-width joiner", ""),
    invisible('\u{2060}', "a word joiner", ""),
    invisible('\u{FEFF}', "a byte-order mark", ""),
    invisible('\u{00AD}', "a soft hyphen", ""),
    visible('\u{201C}', "a curly opening quote", "\""),
    visible('\u{201D}', "a curly closing quote", "\""),
    visible('\u{201E}', "a low curly quote", "\""),
    visible('\u{00AB}', "a guillemet", "\""),
    visible('\u{00BB}', "a guillemet", "\""),
    visible('\u{FF02}', "a full-width quote", "\""),
    visible('\u{2018}', "a curly single quote", "'"),
    visible('\u{2019}', "a curly single quote", "'"),
    visible('\u{2013}', "an en dash", "-"),
    visible('\u{2014}', "an em dash", "-"),
    visible('\u{2212}', "a minus sign", "-"),
];

pub(super) fn lookup(ch: char) -> Option<Lookalike> {
    TABLE.iter().copied().find(|l| l.ch == ch)
}

/// Whether `ch` stands for a double quote.
fn is_quote_like(ch: char) -> bool {
    lookup(ch).is_some_and(|l| l.plain == "\"")
}

/// A lookalike found outside the line's texts: where it is (byte offset) and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Found {
    pub at: usize,
    pub what: Lookalike,
}

/// The first lookalike outside straight-quoted texts, and the line with every such lookalike
/// replaced by what it stands for. A curly quote counts as a quote: the text between curly
/// quotes is content, so a curly apostrophe inside it is left alone.
pub(super) fn scan(line: &str) -> Option<(Found, String)> {
    let mut first: Option<Found> = None;
    let mut fixed = String::with_capacity(line.len());
    let mut open: Option<char> = None;
    let mut escaped = false;
    for (i, ch) in line.char_indices() {
        let inside = open.is_some();
        if escaped {
            escaped = false;
            fixed.push(ch);
            continue;
        }
        match open {
            Some(_) if ch == '\\' => {
                escaped = true;
                fixed.push(ch);
                continue;
            }
            Some('"') if ch == '"' => open = None,
            Some(o) if o != '"' && is_quote_like(ch) => {
                open = None;
                fixed.push('"');
                continue;
            }
            None if ch == '"' => open = Some('"'),
            None if is_quote_like(ch) => {
                open = Some(ch);
                first.get_or_insert(Found { at: i, what: lookup(ch).unwrap_or(TABLE[0]) });
                fixed.push('"');
                continue;
            }
            _ => {}
        }
        match lookup(ch) {
            Some(what) if !inside => {
                first.get_or_insert(Found { at: i, what });
                fixed.push_str(what.plain);
            }
            _ => fixed.push(ch),
        }
    }
    first.map(|found| (found, fixed))
}

/// Where a straight-quoted text that is never closed contains a curly closing quote (the author
/// typed `"` first and the editor curled the second one).
pub(super) fn curly_close_after(line: &str, open: usize) -> Option<(usize, char)> {
    line.get(open + 1..)?
        .char_indices()
        .find(|(_, c)| is_quote_like(*c))
        .map(|(i, c)| (open + 1 + i, c))
}

/// How to name the character in a message: visible ones with their glyph, invisible ones with
/// their code point.
pub(super) fn describe(what: Lookalike) -> String {
    if what.visible {
        format!("{} `{}`", what.name, what.ch)
    } else {
        format!("{} (U+{:04X})", what.name, u32::from(what.ch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lookalikes_outside_texts_only() {
        let (found, fixed) = scan("say\u{a0}\"it\u{2019}s ok\"").expect("found");
        assert_eq!(found.at, 3);
        assert_eq!(fixed, "say \"it\u{2019}s ok\"");
        let (found, fixed) = scan("say \u{201c}it\u{2019}s\u{201d}").expect("found");
        assert_eq!(found.what.ch, '\u{201c}');
        assert_eq!(fixed, "say \"it\u{2019}s\"");
        assert_eq!(scan("say \"caf\u{e9} \u{2013} ok\""), None);
        let (_, fixed) = scan("mon\u{2013}fri 09:00\u{2013}17:00").expect("found");
        assert_eq!(fixed, "mon-fri 09:00-17:00");
        let (found, fixed) = scan("go me\u{200b}nu").expect("found");
        assert_eq!((found.at, fixed.as_str()), (5, "go menu"));
    }
}
