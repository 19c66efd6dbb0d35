//! `botrun dev [BOT…]`: everything on one machine — the Sangoma CX emulator with its agent
//! console, the service (Flow A behind the widget, Flow B on the emulator's own web widget inbox)
//! and the demo page with Web Chat — with SQLite in a local data folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use miette::{miette, IntoDiagnostic as _, WrapErr as _};

use super::Outcome;
use crate::check::report::{render_human, Style};
use crate::check::{load_program, CheckOptions};
use crate::cx::{CxClient, CxConfig};
use crate::emulator::{self, EmulatorOptions, RunningEmulator};
use crate::engine::Program;
use crate::server::flow_a::{FlowA, FlowAHost, FlowASettings};
use crate::server::reload::{self, BotSlot, WatchedBot};
use crate::server::{self, AppState, Bots, Config, SystemClock};
use crate::store::Durability;
use crate::widget::assets;
use crate::widget::demo::{demo_router, DemoPage};
use crate::widget::{router, Site, UploadSettings, WidgetConfig, WidgetLimits, WidgetService};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bot files: the first answers the widget page, the second (or the first again) the
    /// emulator's own web widget inbox
    #[arg(default_value = "bots/faq.bot")]
    pub bots: Vec<PathBuf>,
    /// Address of the service, the widget API and the demo page
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Address of the CX emulator and its agent console
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub cx_listen: SocketAddr,
    /// Folder for the local databases and the signing key
    #[arg(long, default_value = ".botrun")]
    pub data: PathBuf,
    /// Where `scripts/install-webchat` put the Web Chat bundle (default: ./vendor/webchat/…)
    #[arg(long)]
    pub webchat_js: Option<PathBuf>,
    /// The URL browsers reach the service at, when it differs from `--listen` (behind a proxy);
    /// WebSocket stream URLs are built from it
    #[arg(long)]
    pub public_url: Option<String>,
    /// Refuse files from the page (the chat then hides its paperclip)
    #[arg(long)]
    pub no_uploads: bool,
    /// Start from empty: forget the emulator's conversations, contacts and webhooks
    /// (`cx-world.json`) and the service's and the widget's databases in `--data`. Without it
    /// a run continues where the last one stopped
    #[arg(long)]
    pub fresh: bool,
}

/// The emulator's world in the data folder.
pub(crate) const WORLD_FILE: &str = "cx-world.json";

/// How soon after a change the emulator's world is written.
const WORLD_SAVE_DEBOUNCE: Duration = Duration::from_millis(300);

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let mut programs = Vec::new();
    for bot in &args.bots {
        match load_program(bot, &CheckOptions::default()) {
            Ok(loaded) => {
                let files = loaded.sources.iter().map(|s| s.path.clone()).collect();
                programs.push((loaded.program, bot.clone(), files));
            }
            Err(failure) => {
                let style =
                    Style::for_terminal(std::io::IsTerminal::is_terminal(&std::io::stderr()));
                eprint!("{}", render_human(&failure.diagnostics, &failure.sources, style));
                return Ok(Outcome::Problems);
            }
        }
    }
    let runtime = tokio::runtime::Runtime::new().into_diagnostic()?;
    runtime.block_on(serve(args, programs))?;
    Ok(Outcome::Clean)
}

/// A loaded bot: its program, entry file and every file it uses (for hot reload).
type LoadedBot = (Program, PathBuf, Vec<PathBuf>);

/// The Web Chat bundle: `--webchat-js`, or the first install found (see
/// [`assets::bundle_candidates`]); a missing one is reported with how to install it.
fn webchat_bundle(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        if !path.is_file() {
            eprintln!("warning: {} is missing. {}", path.display(), assets::install_hint());
        }
        return path.to_path_buf();
    }
    assets::find_bundle().unwrap_or_else(|| {
        let looked: Vec<String> =
            assets::bundle_candidates().iter().map(|p| p.display().to_string()).collect();
        eprintln!(
            "warning: the Web Chat bundle is not installed (looked in {}). {}",
            looked.join(", "),
            assets::install_hint()
        );
        DemoPage::bundle_under(Path::new("."))
    })
}

