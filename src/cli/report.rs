//! `botrun report --store URL [--since DATE] [--until DATE] [--bot NAME] [--format F] [-o FILE]
//! [--missed-out FILE]`: what the bots decided over a period, from the decision records the
//! service keeps in its store (docs/report.md).

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use miette::IntoDiagnostic as _;

use super::Outcome;
use crate::report::{self, Format};
use crate::store::{self, DecisionQuery, Durability};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The service's store: `sqlite://FILE` or `postgres://…` (as `store:` in botrun.yaml)
    #[arg(long)]
    pub store: String,
    /// First day (YYYY-MM-DD, UTC) or instant (RFC 3339) to include; default: the oldest record
    #[arg(long, value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Last day (YYYY-MM-DD, included) or instant (RFC 3339, excluded); default: now
    #[arg(long, value_parser = parse_until)]
    pub until: Option<DateTime<Utc>>,
    /// Only this bot (its name from `bot "…"`)
    #[arg(long)]
    pub bot: Option<String>,
    /// table (terminal), json, or html (one self-contained page with charts)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to this file instead of standard output
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Also write every missed message to this file, one per line, for `botrun replay`
    #[arg(long)]
    pub missed_out: Option<PathBuf>,
    /// How many entries each list shows
    #[arg(long, default_value_t = 15)]
    pub top: usize,
}

fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    parse_instant(text, false)
}

fn parse_until(text: &str) -> Result<DateTime<Utc>, String> {
    parse_instant(text, true)
}

/// A date (its start, or with `end_of_day` the start of the next day) or an RFC 3339 instant.
fn parse_instant(text: &str, end_of_day: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let date = if end_of_day { date.succ_opt().unwrap_or(date) } else { date };
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| format!("`{text}` is neither a date (2026-11-30) nor an RFC 3339 instant"))
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    if let Some(path) = sqlite_path(&args.store) {
        if !Path::new(path).exists() {
            return Err(miette::miette!(
                help = "pass the `store:` URL of botrun.yaml; `botrun serve` creates the file",
                "no store at `{path}`"
            ));
        }
    }
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().into_diagnostic()?;
    let query = DecisionQuery {
        since: args.since.unwrap_or(DateTime::<Utc>::MIN_UTC),
        until: args.until.unwrap_or(DateTime::<Utc>::MAX_UTC),
        bot: args.bot.clone(),
    };
    let records = runtime.block_on(async {
        let store = store::open(&args.store, Durability::Full).await?;
        store.decisions(&query).await
    });
    let records = records.map_err(|e| miette::miette!("cannot read the store: {e}"))?;
    let figures = report::compute(&records, args.since, args.until, args.top.max(1));
    let text = report::render(&figures, args.format);
    match &args.output {
        Some(path) => write(path, &text)?,
        None => print!("{text}"),
    }
    if let Some(path) = &args.missed_out {
        write(path, &report::replay_lines(&records))?;
    }
    Ok(Outcome::Clean)
}

fn write(path: &Path, text: &str) -> miette::Result<()> {
    std::fs::write(path, text).map_err(|e| miette::miette!("cannot write {}: {e}", path.display()))
}

/// The file of a `sqlite://FILE` URL (not an in-memory one).
fn sqlite_path(url: &str) -> Option<&str> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty() && !path.contains(":memory:")).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_cover_whole_days_and_instants_are_exact() {
        let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
        assert_eq!(parse_since("2026-11-01").unwrap(), at("2026-11-01T00:00:00Z"));
        assert_eq!(parse_until("2026-11-30").unwrap(), at("2026-12-01T00:00:00Z"));
        assert_eq!(parse_until("2026-11-30T12:00:00+01:00").unwrap(), at("2026-11-30T11:00:00Z"));
        let error = parse_since("last week").unwrap_err();
        assert!(error.contains("`last week` is neither a date"), "{error}");
    }

    #[test]
    fn only_a_sqlite_file_url_names_a_file() {
        assert_eq!(sqlite_path("sqlite:///tmp/b.db"), Some("/tmp/b.db"));
        assert_eq!(sqlite_path("sqlite://.botrun/botrun.db?mode=ro"), Some(".botrun/botrun.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://db/botrun"), None);
    }
}
