//! Flow A: a bot behind the third-party Web Chat widget, mirrored into Sangoma CX.
//!
//! The widget hands each customer activity to [`FlowA`] (a [`WidgetHost`]), which queues it in
//! the store under `widget:{conversation}` and wakes that conversation's tasks — the same
//! durable queue, state compare-and-swap, outbox and timers as Flow B. A turn (`turn`) runs the
//! engine, commits the session and the CX calls in one transaction, then pushes the replies to
//! the page; a second task per conversation (`mirror`) delivers the CX calls in order, so the
//! page never waits for CX (create the contact
//! and conversation, the customer's message as `incoming`, the bot's as `outgoing`, the handoff
//! note as a private note, deliver-to-agent, finish). [`webhook`] takes CX's events for the
//! mirrored conversations: a human agent's replies go to the page, an agent finishing ends it.

mod mirror;
pub mod payload;
mod reconcile;
pub mod session;
mod turn;
pub mod webhook;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Deserialize;

use super::keyed::KeyedWorkers;
use super::AppState;
use crate::cx::CxClient;
use crate::engine::{Contact, Program};
use crate::store::{Recorded, StoreError};
use crate::widget::{CustomerActivity, WidgetError, WidgetHost, WidgetService, WidgetUser};
use payload::WidgetInbound;

/// When the CX contact and conversation are created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenAt {
    /// On the customer's first message (a page opened and left alone costs CX nothing).
    #[default]
    FirstMessage,
    /// As soon as the page starts the conversation (the greeting is mirrored too).
    Start,
}

/// How files the customer sends reach CX.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CxFiles {
    /// A `📎 name: URL` line per file in the message text (the file stays with botrun).
    #[default]
    Links,
    /// Files uploaded to botrun go along as attachments (`attachments[]`, multipart, as
    /// Chatwoot's messages API takes them); files the page only linked to stay links.
    Attachments,
}

/// Flow A settings (the `widget:` section of the configuration).
#[derive(Clone, Debug)]
pub struct FlowASettings {
    /// The API-type CX inbox the conversations are created in.
    pub inbox_id: u64,
    pub open_at: OpenAt,
    /// Shown on the page when an agent finishes the conversation in CX.
    pub agent_finish_farewell: String,
    /// `status` sent when creating the CX conversation: `pending` keeps it with the bot until
    /// the handoff (Chatwoot starts API conversations `open`, in the agents' queue, otherwise).
    /// `None` sends no status.
    pub cx_status: Option<String>,
    /// While a human owns a conversation, read its messages back from CX this often and relay
    /// what the webhook missed (CX never retries an account webhook). `None`: never.
    pub reconcile_every: Option<Duration>,
    pub cx_files: CxFiles,
}

impl Default for FlowASettings {
    fn default() -> Self {
        Self {
            inbox_id: 1,
            open_at: OpenAt::FirstMessage,
            agent_finish_farewell:
                "The agent has closed this conversation. Write again any time to start a new one."
                    .into(),
            cx_status: Some("pending".into()),
            reconcile_every: Some(Duration::from_secs(5)),
            cx_files: CxFiles::Links,
        }
    }
}

/// The bot host behind the widget. Lives as long as the service (it and the widget hold each
/// other, which is fine for process-long objects).
pub struct FlowA {
    app: AppState,
    program: RwLock<Arc<Program>>,
    cx: CxClient,
    settings: FlowASettings,
    widget: OnceLock<WidgetService>,
    /// Per conversation, one task running its turns and one delivering its CX calls, so the
    /// page never waits for CX.
    turns: KeyedWorkers,
    mirrors: KeyedWorkers,
    /// Human-owned conversations whose messages are read back from CX ([`reconcile`]).
    watching: Mutex<reconcile::WatchList>,
    /// Set when CX answered that it has no messages listing: reconciliation stops.
    listing_missing: AtomicBool,
}

#[derive(Clone, Copy)]
enum LaneKind {
    Turns,
    Mirror,
}

