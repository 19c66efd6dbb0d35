//! Dates and times as customers type them: `12/3/26` (in the bot's date order), `2026-12-03`,
//! `December 3`, `dec 3rd`, `the 3rd of December`, `on friday`, `next friday`, `in 3 days`,
//! `tomorrow`; times such as `2 pm`, `14:30`, `14h30`, `noon`; and both together (`tomorrow at
//! 3pm`). A date without a year is the next such day (today included). With `typos tolerated`
//! a month or weekday name of five or more letters may have one typo (`decmber`, `fridya`).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};

/// How `3/12/26`-style dates are read: the bot's `dates day-first` / `dates month-first`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum DateOrder {
    #[default]
    DayFirst,
    MonthFirst,
}

impl DateOrder {
    /// The default for a bot in `timezone`: month first in the United States' timezones (where
    /// people write 12/3 for December 3), day first everywhere else, including UTC.
    pub(crate) fn for_timezone(timezone: &str) -> DateOrder {
        const US: &[&str] = &[
            "America/New_York",
            "America/Chicago",
            "America/Denver",
            "America/Los_Angeles",
            "America/Phoenix",
            "America/Anchorage",
            "America/Juneau",
            "America/Sitka",
            "America/Yakutat",
            "America/Nome",
            "America/Metlakatla",
            "America/Adak",
            "America/Boise",
            "America/Detroit",
            "America/Menominee",
            "America/Indiana/",
            "America/Kentucky/",
            "America/North_Dakota/",
            "America/Louisville",
            "America/Puerto_Rico",
            "Pacific/Honolulu",
            "US/",
        ];
        if US
            .iter()
            .any(|zone| timezone == *zone || (zone.ends_with('/') && timezone.starts_with(zone)))
        {
            DateOrder::MonthFirst
        } else {
            DateOrder::DayFirst
        }
    }
}

/// What reading a date needs: today in the bot's timezone, the order, and typo tolerance.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DateRules {
    pub today: NaiveDate,
    pub order: DateOrder,
    pub typos: bool,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] =
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// Matches `word` against full names and their 3-letter (and `sept`, `tues`, `thur(s)`)
/// abbreviations; one typo in a name of five or more letters when `typos` is on.
fn name_index(word: &str, names: &[&str], typos: bool) -> Option<usize> {
    let word = word.trim_end_matches('.');
    if word.len() < 3 {
        return None;
    }
    if let Some(i) = names
        .iter()
        .position(|n| *n == word || (word.len() >= 3 && n.starts_with(word) && word.len() <= 4))
    {
        return Some(i);
    }
    if typos && word.chars().count() >= 5 {
        return names.iter().position(|n| strsim::damerau_levenshtein(n, word) <= 1);
    }
    None
}

fn month(word: &str, typos: bool) -> Option<u32> {
    name_index(word, &MONTHS, typos).and_then(|i| u32::try_from(i + 1).ok())
}

fn weekday(word: &str, typos: bool) -> Option<usize> {
    name_index(word, &WEEKDAYS, typos)
}

/// `3`, `3rd`, `1st`, `22nd`, `4th` → the day number.
fn day_number(word: &str) -> Option<u32> {
    let digits = word
        .strip_suffix("st")
        .or_else(|| word.strip_suffix("nd"))
        .or_else(|| word.strip_suffix("rd"))
        .or_else(|| word.strip_suffix("th"))
        .unwrap_or(word);
    let day: u32 = digits.parse().ok()?;
    (1..=31).contains(&day).then_some(day)
}

fn year_number(word: &str) -> Option<i32> {
    if !word.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let year: i32 = word.parse().ok()?;
    match word.len() {
        2 => Some(2000 + year),
        4 => Some(year),
        _ => None,
    }
}

/// The next `month`/`day` from today on (this year's, or next year's when it has passed).
fn next_occurrence(today: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    let this_year = NaiveDate::from_ymd_opt(today.year(), month, day);
    match this_year {
        Some(date) if date >= today => Some(date),
        _ => NaiveDate::from_ymd_opt(today.year() + 1, month, day).or(this_year),
    }
}

fn words_of(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// A date as a customer types it, or `None`.
pub(crate) fn parse_date(text: &str, rules: DateRules) -> Option<NaiveDate> {
    let mut words = words_of(text);
    // Filler that does not change the date: "on friday", "the 3rd of december".
    words.retain(|w| !matches!(w.as_str(), "on" | "the" | "of" | "this"));
    let today = rules.today;
    match words.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["today"] => Some(today),
        ["tomorrow"] => Some(today + Duration::days(1)),
        ["yesterday"] => Some(today - Duration::days(1)),
        ["day", "after", "tomorrow"] => Some(today + Duration::days(2)),
        ["in", n, unit] => {
            let n: i64 = match *n {
                "a" | "one" => 1,
                "two" => 2,
                "three" => 3,
                n => n.parse().ok()?,
            };
            let days = match unit.trim_end_matches('s') {
                "day" => n,
                "week" => n.checked_mul(7)?,
                _ => return None,
            };
            (0..=3660).contains(&days).then(|| today + Duration::days(days))
        }
        ["next", "week"] => Some(today + Duration::days(7)),
        ["next", day] => weekday(day, rules.typos).map(|i| next_weekday(today, i)),
        [day] if weekday(day, rules.typos).is_some() => {
            weekday(day, rules.typos).map(|i| next_weekday(today, i))
        }
        [single] => numeric_date(single, rules),
        parts => named_month_date(parts, rules),
    }
}

