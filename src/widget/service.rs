//! `WidgetService`: the Direct Line state machine behind the routes — minting tokens, starting and
//! resuming conversations, storing echoes and pushes, fanning them out to open streams, and
//! handing customer activities to the host one conversation at a time, in order.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use tokio::sync::broadcast;

use super::activity::{CustomerActivity, OutgoingActivity};
use super::config::{Site, WidgetConfig};
use super::error::WidgetError;
use super::limits::{open_stream, OpenStreams, PerMinute, Retired, StreamPlace, WidgetLimits};
use super::store::{Change, ConversationRecord, StoredActivity, WidgetStore};
use super::token::{self, Claims, TokenProblem};
use crate::clock::{Clock, SystemClock};

/// The customer of a conversation, as bound to its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WidgetUser {
    pub id: String,
    pub name: Option<String>,
    pub site: String,
    /// The page's locale when it started the conversation (`"locale": "es-MX"` in the start
    /// body, as Direct Line's `conversationStartProperties` send it).
    pub locale: Option<String>,
}

/// What the server plugs into the widget: it is told about new conversations and customer
/// activities, and answers later through [`WidgetService::push`].
pub trait WidgetHost: Send + Sync + 'static {
    /// A conversation was started by a page (called once per conversation, before the page
    /// hears 201: an error fails the start).
    fn conversation_started<'a>(
        &'a self,
        widget: &'a WidgetService,
        conversation: &'a str,
        user: &'a WidgetUser,
    ) -> BoxFuture<'a, Result<(), WidgetError>>;

    /// The customer posted an activity; its echo is already stored. The page gets its answer
    /// only after this returns, so the host must make the activity durable here (and may be
    /// handed the same activity again when the page retries): an error answers the page 500
    /// and the page sends it again.
    fn customer_activity<'a>(
        &'a self,
        widget: &'a WidgetService,
        conversation: &'a str,
        activity: CustomerActivity,
    ) -> BoxFuture<'a, Result<(), WidgetError>>;
}

/// What open streams of a conversation are told.
#[derive(Clone, Debug)]
pub enum Pushed {
    /// An activity this process stored, with its sequence number.
    Stored { seq: u64, activity: Value },
    /// The typing indicator: streamed, never stored.
    Typing { activity: Value },
    /// Another replica stored something: streams re-read the store past their watermark.
    StoredElsewhere,
}

/// What a start, resume or token refresh answers: the conversation and the token that opens it.
#[derive(Clone, Debug)]
pub struct ConversationAccess {
    pub conversation: String,
    pub token: String,
    pub expires_in: u64,
    pub watermark: u64,
}

/// The widget's shared state; cheap to clone.
#[derive(Clone)]
pub struct WidgetService {
    inner: Arc<Inner>,
}

struct Inner {
    config: WidgetConfig,
    store: Arc<dyn WidgetStore>,
    host: Arc<dyn WidgetHost>,
    streams: Mutex<HashMap<String, broadcast::Sender<Arc<Pushed>>>>,
    limits: WidgetLimits,
    /// New conversations per site from its backend's tokens.
    minted: Mutex<PerMinute<String>>,
    /// New conversations per (site, client address) without a minted token.
    anonymous: Mutex<PerMinute<(String, IpAddr)>>,
    open_streams: Arc<Mutex<OpenStreams>>,
    retired: Mutex<Retired>,
    /// Token times, rate-limit minutes and activity timestamps.
    clock: Arc<dyn Clock>,
}

