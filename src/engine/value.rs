//! Values at run time: reading variables (`contact.*`, `env.*`, `message`, fetched JSON),
//! rendering templates, and evaluating conditions.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::syntax::ast::{
    CompareOp, Expr, ExprKind, Template, TemplatePart, TemplateValue, VarPath,
};

use super::program::Program;
use super::state::State;
use super::text::normalise_text;

/// What expressions and templates can see.
pub struct Scope<'a> {
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
            "message" if rest.is_empty() && !self.state.vars.contains_key("message") => {
                self.state.message.clone().map_or(Value::Null, Value::String)
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

    /// Fills a template's placeholders; unset values without a default render as nothing.
    pub fn render(&self, template: &Template) -> String {
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

    pub fn eval(&self, expr: &Expr) -> Value {
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
            ExprKind::Open { calendar, negated } => {
                let open = self
                    .program
                    .calendar_index
                    .get(&calendar.name)
                    .and_then(|i| self.program.calendars.get(*i))
                    .is_some_and(|c| c.is_open(self.now));
                Value::Bool(open != *negated)
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
        match op {
            CompareOp::Is => a == b,
            CompareOp::IsNot => a != b,
            CompareOp::Less => a < b,
            CompareOp::Greater => a > b,
            CompareOp::LessOrEqual => a <= b,
            CompareOp::GreaterOrEqual => a >= b,
        }
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

fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
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

pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => !matches!(s.trim().to_lowercase().as_str(), "" | "no" | "false"),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        other => !is_empty(other),
    }
}
