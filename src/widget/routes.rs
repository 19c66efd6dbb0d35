//! The Direct Line HTTP routes: tokens, start, resume, post, poll and refresh, plus the CORS
//! layer that answers preflights and stamps allowed origins. The WebSocket stream is in
//! `stream.rs`.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::activity::check_posted;
use super::error::WidgetError;
use super::limits::ClientAddress;
use super::service::{ConversationAccess, WidgetService, BATCH};
use super::token::Claims;

/// `?watermark=` (and `t=` on the stream); a missing, empty or garbage watermark means 0.
#[derive(Debug, Default, Deserialize)]
pub struct WatermarkQuery {
    pub watermark: Option<String>,
    pub t: Option<String>,
}

impl WatermarkQuery {
    pub fn watermark(&self) -> u64 {
        self.watermark.as_deref().and_then(|w| w.trim().parse().ok()).unwrap_or(0)
    }
}

const ALLOWED_HEADERS: &str = "authorization, content-type, x-ms-bot-agent, x-requested-with";
const ALLOWED_METHODS: &str = "GET, POST, OPTIONS";

fn origin_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// CORS with a per-site allow-list: a browser request from an origin no site lists is refused,
/// preflights are answered here, and allowed origins are echoed back.
pub(crate) async fn cors(
    State(widget): State<WidgetService>,
    request: Request,
    next: Next,
) -> Response {
    let origin = origin_of(request.headers()).map(str::to_owned);
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    if widget.config().site_for_origin(&origin).is_none() {
        return WidgetError::OriginNotAllowed.into_response();
    }
    let mut response = if request.method() == Method::OPTIONS {
        let mut preflight = StatusCode::NO_CONTENT.into_response();
        let headers = preflight.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        preflight
    } else {
        next.run(request).await
    };
    if let Ok(value) = HeaderValue::from_str(&origin) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// The bearer token, if any. `botframework-directlinejs` started without a token sends
/// `Bearer undefined` (it formats a missing token into the header), so the JavaScript spellings
/// of "nothing" count as no token: that is how an anonymous start reaches us.
fn bearer(headers: &HeaderMap) -> Result<&str, WidgetError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty() && !matches!(*t, "undefined" | "null"))
        .ok_or(WidgetError::MissingToken)
}

/// A browser may only use a token from one of the token's site's origins.
fn check_origin(
    widget: &WidgetService,
    headers: &HeaderMap,
    site: &str,
) -> Result<(), WidgetError> {
    match origin_of(headers) {
        None => Ok(()),
        Some(origin) => match widget.config().site(site) {
            Some(site) if site.origins.iter().any(|o| o == origin) => Ok(()),
            _ => Err(WidgetError::OriginNotAllowed),
        },
    }
}

/// A request with a valid bearer token used from one of its site's origins: every route that
/// acts for a conversation takes this instead of checking the token by hand.
pub struct Authorized {
    pub claims: Claims,
    /// The token as presented (a resume answers it back).
    pub token: String,
}

impl FromRequestParts<WidgetService> for Authorized {
    type Rejection = WidgetError;

    async fn from_request_parts(
        parts: &mut Parts,
        widget: &WidgetService,
    ) -> Result<Self, WidgetError> {
        let token = bearer(&parts.headers)?;
        let claims = widget.verify(token)?;
        check_origin(widget, &parts.headers, &claims.site)?;
        Ok(Authorized { claims, token: token.to_owned() })
    }
}

#[derive(Debug, Default, Deserialize)]
struct StartBody {
    user: Option<UserBody>,
    /// The page's locale (Direct Line's `conversationStartProperties`).
    locale: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct UserBody {
    id: Option<String>,
    name: Option<String>,
}

fn parse_start_body(body: &Bytes) -> Result<StartBody, WidgetError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(StartBody::default());
    }
    let parsed: StartBody = serde_json::from_slice(body).map_err(|err| {
        WidgetError::BadRequest(format!("expected `{{\"user\":{{\"id\"}}}}`: {err}"))
    })?;
    if let Some(id) = parsed.user.as_ref().and_then(|u| u.id.as_deref()) {
        if id.is_empty() || id.len() > 128 {
            return Err(WidgetError::BadRequest("`user.id` must be 1 to 128 characters".into()));
        }
    }
    Ok(parsed)
}

fn stream_url(widget: &WidgetService, session: &ConversationAccess) -> String {
    format!(
        "{}/v3/directline/conversations/{}/stream?watermark={}&t={}",
        widget.config().websocket_base(),
        session.conversation,
        session.watermark,
        session.token
    )
}

fn session_json(widget: &WidgetService, session: &ConversationAccess, with_stream: bool) -> Value {
    let mut body = json!({
        "conversationId": session.conversation,
        "token": session.token,
        "expires_in": session.expires_in,
    });
    if with_stream {
        body["streamUrl"] = Value::String(stream_url(widget, session));
    }
    body
}