/// How many activities one poll or replay batch carries at most.
pub(crate) const BATCH: u32 = 500;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl WidgetService {
    pub fn new(
        config: WidgetConfig,
        store: Arc<dyn WidgetStore>,
        host: Arc<dyn WidgetHost>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                store,
                host,
                streams: Mutex::default(),
                limits: WidgetLimits::default(),
                minted: Mutex::default(),
                anonymous: Mutex::default(),
                open_streams: Arc::default(),
                retired: Mutex::default(),
                clock: Arc::new(SystemClock),
            }),
        }
    }

    /// Sets the widget's limits (only before the service is cloned; tests and `botrun dev`
    /// keep the defaults).
    #[must_use]
    pub fn with_limits(mut self, limits: WidgetLimits) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.limits = limits;
        }
        self
    }

    /// Reads time from `clock` instead of the wall clock (only before the service is cloned;
    /// the server hands the widget its own clock).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.clock = clock;
        }
        self
    }

    /// Now, in milliseconds since the Unix epoch.
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now().timestamp_millis()
    }

    /// Takes a place for one more open stream on `conversation`, or refuses it.
    pub fn open_stream(&self, conversation: &str) -> Result<StreamPlace, WidgetError> {
        open_stream(&self.inner.open_streams, conversation, &self.inner.limits)
    }

    pub fn config(&self) -> &WidgetConfig {
        &self.inner.config
    }

    pub fn store(&self) -> &Arc<dyn WidgetStore> {
        &self.inner.store
    }

    fn lifetime_secs(&self) -> u64 {
        self.inner.config.token_lifetime.as_secs().max(1)
    }

    fn issue(&self, conversation: &str, user: &WidgetUser) -> String {
        self.issue_at(conversation, user, self.now_ms())
    }

    fn issue_at(&self, conversation: &str, user: &WidgetUser, issued_ms: i64) -> String {
        let claims = Claims {
            issued_ms,
            conversation: conversation.to_owned(),
            user_id: user.id.clone(),
            user_name: user.name.clone(),
            site: user.site.clone(),
            expires_at: self.now_ms() / 1000 + i64::try_from(self.lifetime_secs()).unwrap_or(3600),
            nonce: crate::crypto::random_id(),
        };
        token::sign(&self.inner.config.token_key, &claims)
    }

    /// Checks a token; expired or replaced by a refresh → 403, anything else wrong → 401.
    pub fn verify(&self, token: &str) -> Result<Claims, WidgetError> {
        let now = self.now_ms() / 1000;
        let claims = token::verify(&self.inner.config.token_key, token, now).map_err(
            |problem| match problem {
                TokenProblem::Expired => WidgetError::TokenExpired,
                TokenProblem::Invalid => WidgetError::TokenInvalid,
            },
        )?;
        let retired =
            lock(&self.inner.retired).is_retired(&claims.conversation, claims.issued_ms, now);
        if retired {
            return Err(WidgetError::TokenExpired);
        }
        Ok(claims)
    }

    /// Mints a token for a new conversation of `site` (the site's backend calls this): counted
    /// against the site's own per-minute budget.
    pub fn mint(
        &self,
        site: &Site,
        user_id: Option<String>,
        user_name: Option<String>,
    ) -> Result<ConversationAccess, WidgetError> {
        lock(&self.inner.minted)
            .take(site.id.clone(), site.new_conversations_per_minute, self.now_ms())
            .map_err(|retry_after| WidgetError::RateLimited { retry_after })?;
        Ok(self.new_session(site, user_id, user_name))
    }

    /// Mints a token for a page that has none (an anonymous start, the demo page): counted per
    /// client address, apart from the site's backend budget, so one address cannot use it up.
    pub(crate) fn mint_for_address(
        &self,
        site: &Site,
        address: IpAddr,
        user_id: Option<String>,
        user_name: Option<String>,
    ) -> Result<ConversationAccess, WidgetError> {
        let limit = self.inner.limits.anonymous_starts_per_minute;
        lock(&self.inner.anonymous)
            .take((site.id.clone(), address), limit, self.now_ms())
            .map_err(|retry_after| WidgetError::AddressRateLimited { retry_after })?;
        Ok(self.new_session(site, user_id, user_name))
    }

    fn new_session(
        &self,
        site: &Site,
        user_id: Option<String>,
        user_name: Option<String>,
    ) -> ConversationAccess {
        let conversation = crate::crypto::random_id();
        let user = WidgetUser {
            id: user_id.unwrap_or_else(|| format!("dl_{}", crate::crypto::random_id())),
            name: user_name,
            site: site.id.clone(),
            locale: None,
        };
        ConversationAccess {
            token: self.issue(&conversation, &user),
            conversation,
            expires_in: self.lifetime_secs(),
            watermark: 0,
        }
    }

    /// Starts the token's conversation. Idempotent: a second start answers the same session,
    /// and the flag says whether this call created it.
    pub async fn start(
        &self,
        claims: &Claims,
        token: &str,
        locale: Option<String>,
    ) -> Result<(ConversationAccess, bool), WidgetError> {
        let expires_in = claims.seconds_left(self.now_ms() / 1000);
        let existing = self.inner.store.conversation(&claims.conversation).await?;
        if let Some(record) = existing {
            if record.ended {
                return Err(WidgetError::ConversationNotFound);
            }
            let session = ConversationAccess {
                conversation: record.id,
                token: token.to_owned(),
                expires_in,
                watermark: record.last_seq,
            };
            return Ok((session, false));
        }
        let record = ConversationRecord {
            id: claims.conversation.clone(),
            site: claims.site.clone(),
            user_id: claims.user_id.clone(),
            user_name: claims.user_name.clone(),
            created_ms: self.now_ms(),
            last_seq: 0,
            last_ts_ms: 0,
            ended: false,
        };
        self.inner.store.create_conversation(&record).await?;
        let user = WidgetUser {
            id: record.user_id.clone(),
            name: record.user_name.clone(),
            site: record.site.clone(),
            locale,
        };
        // Durable with the host before the page hears 201, like every customer activity.
        self.inner.host.conversation_started(self, &record.id, &user).await?;
        let session = ConversationAccess {
            conversation: record.id,
            token: token.to_owned(),
            expires_in,
            watermark: 0,
        };
        Ok((session, true))
    }

    /// The live (not ended) conversation the token is bound to. A path naming another
    /// conversation is one this token cannot see: 404 like any unknown conversation, as Direct
    /// Line documents it (a 403 would make `botframework-directlinejs` wait for a fresh token).
    pub(crate) async fn live_conversation(
        &self,
        claims: &Claims,
        path_id: &str,
    ) -> Result<ConversationRecord, WidgetError> {
        if claims.conversation != path_id {
            return Err(WidgetError::ConversationNotFound);
        }
        match self.inner.store.conversation(path_id).await? {
            Some(record) if !record.ended => Ok(record),
            _ => Err(WidgetError::ConversationNotFound),
        }
    }

    /// A fresh token for the same conversation and user; tokens issued before it stop working
    /// after the refresh overlap (long enough for the page to switch to the new one).
    pub fn refresh(&self, claims: &Claims) -> ConversationAccess {
        let user = WidgetUser {
            id: claims.user_id.clone(),
            name: claims.user_name.clone(),
            site: claims.site.clone(),
            locale: None,
        };
        // Strictly newer than the token it replaces, even within the same millisecond.
        let issued_ms = self.now_ms().max(claims.issued_ms + 1);
        let token = self.issue_at(&claims.conversation, &user, issued_ms);
        let now = self.now_ms() / 1000;
        let overlap = i64::try_from(self.inner.limits.refresh_overlap.as_secs()).unwrap_or(30);
        let lifetime = i64::try_from(self.lifetime_secs()).unwrap_or(3600);
        lock(&self.inner.retired).replace(
            &claims.conversation,
            issued_ms,
            now + overlap,
            now - lifetime,
        );
        ConversationAccess {
            token,
            conversation: claims.conversation.clone(),
            expires_in: self.lifetime_secs(),
            watermark: 0,
        }
    }

    /// Stores the customer's activity as its echo (server id, `from` from the token, the
    /// client's `clientActivityID` kept), streams it, and queues it for the host.
    pub(crate) async fn post_customer(
        &self,
        claims: &Claims,
        mut activity: Map<String, Value>,
    ) -> Result<String, WidgetError> {
        let mut from = Map::new();
        from.insert("id".into(), Value::String(claims.user_id.clone()));
        if let Some(name) = &claims.user_name {
            from.insert("name".into(), Value::String(name.clone()));
        }
        from.insert("role".into(), Value::String("user".into()));
        activity.insert("from".into(), Value::Object(from));
        activity.remove("id");
        activity.insert("channelId".into(), Value::String("directline".into()));
        let kind = activity.get("type").and_then(Value::as_str).unwrap_or("message").to_owned();
        if kind == "typing" {
            activity.insert("id".into(), Value::String(crate::crypto::random_id()));
            self.broadcast(
                &claims.conversation,
                Pushed::Typing { activity: Value::Object(activity) },
            );
            return Ok(crate::crypto::random_id());
        }
        let activity = Value::Object(activity);
        let earlier = match super::store::client_activity_id(&activity) {
            Some(client_id) => {
                self.inner.store.find_client_activity(&claims.conversation, client_id).await?
            }
            None => None,
        };
        // A page retry after a lost answer finds its echo: no second echo, but the host hears it
        // again (it deduplicates), in case the first attempt stopped before reaching it.
        let (stored, fresh) = match earlier {
            Some(earlier) => (earlier, false),
            None => (
                self.inner.store.append(&claims.conversation, activity, self.now_ms()).await?,
                true,
            ),
        };
        let id = stored.activity["id"].as_str().unwrap_or_default().to_owned();
        let customer = CustomerActivity {
            id: id.clone(),
            kind,
            text: stored.activity["text"].as_str().map(str::to_owned),
            name: stored.activity["name"].as_str().map(str::to_owned),
            value: stored.activity.get("value").cloned(),
            user_id: claims.user_id.clone(),
            raw: stored.activity.clone(),
        };
        if fresh {
            self.broadcast(
                &claims.conversation,
                Pushed::Stored { seq: stored.seq, activity: stored.activity },
            );
        }
        // Durable with the host before the page hears 200: a crash after the answer loses
        // nothing, a failure here answers 500 and the page sends the activity again.
        self.inner.host.customer_activity(self, &claims.conversation, customer).await?;
        Ok(id)
    }

    /// Pushes a bot or agent activity to the page: stored (unless typing), then streamed.
    pub async fn push(
        &self,
        conversation: &str,
        activity: OutgoingActivity,
    ) -> Result<Option<StoredActivity>, WidgetError> {
        self.push_reply(conversation, activity, None).await
    }

    /// [`push`](Self::push) for a reply to the customer's activity `reply_to` (its server id),
    /// which the page sees as `replyToId`.
    pub(crate) async fn push_reply(
        &self,
        conversation: &str,
        activity: OutgoingActivity,
        reply_to: Option<&str>,
    ) -> Result<Option<StoredActivity>, WidgetError> {
        let mut json = activity.to_json();
        if let Some(id) = reply_to {
            json["replyToId"] = Value::String(id.to_owned());
        }
        json["channelId"] = Value::String("directline".into());
        if !activity.is_stored() {
            json["id"] = Value::String(crate::crypto::random_id());
            json["conversation"] = serde_json::json!({ "id": conversation });
            self.broadcast(conversation, Pushed::Typing { activity: json });
            return Ok(None);
        }
        let stored = self.inner.store.append(conversation, json, self.now_ms()).await?;
        self.broadcast(
            conversation,
            Pushed::Stored { seq: stored.seq, activity: stored.activity.clone() },
        );
        Ok(Some(stored))
    }

    /// Ends a conversation for good: it can no longer be resumed.
    pub async fn end(&self, conversation: &str) -> Result<(), WidgetError> {
        self.inner.store.end_conversation(conversation).await?;
        Ok(())
    }

    /// Subscribes to a conversation's pushes (subscribe before reading the replay).
    pub fn subscribe(&self, conversation: &str) -> broadcast::Receiver<Arc<Pushed>> {
        let mut streams = match self.inner.streams.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        streams
            .entry(conversation.to_owned())
            .or_insert_with(|| broadcast::channel(256).0)
            .subscribe()
    }

    /// Follows the activities other replicas store (when the store is shared), so a page's
    /// stream on this replica shows them live. Call once, inside the runtime.
    pub async fn follow_other_replicas(&self) -> Result<(), WidgetError> {
        let Some(mut changes) = self.inner.store.changes().await? else { return Ok(()) };
        let widget = self.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt as _;
            while let Some(change) = changes.next().await {
                match change {
                    Change::Stored(conversation) => {
                        widget.broadcast(&conversation, Pushed::StoredElsewhere);
                    }
                    // What was stored while the feed was cut was never announced: every open
                    // stream re-reads the store past its watermark.
                    Change::Resumed => widget.broadcast_everywhere(&Pushed::StoredElsewhere),
                }
            }
        });
        Ok(())
    }

    /// Tells every open stream of this process.
    fn broadcast_everywhere(&self, pushed: &Pushed) {
        let mut streams = lock(&self.inner.streams);
        let pushed = Arc::new(pushed.clone());
        // A channel nobody listens to any more is forgotten, as in `broadcast`.
        streams.retain(|_, sender| sender.send(Arc::clone(&pushed)).is_ok());
    }

    fn broadcast(&self, conversation: &str, pushed: Pushed) {
        let mut streams = match self.inner.streams.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(sender) = streams.get(conversation) {
            if sender.send(Arc::new(pushed)).is_err() {
                // Nobody listens any more; forget the channel so the map does not grow.
                streams.remove(conversation);
            }
        }
    }
}
