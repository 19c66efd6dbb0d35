//! Rendering diagnostics: for people (miette, with caret excerpts and help), for machines (a
//! stable JSON shape, documented in `docs/validate.md`) and for GitHub (workflow annotations).

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{FileId, SourceFile};

/// A file's text cut into excerpts by its line index, so each excerpt costs O(log n) instead of
/// miette scanning the file from its start for each diagnostic (which made 20,000 warnings on a
/// large bot quadratic).
struct Indexed<'a> {
    name: String,
    source: &'a SourceFile,
}

impl Indexed<'_> {
    /// The 0-based line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.source.line_starts().partition_point(|start| *start <= offset).saturating_sub(1)
    }
}

impl miette::SourceCode for Indexed<'_> {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        // Cut out the lines miette would look at, let miette read them, and shift the result
        // back to the file's offsets and line numbers.
        let first = self.line_of(span.offset()).saturating_sub(before + 1);
        let last = self.line_of(span.offset() + span.len()) + after + 2;
        let text: &str = &self.source.text;
        let starts = self.source.line_starts();
        let start = starts[first.min(starts.len() - 1)];
        let end = starts.get(last).copied().unwrap_or(text.len());
        let window = &text[start..end];
        let local = miette::SourceSpan::new((span.offset() - start).into(), span.len());
        let inner = window.read_span(&local, before, after)?;
        let data_start = inner.span().offset() + start;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            &text.as_bytes()[data_start..data_start + inner.data().len()],
            miette::SourceSpan::new(data_start.into(), inner.span().len()),
            inner.line() + first,
            inner.column(),
            inner.line_count() + first,
        )))
    }
}

/// A diagnostic paired with its file, in the shape miette renders.
struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    source: &'a Indexed<'a>,
    file: FileId,
    /// Labels that point into other files, shown as notes.
    elsewhere: Option<String>,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        match (&self.diagnostic.help, &self.elsewhere) {
            (Some(help), Some(note)) => Some(Box::new(format!("{help}\n{note}"))),
            (Some(help), None) => Some(Box::new(help)),
            (None, Some(note)) => Some(Box::new(note)),
            (None, None) => None,
        }
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let file = self.file;
        Some(Box::new(self.diagnostic.labels.iter().filter(move |l| l.span.file == file).map(
            |l| {
                if l.primary {
                    LabeledSpan::new_primary_with_span(Some(l.text.clone()), l.span)
                } else {
                    LabeledSpan::new_with_span(Some(l.text.clone()), l.span)
                }
            },
        )))
    }
}

/// How the human report looks.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub colour: bool,
    pub width: usize,
}

impl Style {
    /// Colour only on a terminal and when `NO_COLOR` is not set.
    pub(crate) fn for_terminal(is_terminal: bool) -> Style {
        Style { colour: is_terminal && std::env::var_os("NO_COLOR").is_none(), width: 100 }
    }
}

fn source_of(sources: &[SourceFile], file: FileId) -> Option<&SourceFile> {
    sources.get(file.0 as usize).filter(|s| s.id == file)
}

/// From this many diagnostics on, [`render_human`] lays them out on two threads.
const PARALLEL_FROM: usize = 512;

/// Renders diagnostics for people, each with its file, line, column, caret and help.
pub fn render_human(diagnostics: &[Diagnostic], sources: &[SourceFile], style: Style) -> String {
    if diagnostics.len() < PARALLEL_FROM {
        return render_each(diagnostics, sources, style);
    }
    // Thousands of warnings (the unused intents of a large bot) take a while to lay out: each
    // thread renders its half, and the halves are joined in order.
    let (first, second) = diagnostics.split_at(diagnostics.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| render_each(second, sources, style));
        let mut out = render_each(first, sources, style);
        // Rendering does not panic on any diagnostic; if it did anyway, render that half here.
        let rest = other.join().unwrap_or_else(|_| render_each(second, sources, style));
        out.push_str(&rest);
        out
    })
}

fn render_each(diagnostics: &[Diagnostic], sources: &[SourceFile], style: Style) -> String {
    let theme =
        if style.colour { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler =
        GraphicalReportHandler::new_themed(theme).with_width(style.width).with_links(false);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let file = diagnostic.primary_span().map(|s| s.file).unwrap_or_default();
        let Some(source) = source_of(sources, file) else {
            out.push_str(&format!(
                "{}: {} [{}]\n",
                severity_word(diagnostic.severity),
                diagnostic.message,
                diagnostic.code
            ));
            continue;
        };
        let elsewhere: Vec<String> = diagnostic
            .labels
            .iter()
            .filter(|l| l.span.file != file)
            .filter_map(|l| {
                let other = source_of(sources, l.span.file)?;
                let (line, col) = other.line_col(l.span.start);
                Some(format!("note: {} at {}:{line}:{col}", l.text, other.display_path()))
            })
            .collect();
        let rendered = Rendered {
            diagnostic,
            source: &Indexed { name: source.display_path(), source },
            file,
            elsewhere: (!elsewhere.is_empty()).then(|| elsewhere.join("\n")),
        };
        if handler.render_report(&mut out, &rendered).is_err() {
            out.push_str(&diagnostic.message);
        }
        out.push('\n');
    }
    out
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// Counts for the closing line and the JSON summary.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub(crate) struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub files: usize,
}

