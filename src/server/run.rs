//! Starting and stopping the service: open the store, load the bots (refusing to start on
//! invalid ones), resume queued work, start the timer loop and hot reload, serve HTTP, and on
//! SIGTERM or Ctrl-C stop accepting, let workers finish within the deadline, and exit. Work
//! not finished by then stays in the store and resumes at the next start.

use std::sync::Arc;
use std::time::Duration;

use super::config::{check_token, generate_token, Config};
use super::reload::{self, BotSlot, WatchedBot};
use super::{app, run_timer_loop, AppState, Bots, CxOutbound, SystemClock};
use crate::check::report::{render_human, Style};
use crate::check::{load_program, CheckOptions};

/// Why the service could not start.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ServeError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("bot `{path}` does not validate:\n{rendered}")]
    #[diagnostic(help("run `botrun validate {path}` and fix the errors"))]
    InvalidBot { path: String, rendered: String },
    #[error("no bots configured")]
    #[diagnostic(help("add `bots: [{{file: bots/my.bot}}]` to the configuration"))]
    NoBots,
    #[error("webhook token: {0}")]
    #[diagnostic(help("set the variable named by `webhook.token_env` to a random secret"))]
    Token(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("CX client: {0}")]
    #[diagnostic(help("check the `cx:` section and the credential variables it names"))]
    Cx(String),
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("widget: {0}")]
    #[diagnostic(help("see the `widget:` section in docs/configuration.md"))]
    Widget(String),
}

/// How `run` behaves beyond the configuration.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `botrun dev`: weak or missing tokens are allowed (a missing one is generated).
    pub dev: bool,
    /// Watch bot files and reload them when they change.
    pub hot_reload: bool,
}

/// Loads every configured bot; any invalid bot stops the start with its diagnostics.
pub(crate) fn load_bots(config: &Config) -> Result<(Bots, Vec<WatchedBot>), ServeError> {
    if config.bots.is_empty() && config.widget.is_none() {
        return Err(ServeError::NoBots);
    }
    let options = CheckOptions { fetch_hosts: Some(config.fetch.allow_hosts.clone()) };
    let mut programs = Vec::new();
    let mut watched = Vec::new();
    for (index, bot) in config.bots.iter().enumerate() {
        match load_program(&bot.file, &options) {
            Ok(loaded) => {
                let files = loaded.sources.iter().map(|s| s.path.clone()).collect();
                watched.push(WatchedBot {
                    slot: BotSlot::Inbox(index),
                    entry: bot.file.clone(),
                    files,
                });
                programs.push((bot.inbox_id, loaded.program));
            }
            Err(failure) => {
                let style = Style { colour: false, width: 100 };
                return Err(ServeError::InvalidBot {
                    path: bot.file.display().to_string(),
                    rendered: render_human(&failure.diagnostics, &failure.sources, style),
                });
            }
        }
    }
    Ok((Bots::new(programs), watched))
}

/// The webhook token from the environment; `dev` generates one when it is missing.
/// For `serve --check`: the widget's bot loads and its secrets are set (false: no widget).
pub(crate) fn check_widget(config: &Config) -> Result<bool, ServeError> {
    let Some(section) = &config.widget else { return Ok(false) };
    load_widget_bot(config, section)?;
    section.widget_config(&config.public_url).map_err(ServeError::Widget)?;
    Ok(true)
}

fn load_widget_bot(
    config: &Config,
    section: &super::widget_config::WidgetSection,
) -> Result<(crate::engine::Program, WatchedBot), ServeError> {
    let options = CheckOptions { fetch_hosts: Some(config.fetch.allow_hosts.clone()) };
    match load_program(&section.bot, &options) {
        Ok(loaded) => {
            let files = loaded.sources.iter().map(|s| s.path.clone()).collect();
            let entry = section.bot.clone();
            Ok((loaded.program, WatchedBot { slot: BotSlot::Widget, entry, files }))
        }
        Err(failure) => {
            let style = Style { colour: false, width: 100 };
            Err(ServeError::InvalidBot {
                path: section.bot.display().to_string(),
                rendered: render_human(&failure.diagnostics, &failure.sources, style),
            })
        }
    }
}

pub(crate) fn webhook_token(config: &Config, dev: bool) -> Result<String, ServeError> {
    let token = match std::env::var(&config.webhook.token_env) {
        Ok(token) => token,
        Err(_) if dev => generate_token(),
        Err(_) => {
            return Err(ServeError::Token(format!(
                "environment variable `{}` is not set",
                config.webhook.token_env
            )))
        }
    };
    check_token(&token, dev).map_err(ServeError::Token)?;
    Ok(token)
}

