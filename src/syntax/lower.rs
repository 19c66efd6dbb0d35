//! Lowering of top-level items: each outline line is parsed with the rule for where it stands and
//! turned into AST nodes. Problems are collected, never thrown: one bad line does not hide others.

use crate::diagnostic::Diagnostic;
use crate::source::SourceFile;

use super::ast::{
    AnytimeDecl, BotDecl, BotSetting, DaySpec, File, HookDecl, HookKind, HoursDecl, HoursRule,
    IntentDecl, Item, ListDecl, ListEntry, Phrase, PhraseKind, StateDecl, TimeRange, TimerRung,
    UseDecl, Weekday,
};
use super::grammar::{parse_line, LineKind, Pair, ParsedLine, Rule};
use super::outline::Line;
use super::pieces::Cx;

/// Walks the outline of one file, collecting AST items and diagnostics.
pub(super) struct Lowerer<'f> {
    pub file: &'f SourceFile,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'f> Lowerer<'f> {
    pub fn text(&self, line: &Line) -> &'f str {
        let text: &'f str = &self.file.text;
        text.get(line.span.start..line.span.end).unwrap_or("")
    }

    /// Parses `line` as `kind`; on failure records the diagnostic and returns `None`.
    pub fn parse(&mut self, kind: LineKind, line: &Line, context: &str) -> Option<ParsedLine<'f>> {
        let text = self.text(line);
        match parse_line(kind, text, line.span.start, self.file.id, context) {
            Ok(parsed) => Some(parsed),
            Err(diagnostic) => {
                self.diagnostics.push(diagnostic);
                None
            }
        }
    }

    /// The first meaningful pair inside a `*_line` rule.
    pub fn head(parsed: &ParsedLine<'f>) -> Option<Pair<'f>> {
        parsed.pair.clone().into_inner().find(|p| p.as_rule() != Rule::EOI)
    }

    pub fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Keeps a lowering result, or records its diagnostic.
    pub fn keep<T>(&mut self, result: Result<T, Diagnostic>) -> Option<T> {
        result.map_err(|d| self.diagnostics.push(d)).ok()
    }

    /// Reports an indented block under a line that takes none.
    pub(crate) fn no_children(&mut self, line: &Line, what: &str) {
        if let Some(first) = line.children.first() {
            self.report(
                Diagnostic::error(
                    "botrun::unexpected_block",
                    format!("{what} does not take an indented block"),
                )
                .at(first.span, "indented under it")
                .also(line.span, "this line")
                .with_help("indent this line like the one above it, or remove it"),
            );
        }
    }

    /// Reports a line that needs an indented block but has none.
    pub(crate) fn needs_children(&mut self, line: &Line, what: &str, example: &str) -> bool {
        if line.children.is_empty() {
            self.report(
                Diagnostic::error(
                    "botrun::syntax",
                    format!("{what} needs an indented block under it"),
                )
                .at(line.span, "nothing indented under this line")
                .with_help(format!(
                    "indent the lines that belong to it by two spaces, for example:\n{example}"
                )),
            );
            return false;
        }
        true
    }

    pub fn file(mut self, lines: &[Line]) -> (Vec<Item>, Vec<Diagnostic>) {
        let items = lines.iter().filter_map(|line| self.item(line)).collect();
        (items, self.diagnostics)
    }

    fn item(&mut self, line: &Line) -> Option<Item> {
        let parsed = self.parse(LineKind::TopLevel, line, "")?;
        let head = Self::head(&parsed)?;
        let cx = Cx { line: &parsed };
        let span = line.span;
        let mut inner = head.clone().into_inner();
        let first = inner.next();
        match head.as_rule() {
            Rule::bot_head => {
                let name = self.keep(cx.string(first.as_ref()?))?;
                let settings = line.children.iter().filter_map(|c| self.setting(c)).collect();
                Some(Item::Bot(BotDecl { name, settings, span }))
            }
            Rule::use_head => {
                self.no_children(line, "`use`");
                let path = self.keep(cx.string(first.as_ref()?))?;
                Some(Item::Use(UseDecl { path, span }))
            }
            Rule::hours_head => {
                let name = cx.ident(first.as_ref()?);
                self.needs_children(
                    line,
                    &format!("`hours {}`", name.name),
                    "  mon-fri 09:00-17:00",
                );
                let mut decl = HoursDecl { name, timezone: None, rules: Vec::new(), span };
                for child in &line.children {
                    self.hours_line(child, &mut decl);
                }
                Some(Item::Hours(decl))
            }
            Rule::list_head => {
                let name = cx.ident(first.as_ref()?);
                self.needs_children(
                    line,
                    &format!("`list {}`", name.name),
                    "  \"router\", \"modem\"",
                );
                let mut entries = Vec::new();
                for child in &line.children {
                    self.no_children(child, "a list entry");
                    let context = format!(" in `list {}`", name.name);
                    if let Some(parsed) = self.parse(LineKind::ListEntries, child, &context) {
                        let cx = Cx { line: &parsed };
                        for pair in parsed.pair.clone().into_inner() {
                            let also = pair.as_rule() == Rule::list_also;
                            let strings = if also {
                                self.keep(cx.strings(pair.into_inner()))
                            } else {
                                self.keep(cx.strings(std::iter::once(pair)))
                            };
                            let mut strings = strings.unwrap_or_default().into_iter();
                            if let Some(value) = strings.next() {
                                entries.push(ListEntry { value, also: strings.collect() });
                            }
                        }
                    }
                }
                Some(Item::List(ListDecl { name, entries, span }))
            }
            Rule::intent_head => {
                let name = cx.ident(first.as_ref()?);
                if line.children.is_empty() {
                    self.report(
                        Diagnostic::error("botrun::syntax", format!("expected a phrase in quotes after `intent {}`", name.name))
                            .at(line.span, "this intent has no example phrases")
                            .with_help("indent one or more example phrases under it, for example:\n  \"where is my order\", \"track [my] order\""),
                    );
                }
                let mut phrases = Vec::new();
                for child in &line.children {
                    self.no_children(child, "a phrase");
                    phrases.append(&mut self.phrases(child, &name.name));
                }
                Some(Item::Intent(IntentDecl { name, phrases, span }))
            }
            Rule::on_head => {
                let hook_pair = first?;
                let hook = match hook_pair.as_str() {
                    "start" => HookKind::Start,
                    "handoff" => HookKind::Handoff,
                    "return" => HookKind::Return,
                    "attachment" => HookKind::Attachment,
                    _ => HookKind::Resolve,
                };
                let what = format!("`on {}`", hook_pair.as_str());
                self.needs_children(line, &what, "  say \"Hello!\"");
                let body = self.block(&line.children, &what);
                Some(Item::On(HookDecl { hook, hook_span: cx.span(&hook_pair), body, span }))
            }
            Rule::anytime_head => {
                let intents = cx.intent_names(first.as_ref()?);
                self.needs_children(line, "`anytime`", "  handoff");
                let body = self.block(&line.children, "`anytime`");
                Some(Item::Anytime(AnytimeDecl { intents, body, span }))
            }
            Rule::state_head => {
                let name = cx.ident(first.as_ref()?);
                Some(Item::State(self.state(line, name)))
            }
            _ => {
                self.report(cx.unexpected(&head));
                None
            }
        }
    }

    fn state(&mut self, line: &Line, name: super::ast::Ident) -> StateDecl {
        let mut decl = StateDecl {
            name,
            entry: Vec::new(),
            handlers: Vec::new(),
            otherwise: None,
            span: line.span,
        };
        let what = format!("`state {}`", decl.name.name);
        self.needs_children(line, &what, "  when greet\n    say \"Hello!\"");
        let mut statements: Vec<&Line> = Vec::new();
        for child in &line.children {
            match self.statement_word(child) {
                "when" | "otherwise" => {}
                _ => {
                    if decl.handlers.is_empty() && decl.otherwise.is_none() {
                        statements.push(child);
                        continue;
                    }
                    self.report(
                        Diagnostic::error("botrun::syntax", format!("statements under {what} must come before its first `when`"))
                            .at(child.span, "after a `when` or `otherwise`")
                            .with_help("move this line above the first `when`, or indent it under a `when` or `otherwise`"),
                    );
                    continue;
                }
            }
            let Some(parsed) = self.parse(LineKind::Statement, child, "") else { continue };
            let Some(head) = Self::head(&parsed) else { continue };
            let cx = Cx { line: &parsed };
            if head.as_rule() == Rule::when {
                let intents = head
                    .clone()
                    .into_inner()
                    .next()
                    .map(|p| cx.intent_names(&p))
                    .unwrap_or_default();
                self.needs_children(child, "`when`", "    say \"Hello!\"");
                let body = self.block(&child.children, "`when`");
                decl.handlers.push(super::ast::WhenHandler { intents, body, span: child.span });
            } else if decl.otherwise.is_some() {
                self.report(
                    Diagnostic::error(
                        "botrun::duplicate_otherwise",
                        format!("{what} has more than one `otherwise`"),
                    )
                    .at(child.span, "second `otherwise`")
                    .with_help("merge the two `otherwise` blocks into one"),
                );
            } else {
                decl.otherwise = Some(self.otherwise(child));
            }
        }
        let owned: Vec<&Line> = statements;
        decl.entry = self.block_refs(&owned, &what);
        decl
    }

    /// The first word of a line, to route it before parsing.
    pub(crate) fn statement_word(&self, line: &Line) -> &'f str {
        let text = self.text(line);
        let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
        &text[..end]
    }

    fn setting(&mut self, line: &Line) -> Option<BotSetting> {
        let parsed = self.parse(LineKind::BotSetting, line, " under `bot`")?;
        let head = Self::head(&parsed)?;
        let cx = Cx { line: &parsed };
        let first = head.clone().into_inner().next();
        if head.as_rule() != Rule::set_idle {
            self.no_children(line, "this setting");
        }
        match head.as_rule() {
            Rule::set_timezone => self.keep(cx.string(first.as_ref()?)).map(BotSetting::Timezone),
            Rule::set_typos => Some(BotSetting::TyposTolerated(line.span)),
            Rule::set_accents => Some(BotSetting::AccentsIgnored(line.span)),
            Rule::set_languages => Some(BotSetting::Languages {
                codes: head.clone().into_inner().map(|p| cx.ident(&p)).collect(),
                span: line.span,
            }),
            Rule::set_small => {
                let words = self.keep(cx.strings(head.clone().into_inner()))?;
                Some(BotSetting::SmallWords { words, span: line.span })
            }
            Rule::set_dates => Some(BotSetting::DateOrder {
                month_first: first.as_ref()?.as_str() == "month-first",
                span: line.span,
            }),
            Rule::set_buttons => {
                let limit = self.keep(cx.count(first.as_ref()?))?;
                Some(BotSetting::ButtonLimit { limit, span: line.span })
            }
            Rule::set_idle => {
                let after = self.keep(cx.duration(first.as_ref()?))?;
                self.needs_children(line, "`idle`", "    say \"Are you still there?\"");
                let body = self.block(&line.children, "`idle`");
                Some(BotSetting::Idle(TimerRung { after, body, span: line.span }))
            }
            _ => {
                self.report(cx.unexpected(&head));
                None
            }
        }
    }

    fn hours_line(&mut self, line: &Line, decl: &mut HoursDecl) {
        self.no_children(line, "an opening-hours line");
        let context = format!(" in `hours {}`", decl.name.name);
        let Some(parsed) = self.parse(LineKind::Hours, line, &context) else { return };
        let Some(head) = Self::head(&parsed) else { return };
        let cx = Cx { line: &parsed };
        let span = line.span;
        match head.as_rule() {
            Rule::set_timezone => {
                if let Some(first) = head.clone().into_inner().next() {
                    decl.timezone = self.keep(cx.string(&first));
                }
            }
            Rule::closed_line => {
                let dates =
                    head.clone().into_inner().filter_map(|d| self.keep(cx.date(&d))).collect();
                decl.rules.push(HoursRule::Closed { dates, span });
            }
            Rule::weekly_line => {
                let mut days = Vec::new();
                let mut ranges = Vec::new();
                for part in head.clone().into_inner() {
                    let part_span = cx.span(&part);
                    let mut inner = part.clone().into_inner();
                    match part.as_rule() {
                        Rule::day_spec => {
                            let first = inner.next().map(|d| weekday(d.as_str()));
                            let second = inner.next().map(|d| weekday(d.as_str()));
                            match (first, second) {
                                (Some(a), Some(b)) => days.push(DaySpec::Range(a, b, part_span)),
                                (Some(a), None) => days.push(DaySpec::Single(a, part_span)),
                                _ => self.report(cx.unexpected(&part)),
                            }
                        }
                        Rule::time_range => {
                            let (Some(a), Some(b)) = (inner.next(), inner.next()) else {
                                self.report(cx.unexpected(&part));
                                continue;
                            };
                            if let (Some(start), Some(end)) =
                                (self.keep(cx.time(&a)), self.keep(cx.time(&b)))
                            {
                                ranges.push(TimeRange { start, end, span: part_span });
                            }
                        }
                        _ => self.report(cx.unexpected(&part)),
                    }
                }
                decl.rules.push(HoursRule::Weekly { days, ranges, span });
            }
            _ => self.report(cx.unexpected(&head)),
        }
    }

    fn phrases(&mut self, line: &Line, intent: &str) -> Vec<Phrase> {
        super::phrase_scan::phrase_line(self.text(line), line.span.start, self.file.id)
            .unwrap_or_else(|| self.phrases_by_pest(line, intent))
    }

    /// The phrases of a line the hand-written reader leaves to pest (other languages, regexes,
    /// escapes, mistakes).
    pub(super) fn phrases_by_pest(&mut self, line: &Line, intent: &str) -> Vec<Phrase> {
        let context = format!(" in `intent {intent}`");
        let Some(parsed) = self.parse(LineKind::Phrases, line, &context) else { return Vec::new() };
        let cx = Cx { line: &parsed };
        let mut phrases = Vec::new();
        let mut language = None;
        for pair in parsed.pair.clone().into_inner() {
            let span = cx.span(&pair);
            let kind = match pair.as_rule() {
                Rule::lang_code => {
                    language = Some(cx.ident(&pair));
                    continue;
                }
                Rule::pattern => {
                    let Some(seq) = pair.clone().into_inner().next() else { continue };
                    self.keep(cx.phrase_parts(&seq)).map(PhraseKind::Pattern)
                }
                Rule::regex => self.keep(cx.regex(&pair)).map(PhraseKind::Regex),
                _ => continue,
            };
            if let Some(kind) = kind {
                phrases.push(Phrase { kind, language: language.clone(), span });
            }
        }
        phrases
    }
}