impl FlowA {
    /// A host for `program`, mirroring into CX through `cx`; registers itself with `app` so
    /// timers and restart recovery reach widget conversations.
    pub fn new(
        app: &AppState,
        program: Program,
        cx: CxClient,
        settings: FlowASettings,
    ) -> Arc<FlowA> {
        let flow = Arc::new(FlowA {
            app: app.clone(),
            program: RwLock::new(Arc::new(program)),
            cx,
            settings,
            widget: OnceLock::new(),
            turns: KeyedWorkers::default(),
            mirrors: KeyedWorkers::default(),
            watching: Mutex::new(HashMap::new()),
            listing_missing: AtomicBool::new(false),
        });
        if flow.settings.reconcile_every.is_some() && flow.cx.can_list_messages() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(reconcile::run(Arc::downgrade(&flow)));
            }
        }
        if app.flow_a.set(Arc::clone(&flow)).is_err() {
            tracing::warn!(
                "a second widget host on one service: timers and restarts reach the first"
            );
        }
        flow
    }

    /// Connects the widget the host pushes to (once; later calls are ignored).
    pub fn attach(&self, widget: &WidgetService) {
        let _ = self.widget.set(widget.clone());
    }

    /// The program conversations run now.
    pub fn program(&self) -> Arc<Program> {
        Arc::clone(&self.program.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Swaps the program (hot reload); conversations pick it up on their next turn.
    pub(crate) fn replace_program(&self, program: Program) {
        *self.program.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Arc::new(program);
    }

    /// Runs one reconciliation round now (tests; the service runs them every
    /// `reconcile_every`).
    pub async fn reconcile_now(self: &Arc<Self>) {
        reconcile::round(self).await;
    }

    /// True when no widget conversation task is running (tests wait for it).
    pub fn idle(&self) -> bool {
        self.turns.idle() && self.mirrors.idle()
    }

    /// Queues `work` for a widget conversation unless `dedup` was seen, and wakes its worker.
    pub(crate) async fn enqueue(
        self: &Arc<Self>,
        dedup: &str,
        conversation: &str,
        work: &WidgetInbound,
    ) -> Result<Recorded, StoreError> {
        let key = session::key(conversation);
        let text = serde_json::to_string(work).map_err(|e| StoreError::Database(e.to_string()))?;
        let recorded =
            self.app.store.record_inbound(dedup, &key, &text, self.app.clock.now()).await?;
        if matches!(recorded, Recorded::Accepted(_)) {
            self.wake_lane(LaneKind::Turns, &key);
        } else {
            self.app.metrics.count_duplicate();
        }
        Ok(recorded)
    }

    /// Makes sure both tasks of the store key `key` run and see its newest work (after a
    /// restart, or when a timer fired).
    pub(crate) fn wake(self: &Arc<Self>, key: &str) {
        self.wake_lane(LaneKind::Mirror, key);
        self.wake_lane(LaneKind::Turns, key);
    }

    fn lane(&self, kind: LaneKind) -> &KeyedWorkers {
        match kind {
            LaneKind::Turns => &self.turns,
            LaneKind::Mirror => &self.mirrors,
        }
    }

    fn wake_lane(self: &Arc<Self>, kind: LaneKind, key: &str) {
        let flow = Arc::clone(self);
        let work = move |key: String| {
            let flow = Arc::clone(&flow);
            async move {
                match kind {
                    LaneKind::Turns => flow.run_turns(&key).await,
                    LaneKind::Mirror => mirror::drain(&flow, &key).await,
                }
            }
        };
        self.lane(kind).wake(&self.app, key, Self::lease(kind, key), work);
    }

    /// The lease name of a lane of `key` (replicas sharing the store).
    fn lease(kind: LaneKind, key: &str) -> String {
        match kind {
            LaneKind::Turns => format!("turns:{key}"),
            LaneKind::Mirror => format!("mirror:{key}"),
        }
    }

    /// Waits for every widget conversation task, until `deadline`; true when all finished.
    pub(crate) async fn finish(&self, deadline: tokio::time::Instant) -> bool {
        // Turns wake mirrors, so the mirrors are waited for last.
        let turns = self.turns.finish(deadline).await;
        turns && self.mirrors.finish(deadline).await
    }

    pub(super) fn mirror_lease(key: &str) -> String {
        Self::lease(LaneKind::Mirror, key)
    }

    /// Runs every queued event; each turn that queued CX calls wakes the mirror.
    async fn run_turns(self: &Arc<Self>, key: &str) -> Result<(), StoreError> {
        let lease = Self::lease(LaneKind::Turns, key);
        while let Some(inbound) = self.app.store.next_inbound(key).await? {
            if !self.app.hold(&lease).await? {
                return Ok(());
            }
            if turn::process(self, &inbound).await? {
                self.wake_lane(LaneKind::Mirror, key);
            }
        }
        Ok(())
    }
}

/// The widget's [`WidgetHost`]: every activity becomes durable queued work before the page
/// hears its answer.
pub struct FlowAHost(pub Arc<FlowA>);

impl FlowAHost {
    async fn enqueue(
        &self,
        dedup: &str,
        conversation: &str,
        work: WidgetInbound,
    ) -> Result<(), WidgetError> {
        self.0.enqueue(dedup, conversation, &work).await.map(drop).map_err(|error| {
            tracing::error!(%conversation, %error, "cannot queue a widget activity");
            WidgetError::Internal(format!("cannot queue the activity: {error}"))
        })
    }
}

impl WidgetHost for FlowAHost {
    fn conversation_started<'a>(
        &'a self,
        widget: &'a WidgetService,
        conversation: &'a str,
        user: &'a WidgetUser,
    ) -> BoxFuture<'a, Result<(), WidgetError>> {
        Box::pin(async move {
            self.0.attach(widget);
            let mut contact = Contact { name: user.name.clone(), ..Contact::default() };
            if let Some(locale) = &user.locale {
                contact.attributes.insert("language".into(), locale.clone());
            }
            let dedup = format!("widget-start:{conversation}");
            self.enqueue(&dedup, conversation, WidgetInbound::Started { contact }).await
        })
    }

    fn customer_activity<'a>(
        &'a self,
        widget: &'a WidgetService,
        conversation: &'a str,
        activity: CustomerActivity,
    ) -> BoxFuture<'a, Result<(), WidgetError>> {
        Box::pin(async move {
            self.0.attach(widget);
            let Some(work) = inbound_for(&activity) else { return Ok(()) };
            let dedup = format!("widget-activity:{conversation}:{}", activity.id);
            self.enqueue(&dedup, conversation, work).await
        })
    }
}

/// What a page activity means for the bot, if anything.
fn inbound_for(activity: &CustomerActivity) -> Option<WidgetInbound> {
    match activity.kind.as_str() {
        "message" => {
            let text = payload::message_text(activity);
            let attachments = payload::file_links(&activity.raw);
            if text.is_empty() && attachments.is_empty() {
                return None;
            }
            let locale = activity.raw.get("locale").and_then(|l| l.as_str()).map(str::to_owned);
            Some(WidgetInbound::Customer {
                text,
                attachments,
                activity: Some(activity.id.clone()),
                locale,
            })
        }
        "event" if activity.name.as_deref() == Some("botrun.contact") => {
            let value = activity.value.as_ref()?;
            let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
            let mut contact = Contact {
                name: field("name"),
                email: field("email"),
                phone: field("phone"),
                ..Contact::default()
            };
            // `language` (or `locale`) picks a multilingual bot's language.
            if let Some(language) = field("language").or_else(|| field("locale")) {
                contact.attributes.insert("language".into(), language);
            }
            Some(WidgetInbound::ContactDetails { contact })
        }
        _ => None,
    }
}
