//! Lowering of the small pieces shared by every line: names, strings, templates, phrases,
//! durations, dates and expressions. One function per grammar rule.

use crate::diagnostic::Diagnostic;
use crate::source::Span;

use super::ast::{
    ArithOp, CaptureType, CompareOp, DateLit, Duration, Expr, ExprKind, Ident, PhrasePart,
    PhrasePartKind, RegexLit, StringLit, Template, TemplatePart, TemplateValue, TimeOfDay, VarPath,
};
use super::grammar::{internal, Pair, ParsedLine, Rule};

pub(super) type Lowered<T> = Result<T, Diagnostic>;

/// Lowering context: turns pest positions into file spans.
pub(super) struct Cx<'l, 'a> {
    pub line: &'l ParsedLine<'a>,
}

impl Cx<'_, '_> {
    pub fn span(&self, pair: &Pair<'_>) -> Span {
        self.line.span(pair)
    }

    pub fn unexpected(&self, pair: &Pair<'_>) -> Diagnostic {
        internal(self.span(pair), &format!("unexpected {:?}", pair.as_rule()))
    }

    pub fn ident(&self, pair: &Pair<'_>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(pair) }
    }

    pub fn string(&self, pair: &Pair<'_>) -> Lowered<StringLit> {
        let body = pair.clone().into_inner().next().ok_or_else(|| self.unexpected(pair))?;
        let value = unescape(body.as_str(), self.span(&body))?;
        Ok(StringLit { value, span: self.span(pair) })
    }