/// The next `index` weekday after today (a week ahead when it is today).
fn next_weekday(today: NaiveDate, index: usize) -> NaiveDate {
    let current = today.weekday().num_days_from_monday() as usize;
    let ahead = (index + 7 - current) % 7;
    let ahead = if ahead == 0 { 7 } else { ahead };
    today + Duration::days(i64::try_from(ahead).unwrap_or(7))
}

/// `2026-12-03`, and `3/12/2026`, `3.12.26`, `3-12`, read in the bot's order.
fn numeric_date(text: &str, rules: DateRules) -> Option<NaiveDate> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date);
    }
    let separator = ['/', '.', '-'].into_iter().find(|s| text.contains(*s))?;
    let parts: Vec<&str> = text.split(separator).collect();
    if parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
        return None;
    }
    let (a, b): (u32, u32) = (parts[0].parse().ok()?, parts.get(1)?.parse().ok()?);
    let (day, month) = match rules.order {
        DateOrder::DayFirst => (a, b),
        DateOrder::MonthFirst => (b, a),
    };
    match parts.len() {
        2 => next_occurrence(rules.today, month, day),
        3 => NaiveDate::from_ymd_opt(year_number(parts[2])?, month, day),
        _ => None,
    }
}

/// `december 3`, `dec 3rd 2026`, `3 december`, `3rd december 26`.
fn named_month_date(parts: &[&str], rules: DateRules) -> Option<NaiveDate> {
    let (month, day, rest) = match parts {
        [m, d, rest @ ..] if month(m, rules.typos).is_some() => {
            (month(m, rules.typos)?, day_number(d)?, rest)
        }
        [d, m, rest @ ..] if month(m, rules.typos).is_some() => {
            (month(m, rules.typos)?, day_number(d)?, rest)
        }
        _ => return None,
    };
    match rest {
        [] => next_occurrence(rules.today, month, day),
        [year] => NaiveDate::from_ymd_opt(year_number(year)?, month, day),
        _ => None,
    }
}

/// A time of day: `14:30`, `14h30`, `14h`, `2 pm`, `2:30pm`, `2.30 p.m.`, `noon`, `midnight`.
pub(crate) fn parse_time(text: &str) -> Option<NaiveTime> {
    let lower = text.trim().to_lowercase().replace("a.m.", "am").replace("p.m.", "pm");
    let lower = lower.trim_end_matches('.').trim();
    match lower {
        "noon" | "midday" | "12 noon" => return NaiveTime::from_hms_opt(12, 0, 0),
        "midnight" => return NaiveTime::from_hms_opt(0, 0, 0),
        _ => {}
    }
    let (clock, half) = if let Some(rest) = lower.strip_suffix("am") {
        (rest.trim(), Some(false))
    } else if let Some(rest) = lower.strip_suffix("pm") {
        (rest.trim(), Some(true))
    } else {
        (lower.trim_end_matches(" o'clock").trim_end_matches('h'), None)
    };
    let (hour, minute) = match clock.split_once([':', 'h', '.']) {
        Some((h, m)) => (h.parse::<u32>().ok()?, if m.is_empty() { 0 } else { two_digits(m)? }),
        None => (clock.parse::<u32>().ok()?, 0),
    };
    if clock.is_empty() || !clock.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    let hour = match half {
        Some(pm) => {
            if !(1..=12).contains(&hour) {
                return None;
            }
            (hour % 12) + if pm { 12 } else { 0 }
        }
        None => hour,
    };
    NaiveTime::from_hms_opt(hour, minute, 0)
}

fn two_digits(text: &str) -> Option<u32> {
    (text.len() == 2).then(|| text.parse().ok()).flatten()
}

