//! Credentials never reach a log line: the webhook token travels in the URL path
//! (`/webhooks/cx/{token}`) and a widget token in the stream URL's `t=` parameter, and the HTTP
//! trace span records the URL. [`redacted_uri`] is what the span records instead.

use axum::http::Uri;

/// Path prefixes whose next segment is a secret.
const SECRET_SEGMENT_AFTER: [&str; 2] = ["/webhooks/cx/", "/webhooks/cx-widget/"];

/// Query parameters that hold a secret.
const SECRET_PARAMETERS: [&str; 2] = ["t", "token"];

/// `uri` with every credential replaced by `***`.
pub(crate) fn redacted_uri(uri: &Uri) -> String {
    let path = uri.path();
    let mut out = match SECRET_SEGMENT_AFTER.iter().find(|prefix| path.starts_with(*prefix)) {
        Some(prefix) => {
            let rest = &path[prefix.len()..];
            let after = rest.find('/').map_or("", |slash| &rest[slash..]);
            format!("{prefix}***{after}")
        }
        None => path.to_owned(),
    };
    if let Some(query) = uri.query() {
        let parts: Vec<String> = query
            .split('&')
            .map(|pair| {
                let name = pair.split('=').next().unwrap_or_default();
                if SECRET_PARAMETERS.contains(&name) {
                    format!("{name}=***")
                } else {
                    pair.to_owned()
                }
            })
            .collect();
        out.push('?');
        out.push_str(&parts.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(uri: &str) -> String {
        redacted_uri(&uri.parse().unwrap())
    }

    #[test]
    fn tokens_in_paths_and_queries_are_hidden() {
        assert_eq!(redact("/webhooks/cx/s3cr3t"), "/webhooks/cx/***");
        assert_eq!(redact("/webhooks/cx-widget/s3cr3t/x?a=1"), "/webhooks/cx-widget/***/x?a=1");
        assert_eq!(
            redact("/v3/directline/conversations/c1/stream?watermark=3&t=bt1.abc.def"),
            "/v3/directline/conversations/c1/stream?watermark=3&t=***"
        );
        assert_eq!(redact("/healthz"), "/healthz");
    }
}
