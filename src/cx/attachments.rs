//! Messages with files: `POST paths.messages` as `multipart/form-data`, the message's fields as
//! text parts and each file as an `attachments[]` part, as Chatwoot's
//! `Api::V1::Accounts::Conversations::MessagesController#create` takes them
//! (`Messages::MessageBuilder#process_attachments`) \[C\]. Sangoma publishes no upload \[G\].

use reqwest::Method;
use serde_json::{Map, Value};

use super::client::{parse_json_or_null, CxClient, RequestBody};
use super::wire::read_message;
use super::{ConversationId, CxError, OutgoingMessage, SentMessage};

/// A file to attach: its name, content type and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileToAttach {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl CxClient {
    /// `message` with `files` attached, in one multipart call.
    pub(crate) async fn send_message_with_files(
        &self,
        conversation_id: ConversationId,
        message: &OutgoingMessage,
        files: &[FileToAttach],
    ) -> Result<SentMessage, CxError> {
        const CALL: &str = "send_message_with_files";
        let config = &self.inner.config;
        let fields = self.body(&config.extra_body.messages, |body| {
            body.insert("conversation_id".into(), conversation_id.0.into());
            message.body_fields(body);
        });
        let fields = match fields {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        let boundary = format!("botrun-{}", crate::crypto::random_hex(16));
        let body = RequestBody::Raw {
            content_type: format!("multipart/form-data; boundary={boundary}"),
            bytes: form_data(&boundary, &fields, files),
        };
        let answer =
            self.api_call_with(CALL, Method::POST, &config.paths.messages, Some(body)).await?;
        Ok(read_message(&parse_json_or_null(CALL, &answer)?))
    }
}

/// The form: one text part per field (objects as JSON text), then one part per file.
fn form_data(boundary: &str, fields: &Map<String, Value>, files: &[FileToAttach]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        let text = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        out.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{text}\r\n",
                quoted(name)
            )
            .as_bytes(),
        );
    }
    for file in files {
        out.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"attachments[]\"; \
                 filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                quoted(&file.name),
                file.content_type
            )
            .as_bytes(),
        );
        out.extend_from_slice(&file.bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// A name inside a quoted header parameter: quotes and line breaks escaped as browsers do.
fn quoted(name: &str) -> String {
    name.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A")
}
