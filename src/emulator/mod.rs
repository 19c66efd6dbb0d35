//! Emulator: a local, in-memory stand-in for Sangoma CX faithful to `sangoma-cx.md` — token
//! endpoint, every API call, the status machine, webhooks out, an agent console page, and a
//! control API with fault injection for tests. It shares nothing with the `cx` client but JSON.
//!
//! Layout: [`model`] is the world and its status machine (pure), [`payloads`] the JSON shapes,
//! [`handle`] the [`Emulator`] handle tests drive in-process, [`delivery`] the webhook queues,
//! [`faults`] fault injection (including connection resets), [`auth`], [`api`], [`control`] and
//! [`console`] the HTTP surfaces, [`persist`] the world kept in a file between runs.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod api;
pub mod auth;
pub mod console;
pub mod control;
pub mod customer;
pub mod delivery;
pub mod error;
pub mod faults;
pub mod files;
pub mod handle;
pub mod model;
pub(crate) mod payloads;
pub(crate) mod persist;
pub mod routing;

pub use faults::{Fault, FaultSpec};
pub use handle::{Emulator, RecordedCall};
pub use model::{Attachment, Contact, Conversation, Message, MessageType, SenderKind, Status};

/// Where the CX API lives under the emulator's root, like `https://cpaas.sangoma.com/cx/`.
pub(crate) const API_PREFIX: &str = "/cx/api/v1/digital-interactions";

/// How the emulated tenant is set up.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// The only tenant accepted in `tenant_domain`.
    pub tenant_domain: String,
    pub client_id: String,
    pub client_secret: String,
    /// Lifetime of issued access tokens.
    pub token_ttl_secs: u64,
    /// When set, webhook deliveries carry `X-Chatwoot-Signature` and `X-Chatwoot-Timestamp`.
    pub webhook_secret: Option<String>,
    /// The URL the emulator is reachable at when it differs from the socket (behind a proxy).
    pub public_url: Option<String>,
    /// Pause between webhook delivery attempts (Chatwoot: 3 s); shorten it for fast tests.
    pub webhook_retry_spacing: Duration,
    /// Retries of an agent-bot delivery after its first attempt answered 429 or 500
    /// (Chatwoot: 2, `AgentBots::WebhookJob` runs `attempts: 3` in all).
    pub webhook_retries: u32,
    /// How long one delivery attempt may take (Chatwoot: 5 s).
    pub webhook_timeout: Duration,
    /// Not Chatwoot: also retry an agent bot that timed out or could not be reached (a test
    /// lever for restarts; Chatwoot gives up at once).
    pub retry_unreachable: bool,
    /// `Account#keep_pending_on_bot_failure`: a failing agent bot leaves the conversation
    /// `pending` instead of handing it to humans.
    pub keep_pending_on_bot_failure: bool,
    /// Who messages created through the API are from. Unknown for Sangoma's gateway: Chatwoot
    /// names the owner of the access token (an agent bot's token → `agent_bot`, a user's →
    /// `user`).
    pub api_sender: ApiSender,
    /// One id sequence per kind of record, starting at 1, as Chatwoot's tables (ids of different
    /// kinds then collide). Off: one sequence for all, so a mixed-up id fails loudly.
    pub per_kind_ids: bool,
}

/// The author of messages created through the API as `outgoing`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ApiSender {
    /// `sender.type: agent_bot` — the token belongs to an agent bot.
    #[default]
    AgentBot,
    /// `sender.type: user` — the token belongs to a user, as a human agent's would.
    User,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        Self {
            tenant_domain: "dev.cx.localhost".into(),
            client_id: "botrun-dev".into(),
            client_secret: "botrun-dev-secret".into(),
            token_ttl_secs: 3600 * 24 * 365,
            webhook_secret: None,
            public_url: None,
            webhook_retry_spacing: Duration::from_secs(3),
            webhook_retries: 2,
            webhook_timeout: Duration::from_secs(5),
            retry_unreachable: false,
            keep_pending_on_bot_failure: false,
            api_sender: ApiSender::AgentBot,
            per_kind_ids: false,
        }
    }
}

/// The emulator's whole HTTP surface: `/oauth/token`, the CX API under `/cx/`, `/_control/` and
/// `/console`. Usable without a socket (`tower::ServiceExt::oneshot`); connection resets then
/// answer 502 since there is no connection to break.
pub fn app(emulator: Emulator) -> Router {
    let gated = Router::new()
        .merge(auth::routes())
        .merge(api::routes(emulator.clone()))
        .layer(axum::middleware::from_fn_with_state(emulator.clone(), faults::gate));
    Router::new()
        .merge(gated)
        .merge(control::routes())
        .merge(console::routes())
        .merge(files::routes())
        .layer(axum::extract::DefaultBodyLimit::max(2 * 1024 * 1024))
        .with_state(emulator)
}

/// A served emulator; dropping it without [`RunningEmulator::shutdown`] leaves the server running
/// until the runtime stops.
pub struct RunningEmulator {
    addr: SocketAddr,
    emulator: Emulator,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Binds `listen` (port 0 picks a free port) and serves the emulator on it.
pub async fn spawn(
    options: EmulatorOptions,
    listen: SocketAddr,
) -> std::io::Result<RunningEmulator> {
    serve(Emulator::new(options), listen).await
}

/// Binds `listen` and serves `emulator` (one made with [`Emulator::with_world`], say) on it.
pub async fn serve(emulator: Emulator, listen: SocketAddr) -> std::io::Result<RunningEmulator> {
    let listener = faults::ResettableListener::bind(listen).await?;
    let addr = listener.local_socket_addr()?;
    let router = app(emulator.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<faults::ConnectionHandle>();
        let server = axum::serve(listener, service).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(error) = server.await {
            tracing::error!(%error, "emulator server stopped");
        }
    });
    Ok(RunningEmulator { addr, emulator, stop: Some(stop), task })
}

impl RunningEmulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn root(&self) -> String {
        match &self.emulator.options().public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.addr),
        }
    }

    /// The API base; calls go to `{base}api/v1/digital-interactions/…`.
    pub fn base_url(&self) -> String {
        format!("{}/cx/", self.root())
    }

    pub fn auth_url(&self) -> String {
        format!("{}/oauth/token", self.root())
    }

    pub fn console_url(&self) -> String {
        format!("{}/console", self.root())
    }

    /// The in-process handle: the same operations as the control API.
    pub fn control(&self) -> &Emulator {
        &self.emulator
    }

    /// Stops accepting, lets answered requests finish, and gives stalled ones one second.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let abort = self.task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(1), &mut self.task).await.is_err() {
            abort.abort();
        }
        self.emulator.stop_deliveries();
    }
}
