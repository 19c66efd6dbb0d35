//! `file://` URIs ↔ paths. Goes through the `url` crate, which knows percent-encoding and drive
//! letters, and hands `lsp_types` the resulting string.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use lsp_types::Uri;

/// The path of a `file://` URI; `None` for other schemes.
pub(crate) fn path_of(uri: &Uri) -> Option<PathBuf> {
    url::Url::parse(uri.as_str()).ok()?.to_file_path().ok()
}

/// The `file://` URI of a path (made absolute first).
pub(crate) fn uri_of(path: &Path) -> Option<Uri> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let url = url::Url::from_file_path(absolute).ok()?;
    Uri::from_str(url.as_str()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_paths_with_spaces_and_accents() {
        let path = Path::new("/tmp/my bots/café.bot");
        let uri = uri_of(path).expect("uri");
        assert_eq!(uri.as_str(), "file:///tmp/my%20bots/caf%C3%A9.bot");
        assert_eq!(path_of(&uri).as_deref(), Some(path));
    }
}
