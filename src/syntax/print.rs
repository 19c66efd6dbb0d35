//! The canonical printer behind `botrun fmt`: two-space indentation, one blank line between
//! top-level items, one phrase or list entry per line, and every comment kept where it was —
//! comments on their own line before the line that follows them, trailing comments on their line.

use crate::source::line_col;

use super::ast::{
    AnswerType, ArithOp, Ask, Block, BotSetting, CaptureType, CompareOp, CountedRung, DaySpec,
    Expr, ExprKind, Fetch, FetchMethod, File, HoursRule, Item, PhraseKind, PhrasePart,
    PhrasePartKind, RegexLit, StateDecl, Stmt, StmtKind, StringLit, Template, TimeOfDay, TimerRung,
    Weekday,
};

/// Formats a parsed file. `source` is the text it was parsed from (for comment placement).
pub fn format(file: &File, source: &str) -> String {
    let mut comments: Vec<PendingComment> = file
        .comments
        .iter()
        .map(|c| {
            let line_start =
                source[..c.span.start.min(source.len())].rfind('\n').map_or(0, |i| i + 1);
            let trailing = !source[line_start..c.span.start.min(source.len())].trim().is_empty();
            PendingComment {
                start: c.span.start,
                line: line_col(source, c.span.start).0,
                text: c.text.clone(),
                trailing,
            }
        })
        .collect();
    comments.sort_by_key(|c| c.start);
    let mut printer = Printer { source, lines: Vec::new(), comments, next: 0 };
    for (i, item) in file.items.iter().enumerate() {
        if i > 0 {
            printer.lines.push(String::new());
        }
        printer.item(item);
    }
    printer.flush_before(usize::MAX, 0);
    let mut text = printer.lines.join("\n");
    text.push('\n');
    text
}

struct PendingComment {
    start: usize,
    line: usize,
    text: String,
    trailing: bool,
}

struct Printer<'s> {
    source: &'s str,
    lines: Vec<String>,
    comments: Vec<PendingComment>,
    next: usize,
}

