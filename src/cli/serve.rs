//! `botrun serve --config botrun.yaml`: runs the service (see docs/configuration.md and
//! docs/operations.md). Logging is set up here; everything else lives in `server`.

use std::path::PathBuf;

use super::Outcome;
use crate::server::config::{Config, LogFormat};
use crate::server::{self, RunOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The service configuration (YAML); without it every default applies
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Check the configuration and every bot, then exit without serving
    #[arg(long)]
    pub check: bool,
    /// Do not watch bot files for changes
    #[arg(long)]
    pub no_reload: bool,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second initialisation (tests running commands in-process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if args.check {
        server::run::load_bots(&config)?;
        server::run::webhook_token(&config, false)?;
        let widget = server::run::check_widget(&config)?;
        println!(
            "configuration and {} bot(s) are valid{}",
            config.bots.len(),
            if widget { ", and the widget with its bot" } else { "" }
        );
        return Ok(Outcome::Clean);
    }
    init_logging(config.log.format);
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let cx = server::connect_cx(&config)?;
        server::run(config, cx, RunOptions { dev: false, hot_reload: !args.no_reload }).await
    })?;
    Ok(Outcome::Clean)
}
