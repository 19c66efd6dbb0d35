//! The emulated Digital Interactions API under `/cx/api/v1/digital-interactions/`: decoding and
//! validation of each call (malformed JSON → 400, wrong or missing fields → 422, unknown
//! records → 404), then one world operation, then a Chatwoot-like answer.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put, MethodRouter};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::handle::Emulator;
use super::model::{MessageType, NewMessage, Sender, SenderKind, Status};
use super::{auth, payloads, ApiSender, API_PREFIX};

/// Content types Chatwoot accepts on messages.
const CONTENT_TYPES: &[&str] = &[
    "text",
    "input_text",
    "input_textarea",
    "input_email",
    "input_select",
    "cards",
    "form",
    "article",
    "incoming_email",
    "input_csat",
];

/// The id of the integration's agent bot or user that API messages come from.
const API_SENDER_ID: u64 = 1;

/// The author of an `outgoing` message created through the API: the owner of the access token.
fn api_sender(kind: ApiSender) -> Sender {
    match kind {
        ApiSender::AgentBot => {
            Sender { kind: SenderKind::AgentBot, id: API_SENDER_ID, name: "botrun".into() }
        }
        ApiSender::User => {
            Sender { kind: SenderKind::User, id: API_SENDER_ID, name: "CX API".into() }
        }
    }
}

pub fn routes(emulator: Emulator) -> Router<Emulator> {
    let calls: [(&str, MethodRouter<Emulator>); 11] = [
        ("webhooks", post(create_webhook)),
        ("inboxes", get(list_inboxes)),
        ("contacts", post(create_contact)),
        ("contacts/search", get(search_contacts)),
        ("conversations", post(create_conversation)),
        (
            "messages",
            post(create_message)
                .layer(DefaultBodyLimit::max(super::files::MAX_ATTACHMENT_BYTES + 64 * 1024)),
        ),
        ("conversations/deliver-to-agent", post(deliver_to_agent)),
        ("conversations/finish", post(finish)),
        ("agents-bot", post(create_agent_bot)),
        ("agents-bot/assign", post(assign_agent_bot)),
        ("agent-bot", post(create_agent_bot)),
    ];
    let mut router = Router::new();
    for (path, handler) in calls {
        router = router
            .route(&format!("{API_PREFIX}/{path}"), handler.clone())
            .route(&format!("{API_PREFIX}/{path}/"), handler);
    }
    router = router
        .route(&format!("{API_PREFIX}/contacts/{{id}}"), put(update_contact))
        .route(&format!("{API_PREFIX}/contacts/{{id}}/"), put(update_contact))
        .route(&format!("{API_PREFIX}/conversations/{{id}}/messages"), get(list_messages))
        .route(&format!("{API_PREFIX}/conversations/{{id}}/messages/"), get(list_messages))
        .route(&format!("{API_PREFIX}/assign-agent-bot"), post(assign_agent_bot))
        .route(&format!("{API_PREFIX}/assign-agent-bot/"), post(assign_agent_bot));
    router.layer(axum::middleware::from_fn_with_state(emulator, auth::require_token))
}

/// A decoded JSON object body that names the right tenant.
struct Body(Map<String, Value>);

impl Body {
    fn parse(emulator: &Emulator, bytes: &[u8]) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|error| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("malformed JSON body: {error}"))
        })?;
        let Value::Object(map) = value else {
            return Err(ApiError::unprocessable("the body must be a JSON object"));
        };
        Self::checked(emulator, map)
    }

    /// Fields that name the right tenant.
    fn checked(emulator: &Emulator, map: Map<String, Value>) -> Result<Self, ApiError> {
        let body = Self(map);
        let tenant = body
            .string("tenant_domain")?
            .ok_or_else(|| ApiError::unprocessable("tenant_domain is required"))?;
        if tenant != emulator.options().tenant_domain {
            return Err(ApiError::unprocessable(format!("unknown tenant_domain `{tenant}`")));
        }
        Ok(body)
    }

    fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(ApiError::unprocessable(format!("{name} must be a string"))),
        }
    }

    fn required_string(&self, name: &str) -> Result<String, ApiError> {
        self.string(name)?
            .filter(|text| !text.trim().is_empty())
            .ok_or_else(|| ApiError::unprocessable(format!("{name} is required")))
    }

    /// Ids as numbers or numeric strings, as CX clients send both.
    fn id(&self, name: &str) -> Result<u64, ApiError> {
        let invalid = || ApiError::unprocessable(format!("{name} must be a positive integer id"));
        match self.0.get(name) {
            None | Some(Value::Null) => Err(ApiError::unprocessable(format!("{name} is required"))),
            Some(Value::Number(number)) => number.as_u64().ok_or_else(invalid),
            Some(Value::String(text)) => text.trim().parse().map_err(|_| invalid()),
            Some(_) => Err(invalid()),
        }
    }

    fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => Err(ApiError::unprocessable(format!("{name} must be true or false"))),
        }
    }
}

