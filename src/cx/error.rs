//! `CxError`: every way a CX call can fail, worded for the operator who has to fix it, plus the
//! helper that turns an error body (JSON, HTML page, garbage) into a short readable excerpt.

use std::fmt::Write as _;

/// Longest body excerpt kept in an error, in characters.
pub(crate) const EXCERPT_CHARS: usize = 200;

/// A failed CX call.
#[derive(Debug, thiserror::Error)]
pub enum CxError {
    /// CX answered with a non-success status that was not retried (or retries ran out).
    #[error("CX answered {status} to {call}{}: {body_excerpt}", hint_for_status(*status))]
    Http {
        call: &'static str,
        status: u16,
        body_excerpt: String,
        /// The wait CX asked for in `Retry-After` (429/503), already capped.
        retry_after: Option<std::time::Duration>,
    },
    /// CX answered 2xx but the body is not what the call expects.
    #[error("could not understand CX's answer to {call}: {reason} (body: {body_excerpt})")]
    Decode { call: &'static str, reason: String, body_excerpt: String },
    /// No HTTP answer: connection refused or reset, DNS, TLS…
    #[error("could not reach CX for {call}: {reason}")]
    Network { call: &'static str, reason: String },
    /// No complete answer within the configured `timeout_ms`.
    #[error("CX did not answer {call} within {timeout_ms} ms")]
    Timeout { call: &'static str, timeout_ms: u64 },
    /// The token endpoint refused the credentials or answered something unusable.
    #[error("{message}")]
    Auth { status: Option<u16>, message: String },
    /// The configuration cannot work (missing tenant, bad URL, unset environment variable…).
    #[error("CX configuration: {0}")]
    Config(String),
}

/// Chatwoot's unique index on messages' `(inbox_id, source_id)`: a message created again with a
/// `source_id` the inbox already has is refused with an error that names it.
pub(crate) const MESSAGE_SOURCE_ID_INDEX: &str = "idx_messages_unique_inbox_source_id";

impl CxError {
    /// CX refused a message because one with the same `source_id` exists: the call was made
    /// before (a crash between CX creating it and botrun noting it), so the message is there.
    pub(crate) fn is_duplicate_source_id(&self) -> bool {
        matches!(self, Self::Http { status: 422, body_excerpt, .. }
            if body_excerpt.contains(MESSAGE_SOURCE_ID_INDEX))
    }

    /// The wait CX asked for on its last answer, for a caller that schedules its own retry.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status CX answered, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. } => Some(*status),
            Self::Auth { status, .. } => *status,
            _ => None,
        }
    }

    /// Whether trying the same call again later may succeed (the outbox uses this to decide
    /// between "retry later" and "give up and hand over").
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Http { status, .. } => is_retryable_status(*status),
            Self::Network { .. } | Self::Timeout { .. } => true,
            Self::Auth { status, .. } => status.is_some_and(is_retryable_status),
            Self::Decode { .. } | Self::Config(_) => false,
        }
    }
}

/// Statuses worth retrying: request timeout, too early, rate limited, server errors.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || (500..=599).contains(&status)
}

fn hint_for_status(status: u16) -> &'static str {
    match status {
        401 => " (the token was refused even after renewing it)",
        403 => " (the credentials lack the `cx.digital-interactions` scope or this tenant)",
        404 => " (unknown object or path — check the id, or the path under `cx.paths`)",
        422 => " (CX rejected the request body)",
        429 => " (rate limited)",
        500..=599 => " (CX server error)",
        _ => "",
    }
}

/// A short, single-line excerpt of a response body for error messages: a JSON `error` or
/// `message` field when there is one, otherwise the text with HTML tags removed and whitespace
/// flattened, cut at [`EXCERPT_CHARS`] characters.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)".to_owned();
    }
    let text = String::from_utf8_lossy(body);
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&text) {
        for key in ["error", "message", "errors"] {
            match map.get(key) {
                Some(serde_json::Value::String(message)) => return truncate(&flatten(message)),
                Some(other @ (serde_json::Value::Array(_) | serde_json::Value::Object(_))) => {
                    return truncate(&other.to_string());
                }
                _ => {}
            }
        }
    }
    let flat = flatten(&strip_html(&text));
    if flat.is_empty() {
        "(body without text)".to_owned()
    } else {
        truncate(&flat)
    }
}

/// Drops `<…>` tags and the contents of `<script>`/`<style>`, decodes the common entities.
fn strip_html(text: &str) -> String {
    if !text.contains('<') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let lower_head: String = after.chars().take(8).collect::<String>().to_ascii_lowercase();
        let skip_to = if lower_head.starts_with("<script") {
            find_ci(after, "</script>")
        } else if lower_head.starts_with("<style") {
            find_ci(after, "</style>")
        } else {
            None
        };
        let tag_end =
            skip_to.map_or_else(|| after.find('>'), |end| after[end..].find('>').map(|e| end + e));
        match tag_end {
            Some(end) => {
                out.push(' ');
                rest = &after[end + 1..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(needle)
}

fn flatten(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4 * EXCERPT_CHARS));
    for word in text.split_whitespace() {
        if out.chars().count() > 2 * EXCERPT_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        // Control characters would garble a terminal.
        for c in word.chars() {
            if c.is_control() {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            } else {
                out.push(c);
            }
        }
    }
    out
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= EXCERPT_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(EXCERPT_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_prefers_the_json_error_field() {
        assert_eq!(body_excerpt(br#"{"error":"inbox not found"}"#), "inbox not found");
        assert_eq!(body_excerpt(br#"{"message":"bad\n  thing"}"#), "bad thing");
    }

    #[test]
    fn excerpt_strips_html_and_flattens() {
        let page = b"<html><head><style>body{color:red}</style><script>var x = 1 < 2;</script>\
            <title>502 Bad Gateway</title></head>\n<body><h1>Bad   Gateway</h1>&amp; more</body></html>";
        assert_eq!(body_excerpt(page), "502 Bad Gateway Bad Gateway & more");
    }

    #[test]
    fn excerpt_is_capped_and_handles_garbage() {
        let long = "é".repeat(1000);
        let excerpt = body_excerpt(long.as_bytes());
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS);
        assert!(excerpt.ends_with('…'));
        assert_eq!(body_excerpt(b""), "(empty body)");
        assert_eq!(body_excerpt(&[0xff, 0xfe, b'a']), "\u{fffd}\u{fffd}a");
        assert_eq!(body_excerpt(b"<br><br>"), "(body without text)");
    }

    #[test]
    fn messages_read_like_sentences() {
        let error = CxError::Http {
            call: "assign_agent_bot",
            status: 404,
            body_excerpt: "inbox not found".to_owned(),
            retry_after: None,
        };
        assert_eq!(
            error.to_string(),
            "CX answered 404 to assign_agent_bot (unknown object or path — check the id, or the \
             path under `cx.paths`): inbox not found"
        );
        assert!(!error.is_transient());
    }
}
