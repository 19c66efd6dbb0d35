//! Values at run time: reading variables (`contact.*`, `env.*`, `message`, `today`, `now`,
//! fetched JSON), rendering templates, and evaluating conditions and arithmetic (`compute`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::syntax::ast::{
    CompareOp, Expr, ExprKind, Template, TemplatePart, TemplateValue, VarPath,
};

use super::compute::{self, as_number};
use super::program::Program;
use super::state::State;
use super::text::normalise_text;

/// What expressions and templates can see.
pub(crate) struct Scope<'a> {
    pub program: &'a Program,
    pub state: &'a State,
    pub now: DateTime<Utc>,
}

impl Scope<'_> {
    /// The value of a variable path; `Null` when unset.
    pub fn lookup(&self, path: &VarPath) -> Value {
        let segments = &path.segments;
        let Some(root) = segments.first() else { return Value::Null };
        let rest = &segments[1..];
        match root.as_str() {
            "contact" => {
                let contact = &self.state.contact;
                let field = match rest.first().map(String::as_str) {
                    Some("name") | None => contact.name.clone(),
                    Some("email") => contact.email.clone(),
                    Some("phone") => contact.phone.clone(),
                    Some(other) => contact.attributes.get(other).cloned(),
                };
                field.map_or(Value::Null, Value::String)
            }
            "env" => rest
                .first()
                .and_then(|k| self.program.env.get(k))
                .map_or(Value::Null, |v| Value::String(v.clone())),
            // The conversation's language, unless the script set `language` itself.
            "language" if rest.is_empty() && !self.state.vars.contains_key("language") => self
                .program
                .language_of(self.state)
                .map_or(Value::Null, |code| Value::String(code.to_string())),
            "message" if rest.is_empty() && !self.state.vars.contains_key("message") => {
                self.state.message.clone().map_or(Value::Null, Value::String)
            }
            // `today` and `now` in the bot's timezone, unless the script set a variable so named.
            "today" if rest.is_empty() && !self.state.vars.contains_key("today") => {
                let local = self.now.with_timezone(&self.program.timezone);
                Value::String(local.format(compute::DATE_FORMAT).to_string())
            }
            "now" if rest.is_empty() && !self.state.vars.contains_key("now") => {
                let local = self.now.with_timezone(&self.program.timezone);
                Value::String(local.format(compute::DATE_TIME_FORMAT).to_string())
            }
            name => {
                let mut value = self.state.vars.get(name).cloned().unwrap_or(Value::Null);
                for key in rest {
                    value = match value {
                        Value::Object(mut map) => map.remove(key).unwrap_or(Value::Null),
                        Value::Array(items) => key
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| items.into_iter().nth(i))
                            .unwrap_or(Value::Null),
                        _ => Value::Null,
                    };
                }
                value
            }
        }
    }

    /// Fills the placeholders of the template's version in the conversation's language; unset
    /// values without a default render as nothing.
    pub fn render(&self, template: &Template) -> String {
        let template = super::language::version(template, self.program.language_of(self.state));
        let mut out = String::new();
        for part in &template.parts {
            match part {
                TemplatePart::Text(text) => out.push_str(text),
                TemplatePart::Value { value, default, .. } => {
                    let text = match value {
                        TemplateValue::Var(path) => display(&self.lookup(path)),
                        TemplateValue::Call { function, args } => {
                            self.call(&function.name, args.first().map(|a| a.name.as_str()))
                        }
                    };
                    if text.is_empty() {
                        out.push_str(default.as_deref().unwrap_or(""));
                    } else {
                        out.push_str(&text);
                    }
                }
            }
        }
        out
    }

    fn call(&self, function: &str, arg: Option<&str>) -> String {
        if let (Some(_), Some(path)) =
            (compute::FUNCTIONS.iter().find(|(name, _)| *name == function), arg)
        {
            let path = VarPath {
                segments: path.split('.').map(str::to_string).collect(),
                span: crate::source::Span::default(),
            };
            return display(&compute::call(function, &[self.lookup(&path)]));
        }
        match (function, arg) {
            ("next_open", Some(calendar)) => self
                .program
                .calendar_index
                .get(calendar)
                .and_then(|i| self.program.calendars.get(*i))
                .map(|c| c.describe_next_open(self.now))
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    pub(crate) fn eval(&self, expr: &Expr) -> Value {
        match &expr.kind {
            ExprKind::Or(a, b) => Value::Bool(truthy(&self.eval(a)) || truthy(&self.eval(b))),
            ExprKind::And(a, b) => Value::Bool(truthy(&self.eval(a)) && truthy(&self.eval(b))),
            ExprKind::Not(a) => Value::Bool(!truthy(&self.eval(a))),
            ExprKind::Compare { op, lhs, rhs } => {
                Value::Bool(self.compare(*op, &self.eval(lhs), &self.eval(rhs)))
            }
            ExprKind::IsEmpty { operand, negated } => {
                Value::Bool(is_empty(&self.eval(operand)) != *negated)
            }
            ExprKind::InList { operand, list, negated } => {
                let wanted =
                    normalise_text(&display(&self.eval(operand)), self.program.accents_ignored);
                let found =
                    self.program.lists.iter().find(|l| l.name == list.name).is_some_and(|l| {
                        l.entries.iter().any(|(_, words)| words.join(" ") == wanted)
                    });
                Value::Bool(found != *negated)
            }
            ExprKind::Open { calendar, negated, when, .. } => {
                let Some(calendar) = self
                    .program
                    .calendar_index
                    .get(&calendar.name)
                    .and_then(|i| self.program.calendars.get(*i))
                else {
                    return Value::Bool(*negated);
                };
                let open = match when {
                    None => calendar.is_open(self.now),
                    Some(when) => {
                        let value = self.eval(when);
                        match compute::as_moment(&value) {
                            Some(at) if compute::has_time(&value) => calendar.is_open_at_local(at),
                            Some(day) => calendar.is_open_on(day.date()),
                            // Not a date: neither open nor closed can be claimed.
                            None => return Value::Bool(false),
                        }
                    }
                };
                Value::Bool(open != *negated)
            }
            ExprKind::Arith { op, lhs, rhs } => {
                compute::arith(*op, &self.eval(lhs), &self.eval(rhs))
            }
            ExprKind::Call { function, args } => {
                let args: Vec<Value> = args.iter().map(|a| self.eval(a)).collect();
                compute::call(&function.name, &args)
            }
            ExprKind::Var(path) => self.lookup(path),
            ExprKind::Text(template) => Value::String(self.render(template)),
            ExprKind::Number(n) => n
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number),
            ExprKind::Bool(b) => Value::Bool(*b),
        }
    }

    fn compare(&self, op: CompareOp, lhs: &Value, rhs: &Value) -> bool {
        if let (Some(a), Some(b)) = (compute::as_moment(lhs), compute::as_moment(rhs)) {
            // Dates compare by day unless both sides carry a time.
            let (a, b) = if compute::has_time(lhs) && compute::has_time(rhs) {
                (a, b)
            } else {
                (
                    a.date().and_time(chrono::NaiveTime::MIN),
                    b.date().and_time(chrono::NaiveTime::MIN),
                )
            };
            return ordered(op, &a, &b);
        }
        let numbers = (as_number(lhs), as_number(rhs));
        if let (Some(a), Some(b)) = numbers {
            return match op {
                CompareOp::Is => (a - b).abs() < f64::EPSILON,
                CompareOp::IsNot => (a - b).abs() >= f64::EPSILON,
                CompareOp::Less => a < b,
                CompareOp::Greater => a > b,
                CompareOp::LessOrEqual => a <= b,
                CompareOp::GreaterOrEqual => a >= b,
            };
        }
        let fold = self.program.accents_ignored;
        let a = normalise_text(&display(lhs), fold);
        let b = normalise_text(&display(rhs), fold);
        ordered(op, &a, &b)
    }
}

/// How a value reads in a message.
pub fn display(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => !matches!(s.trim().to_lowercase().as_str(), "" | "no" | "false"),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        other => !is_empty(other),
    }
}

/// `a op b` for values with an exact order (dates, normalised text).
fn ordered<T: PartialOrd>(op: CompareOp, a: &T, b: &T) -> bool {
    match op {
        CompareOp::Is => a == b,
        CompareOp::IsNot => a != b,
        CompareOp::Less => a < b,
        CompareOp::Greater => a > b,
        CompareOp::LessOrEqual => a <= b,
        CompareOp::GreaterOrEqual => a >= b,
    }
}
