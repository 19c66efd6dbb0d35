//! Business-hours calendars: weekly opening ranges and closed dates in a timezone, with
//! "is it open now" and "when does it open next".

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// How far ahead `next_open` looks before giving up.
const LOOKAHEAD_DAYS: i64 = 60;

#[derive(Clone, Debug)]
pub(crate) struct Calendar {
    pub name: String,
    pub timezone: Tz,
    /// Opening ranges per weekday (Monday first), in minutes since midnight, `end` exclusive.
    pub week: [Vec<(u16, u16)>; 7],
    pub closed: BTreeSet<NaiveDate>,
}

impl Calendar {
    fn ranges_on(&self, date: NaiveDate) -> &[(u16, u16)] {
        if self.closed.contains(&date) {
            return &[];
        }
        &self.week[date.weekday().num_days_from_monday() as usize]
    }

    pub(crate) fn is_open(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.timezone);
        let minute =
            u16::try_from(local.time().signed_duration_since(NaiveTime::MIN).num_minutes())
                .unwrap_or(0);
        self.ranges_on(local.date_naive())
            .iter()
            .any(|(start, end)| (*start..*end).contains(&minute))
    }

    /// Whether the calendar opens at all on `date` (its own timezone's day).
    pub(crate) fn is_open_on(&self, date: NaiveDate) -> bool {
        !self.ranges_on(date).is_empty()
    }

    /// Whether the calendar is open at `at`, a wall-clock time in the calendar's timezone.
    pub(crate) fn is_open_at_local(&self, at: chrono::NaiveDateTime) -> bool {
        let minute = u16::try_from(at.time().signed_duration_since(NaiveTime::MIN).num_minutes())
            .unwrap_or(0);
        self.ranges_on(at.date()).iter().any(|(start, end)| (*start..*end).contains(&minute))
    }

    /// The next moment the calendar opens (now, when it is open).
    pub fn next_open(&self, now: DateTime<Utc>) -> Option<DateTime<Tz>> {
        let local = now.with_timezone(&self.timezone);
        if self.is_open(now) {
            return Some(local);
        }
        let minute_now = local.time().signed_duration_since(NaiveTime::MIN).num_minutes();
        for day in 0..LOOKAHEAD_DAYS {
            let date = local.date_naive() + Duration::days(day);
            let mut ranges: Vec<(u16, u16)> = self.ranges_on(date).to_vec();
            ranges.sort_unstable();
            for (start, _) in ranges {
                if day == 0 && i64::from(start) <= minute_now {
                    continue;
                }
                let naive = date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(start));
                if let Some(at) = self.timezone.from_local_datetime(&naive).earliest() {
                    return Some(at);
                }
            }
        }
        None
    }

    /// `next_open` in words, relative to `now`: "now", "today at 13:30", "tomorrow at 09:00",
    /// "Monday at 09:00", or a date further ahead.
    pub(crate) fn describe_next_open(&self, now: DateTime<Utc>) -> String {
        let Some(at) = self.next_open(now) else { return "later".into() };
        if self.is_open(now) {
            return "now".into();
        }
        let today = now.with_timezone(&self.timezone).date_naive();
        let days = (at.date_naive() - today).num_days();
        let time = at.format("%H:%M");
        match days {
            0 => format!("today at {time}"),
            1 => format!("tomorrow at {time}"),
            2..=6 => format!("{} at {time}", at.format("%A")),
            _ => format!("{} at {time}", at.format("%A %-d %B")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office() -> Calendar {
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for day in &mut week[0..5] {
            day.push((9 * 60, 17 * 60));
        }
        Calendar {
            name: "office".into(),
            timezone: chrono_tz::America::New_York,
            week,
            closed: [NaiveDate::from_ymd_opt(2026, 12, 25).expect("date")].into_iter().collect(),
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().expect("valid")
    }

    #[test]
    fn opening_respects_timezone_and_closed_dates() {
        let cal = office();
        // Tuesday 2026-11-24 14:00 UTC = 09:00 in New York.
        assert!(cal.is_open(utc(2026, 11, 24, 14, 0)));
        assert!(!cal.is_open(utc(2026, 11, 24, 13, 59)));
        // Christmas is a Friday but closed.
        assert!(!cal.is_open(utc(2026, 12, 25, 15, 0)));
        assert_eq!(cal.describe_next_open(utc(2026, 12, 24, 23, 0)), "Monday at 09:00");
        assert_eq!(cal.describe_next_open(utc(2026, 11, 24, 12, 0)), "today at 09:00");
        assert_eq!(cal.describe_next_open(utc(2026, 11, 24, 23, 0)), "tomorrow at 09:00");
    }
}