/// Runs the service until SIGTERM or Ctrl-C.
pub async fn run(
    config: Config,
    cx: Arc<dyn CxOutbound>,
    options: RunOptions,
) -> Result<(), ServeError> {
    let store: Arc<dyn crate::store::Store> = match config.limits.store_max_mb {
        Some(mb) => Arc::new(
            crate::store::SqliteStore::open_capped(
                &config.store,
                config.durability,
                mb.saturating_mul(1024 * 1024),
            )
            .await?,
        ),
        None => {
            let connections = config.limits.store_connections;
            crate::store::open_pooled(&config.store, config.durability, connections).await?
        }
    };
    let (bots, watched) = load_bots(&config)?;
    let token = webhook_token(&config, options.dev)?;
    let secret =
        config.webhook.signing_secret_env.as_ref().and_then(|name| std::env::var(name).ok());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen { addr: config.listen, source })?;
    let addr = listener.local_addr()?;
    let deadline = Duration::from_secs(config.limits.shutdown_deadline_secs);
    let public = config.public_url.trim_end_matches('/').to_owned();
    let state = AppState::new(config, store, bots, cx, Arc::new(SystemClock), token.clone())
        .with_signing_secret(secret)
        .with_owner(super::replicas::process_name(addr));
    let mut watched = watched;
    let (widget, widget_store) = match &state.config.widget {
        Some(section) => {
            let (routes, bot, store) = serve_widget(&state, section, &public).await?;
            watched.push(bot);
            (Some(routes), Some(store))
        }
        None => (None, None),
    };
    let resumed = state.resume().await?;
    let timers = tokio::spawn(run_timer_loop(state.clone()));
    let sweeps = tokio::spawn(super::retention::run_sweeps(state.clone(), widget_store));
    let heartbeat = tokio::spawn(super::run_heartbeat_loop(state.clone(), state.cx.rate_limiter()));
    #[cfg(unix)]
    if let Err(error) = reload::reload_on_hangup(&state, &watched) {
        tracing::warn!(%error, "reload on SIGHUP unavailable");
    }
    let _reload = if options.hot_reload {
        match reload::watch(&state, &watched) {
            Ok(watcher) => Some(watcher),
            Err(error) => {
                tracing::warn!(%error, "hot reload unavailable");
                None
            }
        }
    } else {
        None
    };
    tracing::info!(%addr, resumed, "botrun serve listening");
    if options.dev {
        println!("CX webhook URL: {public}/webhooks/cx/{token}");
        if state.config.widget.is_some() {
            println!("CX webhook URL for the widget: {public}/webhooks/cx-widget/{token}");
        }
    } else {
        if state.config.widget.is_some() {
            println!(
                "CX webhook URL for the widget: {public}/webhooks/cx-widget/<token from ${}>",
                state.config.webhook.token_env
            );
        }
        println!(
            "CX webhook URL: {public}/webhooks/cx/<token from ${}>",
            state.config.webhook.token_env
        );
    }
    let routes = match widget {
        Some(widget) => app(state.clone()).merge(widget),
        None => app(state.clone()),
    };
    let connection_limits = state.config.limits.connection_limits();
    super::listen::serve(listener, routes, connection_limits, shutdown_signal()).await;
    timers.abort();
    sweeps.abort();
    heartbeat.abort();
    tracing::info!("shutting down: finishing in-flight conversations");
    if !state.finish(tokio::time::Instant::now() + deadline).await {
        tracing::warn!(
            "shutdown deadline reached; unfinished work stays queued for the next start"
        );
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (shared by every long-running command).
/// Loads the widget's bot, connects Flow A to CX and the widget store, and returns the widget's
/// routes (`/v3/directline/…`, and the demo page when asked for) and the files to watch.
async fn serve_widget(
    state: &AppState,
    section: &super::widget_config::WidgetSection,
    public: &str,
) -> Result<(axum::Router, WatchedBot, Arc<dyn crate::widget::WidgetStore>), ServeError> {
    use crate::widget::{demo, router, WidgetService};
    let (program, watched) = load_widget_bot(&state.config, section)?;
    let config = section.widget_config(public).map_err(ServeError::Widget)?;
    // Flow A's calls share Flow B's limiter: one process, one budget.
    let cx = match state.cx.rate_limiter() {
        Some(limiter) => crate::cx::CxClient::sharing_rate_limit(state.config.cx.clone(), limiter),
        None => crate::cx::CxClient::new(state.config.cx.clone()),
    }
    .map_err(|e| ServeError::Cx(e.to_string()))?;
    let title = program.bot_name().to_owned();
    let flow = super::flow_a::FlowA::new(state, program, cx, section.flow_a());
    let store = widget_history(state, section).await?;
    let first_site = config.sites.first().map(|s| s.id.clone()).unwrap_or_default();
    let widget = WidgetService::new(
        config,
        Arc::clone(&store),
        Arc::new(super::flow_a::FlowAHost(Arc::clone(&flow))),
    )
    .with_limits(section.limits.widget_limits())
    .with_clock(Arc::clone(&state.clock));
    flow.attach(&widget);
    widget.follow_other_replicas().await.map_err(|e| ServeError::Widget(e.to_string()))?;
    let mut routes = axum::Router::new().nest("/v3/directline", router(widget.clone()));
    if section.demo_page {
        let origin = url::Url::parse(public)
            .map(|url| url.origin().ascii_serialization())
            .map_err(|e| ServeError::Widget(format!("public_url: {e}")))?;
        tracing::warn!(
            %origin,
            site = %first_site,
            "widget.demo_page is on: `/` and POST /demo/token mint widget tokens for site \
             `{first_site}` to any visitor of {origin}; turn it off unless this is a demo"
        );
        let page = demo::DemoPage {
            site: first_site,
            webchat_js: demo::DemoPage::bundle_under(std::path::Path::new(".")),
            title,
            origins: vec![origin],
        };
        routes = routes.merge(demo::demo_router(widget, page));
    }
    Ok((routes, watched, store))
}

/// Where the widget's history goes: into the service's store (same pool, same durability and
/// size cap), unless `widget.store` names another database, which gets a store of its own.
async fn widget_history(
    state: &AppState,
    section: &super::widget_config::WidgetSection,
) -> Result<Arc<dyn crate::widget::WidgetStore>, ServeError> {
    match section.store.as_deref() {
        Some(url) if url != state.config.store => {
            Ok(crate::store::open(url, state.config.durability)
                .await
                .map_err(|e| ServeError::Widget(e.to_string()))?
                .widget_history())
        }
        _ => Ok(state.store.widget_history()),
    }
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::widget_history;
    use crate::clock::SystemClock;
    use crate::server::widget_config::WidgetSection;
    use crate::server::{AppState, Bots, Config};
    use crate::store::{Durability, SqliteStore};
    use crate::widget::ConversationRecord;

    const CAP_BYTES: u64 = 1024 * 1024;

    fn section(store: Option<&str>) -> WidgetSection {
        let mut yaml = "bot: bots/faq.bot\ninbox_id: 1\nsites: []\n".to_owned();
        if let Some(url) = store {
            yaml.push_str(&format!("store: \"{url}\"\n"));
        }
        serde_norway::from_str(&yaml).unwrap()
    }

    /// Appends 4 KB activities until the history refuses one; `None` if it never does.
    async fn fill(history: &dyn crate::widget::WidgetStore) -> Option<i64> {
        let record = ConversationRecord {
            id: "c".into(),
            site: "s".into(),
            user_id: "u".into(),
            user_name: None,
            created_ms: 0,
            last_seq: 0,
            last_ts_ms: 0,
            ended: false,
        };
        history.create_conversation(&record).await.unwrap();
        let activity = json!({ "type": "message", "text": "x".repeat(4000) });
        for n in 0..600 {
            if history.append("c", activity.clone(), n).await.is_err() {
                return Some(n);
            }
        }
        None
    }

    /// The history is in the service's store, so `limits.store_max_mb` holds for it too. (It
    /// used to open the same file through a pool of its own, without the cap and with
    /// `synchronous=NORMAL` whatever `durability` said.) A `widget.store` naming another
    /// database gets a store of its own.
    #[tokio::test]
    async fn the_widget_history_lives_in_the_service_store_and_keeps_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("botrun.db").display());
        let store = SqliteStore::open_capped(&url, Durability::Full, CAP_BYTES).await.unwrap();
        let mut config = Config { store: url.clone(), ..Config::default() };
        config.cx.tenant_domain = "acme.example".into();
        let credentials = crate::cx::Credentials::new("id", "secret");
        let cx = crate::cx::CxClient::with_credentials(config.cx.clone(), credentials).unwrap();
        let state = AppState::new(
            config,
            Arc::new(store),
            Bots::new(vec![]),
            Arc::new(cx),
            Arc::new(SystemClock),
            "t".repeat(32),
        );
        for named in [None, Some(url.as_str())] {
            let history = widget_history(&state, &section(named)).await.unwrap();
            let refused = fill(&*history).await;
            assert!(refused.is_some(), "4 KB × 600 went past a 1 MB store ({named:?})");
            history.sweep(i64::MAX).await.unwrap();
        }

        let other = format!("sqlite://{}", dir.path().join("widget.db").display());
        let history = widget_history(&state, &section(Some(&other))).await.unwrap();
        assert_eq!(fill(&*history).await, None, "another database has no cap");
        assert!(dir.path().join("widget.db").exists());
    }
}