/// A signing key kept in the data folder, so page tokens survive a restart.
fn signing_key(data: &Path) -> miette::Result<Vec<u8>> {
    let path = data.join("widget.key");
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 32 => Ok(key),
        _ => {
            let key = crate::crypto::random_bytes(32);
            std::fs::write(&path, &key)
                .into_diagnostic()
                .wrap_err_with(|| format!("cannot write {}", path.display()))?;
            Ok(key)
        }
    }
}

/// The page's bot drawn by `botrun graph --format svg` (the page links to it).
fn flow_picture(bot: &Path) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let svg = crate::check::load_bundle(bot)
        .map(|loaded| {
            crate::graph::render_svg(&crate::graph::build(&loaded.bundle.file, &loaded.sources))
        })
        .unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, "image/svg+xml")], svg)
}

/// The webhook token, kept in the data folder like the signing key: the service's webhook
/// URLs stay the same from run to run, so the emulator's subscriptions keep working.
fn webhook_token(data: &Path) -> miette::Result<String> {
    let path = data.join("webhook.token");
    match std::fs::read_to_string(&path) {
        Ok(token) if server::config::check_token(token.trim(), false).is_ok() => {
            Ok(token.trim().into())
        }
        _ => {
            let token = server::config::generate_token();
            std::fs::write(&path, &token)
                .into_diagnostic()
                .wrap_err_with(|| format!("cannot write {}", path.display()))?;
            Ok(token)
        }
    }
}

/// The emulator's world saved by an earlier run, or a fresh one: with `--fresh`, or when there
/// is no saved world (the service's and the widget's databases would point at CX ids that do not
/// exist), every state file of the data folder is removed first. A file that cannot be read
/// stops the start and is left as it is.
fn world_to_start_from(data: &Path, fresh: bool) -> miette::Result<Option<emulator::model::World>> {
    let path = data.join(WORLD_FILE);
    let saved = if fresh {
        None
    } else {
        emulator::persist::load(&path).map_err(|error| {
            miette!(
                help = format!(
                    "the file is left as it is: move it away, or start from empty with \
                     `botrun dev --fresh` (which also forgets the service's and the widget's \
                     conversations in {})",
                    data.display()
                ),
                "{error}"
            )
        })?
    };
    if saved.is_none() {
        remove_state_files(data)?;
    }
    Ok(saved)
}

/// Removes the emulator's world and the service's database an earlier run left in `data`
/// (and `widget.db`, where runs before the widget history moved into the store kept it).
fn remove_state_files(data: &Path) -> miette::Result<()> {
    for name in [
        WORLD_FILE,
        "botrun.db",
        "botrun.db-wal",
        "botrun.db-shm",
        "widget.db",
        "widget.db-wal",
        "widget.db-shm",
    ] {
        let path = data.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(miette!("cannot remove {}: {error}", path.display()));
            }
        }
    }
    Ok(())
}

/// The emulator (from `world` when one was saved), and a CX client logged in to it.
async fn start_emulator(
    listen: SocketAddr,
    world: Option<emulator::model::World>,
) -> miette::Result<(RunningEmulator, CxClient)> {
    let options = EmulatorOptions {
        webhook_retry_spacing: Duration::from_millis(500),
        ..EmulatorOptions::default()
    };
    let emulator = match world {
        Some(world) => emulator::Emulator::with_world(options.clone(), world),
        None => emulator::Emulator::new(options.clone()),
    };
    let running = emulator::serve(emulator, listen)
        .await
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot listen on {listen} for the CX emulator"))?;
    let config = CxConfig {
        tenant_domain: options.tenant_domain.clone(),
        ..CxConfig::for_emulator(running.base_url(), running.auth_url())
    };
    let client = CxClient::with_credentials(
        config,
        crate::cx::Credentials::new(options.client_id, options.client_secret),
    )
    .map_err(|err| miette!("{err}"))?;
    Ok((running, client))
}

