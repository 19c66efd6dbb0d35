//! Lowering of statement blocks: `say`, `ask` with its retries and timeouts, `if`/`else` chains,
//! `fetch` with its options, `otherwise` with `after N misses`.

use crate::diagnostic::Diagnostic;

use super::ast::{
    AnswerType, Ask, Block, Choice, CountedRung, Fetch, FetchMethod, Otherwise, Stmt, StmtKind,
    TimerRung,
};
use super::grammar::{LineKind, Pair, ParsedLine, Rule};
use super::lower::Lowerer;
use super::outline::Line;
use super::pieces::Cx;

impl<'f> Lowerer<'f> {
    pub(super) fn block(&mut self, lines: &[Line], what: &str) -> Block {
        let refs: Vec<&Line> = lines.iter().collect();
        self.block_refs(&refs, what)
    }

    pub(super) fn block_refs(&mut self, lines: &[&Line], what: &str) -> Block {
        let mut block: Block = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            i += 1;
            let Some(parsed) = self.parse(LineKind::Statement, line, "") else { continue };
            let Some(head) = Self::head(&parsed) else { continue };
            if head.as_rule() == Rule::if_stmt {
                // Gather the `else if` / `else` lines that follow at the same level.
                let mut chain = vec![(parsed, head, line)];
                while i < lines.len() && self.statement_word(lines[i]) == "else" {
                    let Some(next) = self.parse(LineKind::Statement, lines[i], "") else { break };
                    let Some(next_head) = Self::head(&next) else { break };
                    let done = next_head.as_rule() == Rule::else_stmt;
                    chain.push((next, next_head, lines[i]));
                    i += 1;
                    if done {
                        break;
                    }
                }
                if let Some(stmt) = self.if_chain(&chain) {
                    block.push(stmt);
                }
                continue;
            }
            if let Some(stmt) = self.statement(line, &parsed, &head, what) {
                block.push(stmt);
            }
        }
        block
    }

    fn if_chain(&mut self, chain: &[(ParsedLine<'f>, Pair<'f>, &Line)]) -> Option<Stmt> {
        let first_span = chain.first().map(|(_, _, l)| l.span)?;
        let mut span = first_span;
        let mut branches = Vec::new();
        let mut otherwise = None;
        let mut else_at = None;
        for (parsed, head, line) in chain {
            span = span.to(line.span);
            let cx = Cx { line: parsed };
            let word = if head.as_rule() == Rule::else_stmt { "`else`" } else { "`if`" };
            self.needs_children(line, word, "    say \"…\"");
            let body = self.block(&line.children, word);
            if head.as_rule() == Rule::else_stmt {
                otherwise = Some(body);
                else_at = Some(line.span);
            } else {
                let condition = head.clone().into_inner().next()?;
                let condition = self.keep(cx.expr(&condition))?;
                branches.push((condition, body));
            }
        }
        Some(Stmt { kind: StmtKind::If { branches, otherwise, else_at }, span })
    }

    fn misplaced(&mut self, line: &Line, word: &str, belongs: &str) {
        self.report(
            Diagnostic::error("botrun::misplaced", format!("`{word}` cannot stand here"))
                .at(line.span, format!("`{word}` outside {belongs}"))
                .with_help(format!("`{word}` belongs directly under {belongs}")),
        );
    }

    fn statement(
        &mut self,
        line: &Line,
        parsed: &ParsedLine<'f>,
        head: &Pair<'f>,
        what: &str,
    ) -> Option<Stmt> {
        let cx = Cx { line: parsed };
        let span = line.span;
        let mut inner = head.clone().into_inner();
        let first = inner.next();
        // `say`, `buttons` and a farewell take their translations as a block.
        let takes_block = matches!(
            head.as_rule(),
            Rule::say_one_of | Rule::ask | Rule::fetch | Rule::say | Rule::buttons
        ) || (head.as_rule() == Rule::resolve && first.is_some());
        if !takes_block {
            self.no_children(line, &format!("`{}`", self.statement_word(line)));
        }
        let kind = match head.as_rule() {
            Rule::say => {
                let text = self.keep(cx.template(first.as_ref()?))?;
                StmtKind::Say(self.translated(line, text, "`say`"))
            }
            Rule::say_one_of => {
                self.needs_children(line, "`say one of`", "    \"Hello!\"\n    \"Hi there!\"");
                StmtKind::SayOneOf(line.children.iter().filter_map(|c| self.choice(c)).collect())
            }
            Rule::buttons => StmtKind::Buttons {
                labels: self.keep(cx.strings(head.clone().into_inner()))?,
                translations: self.translated_labels(line),
            },
            Rule::ask => return self.ask(line, &cx, head),
            Rule::set_stmt => {
                let var = cx.var_path(first.as_ref()?);
                let value = self.keep(cx.expr(&inner.next()?))?;
                StmtKind::Set { var, value }
            }
            Rule::go => StmtKind::Go(cx.ident(first.as_ref()?)),
            Rule::handoff => StmtKind::Handoff {
                note: match first {
                    Some(p) => Some(self.keep(cx.template(&p))?),
                    None => None,
                },
            },
            Rule::resolve => StmtKind::Resolve {
                farewell: match first {
                    Some(p) => {
                        let text = self.keep(cx.template(&p))?;
                        Some(self.translated(line, text, "`resolve`"))
                    }
                    None => None,
                },
            },
            Rule::fetch => return self.fetch(line, &cx, head),
            Rule::else_if | Rule::else_stmt => {
                self.report(
                    Diagnostic::error("botrun::misplaced", "`else` without an `if` before it")
                        .at(span, "no `if` directly above")
                        .with_help("put `else` at the same indentation as its `if`, right after the `if` block"),
                );
                return None;
            }
            Rule::retry | Rule::timeout => {
                self.misplaced(line, self.statement_word(line), "an `ask`");
                return None;
            }
            Rule::after => {
                self.misplaced(
                    line,
                    "after",
                    "an `ask` (`after N retries`) or an `otherwise` (`after N misses`)",
                );
                return None;
            }
            Rule::when | Rule::otherwise => {
                let word = self.statement_word(line);
                self.report(
                    Diagnostic::error(
                        "botrun::misplaced",
                        format!("`{word}` cannot stand inside {what}"),
                    )
                    .at(span, "not directly under a `state`")
                    .with_help(format!("`{word}` goes directly under a `state`")),
                );
                return None;
            }
            _ => {
                self.report(cx.unexpected(head));
                return None;
            }
        };
        Some(Stmt { kind, span })
    }

    fn choice(&mut self, line: &Line) -> Option<Choice> {
        let parsed = self.parse(LineKind::Choice, line, " in `say one of`")?;
        let cx = Cx { line: &parsed };
        let mut inner = parsed.pair.clone().into_inner().filter(|p| p.as_rule() != Rule::EOI);
        let text = self.keep(cx.template(&inner.next()?))?;
        let text = self.translated(line, text, "a reply");
        let weight = match inner.next() {
            Some(count) => Some(self.keep(cx.count(&count))?),
            None => None,
        };
        Some(Choice { text, weight, span: line.span })
    }

    fn ask(&mut self, line: &Line, cx: &Cx<'_, 'f>, head: &Pair<'f>) -> Option<Stmt> {
        let mut inner = head.clone().into_inner();
        let var = cx.ident(&inner.next()?);
        let ty_pair = inner.next()?.into_inner().next()?;
        let ty = match ty_pair.as_rule() {
            Rule::regex => AnswerType::Regex(self.keep(cx.regex(&ty_pair))?),
            Rule::p_capture_list => AnswerType::List(self.keep(cx.inner_ident(&ty_pair))?),
            _ => AnswerType::Named(cx.ident(&ty_pair)),
        };
        let mut ask = Ask {
            var,
            ty,
            prompt: Vec::new(),
            retries: Vec::new(),
            after_retries: None,
            timeouts: Vec::new(),
        };
        let mut prompt_lines: Vec<&Line> = Vec::new();
        for child in &line.children {
            let word = self.statement_word(child);
            if !matches!(word, "retry" | "after" | "timeout") {
                if ask.retries.is_empty() && ask.after_retries.is_none() && ask.timeouts.is_empty()
                {
                    prompt_lines.push(child);
                } else {
                    self.report(
                        Diagnostic::error("botrun::syntax", "the question's own lines must come before `retry`, `after` and `timeout`")
                            .at(child.span, "after a `retry`, `after` or `timeout`")
                            .with_help("move this line up, right under `ask`"),
                    );
                }
                continue;
            }
            let Some(parsed) = self.parse(LineKind::Statement, child, "") else { continue };
            let Some(child_head) = Self::head(&parsed) else { continue };
            let child_cx = Cx { line: &parsed };
            let first = child_head.clone().into_inner().next();
            match child_head.as_rule() {
                Rule::retry => {
                    if let Some(t) = first.and_then(|p| self.keep(child_cx.template(&p))) {
                        let t = self.translated(child, t, "`retry`");
                        ask.retries.push(t);
                    }
                }
                Rule::after => {
                    if let Some(rung) = self.counted_rung(child, &child_cx, &child_head, "retries")
                    {
                        if ask.after_retries.is_some() {
                            self.report(
                                Diagnostic::error(
                                    "botrun::syntax",
                                    "a question can have only one `after N retries`",
                                )
                                .at(child.span, "second one")
                                .with_help("keep one `after N retries` block"),
                            );
                        }
                        ask.after_retries = Some(rung);
                    }
                }
                _ => {
                    if let Some(rung) =
                        self.timer_rung(child, &child_cx, first.as_ref(), "`timeout`")
                    {
                        ask.timeouts.push(rung);
                    }
                }
            }
        }
        ask.prompt = self.block_refs(&prompt_lines, "`ask`");
        Some(Stmt { kind: StmtKind::Ask(Box::new(ask)), span: line.span })
    }

    fn timer_rung(
        &mut self,
        line: &Line,
        cx: &Cx<'_, 'f>,
        duration: Option<&Pair<'f>>,
        what: &str,
    ) -> Option<TimerRung> {
        let after = self.keep(cx.duration(duration?))?;
        self.needs_children(line, what, "      say \"Are you still there?\"");
        let body = self.block(&line.children, what);
        Some(TimerRung { after, body, span: line.span })
    }

    /// `after N misses` / `after N retries`; `unit` is the one this place wants.
    fn counted_rung(
        &mut self,
        line: &Line,
        cx: &Cx<'_, 'f>,
        head: &Pair<'f>,
        unit: &str,
    ) -> Option<CountedRung> {
        let mut inner = head.clone().into_inner();
        let count_pair = inner.next()?;
        let written = inner.next()?;
        let count = self.keep(cx.count(&count_pair))?;
        if !written.as_str().starts_with(&unit[..4]) {
            self.report(
                Diagnostic::error("botrun::syntax", format!("expected `after N {unit}` here"))
                    .at(cx.span(&written), format!("`{}` does not fit here", written.as_str()))
                    .with_help(format!("under `ask` count `retries`; under `otherwise` count `misses` — write `after {count} {unit}`")),
            );
            return None;
        }
        if count == 0 {
            self.report(
                Diagnostic::error("botrun::syntax", "the count after `after` must be at least 1")
                    .at(cx.span(&count_pair), "zero")
                    .with_help("write `after 1` or more"),
            );
            return None;
        }
        let what = format!("`after {count} {unit}`");
        self.needs_children(line, &what, "      handoff");
        let body = self.block(&line.children, &what);
        Some(CountedRung { count, count_span: cx.span(&count_pair), body, span: line.span })
    }

    pub(super) fn otherwise(&mut self, line: &Line) -> Otherwise {
        self.needs_children(line, "`otherwise`", "    say \"Sorry, I did not understand.\"");
        let mut body_lines: Vec<&Line> = Vec::new();
        let mut after_misses = Vec::new();
        for child in &line.children {
            if self.statement_word(child) != "after" {
                if after_misses.is_empty() {
                    body_lines.push(child);
                } else {
                    self.report(
                        Diagnostic::error(
                            "botrun::syntax",
                            "lines of `otherwise` must come before its `after N misses`",
                        )
                        .at(child.span, "after an `after N misses`")
                        .with_help("move this line above the first `after`"),
                    );
                }
                continue;
            }
            let Some(parsed) = self.parse(LineKind::Statement, child, "") else { continue };
            let Some(head) = Self::head(&parsed) else { continue };
            let cx = Cx { line: &parsed };
            if let Some(rung) = self.counted_rung(child, &cx, &head, "misses") {
                after_misses.push(rung);
            }
        }
        let body = self.block_refs(&body_lines, "`otherwise`");
        Otherwise { body, after_misses, span: line.span }
    }

    fn fetch(&mut self, line: &Line, cx: &Cx<'_, 'f>, head: &Pair<'f>) -> Option<Stmt> {
        let mut inner = head.clone().into_inner();
        let method = match inner.next()?.as_str() {
            "get" => FetchMethod::Get,
            "post" => FetchMethod::Post,
            "put" => FetchMethod::Put,
            "patch" => FetchMethod::Patch,
            _ => FetchMethod::Delete,
        };
        let url = self.keep(cx.template(&inner.next()?))?;
        let into = cx.ident(&inner.next()?);
        let mut fetch = Fetch {
            method,
            url,
            into,
            headers: Vec::new(),
            body: None,
            timeout: None,
            on_error: None,
            on_error_at: None,
        };
        for child in &line.children {
            let Some(parsed) = self.parse(LineKind::FetchOption, child, " under `fetch`") else {
                continue;
            };
            let Some(option) = Self::head(&parsed) else { continue };
            let option_cx = Cx { line: &parsed };
            let mut parts = option.clone().into_inner();
            match option.as_rule() {
                Rule::fetch_header => {
                    self.no_children(child, "`header`");
                    let (Some(name), Some(value)) = (parts.next(), parts.next()) else { continue };
                    if let (Some(n), Some(v)) =
                        (self.keep(option_cx.string(&name)), self.keep(option_cx.template(&value)))
                    {
                        fetch.headers.push((n, v));
                    }
                }
                Rule::fetch_body => {
                    self.no_children(child, "`body`");
                    fetch.body = parts.next().and_then(|p| self.keep(option_cx.template(&p)));
                }
                Rule::timeout => {
                    self.no_children(child, "a fetch `timeout`");
                    fetch.timeout = parts.next().and_then(|p| self.keep(option_cx.duration(&p)));
                }
                Rule::on_error => {
                    self.needs_children(child, "`on error`", "      handoff");
                    fetch.on_error = Some(self.block(&child.children, "`on error`"));
                    fetch.on_error_at = Some(child.span);
                }
                _ => self.report(option_cx.unexpected(&option)),
            }
        }
        Some(Stmt { kind: StmtKind::Fetch(Box::new(fetch)), span: line.span })
    }
}
