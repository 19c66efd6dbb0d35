//! `botrun fmt [--check] [PATH…]`: rewrites `.bot` files into canonical form.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use super::Outcome;
use crate::check::report::{render_human, Style};
use crate::check::{find_bot_files, Workspace};
use crate::syntax::print::format;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or folders to format (folders are searched for `*.bot`)
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Change nothing; list files that are not formatted and exit 1 if there are any
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let files = find_bot_files(&args.paths).map_err(|e| miette::miette!("{e}"))?;
    let mut workspace = Workspace::default();
    let mut outcome = Outcome::Clean;
    let mut unformatted = 0;
    for path in &files {
        let id = workspace.load_file(path).map_err(|e| miette::miette!("{e}"))?;
        let Some(shown) = workspace.source(id).map(crate::source::SourceFile::display_path) else {
            continue;
        };
        let repaired = match workspace.parsed(id) {
            Some(_) => None,
            None => indentation_repaired(&workspace, id),
        };
        if let Some(formatted) = repaired {
            // Only the indentation was wrong (tabs, a line one space off): fix it.
            workspace.diagnostics.retain(|d| d.primary_span().is_none_or(|s| s.file != id));
            unformatted += 1;
            if args.check {
                println!("{shown}");
                outcome = Outcome::Problems;
            } else {
                std::fs::write(path, formatted)
                    .map_err(|e| miette::miette!("cannot write `{shown}`: {e}"))?;
                eprintln!("formatted {shown} (indentation repaired)");
            }
            continue;
        }
        let Some(source) = workspace.source(id) else { continue };
        let Some(parsed) = workspace.parsed(id) else {
            // Never rewrite a file we could not read: show why instead.
            let style = Style::for_terminal(std::io::stderr().is_terminal());
            eprint!("{}", render_human(&workspace.diagnostics, &workspace.sources, style));
            eprintln!("{}: not formatted because it has syntax errors", source.display_path());
            workspace.diagnostics.clear();
            outcome = Outcome::Problems;
            continue;
        };
        let formatted = format(parsed, &source.text);
        if formatted == *source.text {
            continue;
        }
        unformatted += 1;
        if args.check {
            println!("{}", source.display_path());
            outcome = Outcome::Problems;
        } else {
            std::fs::write(path, formatted)
                .map_err(|e| miette::miette!("cannot write `{}`: {e}", source.display_path()))?;
            eprintln!("formatted {}", source.display_path());
        }
    }
    if args.check && unformatted > 0 {
        eprintln!("{unformatted} file(s) need `botrun fmt`");
    }
    Ok(outcome)
}

/// The file formatted after repairing its indentation, when that is all it takes for the file to
/// parse (tabs, a line one space off; the errors these cause further down disappear with them).
fn indentation_repaired(workspace: &Workspace, id: crate::source::FileId) -> Option<String> {
    let source = workspace.source(id)?;
    let fixed = crate::syntax::reindent(&source.text)?;
    let repaired = crate::source::SourceFile::new(id, source.path.clone(), fixed.as_str());
    let parsed = crate::syntax::parse(&repaired).ok()?;
    Some(format(&parsed, &repaired.text))
}
