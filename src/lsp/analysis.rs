//! One look at a file the way `validate` sees it: the editor's unsaved buffers are read instead of
//! the disk, the file is checked as part of the bot that `use`s it (so names from other files
//! resolve), and every diagnostic of that bundle is kept with its file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::check::load::is_entry;
use crate::check::{self, find_bot_files, CheckOptions, LoadError, Workspace};
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceFile};
use crate::syntax::ast::File;

use super::index::NameIndex;

/// A bundle seen from one of its files.
pub(crate) struct Analysis {
    pub sources: Vec<SourceFile>,
    /// The merged tree of the bundle; empty when its entry has syntax errors.
    pub file: Arc<File>,
    /// The files of the bundle, entry first; the file asked about is among them.
    pub members: Vec<FileId>,
    pub target: FileId,
    /// False when the file asked about has syntax errors (its names are then missing).
    pub target_parsed: bool,
    pub diagnostics: Vec<Diagnostic>,
    pub index: NameIndex,
}

impl Analysis {
    pub(crate) fn source(&self, id: FileId) -> Option<&SourceFile> {
        self.sources.get(id.0 as usize)
    }

    pub(crate) fn target_source(&self) -> Option<&SourceFile> {
        self.source(self.target)
    }
}

/// Analyses `path`, reading `buffers` (path, text) before the disk. `roots` are the folders
/// searched for the bot that uses `path` when `path` itself is not an entry file.
pub(crate) fn analyse(
    path: &Path,
    buffers: Vec<(PathBuf, Arc<str>)>,
    roots: &[PathBuf],
) -> Result<Analysis, LoadError> {
    let mut workspace = Workspace::with_overlay(buffers);
    let target = workspace.load_file(path)?;
    let entry = if workspace.parsed(target).is_some_and(is_entry) {
        target
    } else {
        entry_using(&mut workspace, target, path, roots).unwrap_or(target)
    };
    let bundle = workspace.bundle(entry);
    let mut diagnostics = std::mem::take(&mut workspace.diagnostics);
    if workspace.parsed(entry).is_some() {
        diagnostics.extend(check::check(&bundle, &CheckOptions::default()));
    }
    let mut members = bundle.members.clone();
    if !members.contains(&target) {
        members.push(target);
    }
    // Files read while looking for the entry may have problems of their own: not this bundle's.
    diagnostics.retain(|d| d.primary_span().is_none_or(|s| members.contains(&s.file)));
    check::sort(&mut diagnostics);
    let index = NameIndex::build(&bundle.file);
    let target_parsed = workspace.parsed(target).is_some();
    Ok(Analysis {
        sources: workspace.sources,
        file: bundle.file,
        members,
        target,
        target_parsed,
        diagnostics,
        index,
    })
}

/// The first entry file under `roots` (or beside `path`) whose bundle includes `target`.
fn entry_using(
    workspace: &mut Workspace,
    target: FileId,
    path: &Path,
    roots: &[PathBuf],
) -> Option<FileId> {
    let mut folders: Vec<PathBuf> = roots.to_vec();
    if folders.is_empty() {
        // Without a workspace folder, look beside the file and one level up (`common/x.bot`).
        if let Some(dir) = path.parent() {
            folders.push(
                dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(dir).to_path_buf(),
            );
        }
    }
    let candidates = find_bot_files(&folders).ok()?;
    for candidate in candidates {
        let Ok(id) = workspace.load_file(&candidate) else { continue };
        if id == target || !workspace.parsed(id).is_some_and(is_entry) {
            continue;
        }
        if workspace.bundle(id).members.contains(&target) {
            return Some(id);
        }
    }
    None
}
