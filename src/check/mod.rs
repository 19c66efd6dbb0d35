//! Check: validation passes over parsed files (names, flow, phrases, variables, time, types,
//! limits) that produce every diagnostic at once, the loader that follows `use`, the renderers
//! for people, machines and GitHub, and `compile`, which turns a clean bundle into an `engine::Program`.
//! Imports `syntax`, `source`, `diagnostic` and the engine's program types; never IO beyond
//! reading the bot files.

mod buttons;
pub mod compile;
mod flow;
pub mod languages;
mod limits;
pub mod load;
mod phrases;
mod references;
pub mod report;
mod symbols;
mod time;
mod types;
mod variables;
pub mod visit;

pub use load::{find_bot_files, Bundle, Workspace};

pub(crate) use load::LoadError;
pub(crate) use phrases::build_regex;
pub(crate) use references::{ANSWER_TYPES, CAPTURE_TYPES};
pub(crate) use variables::BUILT_IN as BUILT_IN_VARIABLES;

use crate::diagnostic::Diagnostic;

/// What the checks need to know beyond the bot files.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Hosts `fetch` may call (from the service configuration); `None` skips the check.
    pub fetch_hosts: Option<Vec<String>>,
}

/// Runs every pass over a bundle and returns all problems, errors and warnings, in file order.
pub fn check(bundle: &Bundle, options: &CheckOptions) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let symbols = symbols::Symbols::collect(&bundle.file, &mut out);
    references::check(&bundle.file, &symbols, bundle.library, &mut out);
    flow::check(&bundle.file, bundle.library, &mut out);
    phrases::check(&bundle.file, &mut out);
    variables::check(&bundle.file, bundle.library, &mut out);
    time::check(&bundle.file, &mut out);
    types::check(&bundle.file, &mut out);
    languages::check(&bundle.file, bundle.library, &mut out);
    limits::check(&bundle.file, options.fetch_hosts.as_deref(), &mut out);
    // Buttons are checked by stepping the compiled bot, so only a bot without errors, and only
    // when it offers buttons (compiling costs time on large bots).
    if !bundle.library
        && !out.iter().any(Diagnostic::is_error)
        && buttons::offers_buttons(&bundle.file)
    {
        if let Ok(program) = compile::compile(&bundle.file) {
            buttons::check(&bundle.file, &program, &mut out);
        }
    }
    sort(&mut out);
    out
}

/// Orders diagnostics by file and position, and drops exact repeats.
pub fn sort(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by_key(|d| d.primary_span().map(|s| (s.file, s.start, s.end)));
    diagnostics.dedup_by(|a, b| {
        a.code == b.code
            && a.message == b.message
            && a.primary_span().map(|s| (s.file, s.start))
                == b.primary_span().map(|s| (s.file, s.start))
    });
}

/// A bot ready to run, with the warnings its check produced.
#[derive(Debug)]
pub struct Loaded {
    pub program: crate::engine::Program,
    pub warnings: Vec<Diagnostic>,
    pub sources: Vec<crate::source::SourceFile>,
}

/// Why a bot could not be loaded: its diagnostics (render them with `report::render_human`).
#[derive(Debug)]
pub struct LoadFailure {
    pub sources: Vec<crate::source::SourceFile>,
    pub diagnostics: Vec<Diagnostic>,
    /// Set when the entry file itself could not be read: the tool could not run (exit 2) rather
    /// than the bot having problems. `diagnostics` then holds one `botrun::unreadable` without
    /// a position.
    pub io_error: Option<LoadError>,
}

/// A bundle read from disk: the merged tree, the files it came from (to render diagnostics), and
/// the warnings loading produced (an empty file). Syntax errors never get this far.
#[derive(Debug)]
pub struct LoadedBundle {
    pub bundle: Bundle,
    pub sources: Vec<crate::source::SourceFile>,
    pub warnings: Vec<Diagnostic>,
}

/// Reads `entry`, parses it and every file it `use`s (each once), and merges them. Fails with
/// every syntax error, missing `use`d file and `use` circle found, or when `entry` is unreadable.
/// The checks have not run yet: call [`check`] on the bundle.
pub fn load_bundle(entry: &std::path::Path) -> Result<LoadedBundle, LoadFailure> {
    let mut workspace = Workspace::default();
    let id = match workspace.load_file(entry) {
        Ok(id) => id,
        Err(error) => {
            return Err(LoadFailure {
                sources: Vec::new(),
                diagnostics: vec![Diagnostic::error("botrun::unreadable", error.to_string())
                    .with_help("check the path and the file's permissions")],
                io_error: Some(error),
            })
        }
    };
    let bundle = workspace.bundle(id);
    let mut diagnostics = std::mem::take(&mut workspace.diagnostics);
    sort(&mut diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) || workspace.parsed(id).is_none() {
        return Err(LoadFailure { sources: workspace.sources, diagnostics, io_error: None });
    }
    Ok(LoadedBundle { bundle, sources: workspace.sources, warnings: diagnostics })
}

/// The validator is the loader: reads `entry` and what it uses, runs every check, and compiles
/// it only when there are no errors. What this accepts, `botrun serve` runs.
pub fn load_program(
    entry: &std::path::Path,
    options: &CheckOptions,
) -> Result<Loaded, LoadFailure> {
    let LoadedBundle { bundle, sources, warnings } = load_bundle(entry)?;
    let mut diagnostics = warnings;
    diagnostics.extend(check(&bundle, options));
    sort(&mut diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(LoadFailure { sources, diagnostics, io_error: None });
    }
    match compile::compile(&bundle.file) {
        Ok(program) => Ok(Loaded { program, warnings: diagnostics, sources }),
        Err(mut errors) => {
            diagnostics.append(&mut errors);
            Err(LoadFailure { sources, diagnostics, io_error: None })
        }
    }
}
