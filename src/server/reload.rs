//! Hot reload: watches each bot's files and swaps in the new program only when it validates.
//! An invalid edit keeps the running version and logs the rendered diagnostics, so a typo in
//! production never takes a bot down.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::AppState;
use crate::check::report::{render_human, Style};
use crate::check::{load_program, CheckOptions};

/// How long to wait for an editor's burst of writes to settle before reloading.
const SETTLE: Duration = Duration::from_millis(150);

/// Which running bot a file belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BotSlot {
    /// The `bots:` entry at this position (an inbox's bot, Flow B).
    Inbox(usize),
    /// The bot behind the widget (Flow A).
    Widget,
}

/// Loads the bot of `slot` from `path` and swaps it in; on failure returns the rendered
/// diagnostics and leaves the running program untouched.
pub fn reload_bot(state: &AppState, slot: BotSlot, path: &Path) -> Result<(), String> {
    let options = CheckOptions { fetch_hosts: Some(state.config.fetch.allow_hosts.clone()) };
    match load_program(path, &options) {
        Ok(loaded) => {
            match slot {
                BotSlot::Widget => {
                    if let Some(flow) = state.flow_a.get() {
                        flow.replace_program(loaded.program);
                    }
                }
                BotSlot::Inbox(index) => state.bots.replace(index, loaded.program),
            }
            tracing::info!(bot = %path.display(), "bot reloaded");
            state.metrics.count_reload(true);
            Ok(())
        }
        Err(failure) => {
            let style = Style { colour: false, width: 100 };
            let rendered = render_human(&failure.diagnostics, &failure.sources, style);
            tracing::error!(bot = %path.display(), diagnostics = %rendered,
                "edited bot does not validate; still running the previous version");
            state.metrics.count_reload(false);
            Err(rendered)
        }
    }
}

/// [`reload_bot`] off the async threads (loading reads files and compiles). Its outcome is
/// logged and counted by `reload_bot`; a reload that panicked is logged here.
async fn reload_in_background(state: &AppState, slot: BotSlot, entry: &Path) {
    let (state, entry) = (state.clone(), entry.to_path_buf());
    let bot = entry.display().to_string();
    if let Err(error) = tokio::task::spawn_blocking(move || reload_bot(&state, slot, &entry)).await
    {
        tracing::error!(%bot, %error, "reloading the bot failed; still running the previous version");
    }
}

/// A bot's files: its entry and every file it uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedBot {
    pub slot: BotSlot,
    pub entry: PathBuf,
    pub files: Vec<PathBuf>,
}

/// The canonical form of `path`, also for a file that no longer exists (its directory's
/// canonical form joined with its name), so a deletion matches the watched file.
fn canonical_even_if_gone(path: &Path) -> PathBuf {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return canonical;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
            std::fs::canonicalize(parent).map_or_else(|_| path.to_path_buf(), |p| p.join(name))
        }
        _ => path.to_path_buf(),
    }
}

/// Keeps the file watcher alive; dropping it stops hot reload.
pub struct HotReload {
    _watcher: notify::RecommendedWatcher,
}

/// Watches the directories of `bots` (slot, entry file, every file it uses) and reloads a
/// bot when one of its files changes. Directories, not files, are watched because editors
/// often save by replacing the file.
pub fn watch(state: &AppState, bots: &[WatchedBot]) -> notify::Result<HotReload> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if matches!(
                event.kind,
                notify::EventKind::Create(_)
                    | notify::EventKind::Modify(_)
                    | notify::EventKind::Remove(_)
            ) {
                for path in event.paths {
                    let _ = tx.send(path);
                }
            }
        }
    })?;
    let mut dirs: Vec<PathBuf> = bots
        .iter()
        .flat_map(|bot| std::iter::once(&bot.entry).chain(&bot.files))
        .filter_map(|file| file.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    let canon = |p: &PathBuf| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
    let bots: Arc<Vec<WatchedBot>> = Arc::new(
        bots.iter()
            .map(|bot| WatchedBot {
                slot: bot.slot,
                entry: canon(&bot.entry),
                files: bot.files.iter().map(canon).collect(),
            })
            .collect(),
    );
    let state = state.clone();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut changed = vec![first];
            tokio::time::sleep(SETTLE).await;
            while let Ok(more) = rx.try_recv() {
                changed.push(more);
            }
            let changed: Vec<PathBuf> = changed.iter().map(|p| canonical_even_if_gone(p)).collect();
            for bot in bots.iter() {
                let touched: Vec<&PathBuf> =
                    changed.iter().filter(|c| **c == bot.entry || bot.files.contains(c)).collect();
                // An editor that saves by replacing the file removes it for a moment; gone
                // after the settle time means deleted.
                if let Some(gone) = touched.iter().find(|path| !path.exists()) {
                    tracing::warn!(
                        bot = %bot.entry.display(),
                        file = %gone.display(),
                        "a bot file was deleted; the loaded version keeps running until it is back"
                    );
                    continue;
                }
                if !touched.is_empty() {
                    reload_in_background(&state, bot.slot, &bot.entry).await;
                }
            }
        }
    });
    Ok(HotReload { _watcher: watcher })
}

/// Reloads every bot on SIGHUP (`systemctl reload botrun`), with the same validate-then-swap as
/// the watcher: for deployments run with `--no-reload`, or whose files change where the watcher
/// cannot see (a bind mount replaced, a configuration tool renaming a folder). The handler is
/// installed before this returns, so a SIGHUP never falls back to its default (ending the
/// process).
#[cfg(unix)]
pub fn reload_on_hangup(state: &AppState, bots: &[WatchedBot]) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())?;
    let bots: Vec<(BotSlot, PathBuf)> =
        bots.iter().map(|bot| (bot.slot, bot.entry.clone())).collect();
    let state = state.clone();
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!(bots = bots.len(), "SIGHUP: reloading every bot");
            for (slot, entry) in &bots {
                reload_in_background(&state, *slot, entry).await;
            }
        }
    });
    Ok(())
}
