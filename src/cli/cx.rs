//! `botrun cx …`: Sangoma CX administration — check credentials, list inboxes, subscribe a
//! webhook, create and assign an agent bot. Human output by default, `--json` for scripts.
//! Any failure to reach or satisfy CX is "could not run" (exit 2).

use std::path::{Path, PathBuf};

use miette::{miette, IntoDiagnostic as _};
use serde_json::json;

use super::Outcome;
use crate::cx::{AgentBotId, CxClient, CxConfig, CxError, InboxId};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Check the configured credentials by fetching a token (the token itself is never shown)
    Token(Connection),
    /// List the tenant's inboxes (Flow A needs an API inbox)
    Inboxes(Connection),
    /// Webhook subscriptions
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Agent bots (Flow B: CX's own channels)
    #[command(subcommand)]
    AgentBot(AgentBotCommand),
}

#[derive(clap::Subcommand, Debug)]
pub enum WebhookCommand {
    /// Subscribe a URL to CX events
    Create {
        /// Where CX posts events (botrun's webhook URL, with its token)
        #[arg(long)]
        url: String,
        /// Comma-separated event names [default: `conversation_created,message_created`]
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        #[command(flatten)]
        connection: Connection,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum AgentBotCommand {
    /// Register an agent bot whose events CX posts to a URL
    Create {
        /// The bot's `outgoing_url` (botrun's webhook URL)
        #[arg(long)]
        url: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Make an agent bot answer an inbox
    Assign {
        /// Inbox id (see `botrun cx inboxes`)
        #[arg(long)]
        inbox: u64,
        /// Agent bot id (printed by `botrun cx agent-bot create`)
        #[arg(long)]
        bot: u64,
        #[command(flatten)]
        connection: Connection,
    },
}

/// Where CX is and how to print. Flags win over the `cx:` section of `--config`.
#[derive(clap::Args, Debug)]
pub struct Connection {
    /// Read the `cx:` section of this `botrun.yaml`
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// API base, what precedes `api/v1/digital-interactions/`
    #[arg(long, env = "BOTRUN_CX_BASE_URL")]
    base_url: Option<String>,
    /// OAuth token endpoint
    #[arg(long, env = "BOTRUN_CX_AUTH_URL")]
    auth_url: Option<String>,
    /// Tenant domain, e.g. `acme.cx.sangoma.com`
    #[arg(long, env = "BOTRUN_CX_TENANT")]
    tenant: Option<String>,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

pub fn run(command: &Command) -> miette::Result<Outcome> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().into_diagnostic()?;
    runtime.block_on(run_async(command))
}

async fn run_async(command: &Command) -> miette::Result<Outcome> {
    match command {
        Command::Token(connection) => {
            let client = connect(connection)?;
            let token = client.token().await.map_err(report)?;
            let scope = token.scope.clone().unwrap_or_else(|| client.config().scope.clone());
            let expires_in = token.expires_in.as_secs();
            if connection.json {
                print_json(
                    &json!({"ok": true, "token_type": token.token_type, "scope": scope, "expires_in": expires_in}),
                );
            } else {
                println!(
                    "credentials accepted: {} token for scope `{scope}`, valid for {}",
                    token.token_type,
                    describe_seconds(expires_in)
                );
            }
        }
        Command::Inboxes(connection) => {
            let client = connect(connection)?;
            let inboxes = client.list_inboxes().await.map_err(report)?;
            if connection.json {
                print_json(&json!(inboxes));
            } else if inboxes.is_empty() {
                println!("no inboxes in tenant `{}`", client.config().tenant_domain);
            } else {
                println!("{:>8}  {:<24}  NAME", "ID", "CHANNEL");
                for inbox in &inboxes {
                    println!(
                        "{:>8}  {:<24}  {}",
                        inbox.id,
                        inbox.channel_type.as_deref().unwrap_or("-"),
                        inbox.name
                    );
                }
            }
        }
        Command::Webhook(WebhookCommand::Create { url, events, connection }) => {
            check_url("--url", url)?;
            let client = connect(connection)?;
            let events: Vec<&str> =
                events.iter().map(|e| e.trim()).filter(|e| !e.is_empty()).collect();
            let webhook = client.create_webhook(url, &events).await.map_err(report)?;
            if connection.json {
                print_json(&json!(webhook));
            } else {
                let id =
                    webhook.id.map_or_else(|| "(no id returned)".to_owned(), |id| id.to_string());
                println!(
                    "webhook {id} created: {} ← {}",
                    webhook.url,
                    webhook.subscriptions.join(", ")
                );
            }
        }
        Command::AgentBot(AgentBotCommand::Create { url, name, description, connection }) => {
            check_url("--url", url)?;
            let client = connect(connection)?;
            let bot = client.create_agent_bot(name, description, url).await.map_err(report)?;
            if connection.json {
                print_json(&json!(bot));
            } else {
                println!("agent bot {} `{}` created; assign it with `botrun cx agent-bot assign --inbox ID --bot {}`", bot.id, bot.name, bot.id);
            }
        }
        Command::AgentBot(AgentBotCommand::Assign { inbox, bot, connection }) => {
            let client = connect(connection)?;
            client.assign_agent_bot(InboxId(*inbox), AgentBotId(*bot)).await.map_err(report)?;
            if connection.json {
                print_json(&json!({"ok": true, "inbox_id": inbox, "agent_bot_id": bot}));
            } else {
                println!("agent bot {bot} now answers inbox {inbox}");
            }
        }
    }
    Ok(Outcome::Clean)
}

fn connect(connection: &Connection) -> miette::Result<CxClient> {
    let mut config = match &connection.config {
        Some(path) => load_config(path)?,
        None => CxConfig::default(),
    };
    if let Some(base_url) = &connection.base_url {
        config.base_url.clone_from(base_url);
    }
    if let Some(auth_url) = &connection.auth_url {
        config.auth_url.clone_from(auth_url);
    }
    if let Some(tenant) = &connection.tenant {
        config.tenant_domain.clone_from(tenant);
    }
    CxClient::new(config).map_err(report)
}

/// Reads the `cx:` section of a `botrun.yaml`; other sections belong to other commands.
fn load_config(path: &Path) -> miette::Result<CxConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| miette!("cannot read {}: {error}", path.display()))?;
    let document: serde_norway::Value = serde_norway::from_str(&text)
        .map_err(|error| miette!("{} is not valid YAML: {error}", path.display()))?;
    match document.get("cx") {
        None | Some(serde_norway::Value::Null) => Ok(CxConfig::default()),
        Some(section) => serde_norway::from_value(section.clone())
            .map_err(|error| miette!("{}: invalid `cx` section: {error}", path.display())),
    }
}

fn check_url(flag: &str, text: &str) -> miette::Result<()> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
        Ok(_) => Err(miette!("{flag} {text:?} must be an http(s) URL")),
        Err(error) => Err(miette!("{flag} {text:?} is not a valid URL: {error}")),
    }
}