impl Summary {
    pub fn of(diagnostics: &[Diagnostic], files: usize) -> Summary {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        Summary { errors, warnings: diagnostics.len() - errors, files }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("{n} {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        write!(
            f,
            "{}, {} in {}",
            plural(self.errors, "error"),
            plural(self.warnings, "warning"),
            plural(self.files, "file")
        )
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    files: Vec<JsonFile<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    path: String,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: Severity,
    message: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    path: String,
    line: usize,
    column: usize,
    text: &'a str,
    primary: bool,
}

/// Renders the stable JSON shape (version 1) over every checked file, clean ones included.
pub fn render_json(
    diagnostics: &[Diagnostic],
    sources: &[SourceFile],
    checked: &[FileId],
) -> String {
    let mut files: Vec<JsonFile<'_>> = checked
        .iter()
        .filter_map(|id| source_of(sources, *id))
        .map(|s| JsonFile { path: s.display_path(), diagnostics: Vec::new() })
        .collect();
    for diagnostic in diagnostics {
        let file = diagnostic.primary_span().map(|s| s.file).unwrap_or_default();
        let Some(source) = source_of(sources, file) else { continue };
        let span = diagnostic.primary_span().unwrap_or_default();
        let (line, column) = source.line_col(span.start);
        let (end_line, end_column) = source.line_col(span.end);
        let labels = diagnostic
            .labels
            .iter()
            .filter_map(|l| {
                let s = source_of(sources, l.span.file)?;
                let (line, column) = s.line_col(l.span.start);
                Some(JsonLabel {
                    path: s.display_path(),
                    line,
                    column,
                    text: &l.text,
                    primary: l.primary,
                })
            })
            .collect();
        let entry = JsonDiagnostic {
            code: diagnostic.code,
            severity: diagnostic.severity,
            message: &diagnostic.message,
            line,
            column,
            end_line,
            end_column,
            labels,
            help: diagnostic.help.as_deref(),
        };
        let path = source.display_path();
        match files.iter_mut().find(|f| f.path == path) {
            Some(f) => f.diagnostics.push(entry),
            None => files.push(JsonFile { path, diagnostics: vec![entry] }),
        }
    }
    let report = JsonReport { version: 1, files, summary: Summary::of(diagnostics, checked.len()) };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Renders GitHub workflow annotations, one line per diagnostic.
pub(crate) fn render_github(diagnostics: &[Diagnostic], sources: &[SourceFile]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let kind = severity_word(diagnostic.severity);
        let message = match &diagnostic.help {
            Some(help) => format!("{}\n{help}", diagnostic.message),
            None => diagnostic.message.clone(),
        };
        let span = diagnostic.primary_span();
        let location = span.and_then(|s| source_of(sources, s.file).map(|src| (s, src)));
        match location {
            Some((span, source)) => {
                let (line, col) = source.line_col(span.start);
                let (end_line, end_col) = source.line_col(span.end);
                out.push_str(&format!(
                    "::{kind} file={},line={line},col={col},endLine={end_line},endColumn={end_col},title={}::{}\n",
                    escape_property(&source.display_path()),
                    escape_property(diagnostic.code),
                    escape_data(&message)
                ));
            }
            None => out.push_str(&format!(
                "::{kind} title={}::{}\n",
                escape_property(diagnostic.code),
                escape_data(&message)
            )),
        }
    }
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_diagnostics_render_on_two_threads_as_on_one() {
        let mut text = String::new();
        for i in 0..1_000 {
            text.push_str(&format!("intent topic{i}\n  \"hi {i}\"\n"));
        }
        let source = SourceFile::new(FileId(0), "many.bot", text.as_str());
        let diagnostics: Vec<Diagnostic> = (0..PARALLEL_FROM + 11)
            .map(|i| {
                let start = source.line_starts()[2 * i];
                Diagnostic::warning(
                    "botrun::unused_intent",
                    format!("intent `topic{i}` is never used"),
                )
                .at(crate::source::Span::new(FileId(0), start, start + 6), "here")
                .with_help("handle it")
            })
            .collect();
        let style = Style { colour: false, width: 100 };
        let sources = std::slice::from_ref(&source);
        let one_thread = render_each(&diagnostics, sources, style);
        assert!(one_thread.contains("topic0") && one_thread.contains("many.bot:1045:1"));
        assert_eq!(render_human(&diagnostics, sources, style), one_thread);
    }

    #[test]
    fn github_escapes_follow_the_workflow_rules() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(escape_property("botrun::a,b"), "botrun%3A%3Aa%2Cb");
    }
}
