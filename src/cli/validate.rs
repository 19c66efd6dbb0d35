//! `botrun validate [PATH…]`: checks `.bot` files and reports every problem.

use std::collections::HashSet;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use clap::ValueEnum;

use super::Outcome;
use crate::check::report::{render_github, render_human, render_json, Style, Summary};
use crate::check::{self, CheckOptions, Workspace};
use crate::diagnostic::Severity;
use crate::source::FileId;

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum Format {
    /// Readable reports with caret excerpts (colour on a terminal)
    #[default]
    Human,
    /// The stable JSON shape described in docs/validate.md
    Json,
    /// GitHub Actions workflow annotations
    Github,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or folders to check (folders are searched for `*.bot`)
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Treat warnings as problems (exit 1)
    #[arg(long)]
    pub deny_warnings: bool,
    /// A `botrun serve` configuration: its `fetch.allow_hosts` limits the hosts `fetch` may call
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Everything `validate` found, for the command and for tests.
pub struct Validation {
    pub workspace: Workspace,
    pub diagnostics: Vec<crate::diagnostic::Diagnostic>,
    pub checked: Vec<FileId>,
}

/// Loads and checks the files under `paths`.
pub fn validate(paths: &[PathBuf], options: &CheckOptions) -> miette::Result<Validation> {
    let files = check::find_bot_files(paths).map_err(|e| miette::miette!("{e}"))?;
    let mut workspace = Workspace::default();
    let mut checked = Vec::new();
    for path in &files {
        checked.push(workspace.load_file(path).map_err(|e| miette::miette!("{e}"))?);
    }
    let mut diagnostics = Vec::new();
    let mut covered: HashSet<FileId> = HashSet::new();
    let entries: Vec<FileId> = checked
        .iter()
        .copied()
        .filter(|id| workspace.parsed(*id).is_some_and(check::load::is_entry))
        .collect();
    for entry in entries {
        let bundle = workspace.bundle(entry);
        covered.extend(bundle.members.iter().copied());
        diagnostics.extend(check::check(&bundle, options));
    }
    for id in checked.clone() {
        if !covered.contains(&id) && workspace.parsed(id).is_some() {
            let bundle = workspace.bundle(id);
            diagnostics.extend(check::check(&bundle, options));
        }
    }
    // Files reached only through `use` were read and checked too: count and list them with the
    // others, so the summary's file count matches the files problems are reported in.
    let used: Vec<FileId> =
        workspace.sources.iter().map(|s| s.id).filter(|id| !checked.contains(id)).collect();
    checked.extend(used);
    diagnostics.append(&mut workspace.diagnostics);
    check::sort(&mut diagnostics);
    Ok(Validation { workspace, diagnostics, checked })
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let options = match &args.config {
        Some(path) => {
            let config = crate::server::Config::load(path)?;
            CheckOptions { fetch_hosts: Some(config.fetch.allow_hosts) }
        }
        None => CheckOptions::default(),
    };
    let validation = validate(&args.paths, &options)?;
    let Validation { workspace, diagnostics, checked } = &validation;
    let summary = Summary::of(diagnostics, checked.len());
    match args.format {
        Format::Human => {
            let style = Style::for_terminal(std::io::stderr().is_terminal());
            eprint!("{}", render_human(diagnostics, &workspace.sources, style));
            eprintln!("{summary}");
        }
        Format::Json => println!("{}", render_json(diagnostics, &workspace.sources, checked)),
        Format::Github => print!("{}", render_github(diagnostics, &workspace.sources)),
    }
    let failed = summary.errors > 0
        || (args.deny_warnings && diagnostics.iter().any(|d| d.severity == Severity::Warning));
    // A large bot's tree takes a while to free and the process is about to exit: skip that.
    std::mem::forget(validation);
    Ok(if failed { Outcome::Problems } else { Outcome::Clean })
}
