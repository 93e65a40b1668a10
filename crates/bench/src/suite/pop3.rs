//! POP3 retrieval. Both servers get the same accounts filled through
//! their own LMTP; one untimed pass first retrieves everything once (so
//! that every repetition sees the same state: Dovecot's first access moves
//! mail from `new/` to `cur/` and stores `\Seen`), then each point retrieves
//! every message of every account `pop3_passes` times with `concurrency`
//! sessions.

use super::{PASSWORD, Servers, Settings, rate};
use crate::load::pop3::{Retrieval, Retrieved};
use crate::load::smtp::{BENCH_SENDER, Delivery, Dialect};
use crate::report::Row;
use anyhow::{Context, ensure};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

const WORKLOAD: &str = "POP3 retrieval (RETR all)";
/// Rookery must retrieve at least 1.5 times as fast as Dovecot.
const TARGET: f64 = 1.5;
/// Sessions that fill the accounts.
const FILL_CONNECTIONS: usize = 8;

pub(super) async fn run(settings: &Settings, servers: &Servers) -> anyhow::Result<Vec<Row>> {
    let accounts: Arc<[String]> = (1..=settings.pop3_accounts).map(|i| format!("p{i}@{}", servers.domain)).collect();
    let total = settings.pop3_accounts * settings.pop3_messages;
    let fill = |addr: SocketAddr| Delivery {
        addr,
        source: None,
        dialect: Dialect::Lmtp,
        connections: FILL_CONNECTIONS,
        messages: total,
        recipients: Delivery::recipient_lines(&accounts),
        mail_from: Delivery::mail_from_line(BENCH_SENDER),
        auth: None,
        message: servers.message.clone(),
        serial: servers.serial.clone(),
    };
    let retrieval = |addr: SocketAddr, sessions: usize, passes: usize| Retrieval {
        addr,
        sessions,
        accounts: accounts.clone(),
        password: PASSWORD.to_owned(),
        messages_per_account: settings.pop3_messages,
        passes,
    };
    let all = settings.pop3_accounts;
    if let Some(rookery) = &servers.rookery {
        rookery.add_accounts(&accounts, PASSWORD).await?;
        let start = Instant::now();
        fill(rookery.lmtp()).run().await.context("filling rookery's POP3 accounts")?;
        eprintln!("bench: filled rookery's {total} POP3 messages in {:.2} s", start.elapsed().as_secs_f64());
        let warm_up = retrieval(rookery.pop3(), all, 1).run().await.context("rookery pop3 warm-up")?;
        check(settings, warm_up, 1)?;
    }
    if let Some(dovecot) = &servers.dovecot {
        let start = Instant::now();
        fill(dovecot.lmtp).run().await.with_context(|| format!("filling dovecot\n{}", dovecot.diagnostics()))?;
        eprintln!("bench: filled dovecot's {total} POP3 messages in {:.2} s", start.elapsed().as_secs_f64());
        let warm_up = retrieval(dovecot.pop3, all, 1).run().await.context("dovecot pop3 warm-up")?;
        check(settings, warm_up, 1)?;
    }
    let mut rows = Vec::new();
    for &concurrency in &settings.pop3_concurrency {
        let mut row = Row::new(WORKLOAD, concurrency, Some(TARGET));
        for repetition in 1..=settings.repetitions {
            let label =
                |server: &str| format!("{server} pop3 c={concurrency} rep {repetition}/{}", settings.repetitions);
            if let Some(rookery) = &servers.rookery {
                let start = Instant::now();
                let retrieved =
                    retrieval(rookery.pop3(), concurrency, settings.pop3_passes).run().await.context("rookery pop3")?;
                let elapsed = start.elapsed();
                check(settings, retrieved, settings.pop3_passes)?;
                row.rookery.push(rate(retrieved.messages as usize, elapsed));
                report_point(&label("rookery"), retrieved, elapsed);
            }
            if let Some(dovecot) = &servers.dovecot {
                let start = Instant::now();
                let retrieved = retrieval(dovecot.pop3, concurrency, settings.pop3_passes)
                    .run()
                    .await
                    .with_context(|| format!("dovecot pop3\n{}", dovecot.diagnostics()))?;
                let elapsed = start.elapsed();
                check(settings, retrieved, settings.pop3_passes)?;
                row.peer.push(rate(retrieved.messages as usize, elapsed));
                report_point(&label("dovecot"), retrieved, elapsed);
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Every message was read `passes` times, and each at least as long as
/// the one sent.
fn check(settings: &Settings, retrieved: Retrieved, passes: usize) -> anyhow::Result<()> {
    let total = (settings.pop3_accounts * settings.pop3_messages * passes) as u64;
    ensure!(retrieved.messages == total, "retrieved {} messages, expected {total}", retrieved.messages);
    let minimum = total * settings.message_size as u64;
    ensure!(retrieved.octets >= minimum, "retrieved {} octets, expected at least {minimum}", retrieved.octets);
    Ok(())
}

fn report_point(label: &str, retrieved: Retrieved, elapsed: std::time::Duration) {
    eprintln!(
        "  {label}: {} messages ({:.1} MB) in {:.2} s: {:.0} msg/s",
        retrieved.messages,
        retrieved.octets as f64 / 1e6,
        elapsed.as_secs_f64(),
        rate(retrieved.messages as usize, elapsed)
    );
}
