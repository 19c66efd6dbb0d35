//! Arithmetic, date arithmetic and the functions of expressions (`upper`, `lower`, `length`,
//! `round`), and comparing values that are dates. Values are JSON values, as everywhere in the
//! engine; a computation that makes no sense (a number plus a word, a division by zero) gives
//! an empty value, never an error, so a script keeps running.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde_json::Value;

use crate::syntax::ast::ArithOp;

use super::value::{display, is_empty};

/// The functions expressions may call, with how many arguments each takes.
pub(crate) const FUNCTIONS: &[(&str, usize)] =
    &[("upper", 1), ("lower", 1), ("length", 1), ("round", 1)];

/// How dates are stored: `YYYY-MM-DD`, and date-times `YYYY-MM-DD HH:MM`.
pub(crate) const DATE_FORMAT: &str = "%Y-%m-%d";
pub(crate) const DATE_TIME_FORMAT: &str = "%Y-%m-%d %H:%M";

/// A value read as a number, when it is one (numbers, and texts such as `"12"`).
pub(crate) fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A value read as a date or date-time, when it is one.
pub(crate) fn as_moment(value: &Value) -> Option<NaiveDateTime> {
    let Value::String(text) = value else { return None };
    let text = text.trim();
    NaiveDateTime::parse_from_str(text, DATE_TIME_FORMAT).ok().or_else(|| {
        NaiveDate::parse_from_str(text, DATE_FORMAT).ok().and_then(|d| d.and_hms_opt(0, 0, 0))
    })
}

/// Whether a text value holds a date-time (rather than a day).
pub(crate) fn has_time(value: &Value) -> bool {
    matches!(value, Value::String(s) if NaiveDateTime::parse_from_str(s.trim(), DATE_TIME_FORMAT).is_ok())
}

fn number(f: f64) -> Value {
    if f.is_finite() {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    } else {
        Value::Null
    }
}

/// `a + b` and friends: numbers; a date plus or minus days; the days between two dates.
pub(crate) fn arith(op: ArithOp, lhs: &Value, rhs: &Value) -> Value {
    // An unset variable counts as 0, so `set n to n + 1` counts from 1.
    let operand = |v: &Value| if v.is_null() { Some(0.0) } else { as_number(v) };
    if let (Some(a), Some(b)) = (operand(lhs), operand(rhs)) {
        return match op {
            ArithOp::Add => number(a + b),
            ArithOp::Subtract => number(a - b),
            ArithOp::Multiply => number(a * b),
            ArithOp::Divide if b == 0.0 => Value::Null,
            ArithOp::Divide => number(a / b),
        };
    }
    match (as_moment(lhs), as_number(rhs), op) {
        (Some(at), Some(days), ArithOp::Add | ArithOp::Subtract) if days.fract() == 0.0 => {
            #[allow(clippy::cast_possible_truncation)]
            let days = Duration::days(days.clamp(-1e6, 1e6) as i64);
            let moved = if op == ArithOp::Add { at + days } else { at - days };
            let format = if has_time(lhs) { DATE_TIME_FORMAT } else { DATE_FORMAT };
            Value::String(moved.format(format).to_string())
        }
        _ => match (as_moment(lhs), as_moment(rhs), op) {
            #[allow(clippy::cast_precision_loss)]
            (Some(a), Some(b), ArithOp::Subtract) => {
                number((a.date() - b.date()).num_days() as f64)
            }
            _ => Value::Null,
        },
    }
}

/// `upper(x)`, `lower(x)`, `length(x)`, `round(x)`; unknown functions (which `validate`
/// refuses) give an empty value.
pub fn call(function: &str, args: &[Value]) -> Value {
    let Some(arg) = args.first() else { return Value::Null };
    match function {
        "upper" => Value::String(display(arg).to_uppercase()),
        "lower" => Value::String(display(arg).to_lowercase()),
        "length" => {
            let n = match arg {
                Value::Array(items) => items.len(),
                Value::Object(fields) => fields.len(),
                other if is_empty(other) => 0,
                other => display(other).chars().count(),
            };
            Value::Number(n.into())
        }
        "round" => as_number(arg).map_or(Value::Null, |f| number(f.round())),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_dates_and_functions() {
        assert_eq!(arith(ArithOp::Add, &json!(1), &json!("2")), json!(3.0));
        assert_eq!(arith(ArithOp::Divide, &json!(1), &json!(0)), Value::Null);
        assert_eq!(arith(ArithOp::Add, &json!("2026-12-30"), &json!(3)), json!("2027-01-02"));
        assert_eq!(
            arith(ArithOp::Subtract, &json!("2026-12-03 10:00"), &json!(1)),
            json!("2026-12-02 10:00")
        );
        assert_eq!(
            arith(ArithOp::Subtract, &json!("2026-12-03"), &json!("2026-11-24")),
            json!(9.0)
        );
        assert_eq!(arith(ArithOp::Add, &json!("a"), &json!(1)), Value::Null);
        assert_eq!(arith(ArithOp::Add, &Value::Null, &json!(1)), json!(1.0));
        assert_eq!(call("upper", &[json!("Ab")]), json!("AB"));
        assert_eq!(call("length", &[json!([1, 2, 3])]), json!(3));
        assert_eq!(call("length", &[json!("héllo")]), json!(5));
        assert_eq!(call("length", &[Value::Null]), json!(0));
        assert_eq!(call("round", &[json!(2.5)]), json!(3.0));
    }
}