type Answer = Result<Json<Value>, ApiError>;

async fn create_webhook(State(emulator): State<Emulator>, bytes: Bytes) -> Answer {
    let body = Body::parse(&emulator, &bytes)?;
    let url = body.required_string("url")?;
    match url::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
        _ => return Err(ApiError::unprocessable(format!("url `{url}` is not an http(s) URL"))),
    }
    let subscriptions = match body.0.get("subscriptions") {
        None | Some(Value::Null) => vec!["conversation_created".into(), "message_created".into()],
        Some(Value::Array(items)) => {
            let mut names = Vec::new();
            for item in items {
                let Some(name) = item.as_str() else {
                    return Err(ApiError::unprocessable("subscriptions must be event names"));
                };
                if !super::routing::WEBHOOK_EVENTS.contains(&name) {
                    return Err(ApiError::unprocessable(format!(
                        "unknown event `{name}` in subscriptions"
                    )));
                }
                names.push(name.to_owned());
            }
            names
        }
        Some(_) => {
            return Err(ApiError::unprocessable("subscriptions must be a list of event names"))
        }
    };
    let webhook =
        emulator.change(|world| Ok((world.register_webhook(url, subscriptions)?, Vec::new())))?;
    Ok(Json(json!({"payload": {"webhook": {
        "id": webhook.id,
        "url": webhook.url,
        "subscriptions": webhook.subscriptions,
        "account_id": 1,
    }}})))
}

async fn list_inboxes(
    State(emulator): State<Emulator>,
    Query(query): Query<Vec<(String, String)>>,
) -> Answer {
    // A GET has no body; a tenant given in the query is still checked.
    if let Some((_, tenant)) = query.iter().find(|(key, _)| key == "tenant_domain") {
        if *tenant != emulator.options().tenant_domain {
            return Err(ApiError::unprocessable(format!("unknown tenant_domain `{tenant}`")));
        }
    }
    let inboxes =
        emulator.read(|world| world.inboxes.values().map(payloads::inbox).collect::<Vec<_>>());
    Ok(Json(json!({"payload": inboxes})))
}

async fn create_contact(State(emulator): State<Emulator>, bytes: Bytes) -> Answer {
    let body = Body::parse(&emulator, &bytes)?;
    let inbox_id = body.id("inbox_id")?;
    let name = body.string("name")?.unwrap_or_else(|| "Visitor".into());
    let email = body.string("email")?;
    check_email(email.as_deref())?;
    let phone_number = body.string("phone_number")?;
    let contact = emulator.change(|world| {
        Ok((world.create_contact(inbox_id, name, email, phone_number)?, Vec::new()))
    })?;
    Ok(Json(payloads::contact_created(&contact)))
}

/// `GET contacts/search?q=` (`Api::V1::Accounts::ContactsController#search` with
/// `contacts/search.json.jbuilder`): contacts whose name, email or phone number contains `q`
/// (without case, as its `ILIKE`), with their contact inboxes; an empty `q` is refused.
async fn search_contacts(
    State(emulator): State<Emulator>,
    Query(query): Query<Vec<(String, String)>>,
) -> Answer {
    if let Some((_, tenant)) = query.iter().find(|(key, _)| key == "tenant_domain") {
        if *tenant != emulator.options().tenant_domain {
            return Err(ApiError::unprocessable(format!("unknown tenant_domain `{tenant}`")));
        }
    }
    let wanted = query
        .iter()
        .find(|(key, _)| key == "q")
        .map(|(_, q)| q.trim().to_lowercase())
        .filter(|q| !q.is_empty())
        .ok_or_else(|| ApiError::unprocessable("Specify search string with parameter q"))?;
    let found = emulator.read(|world| {
        world
            .contacts
            .values()
            .filter(|c| {
                [Some(c.name.as_str()), c.email.as_deref(), c.phone_number.as_deref()]
                    .into_iter()
                    .flatten()
                    .any(|field| field.to_lowercase().contains(&wanted))
            })
            .map(payloads::contact_with_inboxes)
            .collect::<Vec<_>>()
    });
    Ok(Json(json!({
        "meta": {"count": found.len(), "current_page": 1, "has_more": false},
        "payload": found,
    })))
}

/// `PUT contacts/{id}` (`Api::V1::Accounts::ContactsController#update`): the fields the body
/// names are assigned (`null` clears email and phone), the others stay.
async fn update_contact(
    State(emulator): State<Emulator>,
    Path(id): Path<u64>,
    bytes: Bytes,
) -> Answer {
    let body = Body::parse(&emulator, &bytes)?;
    let named = |field: &str| body.0.contains_key(field);
    let name = body.string("name")?;
    let email = body.string("email")?;
    check_email(email.as_deref())?;
    let phone_number = body.string("phone_number")?;
    let contact = emulator.change(|world| {
        let contact = world.update_contact(id, |contact| {
            if named("name") {
                contact.name = name.unwrap_or_default();
            }
            if named("email") {
                contact.email = email;
            }
            if named("phone_number") {
                contact.phone_number = phone_number;
            }
        })?;
        Ok((contact, Vec::new()))
    })?;
    Ok(Json(payloads::contact_updated(&contact)))
}