/// Subscribes the service to the emulator: Flow A's webhook and the agent bot of Flow B. A
/// world kept from an earlier run has both already: CX refuses a second webhook for one URL
/// (422), and the agent bot already on the inbox is kept rather than added again. A webhook an
/// earlier run on another address left is removed.
async fn register(
    cx: &RunningEmulator,
    client: &CxClient,
    service: &str,
    token: &str,
) -> miette::Result<()> {
    let flow_a = format!("{service}/webhooks/cx-widget/{token}");
    // A run on another address left a subscription no one answers any more.
    let own_path = format!("/webhooks/cx-widget/{token}");
    let stale: Vec<u64> = cx.control().read(|world| {
        world
            .webhooks
            .values()
            .filter(|hook| hook.url.ends_with(&own_path) && hook.url != flow_a)
            .map(|hook| hook.id)
            .collect()
    });
    for id in stale {
        cx.control().remove_webhook(id).map_err(|err| miette!("{err}"))?;
    }
    match client.create_webhook(&flow_a, &["message_created", "conversation_status_changed"]).await
    {
        Ok(_) => {}
        Err(err)
            if err.status() == Some(422)
                && err.to_string().contains(emulator::model::WEBHOOK_URL_TAKEN) => {}
        Err(err) => return Err(miette!("cannot subscribe to the emulator: {err}")),
    }
    let flow_b = format!("{service}/webhooks/cx/{token}");
    let assigned = cx.control().read(|world| {
        let inbox = world.inboxes.get(&emulator::model::WIDGET_INBOX_ID)?;
        let bot = world.agent_bots.get(&inbox.agent_bot_id?)?;
        Some(bot.outgoing_url == flow_b)
    });
    if assigned == Some(true) {
        return Ok(());
    }
    let bot = client
        .create_agent_bot("botrun dev", "the bot of `botrun dev`", &flow_b)
        .await
        .map_err(|err| miette!("cannot register the agent bot: {err}"))?;
    client
        .assign_agent_bot(emulator::model::WIDGET_INBOX_ID.into(), bot.id)
        .await
        .map_err(|err| miette!("cannot assign the agent bot: {err}"))?;
    Ok(())
}

fn widget_config(
    data: &Path,
    address: SocketAddr,
    public_url: Option<&str>,
    uploads: bool,
) -> miette::Result<WidgetConfig> {
    let port = address.port();
    Ok(WidgetConfig {
        public_base_url: public_url.map_or_else(|| format!("http://{address}"), str::to_owned),
        token_key: signing_key(data)?,
        token_lifetime: Duration::from_secs(3600),
        keep_alive: Duration::from_secs(20),
        sites: vec![Site {
            id: "demo".into(),
            secret: crate::crypto::random_hex(16),
            origins: vec![format!("http://localhost:{port}"), format!("http://127.0.0.1:{port}")],
            // A page of the demo origins may start without a token, as the embed snippet's
            // anonymous mode does on a real site that allows it.
            anonymous_start: true,
            new_conversations_per_minute: 600,
        }],
        // Uploads are on locally, so the paperclip can be tried; files go to the data folder.
        uploads: uploads.then(|| UploadSettings {
            dir: data.join("uploads"),
            max_bytes: 10 * 1024 * 1024,
            content_types: crate::server::widget_config::default_upload_types(),
        }),
    })
}

