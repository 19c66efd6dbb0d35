//! `botrun dev BOT`: one command to try a bot in the browser — the widget's Direct Line subset,
//! the demo page and the bot, with the widget history in SQLite under `.botrun/`.
//! The CX emulator and the agent console join here once Flow A's CX mirror is wired.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use miette::{miette, IntoDiagnostic as _, WrapErr as _};

use super::Outcome;
use crate::check::report::{render_human, Style};
use crate::check::{load_program, CheckOptions};
use crate::server::flow_a::{SharedWidgetBotHost, WidgetBotHost};
use crate::widget::demo::{demo_router, DemoPage};
use crate::widget::{router, Site, SqliteWidgetStore, WidgetConfig, WidgetService};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bot file to run behind the widget
    pub bot: PathBuf,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Folder for the local database and signing key
    #[arg(long, default_value = ".botrun")]
    pub data: PathBuf,
    /// Where `scripts/install-webchat` put the Web Chat bundle (default: ./vendor/webchat/…)
    #[arg(long)]
    pub webchat_js: Option<PathBuf>,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let program = match load_program(&args.bot, &CheckOptions::default()) {
        Ok(loaded) => loaded.program,
        Err(failure) => {
            let style = Style::for_terminal(std::io::IsTerminal::is_terminal(&std::io::stderr()));
            eprint!("{}", render_human(&failure.diagnostics, &failure.sources, style));
            return Ok(Outcome::Problems);
        }
    };
    let runtime = tokio::runtime::Runtime::new().into_diagnostic()?;
    runtime.block_on(serve(args, program))?;
    Ok(Outcome::Clean)
}

/// A signing key kept in the data folder, so page tokens survive a restart.
fn signing_key(data: &Path) -> miette::Result<Vec<u8>> {
    let path = data.join("widget.key");
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 32 => Ok(key),
        _ => {
            let key = rand::random::<[u8; 32]>().to_vec();
            std::fs::write(&path, &key)
                .into_diagnostic()
                .wrap_err_with(|| format!("cannot write {}", path.display()))?;
            Ok(key)
        }
    }
}

async fn serve(args: &Args, program: crate::engine::Program) -> miette::Result<()> {
    std::fs::create_dir_all(&args.data)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot create {}", args.data.display()))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr().into_diagnostic()?;
    let port = address.port();
    let db = args.data.join("widget.db");
    let store = SqliteWidgetStore::open(&format!("sqlite://{}", db.display()))
        .await
        .map_err(|err| miette!("{err}"))?;
    let title = program.bot_name().to_owned();
    let config = WidgetConfig {
        public_base_url: format!("http://{address}"),
        token_key: signing_key(&args.data)?,
        token_lifetime: Duration::from_secs(3600),
        keep_alive: Duration::from_secs(20),
        sites: vec![Site {
            id: "demo".into(),
            secret: hex::encode(rand::random::<[u8; 16]>()),
            origins: vec![format!("http://localhost:{port}"), format!("http://127.0.0.1:{port}")],
            anonymous_start: false,
            new_conversations_per_minute: 600,
        }],
    };
    let host = SharedWidgetBotHost(Arc::new(WidgetBotHost::new(Arc::new(program))));
    let widget = WidgetService::new(config, Arc::new(store), Arc::new(host));
    let page = DemoPage {
        site: "demo".into(),
        webchat_js: args
            .webchat_js
            .clone()
            .unwrap_or_else(|| DemoPage::bundle_under(Path::new("."))),
        title,
    };
    if !page.webchat_js.exists() {
        eprintln!(
            "warning: {} is missing; run `scripts/install-webchat` so the page can load Web Chat",
            page.webchat_js.display()
        );
    }
    let app = axum::Router::new()
        .nest("/v3/directline", router(widget.clone()))
        .merge(demo_router(widget, page));
    println!("botrun dev is running");
    println!("  customer page:        http://localhost:{port}/");
    println!("  customer page (poll): http://localhost:{port}/?mode=polling");
    println!("  widget API:           http://{address}/v3/directline");
    println!("  data:                 {}", args.data.display());
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .into_diagnostic()
}