/// An email must look like an address (Chatwoot's `Devise.email_regexp`, loosely).
fn check_email(email: Option<&str>) -> Result<(), ApiError> {
    match email {
        Some(email) if !email.contains('@') => {
            Err(ApiError::unprocessable(format!("email `{email}` is not an address")))
        }
        _ => Ok(()),
    }
}

async fn create_conversation(State(emulator): State<Emulator>, bytes: Bytes) -> Answer {
    let body = Body::parse(&emulator, &bytes)?;
    let inbox_id = body.id("inbox_id")?;
    let contact_id = body.id("contact_id")?;
    let source_id = body.string("source_id")?;
    let status = match body.string("status")? {
        None => None,
        Some(text) => Some(serde_json::from_value::<Status>(json!(text)).map_err(|_| {
            ApiError::unprocessable(format!(
                "status `{text}` must be open, pending, resolved or snoozed"
            ))
        })?),
    };
    emulator
        .change(|world| {
            let (conversation, notifications) =
                world.create_conversation(inbox_id, contact_id, source_id, status)?;
            Ok((payloads::conversation(world, &conversation), notifications))
        })
        .map(Json)
        .map_err(ApiError::from)
}

/// `POST messages/` with a JSON body, or as a form with `attachments[]` files.
async fn create_message(
    State(emulator): State<Emulator>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer {
    let (body, files) = match super::files::read_form(&headers, bytes.clone()).await? {
        Some((fields, files)) => (Body::checked(&emulator, fields)?, files),
        None => (Body::parse(&emulator, &bytes)?, Vec::new()),
    };
    let conversation_id = body.id("conversation_id")?;
    let content = body.string("content")?.unwrap_or_default();
    let message_type = match body.string("message_type")? {
        None => MessageType::Outgoing,
        Some(text) => match MessageType::parse(&text) {
            Some(kind @ (MessageType::Incoming | MessageType::Outgoing)) => kind,
            _ => {
                return Err(ApiError::unprocessable(format!(
                    "message_type `{text}` must be `incoming` or `outgoing`"
                )))
            }
        },
    };
    let private = body.flag("private")?;
    let source_id = body.string("source_id")?.filter(|id| !id.is_empty());
    let content_type = body.string("content_type")?.unwrap_or_else(|| "text".into());
    if !CONTENT_TYPES.contains(&content_type.as_str()) {
        return Err(ApiError::unprocessable(format!("unknown content_type `{content_type}`")));
    }
    let content_attributes = match body.0.get("content_attributes") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(value @ Value::Object(_)) => value.clone(),
        Some(_) => return Err(ApiError::unprocessable("content_attributes must be an object")),
    };
    if content_type == "input_select" {
        check_select_items(&content_attributes)?;
    }
    if content.trim().is_empty() && content_type == "text" && files.is_empty() {
        return Err(ApiError::unprocessable("content is required"));
    }
    let root = match (&emulator.options().public_url, headers.get(axum::http::header::HOST)) {
        (Some(url), _) => url.clone(),
        (None, Some(host)) => format!("http://{}", host.to_str().unwrap_or("localhost")),
        (None, None) => "http://localhost".to_owned(),
    };
    let attachments: Vec<_> =
        files.into_iter().map(|file| emulator.keep_file(&root, file)).collect();
    emulator
        .change(|world| {
            let conversation = world.conversation(conversation_id)?.clone();
            let inbox = world.inbox(conversation.inbox_id)?;
            let sender = if message_type == MessageType::Incoming {
                if inbox.channel_type != "Channel::Api" {
                    return Err(super::model::Refusal::Invalid(format!(
                        "incoming messages are accepted only in API inboxes; inbox {} is {}",
                        inbox.id, inbox.channel_type
                    )));
                }
                let contact = world.contact(conversation.contact_id)?;
                Sender { kind: SenderKind::Contact, id: contact.id, name: contact.name.clone() }
            } else {
                api_sender(emulator.options().api_sender)
            };
            let new = NewMessage {
                content,
                message_type,
                private,
                content_type,
                content_attributes,
                sender,
                attachments: attachments.clone(),
                source_id,
            };
            let (message, notifications) = world.create_message(conversation_id, new)?;
            let conversation = world.conversation(conversation_id)?.clone();
            Ok((payloads::message(world, &message, &conversation), notifications))
        })
        .map(Json)
        .map_err(ApiError::from)
}