/// A date and a time together: `tomorrow at 3pm`, `friday 14:00`, `3pm tomorrow`,
/// `2026-12-03 10:00`, `dec 3 at noon`.
pub(crate) fn parse_date_time(text: &str, rules: DateRules) -> Option<NaiveDateTime> {
    let words: Vec<&str> = text.split_whitespace().collect();
    // Try every split into a date part and a time part, time last or first, with an optional
    // "at" between them; the time may be one or two words ("2 pm").
    for time_len in [1, 2] {
        if words.len() <= time_len {
            continue;
        }
        let split = words.len() - time_len;
        let mut date_part = &words[..split];
        if date_part.last().is_some_and(|w| w.eq_ignore_ascii_case("at")) {
            date_part = &date_part[..date_part.len() - 1];
        }
        if let (Some(date), Some(time)) =
            (parse_date(&date_part.join(" "), rules), parse_time(&words[split..].join(" ")))
        {
            return Some(date.and_time(time));
        }
        if let (Some(time), Some(date)) = (
            parse_time(&words[..time_len].join(" ")),
            parse_date(&words[time_len..].join(" "), rules),
        ) {
            return Some(date.and_time(time));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(order: DateOrder) -> DateRules {
        // Tuesday 24 November 2026.
        DateRules {
            today: NaiveDate::from_ymd_opt(2026, 11, 24).expect("date"),
            order,
            typos: true,
        }
    }

    fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn numeric_dates_follow_the_bots_order_and_read_two_digit_years() {
        let day_first = rules(DateOrder::DayFirst);
        let month_first = rules(DateOrder::MonthFirst);
        assert_eq!(parse_date("12/3/26", day_first), ymd(2026, 3, 12));
        assert_eq!(parse_date("12/3/26", month_first), ymd(2026, 12, 3));
        assert_eq!(parse_date("31.12.2026", day_first), ymd(2026, 12, 31));
        assert_eq!(parse_date("2026-12-03", month_first), ymd(2026, 12, 3));
        assert_eq!(parse_date("3/12", day_first), ymd(2026, 12, 3));
        assert_eq!(parse_date("1/2", day_first), ymd(2027, 2, 1));
        assert_eq!(parse_date("31/2/26", day_first), None);
        assert_eq!(parse_date("13/13/26", month_first), None);
    }

    #[test]
    fn month_names_ordinals_weekdays_and_relative_days() {
        let r = rules(DateOrder::DayFirst);
        assert_eq!(parse_date("December 3", r), ymd(2026, 12, 3));
        assert_eq!(parse_date("dec 3rd", r), ymd(2026, 12, 3));
        assert_eq!(parse_date("the 3rd of December", r), ymd(2026, 12, 3));
        assert_eq!(parse_date("3 Jan", r), ymd(2027, 1, 3));
        assert_eq!(parse_date("march 1st, 2027", r), ymd(2027, 3, 1));
        assert_eq!(parse_date("on friday", r), ymd(2026, 11, 27));
        assert_eq!(parse_date("next tuesday", r), ymd(2026, 12, 1));
        assert_eq!(parse_date("fri", r), ymd(2026, 11, 27));
        assert_eq!(parse_date("in 3 days", r), ymd(2026, 11, 27));
        assert_eq!(parse_date("in a week", r), ymd(2026, 12, 1));
        assert_eq!(parse_date("the day after tomorrow", r), ymd(2026, 11, 26));
        assert_eq!(parse_date("soon", r), None);
    }

    #[test]
    fn one_typo_in_long_names_only_when_tolerated() {
        let r = rules(DateOrder::DayFirst);
        assert_eq!(parse_date("decmber 3", r), ymd(2026, 12, 3));
        assert_eq!(parse_date("on fridya", r), ymd(2026, 11, 27));
        let strict = DateRules { typos: false, ..r };
        assert_eq!(parse_date("decmber 3", strict), None);
        assert_eq!(parse_date("mya 3", r), None);
    }

    #[test]
    fn times_and_date_times() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0);
        assert_eq!(parse_time("2 pm"), t(14, 0));
        assert_eq!(parse_time("2:30pm"), t(14, 30));
        assert_eq!(parse_time("12 am"), t(0, 0));
        assert_eq!(parse_time("14h30"), t(14, 30));
        assert_eq!(parse_time("14h"), t(14, 0));
        assert_eq!(parse_time("9.15"), t(9, 15));
        assert_eq!(parse_time("noon"), t(12, 0));
        assert_eq!(parse_time("25:00"), None);
        assert_eq!(parse_time("13 pm"), None);
        assert_eq!(parse_time("soon"), None);
        let r = rules(DateOrder::DayFirst);
        let at = |d: Option<NaiveDate>, h, m| d.and_then(|d| d.and_hms_opt(h, m, 0));
        assert_eq!(parse_date_time("tomorrow at 3pm", r), at(ymd(2026, 11, 25), 15, 0));
        assert_eq!(parse_date_time("friday 14:00", r), at(ymd(2026, 11, 27), 14, 0));
        assert_eq!(parse_date_time("3 pm tomorrow", r), at(ymd(2026, 11, 25), 15, 0));
        assert_eq!(parse_date_time("dec 3 at noon", r), at(ymd(2026, 12, 3), 12, 0));
        assert_eq!(parse_date_time("tomorrow", r), None);
    }
}
