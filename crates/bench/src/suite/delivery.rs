//! Delivery into mailboxes. Each point sends `messages` messages (at most
//! `messages_per_connection` per session) over `concurrency` sessions to
//! `accounts` accounts, round-robin:
//! - Rookery SMTP (MX): the clock stops when every message is in its
//!   mailbox (admin API `messages`), not at the last 250, since a 250 only
//!   means "durable in the queue";
//! - Rookery LMTP and Dovecot LMTP: the clock stops at the last 250 (250 =
//!   durable in the mailbox); the counts are checked afterwards, untimed.

use super::{PASSWORD, Servers, Settings, rate};
use crate::dovecot::Dovecot;
use crate::load::smtp::{BENCH_SENDER, Delivery, Dialect};
use crate::report::Row;
use crate::rookery::Rookery;
use anyhow::{Context, bail};
use std::time::{Duration, Instant};

const SMTP_WORKLOAD: &str = "delivery: Rookery SMTP -> queue -> mailbox vs Dovecot LMTP";
const LMTP_WORKLOAD: &str = "delivery: LMTP vs LMTP";
/// Rookery must deliver at least twice as fast as Dovecot from 8 connections.
const TARGET: f64 = 2.0;
/// How often the mailbox counts are polled while the queue drains.
const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// A mailbox that gets nothing for this long while it waits has failed.
const STALL_LIMIT: Duration = Duration::from_secs(60);

pub(super) async fn run(settings: &Settings, servers: &Servers) -> anyhow::Result<Vec<Row>> {
    let accounts: Vec<String> = (1..=settings.accounts).map(|i| format!("d{i}@{}", servers.domain)).collect();
    if let Some(rookery) = &servers.rookery {
        eprintln!("bench: creating {} delivery accounts on rookery", accounts.len());
        rookery.add_accounts(&accounts, PASSWORD).await?;
    }
    let recipients = Delivery::recipient_lines(&accounts);
    let mail_from = Delivery::mail_from_line(BENCH_SENDER);
    // What each mailbox must hold after the runs so far.
    let mut rookery_expected = vec![0; accounts.len()];
    let mut dovecot_expected = vec![0; accounts.len()];
    let mut smtp_rows = Vec::new();
    let mut lmtp_rows = Vec::new();
    for &concurrency in &settings.concurrency {
        let messages = settings.messages.min(settings.messages_per_connection * concurrency);
        let per_run = Delivery::per_account(messages, accounts.len());
        let target = (concurrency >= 8).then_some(TARGET);
        let mut smtp_row = Row::new(SMTP_WORKLOAD, concurrency, target);
        let mut lmtp_row = Row::new(LMTP_WORKLOAD, concurrency, target);
        let delivery = |addr, dialect| Delivery {
            addr,
            source: None,
            dialect,
            connections: concurrency,
            messages,
            recipients: recipients.clone(),
            mail_from: mail_from.clone(),
            auth: None,
            message: servers.message.clone(),
            serial: servers.serial.clone(),
        };
        for repetition in 1..=settings.repetitions {
            let label = |path: &str| {
                format!("{path} c={concurrency} rep {repetition}/{}: {messages} messages", settings.repetitions)
            };
            if let Some(rookery) = &servers.rookery {
                add(&mut rookery_expected, &per_run);
                let smtp = delivery(rookery.smtp(), Dialect::Smtp);
                let (acknowledged, elapsed) = rookery_smtp(rookery, &smtp, &accounts, &rookery_expected).await?;
                smtp_row.rookery.push(rate(messages, elapsed));
                let acknowledged = format!("last 250 after {:.2} s, in mailboxes", acknowledged.as_secs_f64());
                report_point(&format!("{} ({acknowledged})", label("rookery smtp")), messages, elapsed);

                add(&mut rookery_expected, &per_run);
                let lmtp = delivery(rookery.lmtp(), Dialect::Lmtp);
                let elapsed = rookery_lmtp(rookery, &lmtp, &accounts, &rookery_expected).await?;
                lmtp_row.rookery.push(rate(messages, elapsed));
                report_point(&label("rookery lmtp"), messages, elapsed);
            }
            if let Some(dovecot) = &servers.dovecot {
                add(&mut dovecot_expected, &per_run);
                let lmtp = delivery(dovecot.lmtp, Dialect::Lmtp);
                let elapsed = dovecot_lmtp(dovecot, &lmtp, &accounts, &dovecot_expected).await?;
                // One Dovecot figure is the peer of both Rookery paths.
                smtp_row.peer.push(rate(messages, elapsed));
                lmtp_row.peer.push(rate(messages, elapsed));
                report_point(&label("dovecot lmtp"), messages, elapsed);
            }
        }
        if servers.rookery.is_some() {
            smtp_rows.push(smtp_row);
        }
        lmtp_rows.push(lmtp_row);
    }
    smtp_rows.extend(lmtp_rows);
    Ok(smtp_rows)
}