/// Turns a client error into a report with the fix as help.
#[expect(clippy::needless_pass_by_value, reason = "used as `map_err(report)`")]
fn report(error: CxError) -> miette::Report {
    let help = match &error {
        CxError::Auth { .. } => Some("set the client id and secret of a CX API client with the `cx.digital-interactions` scope"),
        CxError::Network { .. } | CxError::Timeout { .. } => Some("check `--base-url`/`--auth-url` (or `cx.base_url`) and that CX is reachable"),
        CxError::Config(_) => Some("pass `--base-url`, `--auth-url`, `--tenant`, or `--config botrun.yaml` with a `cx:` section"),
        CxError::Http { status: 404, .. } => Some("list valid ids with `botrun cx inboxes`"),
        CxError::Http { .. } | CxError::Decode { .. } => None,
    };
    match help {
        Some(help) => miette!(help = help, "{error}"),
        None => miette!("{error}"),
    }
}

fn print_json(value: &serde_json::Value) {
    println!("{value:#}");
}

fn describe_seconds(seconds: u64) -> String {
    match seconds {
        0..=119 => format!("{seconds} s"),
        120..=7_199 => format!("{} min", seconds / 60),
        7_200..=172_799 => format!("{} h", seconds / 3_600),
        _ => format!("{} days", seconds / 86_400),
    }
}