async fn serve(args: &Args, mut programs: Vec<LoadedBot>) -> miette::Result<()> {
    let (widget_program, widget_entry, widget_files) = programs.remove(0);
    let (inbox_bot, inbox_entry, inbox_files) = programs
        .into_iter()
        .next()
        .unwrap_or_else(|| (widget_program.clone(), widget_entry.clone(), widget_files.clone()));
    // Edited bots are reloaded as `serve` does: the widget's bot and the inbox bot (index 0).
    let watched = vec![
        WatchedBot { slot: BotSlot::Widget, entry: widget_entry, files: widget_files },
        WatchedBot { slot: BotSlot::Inbox(0), entry: inbox_entry, files: inbox_files },
    ];
    std::fs::create_dir_all(&args.data)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot create {}", args.data.display()))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr().into_diagnostic()?;
    // The emulator's world and the two databases go together: the databases hold CX ids.
    let world = world_to_start_from(&args.data, args.fresh)?;
    let (cx, client) = start_emulator(args.cx_listen, world).await?;
    let keeper = emulator::persist::WorldKeeper::start(
        cx.control(),
        args.data.join(WORLD_FILE),
        WORLD_SAVE_DEBOUNCE,
    );

    let store_url = format!("sqlite://{}", args.data.join("botrun.db").display());
    let store =
        crate::store::open(&store_url, Durability::Full).await.map_err(|err| miette!("{err}"))?;
    let token = webhook_token(&args.data)?;
    let bots = Bots::new(vec![(None, inbox_bot)]);
    let config = Config { public_url: format!("http://{address}"), ..Config::default() };
    let state = AppState::new(
        config,
        store,
        bots,
        Arc::new(client.clone()),
        Arc::new(SystemClock),
        token.clone(),
    );
    let title = widget_program.bot_name().to_owned();
    let settings =
        FlowASettings { inbox_id: emulator::model::API_INBOX_ID, ..FlowASettings::default() };
    let flow = FlowA::new(&state, widget_program, client.clone(), settings);
    let widget = WidgetService::new(
        widget_config(&args.data, address, args.public_url.as_deref(), !args.no_uploads)?,
        state.store.widget_history(),
        Arc::new(FlowAHost(Arc::clone(&flow))),
    )
    // Every local page comes from one address: the per-address limit matches the site's, so
    // reloading the page while editing a bot is never refused.
    .with_limits(WidgetLimits { anonymous_starts_per_minute: 600, ..WidgetLimits::default() })
    .with_clock(Arc::clone(&state.clock));
    flow.attach(&widget);
    let page = DemoPage {
        site: "demo".into(),
        webchat_js: webchat_bundle(args.webchat_js.as_deref()),
        title,
        origins: vec![format!("http://localhost:{}", address.port()), format!("http://{address}")],
    };
    let flow_svg = flow_picture(&args.bots[0]);
    let app = server::app(state.clone())
        .nest("/v3/directline", router(widget.clone()))
        .merge(demo_router(widget, page))
        .route("/flow.svg", axum::routing::get(move || async move { flow_svg }));
    let limits = state.config.limits.connection_limits();
    let server_task =
        tokio::spawn(server::listen::serve(listener, app, limits, server::run::shutdown_signal()));
    register(&cx, &client, &format!("http://{address}"), &token).await?;
    state.resume().await.map_err(|err| miette!("{err}"))?;
    let timers = tokio::spawn(server::run_timer_loop(state.clone()));
    let _reload = match reload::watch(&state, &watched) {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            eprintln!("warning: edited bots will not be reloaded: {error}");
            None
        }
    };

    let port = address.port();
    println!("botrun dev is running");
    println!("  customer page:        http://localhost:{port}/");
    println!("  customer page (poll): http://localhost:{port}/?mode=polling");
    println!("  agent console:        {}", cx.console_url());
    println!("  flow picture:         http://localhost:{port}/flow.svg");
    println!("  CX emulator API:      {}", cx.base_url());
    println!("  widget API:           http://{address}/v3/directline");
    println!("  data:                 {}", args.data.display());
    server_task.await.into_diagnostic()?;
    timers.abort();
    cx.shutdown().await;
    keeper.finish().await.map_err(|error| miette!("{error}"))?;
    Ok(())
}
