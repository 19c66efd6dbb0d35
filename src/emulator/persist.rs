//! Keeping the emulated tenant between runs: the world as one JSON file, read at start and
//! written after changes (debounced) and at shutdown. Writes go to a temporary file that is then
//! renamed over the old one, so a crash leaves either the old world or the new one, never half.
//! `botrun dev` uses it; a file that cannot be read is reported and left alone.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::handle::Emulator;
use super::model::World;

/// The version of the file's layout; a file of another version is refused, not guessed at.
const FORMAT: u32 = 1;

#[derive(Serialize)]
struct SavingWorld<'a> {
    format: u32,
    world: &'a World,
}

#[derive(Deserialize)]
struct SavedWorld {
    world: World,
}

#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
}

/// Why the world file could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorldFileError {
    #[error("cannot read the CX emulator's world from {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the CX emulator's world in {path} is unreadable: {detail}")]
    Unreadable { path: PathBuf, detail: String },
    #[error("cannot save the CX emulator's world to {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// The world saved in `path`, or `None` when there is no such file.
pub fn load(path: &Path) -> Result<Option<World>, WorldFileError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(WorldFileError::Read { path: path.to_owned(), source }),
    };
    let unreadable = |detail: String| WorldFileError::Unreadable { path: path.to_owned(), detail };
    let header: FormatOnly =
        serde_json::from_slice(&bytes).map_err(|error| unreadable(error.to_string()))?;
    if header.format != FORMAT {
        return Err(unreadable(format!(
            "it has format {}, this botrun reads format {FORMAT}",
            header.format
        )));
    }
    let saved: SavedWorld =
        serde_json::from_slice(&bytes).map_err(|error| unreadable(error.to_string()))?;
    let mut world = saved.world;
    world.count_past_existing_ids();
    Ok(Some(world))
}

/// The world as the file's bytes.
fn encode(world: &World) -> Vec<u8> {
    // A world of plain maps, strings and numbers always serializes.
    serde_json::to_vec(&SavingWorld { format: FORMAT, world }).unwrap_or_default()
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WorldFileError> {
    let failed = |source| WorldFileError::Write { path: path.to_owned(), source };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    };
    write().map_err(failed)
}

/// Saves the world now.
#[cfg(test)]
pub(crate) fn save(path: &Path, world: &World) -> Result<(), WorldFileError> {
    write_atomically(path, &encode(world))
}

/// Saves `emulator`'s world into a file while it runs; [`WorldKeeper::finish`] saves it a last
/// time.
pub(crate) struct WorldKeeper {
    emulator: Emulator,
    path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl WorldKeeper {
    /// Starts saving: each change is written at most `debounce` after it happened, changes in
    /// between are written together.
    pub fn start(emulator: &Emulator, path: PathBuf, debounce: Duration) -> Self {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let mut changes = emulator.subscribe_changes();
        let task = tokio::spawn({
            let emulator = emulator.clone();
            let path = path.clone();
            async move {
                loop {
                    tokio::select! {
                        changed = changes.changed() => if changed.is_err() { return },
                        _ = &mut stopped => return,
                    }
                    tokio::select! {
                        () = tokio::time::sleep(debounce) => {}
                        _ = &mut stopped => return,
                    }
                    changes.borrow_and_update();
                    if let Err(error) = save_in_background(&emulator, &path).await {
                        tracing::error!(%error, "the CX emulator's world was not saved");
                    }
                }
            }
        });
        Self { emulator: emulator.clone(), path, stop: Some(stop), task }
    }

    /// Stops the background saving and writes the world as it is now.
    pub async fn finish(mut self) -> Result<(), WorldFileError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        save_in_background(&self.emulator, &self.path).await
    }
}

/// Encodes the world under its lock, then writes it off the async threads.
async fn save_in_background(emulator: &Emulator, path: &Path) -> Result<(), WorldFileError> {
    let bytes = emulator.read(encode);
    let path = path.to_owned();
    let target = path.clone();
    tokio::task::spawn_blocking(move || write_atomically(&target, &bytes)).await.map_err(
        |error| WorldFileError::Write { path, source: std::io::Error::other(error.to_string()) },
    )?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::model::{MessageType, NewMessage, Sender, SenderKind, API_INBOX_ID};

    fn customer(id: u64) -> Sender {
        Sender { kind: SenderKind::Contact, id, name: "Ada".into() }
    }

    #[test]
    fn a_saved_world_reads_back_and_keeps_counting_ids_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cx-world.json");
        let mut world = World::new(false);
        let contact = world.create_contact(API_INBOX_ID, "Ada".into(), None, None).unwrap();
        let (conversation, _) =
            world.create_conversation(API_INBOX_ID, contact.id, None, None).unwrap();
        let (message, _) = world
            .create_message(
                conversation.id,
                NewMessage::text("hello", MessageType::Incoming, customer(contact.id)),
            )
            .unwrap();
        save(&path, &world).unwrap();
        assert!(!dir.path().join("cx-world.json.tmp").exists(), "the temporary file is renamed");

        let mut loaded = load(&path).unwrap().expect("a saved world");
        assert_eq!(loaded.messages_of(conversation.id)[0].content, "hello");
        assert_eq!(loaded.contact(contact.id).unwrap().source_id, contact.source_id);
        let (next, _) = loaded
            .create_message(
                conversation.id,
                NewMessage::text("again", MessageType::Incoming, customer(contact.id)),
            )
            .unwrap();
        assert!(next.id > message.id, "id {} reused after {}", next.id, message.id);
    }

    #[test]
    fn lost_counters_are_rebuilt_from_the_ids_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cx-world.json");
        let mut world = World::new(true);
        let contact = world.create_contact(API_INBOX_ID, "Ada".into(), None, None).unwrap();
        let mut file: serde_json::Value = serde_json::from_slice(&encode(&world)).unwrap();
        file["world"]["next_ids"] = serde_json::json!({});
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();

        let mut loaded = load(&path).unwrap().unwrap();
        let other = loaded.create_contact(API_INBOX_ID, "Bob".into(), None, None).unwrap();
        assert!(other.id > contact.id);
        assert!(other.contact_inbox_id > contact.contact_inbox_id);
    }

    #[test]
    fn a_missing_file_is_an_empty_start_and_a_broken_one_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cx-world.json");
        assert!(load(&path).unwrap().is_none());
        std::fs::write(&path, b"{\"format\": 1, \"world\": ").unwrap();
        let error = load(&path).unwrap_err();
        assert!(error.to_string().contains(&path.display().to_string()), "{error}");
        std::fs::write(&path, b"{\"format\": 99, \"world\": {}}").unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("format 99"));
    }
}