/// SMTP in: the time of the last 250, and the time when the queue runner
/// has put every message in its mailbox.
async fn rookery_smtp(
    rookery: &Rookery,
    delivery: &Delivery,
    accounts: &[String],
    expected: &[u64],
) -> anyhow::Result<(Duration, Duration)> {
    let start = Instant::now();
    delivery.run().await.context("rookery smtp delivery")?;
    let acknowledged = start.elapsed();
    wait_for_mailboxes(rookery, accounts, expected).await?;
    Ok((acknowledged, start.elapsed()))
}

async fn rookery_lmtp(
    rookery: &Rookery,
    delivery: &Delivery,
    accounts: &[String],
    expected: &[u64],
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    delivery.run().await.context("rookery lmtp delivery")?;
    let elapsed = start.elapsed();
    for (account, &expected) in accounts.iter().zip(expected) {
        check_count("rookery", account, rookery.message_count(account).await?, expected)?;
    }
    Ok(elapsed)
}

async fn dovecot_lmtp(
    dovecot: &Dovecot,
    delivery: &Delivery,
    accounts: &[String],
    expected: &[u64],
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    delivery.run().await.with_context(|| format!("dovecot lmtp delivery\n{}", dovecot.diagnostics()))?;
    let elapsed = start.elapsed();
    for (account, &expected) in accounts.iter().zip(expected) {
        check_count("dovecot", account, dovecot.message_count(account)?, expected)?;
    }
    Ok(elapsed)
}

fn add(expected: &mut [u64], run: &[u64]) {
    for (total, n) in expected.iter_mut().zip(run) {
        *total += n;
    }
}

fn report_point(label: &str, messages: usize, elapsed: Duration) {
    eprintln!("  {label} in {:.2} s: {:.0} msg/s", elapsed.as_secs_f64(), rate(messages, elapsed));
}

fn check_count(server: &str, account: &str, have: u64, expected: u64) -> anyhow::Result<()> {
    if have != expected {
        bail!("{server}: {account} holds {have} messages, expected {expected}");
    }
    Ok(())
}

/// Polls the accounts in order until each holds what it should. Counts
/// only grow, so when the last account is complete all of them are.
async fn wait_for_mailboxes(rookery: &Rookery, accounts: &[String], expected: &[u64]) -> anyhow::Result<()> {
    for (account, &expected) in accounts.iter().zip(expected) {
        let mut previous = None;
        let mut last_progress = Instant::now();
        loop {
            let have = rookery.message_count(account).await?;
            if have >= expected {
                // More than expected: a message was delivered twice.
                check_count("rookery", account, have, expected)?;
                break;
            }
            if previous != Some(have) {
                previous = Some(have);
                last_progress = Instant::now();
            } else if last_progress.elapsed() > STALL_LIMIT {
                bail!("rookery: {account} got no message for {STALL_LIMIT:?}; it holds {have} of {expected}");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
    Ok(())
}
