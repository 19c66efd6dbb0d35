//! A hand-written reader for the usual phrase line — patterns in quotes, separated by commas — that
//! builds exactly the phrases the pest rule `phrase_line` and its lowering build, at a fraction of
//! the cost (pest calls a dozen rules per character of a word, and phrases are most of the bytes of
//! a large bot). It reads only what it is sure of: a line with a language code, a `/regex/`, a
//! backslash, or anything the grammar would refuse gives `None`, and the line goes through pest,
//! which also words the error. A test compares the two readers on generated lines.

use crate::source::{FileId, Span};

use super::ast::{CaptureType, Ident, Phrase, PhraseKind, PhrasePart, PhrasePartKind};

/// The phrases of one line (`text` without indentation or comment, starting at byte `base` of the
/// file), or `None` when pest must read it.
pub(super) fn phrase_line(text: &str, base: usize, file: FileId) -> Option<Vec<Phrase>> {
    if !text.starts_with('"')
        || text.contains('\\')
        || super::grammar::nesting_too_deep(text).is_some()
    {
        return None;
    }
    let mut scan = Scan { bytes: text.as_bytes(), text, at: 0, base, file };
    let mut phrases = Vec::new();
    loop {
        let start = scan.at;
        let parts = scan.pattern()?;
        phrases.push(Phrase {
            kind: PhraseKind::Pattern(parts),
            language: None,
            span: scan.span(start),
        });
        scan.spaces();
        match scan.peek() {
            None => return Some(phrases),
            Some(b',') => {
                scan.at += 1;
                scan.spaces();
                match scan.peek() {
                    None => return Some(phrases),
                    Some(b'"') => {}
                    Some(_) => return None,
                }
            }
            Some(_) => return None,
        }
    }
}

/// Bytes that end a word (`p_word` in the grammar); all ASCII, so a UTF-8 sequence never ends one.
fn ends_word(byte: u8) -> bool {
    matches!(
        byte,
        b' ' | b'"' | b'\\' | b'(' | b')' | b'|' | b'[' | b']' | b'{' | b'}' | b'*' | b'@'
    )
}

fn is_ident_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

