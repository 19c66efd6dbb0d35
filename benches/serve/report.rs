//! Checking every answer against what was asked, and the table of the rows.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use botrun::emulator::{Message, MessageType, SenderKind};

use crate::load::{Sent, QUESTIONS};

/// What one row measured.
pub struct Row {
    pub label: String,
    pub offered: f64,
    pub achieved: f64,
    pub latencies: Vec<Duration>,
    pub acks: Vec<Duration>,
    /// Webhooks refused or dropped by the service.
    pub refused: usize,
    pub check: Check,
    pub posted: u64,
    /// CPU time of each `botrun serve` process over the run.
    pub botrun_cpu: Vec<Duration>,
    /// Peak resident memory of each `botrun serve` process, bytes.
    pub botrun_rss: Vec<u64>,
    pub emulator_cpu: Duration,
    pub bench_cpu: Duration,
    /// CPU time of the local PostgreSQL server's processes over the run.
    pub database_cpu: Option<Duration>,
    /// PostgreSQL transactions per message.
    pub transactions: Option<f64>,
}

/// Answers compared with the questions, conversation by conversation.
#[derive(Default)]
pub struct Check {
    pub lost: usize,
    pub duplicated: usize,
    pub reordered: usize,
    /// Due time → the emulator's `created_at` of the answer, for every answer in its place.
    pub latencies: Vec<Duration>,
    pub last_answer: Option<DateTime<Utc>>,
}

fn is_answer(message: &Message) -> bool {
    message.message_type == MessageType::Outgoing
        && !message.private
        && message.sender.kind == SenderKind::AgentBot
        // The bot greets a conversation it has not seen before; only answers are counted.
        && QUESTIONS.iter().any(|(_, answer)| *answer == message.content)
}

/// Reads every conversation back from the emulator and compares its answers, in order, with
/// the questions it asked.
pub async fn check(emulator: &str, sent: &Sent) -> Check {
    let client = reqwest::Client::new();
    let fetched: Vec<(Vec<DateTime<Utc>>, Vec<Message>)> =
        futures_util::stream::iter(sent.iter().map(|(conversation, due)| {
            let client = client.clone();
            let url = format!("{emulator}/_control/conversations/{conversation}");
            async move {
                let body: serde_json::Value =
                    client.get(url).send().await.unwrap().json().await.unwrap();
                let messages: Vec<Message> =
                    serde_json::from_value(body["messages"].clone()).unwrap();
                (due.clone(), messages)
            }
        }))
        .buffer_unordered(16)
        .collect()
        .await;
    let mut check = Check::default();
    for (due_times, messages) in fetched {
        let got: Vec<&Message> = messages.iter().filter(|m| is_answer(m)).collect();
        check.lost += due_times.len().saturating_sub(got.len());
        check.duplicated += got.len().saturating_sub(due_times.len());
        for (k, due) in due_times.iter().enumerate() {
            match got.get(k) {
                Some(m) if m.content == QUESTIONS[k % QUESTIONS.len()].1 => {
                    check.latencies.push((m.created_at - *due).to_std().unwrap_or_default());
                    check.last_answer = check.last_answer.max(Some(m.created_at));
                }
                Some(_) => check.reordered += 1,
                None => {}
            }
        }
    }
    check
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU seconds per 1,000 messages.
#[allow(clippy::cast_precision_loss)]
fn per_thousand(cpu: Duration, messages: u64) -> f64 {
    cpu.as_secs_f64() * 1000.0 / messages as f64
}

impl Row {
    /// botrun's CPU seconds (all replicas) per 1,000 messages posted.
    fn cpu_per_thousand(&self) -> f64 {
        per_thousand(self.botrun_cpu.iter().sum(), self.posted)
    }

    /// The largest replica's peak resident memory, MB.
    #[allow(clippy::cast_precision_loss)]
    fn rss_mb(&self) -> f64 {
        self.botrun_rss.iter().copied().max().unwrap_or(0) as f64 / 1_048_576.0
    }

    fn p(&self, p: f64) -> f64 {
        millis(percentile(&self.latencies, p))
    }
}

pub fn print_table(rows: &[Row]) {
    println!(
        "| store | offered msg/s | achieved msg/s | p50 ms | p99 ms | max ms | 2xx p99 ms | refused | lost \
         | dup | reordered | botrun CPU s / 1,000 msg | PostgreSQL CPU s / 1,000 msg | botrun peak RSS MB \
         | tx / msg |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {:.3} | {} | {:.1} | {} |",
            row.label,
            row.offered,
            row.achieved,
            row.p(0.50),
            row.p(0.99),
            millis(row.latencies.last().copied().unwrap_or_default()),
            millis(percentile(&row.acks, 0.99)),
            row.refused,
            row.check.lost,
            row.check.duplicated,
            row.check.reordered,
            row.cpu_per_thousand(),
            row.database_cpu.map_or(String::new(), |cpu| format!("{:.3}", per_thousand(cpu, row.posted))),
            row.rss_mb(),
            row.transactions.map_or(String::new(), |t| format!("{t:.2}")),
        );
    }
    println!();
    for row in rows {
        let each: Vec<String> =
            row.botrun_cpu.iter().map(|cpu| format!("{:.2}", cpu.as_secs_f64())).collect();
        println!(
            "{}: botrun CPU {} s for {} messages; emulator {:.2} s, load generator and \
             forwarder {:.2} s",
            row.label,
            each.join(" + "),
            row.posted,
            row.emulator_cpu.as_secs_f64(),
            row.bench_cpu.as_secs_f64(),
        );
    }
    let sqlite = rows.iter().find(|row| row.label.starts_with("SQLite"));
    let postgres = rows.iter().find(|row| row.label == "PostgreSQL");
    if let (Some(s), Some(p)) = (sqlite, postgres) {
        println!(
            "ratio PostgreSQL / SQLite: achieved {:.2}, p50 {:.2}, p99 {:.2}, CPU per message \
             {:.2}, peak RSS {:.2}",
            p.achieved / s.achieved,
            p.p(0.50) / s.p(0.50),
            p.p(0.99) / s.p(0.99),
            p.cpu_per_thousand() / s.cpu_per_thousand(),
            p.rss_mb() / s.rss_mb(),
        );
    }
}
