//! `botrun emulator`: serves the local Sangoma CX emulator until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use miette::{miette, IntoDiagnostic};

use super::Outcome;
use crate::emulator::{spawn, ApiSender, EmulatorOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:8700")]
    pub listen: SocketAddr,
    /// Tenant domain every call must name
    #[arg(long, default_value = "dev.cx.localhost")]
    pub tenant_domain: String,
    /// OAuth client id
    #[arg(long, default_value = "botrun-dev")]
    pub client_id: String,
    /// OAuth client secret
    #[arg(long, env = "BOTRUN_EMULATOR_CLIENT_SECRET", default_value = "botrun-dev-secret")]
    pub client_secret: String,
    /// Sign webhook deliveries with this secret (X-Chatwoot-Signature)
    #[arg(long, env = "BOTRUN_EMULATOR_WEBHOOK_SECRET")]
    pub webhook_secret: Option<String>,
    /// Pause between webhook delivery retries, in milliseconds
    #[arg(long, default_value_t = 3000)]
    pub retry_spacing_ms: u64,
    /// Who messages created through the API are from (Sangoma's gateway: unknown)
    #[arg(long, value_enum, default_value = "agent-bot")]
    pub api_sender: ApiSender,
    /// One id sequence per kind of record, as Chatwoot's tables (ids of different kinds collide)
    #[arg(long)]
    pub per_kind_ids: bool,
    /// A failing agent bot leaves its conversation pending instead of handing it to humans
    #[arg(long)]
    pub keep_pending_on_bot_failure: bool,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().into_diagnostic()?;
    runtime.block_on(serve(args))
}

async fn serve(args: &Args) -> miette::Result<Outcome> {
    let options = EmulatorOptions {
        tenant_domain: args.tenant_domain.clone(),
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        webhook_secret: args.webhook_secret.clone(),
        webhook_retry_spacing: Duration::from_millis(args.retry_spacing_ms),
        api_sender: args.api_sender,
        per_kind_ids: args.per_kind_ids,
        keep_pending_on_bot_failure: args.keep_pending_on_bot_failure,
        ..EmulatorOptions::default()
    };
    let running = spawn(options, args.listen)
        .await
        .map_err(|error| miette!("cannot listen on {}: {error}", args.listen))?;
    println!("Sangoma CX emulator listening on {}", running.addr());
    println!("  API base:      {}", running.base_url());
    println!("  token URL:     {}", running.auth_url());
    println!("  agent console: {}", running.console_url());
    println!("  customer page: {}/customer", running.console_url());
    println!("  tenant_domain: {}", args.tenant_domain);
    println!("  client id:     {}", args.client_id);
    println!("Press Ctrl-C to stop.");
    crate::server::run::shutdown_signal().await;
    println!("stopping");
    running.shutdown().await;
    Ok(Outcome::Clean)
}
