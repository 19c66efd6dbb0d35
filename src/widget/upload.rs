//! Files from the page: `POST /conversations/{id}/upload` (multipart, as
//! `botframework-directlinejs` sends it: an optional `activity` part and one part per file)
//! stores each file under the configured folder and posts the customer's message with the files
//! as attachments; `GET /files/{key}/{name}` serves them back. The key is 128 random bits, so a
//! file's URL is its capability (a page's `<img>` cannot send a token).

use std::path::PathBuf;

use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::activity::check_posted;
use super::config::UploadSettings;
use super::error::WidgetError;
use super::routes::Authorized;
use super::service::WidgetService;

/// Longest file name kept (bytes); longer names are cut.
const MAX_NAME_BYTES: usize = 100;
/// Most files one upload may carry.
const MAX_FILES: usize = 10;
/// The sidecar file holding a stored file's content type.
const TYPE_FILE: &str = "content-type";

/// A file as received, before it is stored.
struct Received {
    name: String,
    content_type: String,
    bytes: Vec<u8>,
}

/// `POST /conversations/{id}/upload?userId=…`.
pub async fn upload(
    State(widget): State<WidgetService>,
    Path(id): Path<String>,
    Authorized { claims, .. }: Authorized,
    multipart: Multipart,
) -> Result<Json<Value>, WidgetError> {
    let settings = widget.config().uploads.clone().ok_or(WidgetError::UploadsOff)?;
    widget.live_conversation(&claims, &id).await?;
    let (template, files) = read_parts(multipart, &settings).await?;
    if files.is_empty() {
        return Err(WidgetError::BadRequest("the upload carries no file".into()));
    }
    let mut attachments = Vec::new();
    for file in files {
        let url = store(&widget, &settings, &file).await?;
        attachments
            .push(json!({"contentType": file.content_type, "contentUrl": url, "name": file.name}));
    }
    let mut activity = template.unwrap_or_default();
    activity.insert("type".into(), Value::String("message".into()));
    activity.insert("attachments".into(), Value::Array(attachments));
    let id = widget.post_customer(&claims, activity).await?;
    Ok(Json(json!({ "id": id })))
}

/// The `activity` part (checked like a posted activity) and the files, each checked against
/// the type list and the size limit as it streams in.
async fn read_parts(
    mut multipart: Multipart,
    settings: &UploadSettings,
) -> Result<(Option<Map<String, Value>>, Vec<Received>), WidgetError> {
    let malformed = |err: axum::extract::multipart::MultipartError| {
        WidgetError::BadRequest(format!("the upload is not valid multipart: {err}"))
    };
    let mut template = None;
    let mut files = Vec::new();
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let is_activity = field.name() == Some("activity") && field.file_name().is_none()
            || field.content_type() == Some("application/vnd.microsoft.activity");
        if is_activity {
            let bytes = field.bytes().await.map_err(malformed)?;
            template = Some(check_posted(&bytes).map_err(WidgetError::BadActivity)?);
            continue;
        }
        if files.len() == MAX_FILES {
            return Err(WidgetError::BadRequest(format!("at most {MAX_FILES} files per upload")));
        }
        let name = clean_name(field.file_name().unwrap_or("file"));
        let content_type =
            field.content_type().unwrap_or("application/octet-stream").to_ascii_lowercase();
        if !settings.allows(&content_type) {
            return Err(WidgetError::FileTypeRefused(content_type));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if (bytes.len() + chunk.len()) as u64 > settings.max_bytes {
                return Err(WidgetError::FileTooLarge(settings.max_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        files.push(Received { name, content_type, bytes });
    }
    Ok((template, files))
}

/// Keeps letters, digits, `.`, `-` and `_` of the last path segment, so a name can neither
/// climb out of its folder nor break a URL.
fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let mut name: String = last
        .trim_start_matches('.')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    name.truncate(MAX_NAME_BYTES);
    if name.is_empty() {
        "file".to_owned()
    } else {
        name
    }
}

/// Writes the file under a fresh random key and returns its public URL.
async fn store(
    widget: &WidgetService,
    settings: &UploadSettings,
    file: &Received,
) -> Result<String, WidgetError> {
    let key = crate::crypto::random_id();
    let folder = settings.dir.join(&key);
    let failed = |err: std::io::Error| WidgetError::Internal(format!("storing an upload: {err}"));
    tokio::fs::create_dir_all(&folder).await.map_err(failed)?;
    tokio::fs::write(folder.join(TYPE_FILE), file.content_type.as_bytes()).await.map_err(failed)?;
    tokio::fs::write(folder.join(&file.name), &file.bytes).await.map_err(failed)?;
    Ok(format!(
        "{}/v3/directline/files/{key}/{}",
        widget.config().public_base_url.trim_end_matches('/'),
        file.name
    ))
}

/// The stored file behind one of this service's file URLs (as [`store`] made it), if it is one.
pub(crate) fn stored_file(config: &super::WidgetConfig, url: &str) -> Option<PathBuf> {
    let settings = config.uploads.as_ref()?;
    let prefix = format!("{}/v3/directline/files/", config.public_base_url.trim_end_matches('/'));
    let (key, name) = url.strip_prefix(&prefix)?.split_once('/')?;
    let key_ok = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric());
    (key_ok && clean_name(name) == name).then(|| settings.dir.join(key).join(name))
}

/// Types a browser may show inline; anything else downloads, so an uploaded page or SVG never
/// runs as this service's origin.
const INLINE_TYPES: &[&str] =
    &["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"];

/// `GET /files/{key}/{name}`.
pub async fn download(
    State(widget): State<WidgetService>,
    Path((key, name)): Path<(String, String)>,
) -> Result<Response, WidgetError> {
    let settings = widget.config().uploads.clone().ok_or(WidgetError::RouteNotFound)?;
    if key.len() != 32 || !key.bytes().all(|b| b.is_ascii_hexdigit()) || clean_name(&name) != name {
        return Err(WidgetError::RouteNotFound);
    }
    let folder: PathBuf = settings.dir.join(&key);
    let (Ok(bytes), Ok(content_type)) = (
        tokio::fs::read(folder.join(&name)).await,
        tokio::fs::read_to_string(folder.join(TYPE_FILE)).await,
    ) else {
        return Err(WidgetError::RouteNotFound);
    };
    let inline = INLINE_TYPES.contains(&content_type.as_str());
    let disposition = if inline { "inline" } else { "attachment" };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{disposition}; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::clean_name;

    #[test]
    fn names_cannot_escape_or_break_urls() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\temp\\a b.png"), "a_b.png");
        assert_eq!(clean_name(".hidden"), "hidden");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name("résumé.pdf"), "r_sum_.pdf");
    }
}
