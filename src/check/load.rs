//! Loading: finds `.bot` files under the paths given, reads and parses each once, follows
//! `use "file"` (relative to the file that says it), and groups files into bundles — an entry
//! file (one with `bot` or `on start`) with everything it uses, merged into one tree.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceFile, Span};
use crate::syntax::ast::{File, HookKind, Item};
use crate::syntax::parse;

/// A path that could not be read at all: the tool cannot run (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{path}`: {reason}")]
pub struct LoadError {
    pub path: String,
    pub reason: String,
}

/// One entry file together with the files it uses, merged.
#[derive(Clone, Debug)]
pub struct Bundle {
    pub entry: FileId,
    /// Every item of the entry and of the files it uses (spans keep their file). Shared with the
    /// workspace when the bundle is a single file.
    pub file: Arc<File>,
    /// The entry and the files it uses, entry first.
    pub members: Vec<FileId>,
    /// True when the entry has no `bot` or `on start`: a library checked on its own.
    pub library: bool,
}

/// Every file read so far, by id, with its parse result.
#[derive(Debug, Default)]
pub struct Workspace {
    pub sources: Vec<SourceFile>,
    parsed: Vec<Option<Arc<File>>>,
    by_path: HashMap<PathBuf, FileId>,
    /// Syntax problems, unreadable `use`d files, non-UTF-8 files, `use` cycles.
    pub diagnostics: Vec<Diagnostic>,
    /// Texts read instead of the disk (an editor's unsaved buffers), by canonical path.
    overlay: HashMap<PathBuf, Arc<str>>,
}

impl Workspace {
    pub fn source(&self, id: FileId) -> Option<&SourceFile> {
        self.sources.get(id.0 as usize)
    }

    pub fn parsed(&self, id: FileId) -> Option<&File> {
        self.parsed.get(id.0 as usize).and_then(Option::as_ref).map(Arc::as_ref)
    }

    /// A workspace that reads the given texts instead of the files at those paths (the editor's
    /// unsaved buffers for `botrun lsp`); every other file still comes from disk.
    pub(crate) fn with_overlay(texts: impl IntoIterator<Item = (PathBuf, Arc<str>)>) -> Self {
        let overlay = texts.into_iter().map(|(path, text)| (canonical(&path), text)).collect();
        Self { overlay, ..Self::default() }
    }

    /// Reads and parses `path` once; returns its id (also for files that fail to parse).
    pub fn load_file(&mut self, path: &Path) -> Result<FileId, LoadError> {
        let key = canonical(path);
        if let Some(id) = self.by_path.get(&key) {
            return Ok(*id);
        }
        let bytes = match self.overlay.get(&key) {
            Some(text) => text.as_bytes().to_vec(),
            None => std::fs::read(path).map_err(|e| LoadError {
                path: crate::source::display_path(path),
                reason: e.to_string(),
            })?,
        };
        let id = FileId(u32::try_from(self.sources.len()).unwrap_or(u32::MAX));
        self.by_path.insert(key, id);
        let parsed = match String::from_utf8(bytes) {
            Ok(text) => {
                let source = SourceFile::new(id, path, text);
                if source.text.trim().is_empty() {
                    self.diagnostics.push(
                        Diagnostic::warning("botrun::empty_file", "this file is empty")
                            .at(Span::new(id, 0, 0), "nothing here")
                            .with_help("write a bot in it, or delete it"),
                    );
                }
                let parsed = match parse(&source) {
                    Ok(file) => Some(Arc::new(file)),
                    Err(mut diagnostics) => {
                        self.diagnostics.append(&mut diagnostics);
                        None
                    }
                };
                self.sources.push(source);
                parsed
            }
            Err(error) => {
                let valid = error.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
                // The lossy text has the same bytes up to the first bad one.
                let source = SourceFile::new(id, path, text);
                self.diagnostics.push(
                    Diagnostic::error("botrun::not_utf8", "this file is not UTF-8 text")
                        .at(Span::new(id, valid, valid + 1), "the first byte that is not UTF-8")
                        .with_help("save the file as UTF-8 (bot files are plain text)"),
                );
                self.sources.push(source);
                None
            }
        };
        self.parsed.push(parsed);
        Ok(id)
    }