    pub fn strings<'p>(&self, pairs: impl Iterator<Item = Pair<'p>>) -> Lowered<Vec<StringLit>> {
        pairs.filter(|p| p.as_rule() == Rule::string).map(|p| self.string(&p)).collect()
    }

    pub fn count(&self, pair: &Pair<'_>) -> Lowered<u32> {
        pair.as_str().parse().map_err(|_| {
            Diagnostic::error("botrun::syntax", "this number is too large")
                .at(self.span(pair), "too large")
                .with_help("use a number below 4294967296")
        })
    }

    pub fn duration(&self, pair: &Pair<'_>) -> Lowered<Duration> {
        let span = self.span(pair);
        let seconds = super::duration::parse_seconds(pair.as_str()).ok_or_else(|| {
            Diagnostic::error("botrun::syntax", "this duration is too long")
                .at(span, "too long")
                .with_help("durations must stay below a few hundred years")
        })?;
        Ok(Duration { seconds, span })
    }

    pub fn date(&self, pair: &Pair<'_>) -> Lowered<DateLit> {
        let text = pair.as_str();
        let part = |r: std::ops::Range<usize>| text.get(r).and_then(|s| s.parse::<u32>().ok());
        match (part(0..4), part(5..7), part(8..10)) {
            (Some(year), Some(month), Some(day)) => Ok(DateLit {
                year: i32::try_from(year).unwrap_or(0),
                month,
                day,
                span: self.span(pair),
            }),
            _ => Err(self.unexpected(pair)),
        }
    }

    /// A time as written; whether it is a real time of day is `check`'s question (so that every
    /// problem of an `hours` block is reported together).
    pub fn time(&self, pair: &Pair<'_>) -> Lowered<TimeOfDay> {
        let text = pair.as_str();
        let part = |r: std::ops::Range<usize>| text.get(r).and_then(|s| s.parse::<u8>().ok());
        match (part(0..2), part(3..5)) {
            (Some(hour), Some(minute)) => Ok(TimeOfDay { hour, minute }),
            _ => Err(self.unexpected(pair)),
        }
    }

    pub(crate) fn var_path(&self, pair: &Pair<'_>) -> VarPath {
        VarPath {
            segments: pair.as_str().split('.').map(str::to_string).collect(),
            span: self.span(pair),
        }
    }

    pub(crate) fn regex(&self, pair: &Pair<'_>) -> Lowered<RegexLit> {
        let mut inner = pair.clone().into_inner();
        let body = inner.next().ok_or_else(|| self.unexpected(pair))?;
        let flags = inner.next().map(|p| p.as_str().to_string()).unwrap_or_default();
        // `\/` is how a slash is written inside the slashes; the regex itself wants `/`.
        Ok(RegexLit { pattern: body.as_str().replace("\\/", "/"), flags, span: self.span(pair) })
    }

    pub fn template(&self, pair: &Pair<'_>) -> Lowered<Template> {
        let mut parts: Vec<TemplatePart> = Vec::new();
        let mut raw = String::new();
        for part in pair.clone().into_inner() {
            match part.as_rule() {
                Rule::tpl_text => {
                    raw.push_str(part.as_str());
                    push_text(&mut parts, part.as_str());
                }
                Rule::tpl_escape => {
                    let decoded = unescape(part.as_str(), self.span(&part))?;
                    raw.push_str(part.as_str());
                    push_text(&mut parts, &decoded);
                }
                Rule::tpl_value => {
                    raw.push_str(part.as_str());
                    parts.push(self.template_value(&part)?);
                }
                _ => return Err(self.unexpected(&part)),
            }
        }
        Ok(Template { raw, parts, translations: Vec::new(), span: self.span(pair) })
    }

    fn template_value(&self, pair: &Pair<'_>) -> Lowered<TemplatePart> {
        let mut value = None;
        let mut default = None;
        for inner in pair.clone().into_inner() {
            match inner.as_rule() {
                Rule::var_path => value = Some(TemplateValue::Var(self.var_path(&inner))),
                Rule::tpl_call => {
                    let mut names = inner.clone().into_inner();
                    let function = names.next().ok_or_else(|| self.unexpected(&inner))?;
                    value = Some(TemplateValue::Call {
                        function: self.ident(&function),
                        args: names.map(|n| self.ident(&n)).collect(),
                    });
                }
                Rule::tpl_default => {
                    let text = inner.clone().into_inner().next().map(|p| p.as_str().to_string());
                    default = Some(text.unwrap_or_default());
                }
                _ => return Err(self.unexpected(&inner)),
            }
        }
        let value = value.ok_or_else(|| self.unexpected(pair))?;
        Ok(TemplatePart::Value { value, default, span: self.span(pair) })
    }

    pub(crate) fn phrase_parts(&self, seq: &Pair<'_>) -> Lowered<Vec<PhrasePart>> {
        seq.clone().into_inner().map(|p| self.phrase_part(&p)).collect()
    }

    fn phrase_part(&self, pair: &Pair<'_>) -> Lowered<PhrasePart> {
        let span = self.span(pair);
        let kind = match pair.as_rule() {
            Rule::p_word => PhrasePartKind::Word(unescape(pair.as_str(), span)?),
            Rule::p_wildcard => PhrasePartKind::Wildcard,
            Rule::p_listref => PhrasePartKind::ListRef(self.inner_ident(pair)?),
            Rule::p_optional => {
                let seq = pair.clone().into_inner().next().ok_or_else(|| self.unexpected(pair))?;
                PhrasePartKind::Optional(self.phrase_parts(&seq)?)
            }
            Rule::p_alts => PhrasePartKind::Alternatives(
                pair.clone()
                    .into_inner()
                    .map(|seq| self.phrase_parts(&seq))
                    .collect::<Lowered<_>>()?,
            ),
            Rule::p_capture => {
                let mut inner = pair.clone().into_inner();
                let name = inner.next().ok_or_else(|| self.unexpected(pair))?;
                let ty = match inner.next() {
                    None => CaptureType::Default,
                    Some(t) if t.as_rule() == Rule::p_capture_list => {
                        CaptureType::List(self.inner_ident(&t)?)
                    }
                    Some(t) => CaptureType::Named(self.ident(&t)),
                };
                PhrasePartKind::Capture { name: self.ident(&name), ty }
            }
            _ => return Err(self.unexpected(pair)),
        };
        Ok(PhrasePart { kind, span })
    }

    /// The identifier inside `@name`.
    pub(crate) fn inner_ident(&self, pair: &Pair<'_>) -> Lowered<Ident> {
        let inner = pair.clone().into_inner().next().ok_or_else(|| self.unexpected(pair))?;
        Ok(self.ident(&inner))
    }

    pub(crate) fn intent_names(&self, pair: &Pair<'_>) -> Vec<Ident> {
        pair.clone().into_inner().map(|p| self.ident(&p)).collect()
    }

    pub(crate) fn expr(&self, pair: &Pair<'_>) -> Lowered<Expr> {
        let span = self.span(pair);
        match pair.as_rule() {
            Rule::expr | Rule::conjunction => {
                let mut operands = pair.clone().into_inner();
                let first = operands.next().ok_or_else(|| self.unexpected(pair))?;
                let mut acc = self.expr(&first)?;
                for next in operands {
                    let rhs = self.expr(&next)?;
                    let joined = acc.span.to(rhs.span);
                    let kind = if pair.as_rule() == Rule::expr {
                        ExprKind::Or(Box::new(acc), Box::new(rhs))
                    } else {
                        ExprKind::And(Box::new(acc), Box::new(rhs))
                    };
                    acc = Expr { kind, span: joined };
                }
                Ok(acc)
            }
            Rule::negation => {
                let mut inner = pair.clone().into_inner();
                let first = inner.next().ok_or_else(|| self.unexpected(pair))?;
                if first.as_rule() == Rule::not_kw {
                    let operand = inner.next().ok_or_else(|| self.unexpected(pair))?;
                    Ok(Expr { kind: ExprKind::Not(Box::new(self.expr(&operand)?)), span })
                } else {
                    self.expr(&first)
                }
            }
            Rule::test => self.test(pair),
            Rule::operand => self.operand(pair),
            Rule::sum | Rule::product => self.sum(pair),
            _ => Err(self.unexpected(pair)),
        }
    }

    fn test(&self, pair: &Pair<'_>) -> Lowered<Expr> {
        let span = self.span(pair);
        let mut inner = pair.clone().into_inner();
        let first = inner.next().ok_or_else(|| self.unexpected(pair))?;
        if first.as_rule() == Rule::open_test {
            let mut parts = first.clone().into_inner();
            let keyword = parts.next().ok_or_else(|| self.unexpected(&first))?;
            let calendar = parts.next().ok_or_else(|| self.unexpected(&first))?;
            let negated = keyword.as_str().starts_with("closed");
            let (when, at) = match parts.next() {
                Some(when) => {
                    let operand =
                        when.clone().into_inner().next().ok_or_else(|| self.unexpected(&when))?;
                    (Some(Box::new(self.operand(&operand)?)), when.as_str().starts_with("at"))
                }
                None => (None, false),
            };
            return Ok(Expr {
                kind: ExprKind::Open { calendar: self.ident(&calendar), negated, when, at },
                span,
            });
        }
        let operand = self.sum(&first)?;
        let Some(tail) = inner.next() else {
            return Ok(operand);
        };
        let boxed = Box::new(operand);
        let kind = match tail.as_rule() {
            Rule::is_empty => ExprKind::IsEmpty { operand: boxed, negated: false },
            Rule::is_not_empty => ExprKind::IsEmpty { operand: boxed, negated: true },
            Rule::in_list | Rule::not_in_list => {
                let list =
                    tail.clone().into_inner().next().ok_or_else(|| self.unexpected(&tail))?;
                ExprKind::InList {
                    operand: boxed,
                    list: self.ident(&list),
                    negated: tail.as_rule() == Rule::not_in_list,
                }
            }
            Rule::compare => {
                let mut parts = tail.clone().into_inner();
                let op = parts.next().ok_or_else(|| self.unexpected(&tail))?;
                let rhs = parts.next().ok_or_else(|| self.unexpected(&tail))?;
                let op = match op.as_str().split_whitespace().collect::<Vec<_>>().as_slice() {
                    ["is", "not"] => CompareOp::IsNot,
                    ["is"] => CompareOp::Is,
                    ["<"] => CompareOp::Less,
                    [">"] => CompareOp::Greater,
                    ["<="] => CompareOp::LessOrEqual,
                    [">="] => CompareOp::GreaterOrEqual,
                    _ => return Err(self.unexpected(&op)),
                };
                ExprKind::Compare { op, lhs: boxed, rhs: Box::new(self.sum(&rhs)?) }
            }
            _ => return Err(self.unexpected(&tail)),
        };
        Ok(Expr { kind, span })
    }

    /// `a + b - c` and `a * b / c`, left to right.
    fn sum(&self, pair: &Pair<'_>) -> Lowered<Expr> {
        let mut inner = pair.clone().into_inner();
        let first = inner.next().ok_or_else(|| self.unexpected(pair))?;
        let mut acc = match first.as_rule() {
            Rule::product => self.sum(&first)?,
            _ => self.operand(&first)?,
        };
        while let (Some(op), Some(next)) = (inner.next(), inner.next()) {
            let rhs = match next.as_rule() {
                Rule::product => self.sum(&next)?,
                _ => self.operand(&next)?,
            };
            let op = match op.as_str() {
                "+" => ArithOp::Add,
                "-" => ArithOp::Subtract,
                "*" => ArithOp::Multiply,
                _ => ArithOp::Divide,
            };
            let span = acc.span.to(rhs.span);
            acc =
                Expr { kind: ExprKind::Arith { op, lhs: Box::new(acc), rhs: Box::new(rhs) }, span };
        }
        Ok(acc)
    }

    fn operand(&self, pair: &Pair<'_>) -> Lowered<Expr> {
        let inner = pair.clone().into_inner().next().ok_or_else(|| self.unexpected(pair))?;
        let span = self.span(&inner);
        let kind = match inner.as_rule() {
            Rule::expr => return self.expr(&inner),
            Rule::call => {
                let mut parts = inner.clone().into_inner();
                let function = parts.next().ok_or_else(|| self.unexpected(&inner))?;
                let args = parts.map(|a| self.sum(&a)).collect::<Lowered<Vec<_>>>()?;
                ExprKind::Call { function: self.ident(&function), args }
            }
            Rule::boolean => ExprKind::Bool(inner.as_str() == "true"),
            Rule::number => ExprKind::Number(inner.as_str().to_string()),
            Rule::template => ExprKind::Text(self.template(&inner)?),
            Rule::var_path => ExprKind::Var(self.var_path(&inner)),
            _ => return Err(self.unexpected(&inner)),
        };
        Ok(Expr { kind, span })
    }
}

fn push_text(parts: &mut Vec<TemplatePart>, text: &str) {
    if let Some(TemplatePart::Text(last)) = parts.last_mut() {
        last.push_str(text);
    } else {
        parts.push(TemplatePart::Text(text.to_string()));
    }
}

/// Decodes `\"`, `\\`, `\n`, `\{`, `\}`, `\'`, `\/`; anything else after a backslash is an error.
pub(super) fn unescape(text: &str, span: Span) -> Lowered<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '"')) => out.push('"'),
            Some((_, '\\')) => out.push('\\'),
            Some((_, 'n')) => out.push('\n'),
            Some((_, c @ ('{' | '}' | '\'' | '/' | '@' | '*' | '(' | ')' | '[' | ']' | '|'))) => {
                out.push(c);
            }
            other => {
                let len = 1 + other.map_or(0, |(_, c)| c.len_utf8());
                let at = Span::new(span.file, span.start + i, span.start + i + len);
                return Err(Diagnostic::error("botrun::syntax", "unknown escape in a text")
                    .at(at, "not a known escape")
                    .with_help("write `\\\"` for a quote, `\\\\` for a backslash, `\\n` for a new line, `\\{` for a brace"));
            }
        }
    }
    Ok(out)
}
