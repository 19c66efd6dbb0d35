//! Files on messages created through the API: `POST messages/` as `multipart/form-data` with the
//! message's fields as text parts and `attachments[]` file parts
//! (`Api::V1::Accounts::Conversations::MessagesController#create`,
//! `Messages::MessageBuilder#process_attachments`). The emulator keeps the bytes in memory (not in
//! a saved world) and serves them at the attachment's `data_url`, as Rails' `ActiveStorage` serves a blob.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::handle::{lock, Emulator};
use super::model::NewAttachment;

/// Chatwoot's largest attachment (`Attachment` validates 40 MB).
pub(crate) const MAX_ATTACHMENT_BYTES: usize = 40 * 1024 * 1024;

/// Where kept files are served, like `ActiveStorage` blob URLs.
const FILES_PATH: &str = "/rails/active_storage/blobs";

/// One `attachments[]` part.
#[derive(Clone, Debug)]
pub(crate) struct UploadedFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Bytes,
}

pub fn routes() -> Router<Emulator> {
    Router::new().route(&format!("{FILES_PATH}/{{key}}/{{name}}"), get(download))
}

/// The form's text fields (`private` as a boolean, `content_attributes` as JSON when it parses)
/// and its files; `None` when the body is not `multipart/form-data`.
pub(crate) async fn read_form(
    headers: &HeaderMap,
    bytes: Bytes,
) -> Result<Option<(Map<String, Value>, Vec<UploadedFile>)>, ApiError> {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    if !content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Ok(None);
    }
    let malformed =
        |error: String| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed form: {error}"));
    let request = axum::http::Request::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(axum::body::Body::from(bytes))
        .map_err(|error| malformed(error.to_string()))?;
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|error| malformed(error.body_text()))?;
    let mut fields = Map::new();
    let mut files = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|error| malformed(error.body_text()))? {
        let name = field.name().unwrap_or_default().to_owned();
        if let Some(file_name) = field.file_name().map(str::to_owned) {
            if name != "attachments[]" && name != "attachments" {
                return Err(ApiError::unprocessable(format!("unexpected file part `{name}`")));
            }
            let content_type =
                field.content_type().unwrap_or("application/octet-stream").to_owned();
            let bytes = field.bytes().await.map_err(|error| malformed(error.body_text()))?;
            files.push(UploadedFile { name: file_name, content_type, bytes });
            continue;
        }
        let text = field.text().await.map_err(|error| malformed(error.body_text()))?;
        let value = match name.as_str() {
            "private" => Value::Bool(matches!(text.as_str(), "true" | "1")),
            "content_attributes" => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            _ => Value::String(text),
        };
        fields.insert(name, value);
    }
    Ok(Some((fields, files)))
}

/// `FileTypeHelper#file_type`: the attachment's kind from its content type.
fn file_type(content_type: &str) -> &'static str {
    match content_type.split('/').next().unwrap_or_default() {
        "image" => "image",
        "audio" => "audio",
        "video" => "video",
        _ => "file",
    }
}

impl Emulator {
    /// Keeps `file` and returns the attachment that points at it; `root` is the emulator's
    /// address as the caller reached it.
    pub(super) fn keep_file(&self, root: &str, file: UploadedFile) -> NewAttachment {
        let key = crate::crypto::random_hex(16);
        let name: String = file
            .name
            .chars()
            .map(
                |c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' },
            )
            .collect();
        let attachment = NewAttachment {
            file_type: file_type(&file.content_type).to_owned(),
            data_url: format!("{}{FILES_PATH}/{key}/{name}", root.trim_end_matches('/')),
        };
        lock(&self.inner.files).insert(key, file);
        attachment
    }
}

async fn download(
    State(emulator): State<Emulator>,
    Path((key, _name)): Path<(String, String)>,
) -> Response {
    match lock(&emulator.inner.files).get(&key) {
        Some(file) => ([(header::CONTENT_TYPE, file.content_type.clone())], file.bytes.clone())
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
