//! Types, where they are known: a number plus a word, a date times two, a date compared with a
//! number, or a calendar asked about something that is not a day. Values come from `ask … as`
//! (dates, times, numbers), literals, `today` and `now`; anything else (fetched JSON, captures,
//! texts typed by the customer) is not judged.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};

use crate::diagnostic::Diagnostic;
use crate::syntax::ast::{
    AnswerType, ArithOp, CompareOp, Expr, ExprKind, File, StmtKind, TemplatePart,
};

use super::visit::{exprs, for_each_stmt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Number,
    Text,
    Date,
    DateTime,
    Time,
    Unknown,
}

impl Ty {
    fn words(self) -> &'static str {
        match self {
            Ty::Number => "a number",
            Ty::Text => "a text",
            Ty::Date => "a date",
            Ty::DateTime => "a date and time",
            Ty::Time => "a time of day",
            Ty::Unknown => "a value",
        }
    }

    fn is_moment(self) -> bool {
        matches!(self, Ty::Date | Ty::DateTime)
    }
}

/// The type of a literal text: a date, a date-time or a number written in quotes count as such.
fn text_type(text: &str) -> Ty {
    if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        Ty::Date
    } else if NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").is_ok() {
        Ty::DateTime
    } else if text.trim().parse::<f64>().is_ok() {
        Ty::Number
    } else {
        Ty::Text
    }
}

struct Types {
    /// Variables whose every `ask` gives them one type.
    vars: HashMap<String, Ty>,
}

impl Types {
    fn of(&self, expr: &Expr) -> Ty {
        match &expr.kind {
            ExprKind::Number(_) => Ty::Number,
            ExprKind::Text(t) => {
                // Only a text without placeholders has a type known before the bot runs.
                match t.parts.as_slice() {
                    [TemplatePart::Text(text)] => text_type(text),
                    [] => Ty::Text,
                    _ => Ty::Unknown,
                }
            }
            ExprKind::Var(path) if path.segments.len() == 1 => {
                match (path.root(), self.vars.get(path.root())) {
                    (_, Some(ty)) => *ty,
                    ("today", None) => Ty::Date,
                    ("now", None) => Ty::DateTime,
                    _ => Ty::Unknown,
                }
            }
            ExprKind::Arith { op, lhs, rhs } => match (self.of(lhs), *op, self.of(rhs)) {
                (Ty::Number, _, Ty::Number) => Ty::Number,
                (l, ArithOp::Add | ArithOp::Subtract, Ty::Number) if l.is_moment() => l,
                (l, ArithOp::Subtract, r) if l.is_moment() && r.is_moment() => Ty::Number,
                _ => Ty::Unknown,
            },
            ExprKind::Call { function, .. } => match function.name.as_str() {
                "length" | "round" => Ty::Number,
                "upper" | "lower" => Ty::Text,
                _ => Ty::Unknown,
            },
            _ => Ty::Unknown,
        }
    }

    fn check(&self, expr: &Expr, out: &mut Vec<Diagnostic>) {
        match &expr.kind {
            ExprKind::Arith { op, lhs, rhs } => {
                let (l, r) = (self.of(lhs), self.of(rhs));
                let problem = match (l, *op, r) {
                    (Ty::Text, _, _) => {
                        Some((lhs, "a word cannot be added to or multiplied by anything"))
                    }
                    (_, _, Ty::Text) => {
                        Some((rhs, "a word cannot be added to or multiplied by anything"))
                    }
                    (l, ArithOp::Multiply | ArithOp::Divide, _)
                        if l.is_moment() || l == Ty::Time =>
                    {
                        Some((lhs, "a date can only be moved by days with `+` and `-`"))
                    }
                    (_, ArithOp::Multiply | ArithOp::Divide, r)
                        if r.is_moment() || r == Ty::Time =>
                    {
                        Some((rhs, "a date can only be moved by days with `+` and `-`"))
                    }
                    (l, ArithOp::Add, r) if l.is_moment() && r.is_moment() => Some((
                        rhs,
                        "two dates cannot be added; subtract them to get the days between",
                    )),
                    _ => None,
                };
                if let Some((at, why)) = problem {
                    out.push(
                        Diagnostic::error("botrun::type_mismatch", format!("`{}` does not work on {}", op.symbol(), self.of(at).words()))
                            .at(at.span, format!("{} here", self.of(at).words()))
                            .with_help(format!("{why}; arithmetic works on numbers (`n + 1`) and moves dates by days (`today + 7`)")),
                    );
                }
            }
            ExprKind::Compare { op, lhs, rhs }
                if !matches!(op, CompareOp::Is | CompareOp::IsNot) =>
            {
                let (l, r) = (self.of(lhs), self.of(rhs));
                let mismatch = (l.is_moment() && matches!(r, Ty::Number | Ty::Text))
                    || (r.is_moment() && matches!(l, Ty::Number | Ty::Text));
                if mismatch {
                    let (date, other) = if l.is_moment() { (lhs, rhs) } else { (rhs, lhs) };
                    out.push(
                        Diagnostic::error("botrun::type_mismatch", format!("{} is compared with {}", self.of(date).words(), self.of(other).words()))
                            .at(other.span, format!("{} here", self.of(other).words()))
                            .also(date.span, "a date")
                            .with_help("compare a date with another date: `today`, `today + 7` or a date in quotes such as \"2026-12-25\""),
                    );
                }
            }
            ExprKind::Open { when: Some(when), .. } => {
                let ty = self.of(when);
                if matches!(ty, Ty::Number | Ty::Text | Ty::Time) {
                    out.push(
                        Diagnostic::error("botrun::type_mismatch", format!("a calendar is asked about {}", ty.words()))
                            .at(when.span, format!("{} here", ty.words()))
                            .with_help("ask `on` a date (`ask day as date`) or `at` a date and time (`ask visit as datetime`, or \"{day} {time}\")"),
                    );
                }
            }
            _ => {}
        }
    }
}

pub fn check(file: &File, out: &mut Vec<Diagnostic>) {
    let mut vars: HashMap<String, Ty> = HashMap::new();
    let mut conflicting: Vec<String> = Vec::new();
    for_each_stmt(file, &mut |stmt, _| {
        let (name, ty) = match &stmt.kind {
            StmtKind::Ask(ask) => {
                let ty = match &ask.ty {
                    AnswerType::Named(n) => match n.name.as_str() {
                        "number" => Ty::Number,
                        "date" => Ty::Date,
                        "datetime" => Ty::DateTime,
                        "time" => Ty::Time,
                        _ => Ty::Unknown,
                    },
                    _ => Ty::Unknown,
                };
                (ask.var.name.clone(), ty)
            }
            // A `set` or `fetch` may give the name any value: its type is then unknown.
            StmtKind::Set { var, .. } => (var.root().to_string(), Ty::Unknown),
            StmtKind::Fetch(fetch) => (fetch.into.name.clone(), Ty::Unknown),
            _ => return,
        };
        match vars.get(&name) {
            Some(known) if *known != ty => conflicting.push(name),
            _ => {
                vars.insert(name, ty);
            }
        }
    });
    for name in conflicting {
        vars.insert(name, Ty::Unknown);
    }
    let types = Types { vars };
    for_each_stmt(file, &mut |stmt, _| {
        for expr in exprs(stmt) {
            types.check(expr, out);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_texts_have_the_type_they_spell() {
        assert_eq!(text_type("2026-12-25"), Ty::Date);
        assert_eq!(text_type("2026-12-25 10:00"), Ty::DateTime);
        assert_eq!(text_type("12"), Ty::Number);
        assert_eq!(text_type("soon"), Ty::Text);
    }
}
