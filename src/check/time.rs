//! Time: timezones must exist, dates must be real, opening hours must run forwards, and timer
//! ladders (`timeout`, `idle`, `after N misses`) must climb.

use chrono::NaiveDate;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::syntax::ast::{
    BotSetting, DaySpec, File, HoursRule, Item, StmtKind, StringLit, TimerRung,
};

use super::visit::for_each_stmt;

pub fn check(file: &File, out: &mut Vec<Diagnostic>) {
    for item in &file.items {
        match item {
            Item::Bot(bot) => {
                let mut idle: Vec<&TimerRung> = Vec::new();
                for setting in &bot.settings {
                    match setting {
                        BotSetting::Timezone(tz) => check_timezone(tz, out),
                        BotSetting::Idle(rung) => idle.push(rung),
                        _ => {}
                    }
                }
                check_ladder(&idle, "idle", out);
            }
            Item::Hours(hours) => {
                if let Some(tz) = &hours.timezone {
                    check_timezone(tz, out);
                }
                for rule in &hours.rules {
                    check_hours_rule(rule, out);
                }
            }
            Item::State(state) => {
                if let Some(otherwise) = &state.otherwise {
                    for pair in otherwise.after_misses.windows(2) {
                        if pair[1].count <= pair[0].count {
                            out.push(
                                Diagnostic::error("botrun::timer_order", "`after N misses` steps must count up")
                                    .at(pair[1].count_span, format!("{} comes after {}", pair[1].count, pair[0].count))
                                    .also(pair[0].count_span, "the earlier step")
                                    .with_help("order the `after` blocks from the smallest count to the largest"),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for_each_stmt(file, &mut |stmt, _| {
        if let StmtKind::Ask(ask) = &stmt.kind {
            let rungs: Vec<&TimerRung> = ask.timeouts.iter().collect();
            check_ladder(&rungs, "timeout", out);
        }
    });
}

fn check_ladder(rungs: &[&TimerRung], word: &str, out: &mut Vec<Diagnostic>) {
    for pair in rungs.windows(2) {
        if pair[1].after.seconds <= pair[0].after.seconds {
            out.push(
                Diagnostic::error("botrun::timer_order", format!("this `{word}` can never fire in this order"))
                    .at(pair[1].after.span, "not later than the one before")
                    .also(pair[0].after.span, "the earlier step")
                    .with_help(format!("each `{word}` step counts from the start: order them from the shortest to the longest, each longer than the last")),
            );
        }
    }
    for rung in rungs {
        if rung.after.seconds == 0 {
            out.push(
                Diagnostic::error("botrun::timer_order", format!("a `{word}` of zero never waits"))
                    .at(rung.after.span, "zero")
                    .with_help("use a duration such as `5m`"),
            );
        }
    }
}

fn check_timezone(tz: &StringLit, out: &mut Vec<Diagnostic>) {
    if tz.value.parse::<chrono_tz::Tz>().is_ok() {
        return;
    }
    let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
    let d = Diagnostic::error("botrun::bad_timezone", format!("unknown timezone `{}`", tz.value))
        .at(tz.span, "not an IANA timezone name");
    out.push(match did_you_mean(&tz.value, names) {
        Some(close) => d.with_help(format!("did you mean `{close}`?")),
        None => d.with_help("use a name such as \"America/New_York\" or \"Europe/Paris\""),
    });
}

fn check_hours_rule(rule: &HoursRule, out: &mut Vec<Diagnostic>) {
    match rule {
        HoursRule::Closed { dates, .. } => {
            for date in dates {
                if NaiveDate::from_ymd_opt(date.year, date.month, date.day).is_none() {
                    out.push(
                        Diagnostic::error(
                            "botrun::bad_date",
                            format!(
                                "{:04}-{:02}-{:02} is not a real date",
                                date.year, date.month, date.day
                            ),
                        )
                        .at(date.span, "no such day")
                        .with_help("write dates as YYYY-MM-DD"),
                    );
                }
            }
        }
        HoursRule::Weekly { days, ranges, .. } => {
            for day in days {
                if let DaySpec::Range(from, to, span) = day {
                    if (*from as u8) > (*to as u8) {
                        out.push(
                            Diagnostic::error(
                                "botrun::bad_time_range",
                                "this range of days runs backwards",
                            )
                            .at(*span, "the first day is after the last")
                            .with_help("weeks run mon to sun: write for example `fri-sun, mon`"),
                        );
                    }
                }
            }
            for range in ranges {
                let written =
                    |t: crate::syntax::ast::TimeOfDay| format!("{:02}:{:02}", t.hour, t.minute);
                let (start_span, end_span) = (
                    crate::source::Span::new(
                        range.span.file,
                        range.span.start,
                        range.span.start + 5,
                    ),
                    crate::source::Span::new(
                        range.span.file,
                        range.span.end.saturating_sub(5),
                        range.span.end,
                    ),
                );
                let mut valid = true;
                for (time, span) in [(range.start, start_span), (range.end, end_span)] {
                    if !time.is_valid() {
                        valid = false;
                        out.push(
                            Diagnostic::error(
                                "botrun::bad_time",
                                format!("`{}` is not a time of day", written(time)),
                            )
                            .at(span, "not a time")
                            .with_help("write times as HH:MM between 00:00 and 24:00"),
                        );
                    }
                }
                if valid && range.end <= range.start {
                    out.push(
                        Diagnostic::error("botrun::bad_time_range", "these opening hours end before they start")
                            .at(range.span, "the end is not after the start")
                            .with_help("write the earlier time first; for hours past midnight use two lines, e.g. `fri 22:00-24:00` and `sat 00:00-02:00`"),
                    );
                }
            }
        }
    }
}
