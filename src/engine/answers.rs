//! Typed answers and captures: validation and normalisation of digits, numbers, emails, phone
//! numbers, dates and times (read by `dates`), yes/no, list entries and patterns.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::dates::{parse_date, parse_date_time, parse_time, DateOrder, DateRules};
use super::program::{AnswerKind, ListDef, Program};
use super::text::{normalise_text, tokenize};

/// What an answer is checked against besides its kind.
pub(crate) struct AnswerContext<'a> {
    pub now: DateTime<Utc>,
    pub timezone: Tz,
    pub lists: &'a [ListDef],
    pub fold_accents: bool,
    /// How `3/12/26` is read (`dates day-first` / `month-first`).
    pub date_order: DateOrder,
    /// `typos tolerated`: month and weekday names may have one typo.
    pub typos: bool,
}

impl AnswerContext<'_> {
    /// The context a compiled bot gives its answers at `now`.
    pub fn of(program: &Program, now: DateTime<Utc>) -> AnswerContext<'_> {
        AnswerContext {
            now,
            timezone: program.timezone,
            lists: &program.lists,
            fold_accents: program.accents_ignored,
            date_order: program.date_order,
            typos: program.typos,
        }
    }

    fn date_rules(&self) -> DateRules {
        DateRules {
            today: self.now.with_timezone(&self.timezone).date_naive(),
            order: self.date_order,
            typos: self.typos,
        }
    }
}

/// The normalised value of `text` as an answer of `kind`, or `None` when it is not one.
pub(crate) fn parse_answer(kind: &AnswerKind, text: &str, cx: &AnswerContext<'_>) -> Option<Value> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match kind {
        AnswerKind::Text => Some(Value::String(text.to_string())),
        AnswerKind::Word => {
            let words = tokenize(text, false);
            (words.len() == 1)
                .then(|| Value::String(text[words[0].start..words[0].end].to_string()))
        }
        AnswerKind::Digits => digits(text).map(Value::String),
        AnswerKind::Number => number(text),
        AnswerKind::Email => email(text).map(Value::String),
        AnswerKind::Phone => phone(text).map(Value::String),
        AnswerKind::Date => date(text, cx).map(|d| Value::String(d.format("%Y-%m-%d").to_string())),
        AnswerKind::Time => parse_time(text).map(|t| Value::String(t.format("%H:%M").to_string())),
        AnswerKind::DateTime => parse_date_time(text, cx.date_rules())
            .map(|t| Value::String(t.format("%Y-%m-%d %H:%M").to_string())),
        AnswerKind::YesNo => yes_no(text, cx.fold_accents)
            .map(|b| Value::String(if b { "yes" } else { "no" }.into())),
        AnswerKind::List(list) => {
            list_entry(text, cx.lists.get(usize::from(*list))?, cx.fold_accents).map(Value::String)
        }
        AnswerKind::Pattern(regex) => regex.is_match(text).then(|| Value::String(text.to_string())),
    }
}

/// Digits, allowing spaces and dashes between groups (`12 34-56` → `123456`).
pub fn digits(text: &str) -> Option<String> {
    let trimmed = text.trim_start_matches('#');
    if !trimmed.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-') {
        return None;
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

/// A decimal number; a comma is accepted as the decimal mark.
pub fn number(text: &str) -> Option<Value> {
    let cleaned = text.replace(',', ".");
    let value: f64 = cleaned.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    serde_json::Number::from_f64(value).map(Value::Number)
}

/// A plausible email address, lowercased.
pub fn email(text: &str) -> Option<String> {
    let text = text.trim_matches(|c: char| c == '<' || c == '>' || c == '.' || c == ',');
    let (local, domain) = text.split_once('@')?;
    let ok = !local.is_empty()
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    ok.then(|| text.to_lowercase())
}

/// A phone number: 7 to 15 digits, optional leading `+`, spaces, dashes, dots and brackets.
pub fn phone(text: &str) -> Option<String> {
    if !text.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
        return None;
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if !(7..=15).contains(&digits.len()) {
        return None;
    }
    Some(if text.trim_start().starts_with('+') { format!("+{digits}") } else { digits })
}

/// A date as customers type it (see `dates`), in the bot's date order.
pub fn date(text: &str, cx: &AnswerContext<'_>) -> Option<NaiveDate> {
    parse_date(text, cx.date_rules())
}

/// Yes and no in their common forms.
pub(crate) fn yes_no(text: &str, fold: bool) -> Option<bool> {
    let words = normalise_text(text, fold);
    const YES: &[&str] = &[
        "yes",
        "y",
        "yeah",
        "yep",
        "yup",
        "sure",
        "ok",
        "okay",
        "correct",
        "right",
        "of course",
        "please do",
        "yes please",
    ];
    const NO: &[&str] =
        &["no", "n", "nope", "nah", "not really", "no thanks", "no thank you", "cancel"];
    if YES.contains(&words.as_str()) {
        Some(true)
    } else if NO.contains(&words.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// The list entry the text names (normalised comparison); returns the entry as written.
pub(crate) fn list_entry(text: &str, list: &ListDef, fold: bool) -> Option<String> {
    let words: Vec<String> = tokenize(text, fold).into_iter().map(|t| t.norm).collect();
    list.entries.iter().find(|(_, entry)| *entry == words).map(|(written, _)| written.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cx() -> AnswerContext<'static> {
        AnswerContext {
            now: Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).single().expect("valid"),
            timezone: chrono_tz::Europe::London,
            lists: &[],
            fold_accents: false,
            date_order: DateOrder::DayFirst,
            typos: false,
        }
    }

    #[test]
    fn answers_are_validated_and_normalised() {
        assert_eq!(digits("12 34-56"), Some("123456".into()));
        assert_eq!(digits("12a"), None);
        assert_eq!(email("Bob@Example.COM"), Some("bob@example.com".into()));
        assert_eq!(email("bob@example"), None);
        assert_eq!(phone("+44 (20) 7946-0958"), Some("+442079460958".into()));
        assert_eq!(phone("12345"), None);
        assert_eq!(yes_no("Yes please", false), Some(true));
        assert_eq!(yes_no("nope!", false), Some(false));
        assert_eq!(yes_no("maybe", false), None);
        let cx = cx();
        assert_eq!(date("tomorrow", &cx), NaiveDate::from_ymd_opt(2026, 11, 25));
        assert_eq!(date("31/12/2026", &cx), NaiveDate::from_ymd_opt(2026, 12, 31));
        assert_eq!(date("friday", &cx), NaiveDate::from_ymd_opt(2026, 11, 27));
        assert_eq!(date("2026-02-30", &cx), None);
    }
}