struct Scan<'t> {
    bytes: &'t [u8],
    text: &'t str,
    at: usize,
    base: usize,
    file: FileId,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn span(&self, start: usize) -> Span {
        Span::new(self.file, self.base + start, self.base + self.at)
    }

    /// `o`: optional spaces.
    fn spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.at += 1)
    }

    /// `pattern = "\"" ~ o ~ p_seq ~ o ~ "\""`.
    fn pattern(&mut self) -> Option<Vec<PhrasePart>> {
        self.expect(b'"')?;
        self.spaces();
        let parts = self.sequence()?;
        self.spaces();
        self.expect(b'"')?;
        Some(parts)
    }

    /// `p_seq = (p_atom ~ o)*`. Stops before a byte no atom starts with; the caller checks it is the
    /// one that closes the sequence there.
    fn sequence(&mut self) -> Option<Vec<PhrasePart>> {
        let mut parts = Vec::new();
        loop {
            let start = self.at;
            let kind = match self.peek() {
                None | Some(b'"' | b')' | b'|' | b']' | b'}') => return Some(parts),
                Some(b'(') => self.alternatives()?,
                Some(b'[') => {
                    self.at += 1;
                    self.spaces();
                    let inner = self.sequence()?;
                    self.expect(b']')?;
                    PhrasePartKind::Optional(inner)
                }
                Some(b'*') => {
                    self.at += 1;
                    PhrasePartKind::Wildcard
                }
                Some(b'{') => self.capture()?,
                Some(b'@') => {
                    self.at += 1;
                    PhrasePartKind::ListRef(self.ident()?)
                }
                Some(b'\\' | b' ') => return None,
                Some(_) => {
                    while self.peek().is_some_and(|b| !ends_word(b)) {
                        self.at += 1;
                    }
                    PhrasePartKind::Word(self.text[start..self.at].to_string())
                }
            };
            parts.push(PhrasePart { kind, span: self.span(start) });
            self.spaces();
        }
    }

    /// `p_alts = "(" ~ o ~ p_seq ~ ("|" ~ o ~ p_seq)+ ~ ")"`.
    fn alternatives(&mut self) -> Option<PhrasePartKind> {
        self.expect(b'(')?;
        self.spaces();
        let mut alternatives = vec![self.sequence()?];
        while self.peek() == Some(b'|') {
            self.at += 1;
            self.spaces();
            alternatives.push(self.sequence()?);
        }
        if alternatives.len() < 2 {
            return None;
        }
        self.expect(b')')?;
        Some(PhrasePartKind::Alternatives(alternatives))
    }

    /// `p_capture = "{" ~ o ~ ident ~ o ~ (":" ~ o ~ (p_capture_list | ident) ~ o)? ~ "}"`.
    fn capture(&mut self) -> Option<PhrasePartKind> {
        self.expect(b'{')?;
        self.spaces();
        let name = self.ident()?;
        self.spaces();
        let mut ty = CaptureType::Default;
        if self.peek() == Some(b':') {
            self.at += 1;
            self.spaces();
            ty = if self.peek() == Some(b'@') {
                self.at += 1;
                CaptureType::List(self.ident()?)
            } else {
                CaptureType::Named(self.ident()?)
            };
            self.spaces();
        }
        self.expect(b'}')?;
        Some(PhrasePartKind::Capture { name, ty })
    }

    /// `ident = (ASCII_ALPHA | "_") ~ (ident_char | "-" ~ ident_char)*`.
    fn ident(&mut self) -> Option<Ident> {
        let start = self.at;
        if !self.peek().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') {
            return None;
        }
        self.at += 1;
        loop {
            match self.peek() {
                Some(b) if is_ident_char(b) => self.at += 1,
                Some(b'-') if self.bytes.get(self.at + 1).copied().is_some_and(is_ident_char) => {
                    self.at += 2;
                }
                _ => break,
            }
        }
        Some(Ident { name: self.text[start..self.at].to_string(), span: self.span(start) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;
    use crate::syntax::lower::Lowerer;
    use crate::syntax::outline::Line;

    /// The phrases pest reads from `text` (one phrase line), or `None` when it reports a problem.
    fn by_pest(text: &str) -> Option<Vec<Phrase>> {
        let file = SourceFile::new(FileId(0), "t.bot", text);
        let mut lowerer = Lowerer { file: &file, diagnostics: Vec::new() };
        let line = Line { span: Span::new(FileId(0), 0, text.len()), indent: 0, children: vec![] };
        let phrases = lowerer.phrases_by_pest(&line, "x");
        lowerer.diagnostics.is_empty().then_some(phrases)
    }

    /// Both readers agree, spans included, whenever the hand-written one reads the line.
    fn agree(text: &str) -> bool {
        let Some(fast) = phrase_line(text, 0, FileId(0)) else { return false };
        let slow = by_pest(text);
        assert_eq!(format!("{slow:?}"), format!("{:?}", Some(&fast)), "line {text:?}");
        true
    }

    #[test]
    fn reads_the_usual_phrases_as_pest_does() {
        for text in [
            r#""tell me about kax", "how does kax work", "[please] explain kax""#,
            r#""what is (a|the) kax", "kax price", "buy kax {n:number}""#,
            r#""kax in @colour", "kax help *", "where can i find kax",  "kax not working" ,"#,
            r#""  spaced  ( a | b c |d )  [ x  y ] { n : @colour } {m}  ""#,
            r#""café's @colour's {x-y:digits}-z *x @a-b-""#,
            r#""""#,
            r#""(a|(b|[c d]))""#,
        ] {
            assert!(agree(text), "the hand-written reader refused {text:?}");
        }
    }

    #[test]
    fn leaves_other_lines_to_pest() {
        for text in [
            r#"es "hola""#,
            r"/order #?(\d+)/i",
            r#""a \"b\"""#,
            r#""(a)""#,
            r#""[a|b]""#,
            r#""a", "b" c"#,
            r#""a",, "b""#,
            r#""{1x}""#,
            r#""{x:}""#,
            r#""@""#,
            r#""a"#,
            "\"a\tb\"",
        ] {
            if let Some(fast) = phrase_line(text, 0, FileId(0)) {
                assert_eq!(format!("{:?}", by_pest(text)), format!("{:?}", Some(fast)), "{text:?}");
            }
        }
        assert!(phrase_line(r#""(a)""#, 0, FileId(0)).is_none());
        assert!(phrase_line(r#""a", "b" c"#, 0, FileId(0)).is_none());
    }

    /// Thousands of lines made of the characters that matter: whenever the hand-written reader
    /// accepts one, pest reads the same phrases with the same spans.
    #[test]
    fn agrees_with_pest_on_generated_lines() {
        const PIECES: [&str; 22] = [
            "\"", "\"", " ", " ", "a", "bc", "é", "1", "-", "_", "(", ")", "|", "[", "]", "{", "}",
            ":", "@", "*", ",", "x-",
        ];
        let mut state: u64 = 0x5eed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap_or(0)
        };
        let mut read = 0;
        for _ in 0..20_000 {
            let length = 1 + next() % 14;
            let mut text = String::from("\"");
            for _ in 0..length {
                text.push_str(PIECES[next() % PIECES.len()]);
            }
            if next() % 2 == 0 {
                text.push('"');
            }
            let text = text.trim_end();
            if agree(text) {
                read += 1;
            } else {
                assert!(
                    by_pest(text).is_none(),
                    "the hand-written reader refused {text:?}, which pest reads"
                );
            }
        }
        assert!(read > 1_000, "only {read} generated lines were read by the hand-written reader");
    }
}
