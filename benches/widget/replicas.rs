//! Widget replicas on one PostgreSQL database, each a process of its own (this binary again, in
//! replica mode) with its own pool and its own `LISTEN botrun_widget` connection, as `botrun
//! serve` runs them behind a load balancer without sticky routing. The orchestrator creates a
//! schema for the run (`bench_<pid>_<nanos>`; the `NOTIFY` channel is per database, so give the
//! run a database of its own), starts the replicas one after the other (so they do not race to
//! create the schema), hands their addresses to the load generator, reads each one's RSS from
//! `/proc/<pid>/status`, and drops the schema at the end.

use std::io::{BufRead as _, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;

use botrun::store::{PostgresStore, Store as _};
use botrun::widget::{router, WidgetService};

use crate::{client, print_table, rss_of, spawn_client, widget_config, EchoBot, Options};

/// Set in a replica's environment to `STORE_URL SCHEMA CONNECTIONS`: it runs as a widget service.
pub const REPLICA_ENV: &str = "BOTRUN_WIDGET_BENCH_REPLICA";

/// One replica process; it stops when its stdin closes.
struct Replica {
    child: Child,
    stdin: ChildStdin,
    base: String,
}

/// Replica mode: serves the widget on a loopback port with its history in `SCHEMA`, prints
/// `listening http://ADDR/v3/directline`, and serves until stdin closes.
pub fn serve_replica(spec: &str) {
    let mut parts = spec.split(' ');
    let (url, schema) = (parts.next().unwrap(), parts.next().unwrap());
    let connections: u32 = parts.next().unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let store = PostgresStore::open_with(url, Some(schema), connections).await.unwrap();
        let widget =
            WidgetService::new(widget_config(address), store.widget_history(), Arc::new(EchoBot));
        // What `botrun serve` does on a shared store: push what the other replicas store.
        widget.follow_other_replicas().await.unwrap();
        let app = axum::Router::new().nest("/v3/directline", router(widget));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        println!("listening http://{address}/v3/directline");
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin().lock().read_line(&mut line).is_ok_and(|n| n > 0) {}
        })
        .await
        .unwrap();
        store.close().await;
    });
}

fn start_replica(url: &str, schema: &str, connections: u32) -> Replica {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(REPLICA_ENV, format!("{url} {schema} {connections}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base =
        line.trim().strip_prefix("listening ").expect("the replica did not start").to_owned();
    Replica { child, stdin, base }
}

/// Starts `--replicas` replicas on `--store-url`, runs the load generator against them and
/// prints the table.
pub async fn serve_and_measure(options: &Options) -> client::Report {
    let url = options.store_url.as_deref().unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let schema = format!("bench_{}_{}", std::process::id(), nanos.subsec_nanos());
    let replicas: Vec<Replica> =
        (0..options.replicas).map(|_| start_replica(url, &schema, options.connections)).collect();
    let bases: Vec<String> = replicas.iter().map(|replica| replica.base.clone()).collect();
    let pids: Vec<u32> = replicas.iter().map(|replica| replica.child.id()).collect();
    let client = spawn_client(options, &bases);
    let (open_secs, report, rss) =
        client.measure(|| pids.iter().map(|pid| rss_of(*pid)).collect()).await;
    for mut replica in replicas {
        let _ = writeln!(replica.stdin);
        drop(replica.stdin);
        replica.child.wait().unwrap();
    }
    drop_schema(url, &schema).await;
    let backend = format!(
        "PostgreSQL, {} replica process(es) of {} connections; half the conversations post to \
         another replica than their socket's",
        options.replicas, options.connections
    );
    print_table(options, &backend, open_secs, &report, &rss);
    report
}

async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut conn).await.unwrap();
}