fn check_select_items(attributes: &Value) -> Result<(), ApiError> {
    let items = attributes
        .get("items")
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty())
        .ok_or_else(|| {
            ApiError::unprocessable("input_select needs content_attributes.items, a non-empty list")
        })?;
    for item in items {
        let titled = item.get("title").and_then(Value::as_str).is_some_and(|t| !t.is_empty());
        if !titled || item.get("value").is_none() {
            return Err(ApiError::unprocessable(
                "each content_attributes.items entry needs a `title` and a `value`",
            ));
        }
    }
    Ok(())
}

async fn deliver_to_agent(State(emulator): State<Emulator>, bytes: Bytes) -> Answer {
    change_status(&emulator, &bytes, Status::Open)
}

async fn finish(State(emulator): State<Emulator>, bytes: Bytes) -> Answer {
    change_status(&emulator, &bytes, Status::Resolved)
}

fn change_status(emulator: &Emulator, bytes: &[u8], status: Status) -> Answer {
    let body = Body::parse(emulator, bytes)?;
    let conversation_id = body.id("conversation_id")?;
    emulator
        .change(|world| {
            let notifications = world.set_status(conversation_id, status)?;
            let conversation = world.conversation(conversation_id)?.clone();
            Ok((payloads::conversation(world, &conversation), notifications))
        })
        .map(Json)
        .map_err(ApiError::from)
}

async fn create_agent_bot(State(emulator): State<Emulator>, bytes: Bytes) -> Answer {
    let body = Body::parse(&emulator, &bytes)?;
    let name = body.required_string("name")?;
    let description = body.string("description")?.unwrap_or_default();
    let outgoing_url = body.required_string("outgoing_url")?;
    match url::Url::parse(&outgoing_url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
        _ => {
            return Err(ApiError::unprocessable(format!(
                "outgoing_url `{outgoing_url}` is not an http(s) URL"
            )))
        }
    }
    let bot = emulator.change(|world| {
        Ok((world.create_agent_bot(name, description, outgoing_url), Vec::new()))
    })?;
    Ok(Json(json!({
        "id": bot.id,
        "name": bot.name,
        "description": bot.description,
        "outgoing_url": bot.outgoing_url,
        "bot_type": "webhook",
        "account_id": 1,
    })))
}

async fn assign_agent_bot(State(emulator): State<Emulator>, bytes: Bytes) -> Answer {
    let body = Body::parse(&emulator, &bytes)?;
    let inbox_id = body.id("inbox_id")?;
    let agent_bot_id = body.id("agent_bot_id")?;
    let inbox = emulator
        .change(|world| Ok((world.assign_agent_bot(inbox_id, agent_bot_id)?, Vec::new())))?;
    Ok(Json(json!({
        "inbox_id": inbox.id,
        "agent_bot_id": agent_bot_id,
        "inbox": payloads::inbox(&inbox),
    })))
}

/// `GET conversations/{id}/messages/`: the transcript as Chatwoot's messages listing answers it
/// (`MessageFinder`): the latest 20 without a cursor, up to 100 after `after`, 20 before
/// `before`, ordered by creation. An optional `tenant_domain` in the query is checked.
async fn list_messages(
    State(emulator): State<Emulator>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Answer {
    let param = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, v)| v.as_str());
    if let Some(tenant) = param("tenant_domain") {
        if tenant != emulator.options().tenant_domain {
            return Err(ApiError::unprocessable(format!("unknown tenant_domain `{tenant}`")));
        }
    }
    let cursor = |name: &str| -> Result<Option<u64>, ApiError> {
        param(name)
            .filter(|text| !text.is_empty())
            .map(|text| {
                text.parse()
                    .map_err(|_| ApiError::unprocessable(format!("{name} must be a message id")))
            })
            .transpose()
    };
    let (after, before) = (cursor("after")?, cursor("before")?);
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::unprocessable(format!("`{id}` is not a conversation id")))?;
    emulator
        .read(|world| {
            let conversation = world.conversation(id)?;
            let all = world.messages_of(id);
            let within = |m: &&super::model::Message| {
                after.is_none_or(|a| m.id > a) && before.is_none_or(|b| m.id < b)
            };
            let chosen: Vec<&super::model::Message> = all.iter().filter(within).collect();
            let chosen: Vec<&super::model::Message> = match (after, before) {
                (Some(_), None) => chosen.into_iter().take(100).collect(),
                (Some(_), Some(_)) => chosen.into_iter().take(1000).collect(),
                _ => {
                    let skip = chosen.len().saturating_sub(20);
                    chosen.into_iter().skip(skip).collect()
                }
            };
            Ok::<_, super::model::Refusal>(payloads::message_listing(world, conversation, &chosen))
        })
        .map(Json)
        .map_err(ApiError::from)
}