fn weekday(text: &str) -> Weekday {
    match text {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        _ => Weekday::Sun,
    }
}

/// Files larger than this are lowered on two threads, each about half of the bytes (items are
/// independent of each other).
const PARALLEL_FROM_BYTES: usize = 256 * 1024;

/// Parses one file into its AST, or every syntax problem found.
pub fn parse(file: &SourceFile) -> Result<File, Vec<Diagnostic>> {
    let outline = super::outline::outline(file.id, &file.text);
    if outline.diagnostics.iter().any(|d| d.code == "botrun::too_deep") {
        // The tree was cut short; lowering it would only add confusing follow-up errors.
        return Err(outline.diagnostics);
    }
    let mut diagnostics = outline.diagnostics;
    let lines = &outline.lines;
    let (items, mut found) = if file.text.len() >= PARALLEL_FROM_BYTES && lines.len() >= 2 {
        // Halves of about the same size in bytes (a long state at the end would otherwise leave
        // one thread most of the work).
        let middle = lines.partition_point(|l| l.span.start < file.text.len() / 2);
        let (first, second) = lines.split_at(middle.clamp(1, lines.len() - 1));
        std::thread::scope(|scope| {
            let other = scope.spawn(|| Lowerer { file, diagnostics: Vec::new() }.file(second));
            let (mut items, mut found) = Lowerer { file, diagnostics: Vec::new() }.file(first);
            match other.join() {
                Ok((more_items, more_found)) => {
                    items.extend(more_items);
                    found.extend(more_found);
                }
                // The worker cannot panic on input (lowering reports, never panics); if it
                // did anyway, lower that half here.
                Err(_) => {
                    let (more_items, more_found) =
                        Lowerer { file, diagnostics: Vec::new() }.file(second);
                    items.extend(more_items);
                    found.extend(more_found);
                }
            }
            (items, found)
        })
    } else {
        Lowerer { file, diagnostics: Vec::new() }.file(lines)
    };
    diagnostics.append(&mut found);
    if diagnostics.is_empty() {
        Ok(File { items, comments: outline.comments })
    } else {
        Err(diagnostics)
    }
}