/// `POST /tokens/generate` with the site's backend secret.
pub async fn generate_token(
    State(widget): State<WidgetService>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, WidgetError> {
    let secret = bearer(&headers)?;
    let site =
        widget.config().site_for_secret(secret).cloned().ok_or(WidgetError::SecretInvalid)?;
    let start = parse_start_body(&body)?;
    let user = start.user.unwrap_or_default();
    let session = widget.mint(&site, user.id, user.name)?;
    Ok(Json(session_json(&widget, &session, false)))
}

/// `POST /conversations`: start with a token, or anonymously where the site allows it.
pub(crate) async fn start_conversation(
    State(widget): State<WidgetService>,
    ClientAddress(address): ClientAddress,
    authorized: Result<Authorized, WidgetError>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WidgetError> {
    let start = parse_start_body(&body)?;
    let (claims, token) = match authorized {
        Ok(Authorized { claims, token }) => (claims, token),
        Err(missing @ WidgetError::MissingToken) => {
            let site = origin_of(&headers)
                .and_then(|origin| widget.config().site_for_origin(origin))
                .filter(|site| site.anonymous_start)
                .cloned()
                .ok_or(missing)?;
            let user = start.user.unwrap_or_default();
            let session = widget.mint_for_address(&site, address, user.id, user.name)?;
            let claims = widget.verify(&session.token)?;
            (claims, session.token)
        }
        Err(refused) => return Err(refused),
    };
    let locale = start.locale.filter(|l| !l.trim().is_empty() && l.len() <= 64);
    let (session, created) = widget.start(&claims, &token, locale).await?;
    // Direct Line answers 201 for a new conversation and 200 when the token's conversation
    // already exists (a page restarting with the token it had).
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(session_json(&widget, &session, true))).into_response())
}

/// `GET /conversations/{id}?watermark=W`: resume with a fresh `streamUrl`.
pub(crate) async fn resume_conversation(
    State(widget): State<WidgetService>,
    Path(id): Path<String>,
    Query(query): Query<WatermarkQuery>,
    Authorized { claims, token }: Authorized,
) -> Result<Json<Value>, WidgetError> {
    let record = widget.live_conversation(&claims, &id).await?;
    let session = ConversationAccess {
        conversation: record.id,
        token,
        expires_in: claims.seconds_left(widget.now_ms() / 1000),
        watermark: query.watermark().min(record.last_seq),
    };
    Ok(Json(session_json(&widget, &session, true)))
}

/// `POST /conversations/{id}/activities`: store the echo, answer its id at once.
pub(crate) async fn post_activity(
    State(widget): State<WidgetService>,
    Path(id): Path<String>,
    Authorized { claims, .. }: Authorized,
    body: Bytes,
) -> Result<Json<Value>, WidgetError> {
    widget.live_conversation(&claims, &id).await?;
    let activity = check_posted(&body).map_err(WidgetError::BadActivity)?;
    let id = widget.post_customer(&claims, activity).await?;
    Ok(Json(json!({ "id": id })))
}

/// `GET /conversations/{id}/activities?watermark=W`: polling. Internal trouble answers 200 with
/// no activities, because one 5xx makes the widget stop polling for good.
pub(crate) async fn poll_activities(
    State(widget): State<WidgetService>,
    Path(id): Path<String>,
    Query(query): Query<WatermarkQuery>,
    Authorized { claims, .. }: Authorized,
) -> Result<Json<Value>, WidgetError> {
    let watermark = query.watermark();
    let empty = || Json(json!({ "activities": [], "watermark": watermark.to_string() }));
    match widget.live_conversation(&claims, &id).await {
        Ok(_) => {}
        Err(WidgetError::Internal(detail)) => {
            tracing::error!(%detail, "widget poll: store trouble, answering empty");
            return Ok(empty());
        }
        Err(other) => return Err(other),
    }
    match widget.store().activities_after(&id, watermark, BATCH).await {
        Ok(batch) => {
            let last = batch.last().map_or(watermark, |stored| stored.seq);
            let activities: Vec<Value> = batch.into_iter().map(|s| s.activity).collect();
            Ok(Json(json!({ "activities": activities, "watermark": last.to_string() })))
        }
        Err(err) => {
            tracing::error!(detail = %err, "widget poll: store trouble, answering empty");
            Ok(empty())
        }
    }
}

/// `POST /tokens/refresh`: a fresh token for the same conversation.
pub(crate) async fn refresh_token(
    State(widget): State<WidgetService>,
    Authorized { claims, .. }: Authorized,
) -> Result<Json<Value>, WidgetError> {
    let session = widget.refresh(&claims);
    Ok(Json(session_json(&widget, &session, false)))
}
