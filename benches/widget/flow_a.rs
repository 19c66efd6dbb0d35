//! The real bot host behind the widget: Flow A running `bots/faq.bot`, mirroring every
//! conversation into CX (the emulator the load generator serves) through the real CX client, as
//! `botrun serve` wires it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use botrun::check::{load_program, CheckOptions};
use botrun::cx::{Credentials, CxClient, CxConfig};
use botrun::emulator::EmulatorOptions;
use botrun::server::flow_a::{FlowA, FlowAHost, FlowASettings};
use botrun::server::{app, AppState, Bots, Config, SystemClock};
use botrun::store::Durability;
use botrun::widget::{router, WidgetConfig, WidgetService};

const WEBHOOK_TOKEN: &str = "bench-webhook-token-0123456789abcdef";

/// The service's routes (CX webhooks and the widget) with Flow A as the widget's host.
/// `cx_unlimited` turns the CX client's own rate limit (50 requests/s by default) off.
pub async fn serve(
    address: SocketAddr,
    cx_unlimited: bool,
    cx_base: &str,
    cx_auth: &str,
    service_db: &str,
    config: WidgetConfig,
) -> axum::Router {
    let options = EmulatorOptions::default();
    let cx = CxConfig {
        base_url: cx_base.to_owned(),
        auth_url: cx_auth.to_owned(),
        tenant_domain: options.tenant_domain.clone(),
        rate_limit_per_second: if cx_unlimited {
            0
        } else {
            CxConfig::default().rate_limit_per_second
        },
        ..CxConfig::default()
    };
    let client = CxClient::with_credentials(
        cx,
        Credentials::new(options.client_id.clone(), options.client_secret.clone()),
    )
    .unwrap();
    client
        .create_webhook(
            &format!("http://{address}/webhooks/cx-widget/{WEBHOOK_TOKEN}"),
            &["message_created", "conversation_status_changed"],
        )
        .await
        .unwrap();
    let bot = Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/faq.bot");
    let program = load_program(&bot, &CheckOptions::default()).unwrap().program;
    let store = botrun::store::open(service_db, Durability::Full).await.unwrap();
    // The widget's history is in the service's store, as `botrun serve` keeps it.
    let widget_store = store.widget_history();
    let state = AppState::new(
        Config::default(),
        store,
        Bots::new(vec![]),
        Arc::new(client.clone()),
        Arc::new(SystemClock),
        WEBHOOK_TOKEN.to_owned(),
    );
    let settings = FlowASettings { inbox_id: 1, ..FlowASettings::default() };
    let flow = FlowA::new(&state, program, client, settings);
    let widget = WidgetService::new(config, widget_store, Arc::new(FlowAHost(Arc::clone(&flow))));
    flow.attach(&widget);
    app(state).nest("/v3/directline", router(widget))
}
