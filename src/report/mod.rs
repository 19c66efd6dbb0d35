//! Report: what the bots decided over a period, read from the decision records the service
//! commits with every turn — conversations, containment, handoffs by reason, top intents, the
//! missed messages grouped by similarity, questions whose retries ran out, timeouts — as a
//! terminal table, JSON or one self-contained HTML page. Reads the store; must not import
//! `server`.

mod figures;
pub(crate) mod grouping;
mod html;
mod table;
mod vocabulary;

pub use figures::{compute, Day};

pub(crate) use figures::{replay_lines, Figures};
pub(crate) use vocabulary::{HandoffReason, Outcome};

/// How the report is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plain text for a terminal.
    #[default]
    Table,
    /// The figures as one JSON object.
    Json,
    /// One self-contained HTML page with charts.
    Html,
}

/// The report in `format`.
pub fn render(figures: &Figures, format: Format) -> String {
    match format {
        Format::Table => table::render(figures),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(figures).unwrap_or_default();
            json.push('\n');
            json
        }
        Format::Html => html::render(figures),
    }
}
