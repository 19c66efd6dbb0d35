//! Server: `botrun serve` — the axum app, configuration, webhook intake, outbox sender, timers,
//! hot reload, health and metrics. The only place that wires engine, store, CX and widget.