impl Printer<'_> {
    /// Prints the comments that stand before `offset` at `depth`.
    fn flush_before(&mut self, offset: usize, depth: usize) {
        while let Some(comment) = self.comments.get(self.next) {
            if comment.start >= offset {
                break;
            }
            let line = format!("{}#{}", "  ".repeat(depth), comment.text);
            match (comment.trailing, self.lines.last_mut()) {
                (true, Some(last)) if !last.is_empty() => {
                    last.push_str("  #");
                    last.push_str(&comment.text);
                }
                _ => self.lines.push(line),
            }
            self.next += 1;
        }
    }

    /// Emits one line for the node starting at `offset`, with its trailing comment if any.
    fn emit(&mut self, depth: usize, offset: usize, text: &str) {
        self.flush_before(offset, depth);
        self.lines.push(format!("{}{text}", "  ".repeat(depth)));
        let line = line_col(self.source, offset).0;
        if let Some(comment) = self.comments.get(self.next) {
            if comment.trailing && comment.line == line {
                if let Some(last) = self.lines.last_mut() {
                    last.push_str("  #");
                    last.push_str(&comment.text);
                }
                self.next += 1;
            }
        }
    }

    fn item(&mut self, item: &Item) {
        let at = item.span().start;
        match item {
            Item::Bot(bot) => {
                self.emit(0, at, &format!("bot {}", string(&bot.name)));
                for setting in &bot.settings {
                    self.setting(setting);
                }
            }
            Item::Use(decl) => self.emit(0, at, &format!("use {}", string(&decl.path))),
            Item::Hours(hours) => {
                self.emit(0, at, &format!("hours {}", hours.name.name));
                if let Some(tz) = &hours.timezone {
                    self.emit(1, tz.span.start, &format!("timezone {}", string(tz)));
                }
                for rule in &hours.rules {
                    let (text, span) = match rule {
                        HoursRule::Weekly { days, ranges, span } => {
                            let days: Vec<String> = days.iter().map(day_spec).collect();
                            let ranges: Vec<String> = ranges
                                .iter()
                                .map(|r| format!("{}-{}", time(r.start), time(r.end)))
                                .collect();
                            (format!("{} {}", days.join(", "), ranges.join(", ")), span)
                        }
                        HoursRule::Closed { dates, span } => {
                            let dates: Vec<String> = dates
                                .iter()
                                .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
                                .collect();
                            (format!("closed {}", dates.join(", ")), span)
                        }
                    };
                    self.emit(1, span.start, &text);
                }
            }
            Item::List(list) => {
                self.emit(0, at, &format!("list {}", list.name.name));
                for entry in &list.entries {
                    let mut text = string(&entry.value);
                    if !entry.also.is_empty() {
                        let also: Vec<String> = entry.also.iter().map(string).collect();
                        text = format!("{text} also {}", also.join(", "));
                    }
                    self.emit(1, entry.value.span.start, &text);
                }
            }
            Item::Intent(intent) => {
                self.emit(0, at, &format!("intent {}", intent.name.name));
                for phrase in &intent.phrases {
                    let mut text = match &phrase.kind {
                        PhraseKind::Pattern(parts) => format!("\"{}\"", phrase_parts(parts)),
                        PhraseKind::Regex(regex) => regex_text(regex),
                    };
                    if let Some(language) = &phrase.language {
                        text = format!("{} {text}", language.name);
                    }
                    self.emit(1, phrase.span.start, &text);
                }
            }
            Item::On(hook) => {
                self.emit(0, at, &format!("on {}", hook.hook.keyword()));
                self.block(&hook.body, 1);
            }
            Item::Anytime(anytime) => {
                self.emit(0, at, &format!("anytime {}", names(&anytime.intents)));
                self.block(&anytime.body, 1);
            }
            Item::State(state) => self.state(state),
        }
    }

    fn setting(&mut self, setting: &BotSetting) {
        match setting {
            BotSetting::Timezone(tz) => {
                self.emit(1, tz.span.start, &format!("timezone {}", string(tz)))
            }
            BotSetting::TyposTolerated(span) => self.emit(1, span.start, "typos tolerated"),
            BotSetting::AccentsIgnored(span) => self.emit(1, span.start, "accents ignored"),
            BotSetting::ButtonLimit { limit, span } => {
                self.emit(1, span.start, &format!("buttons at most {limit}"))
            }
            BotSetting::DateOrder { month_first, span } => {
                let order = if *month_first { "month-first" } else { "day-first" };
                self.emit(1, span.start, &format!("dates {order}"));
            }
            BotSetting::Idle(rung) => self.timer_rung("idle", rung, 1),
            BotSetting::Languages { codes, span } => {
                let codes: Vec<&str> = codes.iter().map(|c| c.name.as_str()).collect();
                self.emit(1, span.start, &format!("languages {}", codes.join(", ")));
            }
            BotSetting::SmallWords { words, span } => {
                let words: Vec<String> = words.iter().map(string).collect();
                self.emit(1, span.start, &format!("small words {}", words.join(", ")));
            }
        }
    }

    fn state(&mut self, state: &StateDecl) {
        self.emit(0, state.span.start, &format!("state {}", state.name.name));
        self.block(&state.entry, 1);
        for handler in &state.handlers {
            self.emit(1, handler.span.start, &format!("when {}", names(&handler.intents)));
            self.block(&handler.body, 2);
        }
        if let Some(otherwise) = &state.otherwise {
            self.emit(1, otherwise.span.start, "otherwise");
            self.block(&otherwise.body, 2);
            for rung in &otherwise.after_misses {
                self.counted_rung(rung, "misses", 2);
            }
        }
    }

    fn timer_rung(&mut self, word: &str, rung: &TimerRung, depth: usize) {
        self.emit(depth, rung.span.start, &format!("{word} {}", duration(rung.after.seconds)));
        self.block(&rung.body, depth + 1);
    }

    fn counted_rung(&mut self, rung: &CountedRung, unit: &str, depth: usize) {
        self.emit(depth, rung.span.start, &format!("after {} {unit}", rung.count));
        self.block(&rung.body, depth + 1);
    }

    fn block(&mut self, block: &Block, depth: usize) {
        for stmt in block {
            self.stmt(stmt, depth);
        }
    }

    fn stmt(&mut self, stmt: &Stmt, depth: usize) {
        let at = stmt.span.start;
        match &stmt.kind {
            StmtKind::Say(t) => {
                self.emit(depth, at, &format!("say {}", template(t)));
                self.translations(t, depth + 1);
            }
            StmtKind::SayOneOf(choices) => {
                self.emit(depth, at, "say one of");
                for choice in choices {
                    let weight = choice.weight.map(|w| format!(" weight {w}")).unwrap_or_default();
                    self.emit(
                        depth + 1,
                        choice.span.start,
                        &format!("{}{weight}", template(&choice.text)),
                    );
                    self.translations(&choice.text, depth + 2);
                }
            }
            StmtKind::Buttons { labels, translations } => {
                let shown: Vec<String> = labels.iter().map(string).collect();
                self.emit(depth, at, &format!("buttons {}", shown.join(", ")));
                for translation in translations {
                    let shown: Vec<String> = translation.labels.iter().map(string).collect();
                    let text = format!("{} {}", translation.language.name, shown.join(", "));
                    self.emit(depth + 1, translation.span.start, &text);
                }
            }
            StmtKind::Ask(ask) => self.ask(ask, at, depth),
            StmtKind::Set { var, value } => {
                self.emit(depth, at, &format!("set {} to {}", var.dotted(), expr(value, 0)))
            }
            StmtKind::If { branches, otherwise, else_at } => {
                for (i, (condition, body)) in branches.iter().enumerate() {
                    let keyword = if i == 0 { "if" } else { "else if" };
                    let offset = if i == 0 { at } else { condition.span.start };
                    self.emit(depth, offset, &format!("{keyword} {}", expr(condition, 0)));
                    self.block(body, depth + 1);
                }
                if let Some(body) = otherwise {
                    let offset = else_at.map_or(at, |s| s.start);
                    self.emit(depth, offset, "else");
                    self.block(body, depth + 1);
                }
            }
            StmtKind::Go(target) => self.emit(depth, at, &format!("go {}", target.name)),
            StmtKind::Handoff { note } => {
                let text = note
                    .as_ref()
                    .map_or("handoff".to_string(), |n| format!("handoff note {}", template(n)));
                self.emit(depth, at, &text);
            }
            StmtKind::Resolve { farewell } => {
                let text = farewell
                    .as_ref()
                    .map_or("resolve".to_string(), |f| format!("resolve {}", template(f)));
                self.emit(depth, at, &text);
                if let Some(farewell) = farewell {
                    self.translations(farewell, depth + 1);
                }
            }
            StmtKind::Fetch(fetch) => self.fetch(fetch, at, depth),
        }
    }

    /// The `es "…"` lines under a reply.
    fn translations(&mut self, text: &Template, depth: usize) {
        for translation in &text.translations {
            let line = format!("{} {}", translation.language.name, template(&translation.text));
            self.emit(depth, translation.span.start, &line);
        }
    }

    fn ask(&mut self, ask: &Ask, at: usize, depth: usize) {
        let ty = match &ask.ty {
            AnswerType::Named(name) => name.name.clone(),
            AnswerType::List(list) => format!("@{}", list.name),
            AnswerType::Regex(regex) => regex_text(regex),
        };
        self.emit(depth, at, &format!("ask {} as {ty}", ask.var.name));
        self.block(&ask.prompt, depth + 1);
        for retry in &ask.retries {
            self.emit(depth + 1, retry.span.start, &format!("retry {}", template(retry)));
            self.translations(retry, depth + 2);
        }
        if let Some(rung) = &ask.after_retries {
            self.counted_rung(rung, "retries", depth + 1);
        }
        for rung in &ask.timeouts {
            self.timer_rung("timeout", rung, depth + 1);
        }
    }

    fn fetch(&mut self, fetch: &Fetch, at: usize, depth: usize) {
        let method = match fetch.method {
            FetchMethod::Get => "get",
            FetchMethod::Post => "post",
            FetchMethod::Put => "put",
            FetchMethod::Patch => "patch",
            FetchMethod::Delete => "delete",
        };
        self.emit(
            depth,
            at,
            &format!("fetch {method} {} into {}", template(&fetch.url), fetch.into.name),
        );
        for (name, value) in &fetch.headers {
            self.emit(
                depth + 1,
                name.span.start,
                &format!("header {} {}", string(name), template(value)),
            );
        }
        if let Some(body) = &fetch.body {
            self.emit(depth + 1, body.span.start, &format!("body {}", template(body)));
        }
        if let Some(timeout) = &fetch.timeout {
            self.emit(
                depth + 1,
                timeout.span.start,
                &format!("timeout {}", duration(timeout.seconds)),
            );
        }
        if let Some(block) = &fetch.on_error {
            let offset = fetch.on_error_at.map_or(at, |s| s.start);
            self.emit(depth + 1, offset, "on error");
            self.block(block, depth + 2);
        }
    }
}