    /// The bundle rooted at `entry`: it and every file it uses, transitively.
    pub fn bundle(&mut self, entry: FileId) -> Bundle {
        let mut members = vec![entry];
        let mut edges: Vec<UseEdge> = Vec::new();
        let mut i = 0;
        while i < members.len() {
            let current = members[i];
            i += 1;
            let uses: Vec<(String, Span)> = self
                .parsed(current)
                .map(|f| {
                    f.items
                        .iter()
                        .filter_map(|item| match item {
                            Item::Use(u) => Some((u.path.value.clone(), u.path.span)),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let dir = self
                .source(current)
                .and_then(|s| s.path.parent().map(Path::to_path_buf))
                .unwrap_or_default();
            for (relative, span) in uses {
                let target = dir.join(&relative);
                match self.load_file(&target) {
                    Ok(id) => {
                        edges.push(UseEdge { from: current, to: id, span, relative });
                        if !members.contains(&id) {
                            members.push(id);
                        }
                    }
                    Err(error) => self.diagnostics.push(
                        Diagnostic::error(
                            "botrun::missing_use",
                            format!("cannot read `{relative}`"),
                        )
                        .at(span, error.reason)
                        .with_help("the path is relative to the file that says `use`"),
                    ),
                }
            }
        }
        self.report_use_cycles(entry, &edges);
        let single = match members.as_slice() {
            [only] => self.parsed.get(only.0 as usize).and_then(Clone::clone),
            _ => None,
        };
        let file = single.unwrap_or_else(|| {
            let mut merged = File::default();
            for member in &members {
                if let Some(parsed) = self.parsed(*member) {
                    merged.items.extend(parsed.items.iter().cloned());
                    merged.comments.extend(parsed.comments.iter().cloned());
                }
            }
            Arc::new(merged)
        });
        let library = !self.parsed(entry).is_some_and(is_entry);
        Bundle { entry, file, members, library }
    }
}

impl Workspace {
    /// Reports every `use` that closes a circle (a file reaching itself through its uses, with or
    /// without the entry in the circle). Depth-first over the use graph from the entry, iterative
    /// so a long chain of files cannot overflow the stack; a `use` pointing back into the current
    /// path is the one that closes the circle.
    fn report_use_cycles(&mut self, entry: FileId, edges: &[UseEdge]) {
        // Edges are popped from the end, so each list is reversed to visit uses in file order.
        let outgoing = |file: FileId| edges.iter().filter(move |e| e.from == file);
        let mut finished: Vec<FileId> = Vec::new();
        let mut path: Vec<FileId> = vec![entry];
        let mut stack: Vec<Vec<&UseEdge>> = vec![outgoing(entry).rev().collect()];
        while let Some(pending) = stack.last_mut() {
            let Some(edge) = pending.pop() else {
                stack.pop();
                if let Some(done) = path.pop() {
                    finished.push(done);
                }
                continue;
            };
            if let Some(at) = path.iter().position(|f| *f == edge.to) {
                let circle: Vec<String> = path[at..]
                    .iter()
                    .chain(std::iter::once(&edge.to))
                    .filter_map(|f| self.source(*f))
                    .map(|s| file_name(&s.path))
                    .collect();
                self.diagnostics.push(
                    Diagnostic::error(
                        "botrun::use_cycle",
                        format!("`{}` is used in a circle", edge.relative),
                    )
                    .at(edge.span, format!("this closes the circle {}", circle.join(" → ")))
                    .with_help(
                        "move what both files share into a third file and `use` it from both",
                    ),
                );
            } else if !finished.contains(&edge.to) {
                path.push(edge.to);
                stack.push(outgoing(edge.to).rev().collect());
            }
        }
    }
}

/// One `use "relative"` line, resolved to the file it loads.
struct UseEdge {
    from: FileId,
    to: FileId,
    span: Span,
    relative: String,
}

/// The key a file is known by: its canonical path when it exists, else the path as given (an
/// editor buffer not saved yet has no canonical path, and must still match its overlay).
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// A file is an entry when it declares the bot or how it starts.
pub(crate) fn is_entry(file: &File) -> bool {
    file.items.iter().any(|item| {
        matches!(item, Item::Bot(_)) || matches!(item, Item::On(h) if h.hook == HookKind::Start)
    })
}

/// Expands files and folders into `.bot` files (folders recursively, sorted; hidden folders,
/// `target` and `node_modules` skipped).
pub fn find_bot_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    find_files(paths, |name| Path::new(name).extension().is_some_and(|e| e == "bot"))
}

/// Expands files and folders into the files whose name `wanted` accepts (files named directly
/// are always kept).
pub(crate) fn find_files(
    paths: &[PathBuf],
    wanted: impl Fn(&str) -> bool + Copy,
) -> Result<Vec<PathBuf>, LoadError> {
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| LoadError {
            path: crate::source::display_path(path),
            reason: e.to_string(),
        })?;
        if meta.is_dir() {
            walk_dir(path, wanted, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    Ok(found)
}

fn walk_dir(
    dir: &Path,
    wanted: impl Fn(&str) -> bool + Copy,
    found: &mut Vec<PathBuf>,
) -> Result<(), LoadError> {
    let error = |e: std::io::Error| LoadError {
        path: crate::source::display_path(dir),
        reason: e.to_string(),
    };
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(error)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if path.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                walk_dir(&path, wanted, found)?;
            }
        } else if wanted(&name) {
            found.push(path);
        }
    }
    Ok(())
}