fn names(idents: &[super::ast::Ident]) -> String {
    idents.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(" or ")
}

/// A string literal with `"`, `\` and new lines escaped.
pub fn string(lit: &StringLit) -> String {
    format!("\"{}\"", lit.value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

fn template(t: &Template) -> String {
    format!("\"{}\"", t.raw)
}

fn regex_text(regex: &RegexLit) -> String {
    format!("/{}/{}", regex.pattern.replace('/', "\\/"), regex.flags)
}

fn phrase_parts(parts: &[PhrasePart]) -> String {
    parts.iter().map(phrase_part).collect::<Vec<_>>().join(" ")
}

fn phrase_part(part: &PhrasePart) -> String {
    match &part.kind {
        PhrasePartKind::Word(word) => {
            let mut out = String::new();
            for c in word.chars() {
                if c == '\n' {
                    // A word may hold a new line (written `\n`): printed raw it would end the text.
                    out.push_str("\\n");
                    continue;
                }
                if matches!(c, '"' | '\\' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '*' | '@') {
                    out.push('\\');
                }
                out.push(c);
            }
            out
        }
        PhrasePartKind::Alternatives(alts) => {
            format!("({})", alts.iter().map(|a| phrase_parts(a)).collect::<Vec<_>>().join("|"))
        }
        PhrasePartKind::Optional(inner) => format!("[{}]", phrase_parts(inner)),
        PhrasePartKind::Wildcard => "*".into(),
        PhrasePartKind::Capture { name, ty } => match ty {
            CaptureType::Default => format!("{{{}}}", name.name),
            CaptureType::Named(t) => format!("{{{}:{}}}", name.name, t.name),
            CaptureType::List(l) => format!("{{{}:@{}}}", name.name, l.name),
        },
        PhrasePartKind::ListRef(list) => format!("@{}", list.name),
    }
}

fn day_spec(day: &DaySpec) -> String {
    match day {
        DaySpec::Single(d, _) => weekday(*d).into(),
        DaySpec::Range(a, b, _) => format!("{}-{}", weekday(*a), weekday(*b)),
    }
}

fn weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

fn time(t: TimeOfDay) -> String {
    format!("{:02}:{:02}", t.hour, t.minute)
}

/// A duration in the largest exact units: `90s` → `1m30s`, `5400s` → `1h30m`.
pub fn duration(seconds: u64) -> String {
    super::duration::format_seconds(seconds)
}

/// Precedence: 0 `or`, 1 `and`, 2 `not`, 3 tests, 4 sums, 5 products, 6 operands.
fn expr(e: &Expr, min: u8) -> String {
    let (level, text) = match &e.kind {
        ExprKind::Or(a, b) => (0, format!("{} or {}", expr(a, 0), expr(b, 1))),
        ExprKind::And(a, b) => (1, format!("{} and {}", expr(a, 1), expr(b, 2))),
        ExprKind::Not(a) => (2, format!("not {}", expr(a, 2))),
        ExprKind::Compare { op, lhs, rhs } => {
            let op = match op {
                CompareOp::Is => "is",
                CompareOp::IsNot => "is not",
                CompareOp::Less => "<",
                CompareOp::Greater => ">",
                CompareOp::LessOrEqual => "<=",
                CompareOp::GreaterOrEqual => ">=",
            };
            (3, format!("{} {op} {}", expr(lhs, 4), expr(rhs, 4)))
        }
        ExprKind::IsEmpty { operand, negated } => {
            (3, format!("{} is {}empty", expr(operand, 4), if *negated { "not " } else { "" }))
        }
        ExprKind::InList { operand, list, negated } => (
            3,
            format!("{} {}in @{}", expr(operand, 4), if *negated { "not " } else { "" }, list.name),
        ),
        ExprKind::Open { calendar, negated, when, at } => {
            let word = if *negated { "closed" } else { "open" };
            let preposition = if *at { "at" } else { "on" };
            match when {
                Some(moment) => {
                    (3, format!("{word} {} {preposition} {}", calendar.name, expr(moment, 6)))
                }
                None => (3, format!("{word} {}", calendar.name)),
            }
        }
        ExprKind::Arith { op, lhs, rhs } => {
            let (level, right) = match op {
                ArithOp::Add | ArithOp::Subtract => (4, 5),
                ArithOp::Multiply | ArithOp::Divide => (5, 6),
            };
            (level, format!("{} {} {}", expr(lhs, level), op.symbol(), expr(rhs, right)))
        }
        ExprKind::Call { function, args } => {
            let args: Vec<String> = args.iter().map(|a| expr(a, 4)).collect();
            (6, format!("{}({})", function.name, args.join(", ")))
        }
        ExprKind::Var(path) => (6, path.dotted()),
        ExprKind::Text(t) => (6, template(t)),
        ExprKind::Number(n) => (6, n.clone()),
        ExprKind::Bool(b) => (6, b.to_string()),
    };
    if level < min {
        format!("({text})")
    } else {
        text
    }
}
