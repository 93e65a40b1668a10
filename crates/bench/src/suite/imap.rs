//! IMAP: the client mix of `load::imap` with 1, 10 and 50 clients, and
//! the memory of idle logged-in sessions.
//!
//! One account per client (`i1`, `i2`, ...), so that sessions never contend
//! on one mailbox; each gets the same `imap_messages` messages through its
//! server's own LMTP, and an untimed session per account first opens every
//! mailbox once (Dovecot builds its index and moves mail to `cur/`).
//!
//! Memory, measured after the warm-up and before the timed runs:
//! `idle_sessions` connections, spread over the same accounts, each LOGIN
//! and SELECT INBOX, then left idle for two seconds; the growth of the
//! server's memory (Rookery: its one process; Dovecot: the master and every
//! process below it) divided by the number of sessions.

use super::{PASSWORD, Servers, Settings};
use crate::load::imap::{Mix, MixResult, Op, idle_sessions};
use crate::load::smtp::{BENCH_SENDER, Delivery, Dialect};
use crate::memory;
use crate::report::{Row, percentile};
use anyhow::{Context, ensure};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const OPERATIONS: &str = "IMAP mix: commands";
const SESSIONS: &str = "IMAP mix: sessions";
/// Rookery must run the mix at least 1.5 times as fast as Dovecot...
const TARGET: f64 = 1.5;
/// ...with this many clients.
const TARGET_CLIENTS: usize = 50;
/// At most this much server memory per idle logged-in session.
const IDLE_TARGET_KIB: f64 = 64.0;
const FILL_CONNECTIONS: usize = 8;
/// Idle sessions being opened at once.
const OPENING: usize = 64;
/// Time for processes to settle (Dovecot's login processes exit after
/// handing over their connection) before memory is read.
const SETTLE: Duration = Duration::from_secs(2);

/// The IMAP suite's three tables.
pub(super) struct ImapReport {
    /// Commands/s and sessions/s.
    pub throughput: Vec<Row>,
    /// p99 latency in milliseconds, per command and per session.
    pub latency: Vec<Row>,
    /// Markdown table of the idle-session memory.
    pub memory: String,
}

pub(super) async fn run(settings: &Settings, servers: &Servers) -> anyhow::Result<ImapReport> {
    let n_accounts = settings.imap_concurrency.iter().copied().max().unwrap_or(1);
    let accounts: Arc<[String]> = (1..=n_accounts).map(|i| format!("i{i}@{}", servers.domain)).collect();
    let total = n_accounts * settings.imap_messages as usize;
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
    let mix = |addr: SocketAddr, clients: usize, duration: Duration, min_sessions: usize| Mix {
        addr,
        source: None,
        clients,
        accounts: accounts.clone(),
        password: PASSWORD.to_owned(),
        messages_per_account: settings.imap_messages,
        duration,
        min_sessions,
        message: servers.message.clone(),
        serial: servers.serial.clone(),
    };
    if let Some(rookery) = &servers.rookery {
        rookery.add_accounts(&accounts, PASSWORD).await?;
        let start = Instant::now();
        fill(rookery.lmtp()).run().await.context("filling rookery's IMAP accounts")?;
        for account in accounts.iter() {
            let count = rookery.message_count(account).await?;
            ensure!(count == u64::from(settings.imap_messages), "rookery: {account} holds {count} messages");
        }
        eprintln!("bench: filled rookery's {total} IMAP messages in {:.2} s", start.elapsed().as_secs_f64());
        mix(rookery.imap(), n_accounts, Duration::ZERO, 1).run().await.context("rookery imap warm-up")?;
    }
    if let Some(dovecot) = &servers.dovecot {
        let start = Instant::now();
        fill(dovecot.lmtp).run().await.with_context(|| format!("filling dovecot\n{}", dovecot.diagnostics()))?;
        for account in accounts.iter() {
            let count = dovecot.message_count(account)?;
            ensure!(count == u64::from(settings.imap_messages), "dovecot: {account} holds {count} messages");
        }
        eprintln!("bench: filled dovecot's {total} IMAP messages in {:.2} s", start.elapsed().as_secs_f64());
        mix(dovecot.imap, n_accounts, Duration::ZERO, 1)
            .run()
            .await
            .with_context(|| format!("dovecot imap warm-up\n{}", dovecot.diagnostics()))?;
    }

    // Before the timed runs, so that little memory they freed is lying in
    // the allocators for the idle sessions to reuse.
    let memory =
        if settings.idle_sessions > 0 { idle_memory(settings, servers, &accounts).await? } else { String::new() };

    let duration = Duration::from_secs_f64(settings.imap_seconds);
    let mut throughput = Vec::new();
    let mut latency = Vec::new();
    for &clients in &settings.imap_concurrency {
        let target = (clients >= TARGET_CLIENTS).then_some(TARGET);
        let mut operations = Row::new(OPERATIONS, clients, target);
        let mut sessions = Row::new(SESSIONS, clients, None);
        let mut per_op: Vec<Row> = Op::ALL.iter().map(|op| Row::new(op.name(), clients, None)).collect();
        let mut per_connect = Row::new("connect + greeting (not an operation)", clients, None);
        let mut per_session = Row::new("whole session, connect to LOGOUT", clients, None);
        for repetition in 1..=settings.repetitions {
            let label = |server: &str| format!("{server} imap c={clients} rep {repetition}/{}", settings.repetitions);
            let mut results = Vec::new();
            if let Some(rookery) = &servers.rookery {
                let result = mix(rookery.imap(), clients, duration, 1).run().await.context("rookery imap")?;
                report_point(&label("rookery"), &result);
                results.push((true, result));
            }
            if let Some(dovecot) = &servers.dovecot {
                let result = mix(dovecot.imap, clients, duration, 1)
                    .run()
                    .await
                    .with_context(|| format!("dovecot imap\n{}", dovecot.diagnostics()))?;
                report_point(&label("dovecot"), &result);
                results.push((false, result));
            }
            for (is_rookery, result) in results {
                fn side(row: &mut Row, is_rookery: bool) -> &mut Vec<f64> {
                    if is_rookery { &mut row.rookery } else { &mut row.peer }
                }
                let seconds = result.elapsed.as_secs_f64();
                side(&mut operations, is_rookery).push(result.operations() as f64 / seconds);
                side(&mut sessions, is_rookery).push(result.sessions as f64 / seconds);
                for (row, samples) in per_op.iter_mut().zip(&result.latencies) {
                    if let Some(p99) = percentile(samples, 0.99) {
                        side(row, is_rookery).push(p99.as_secs_f64() * 1000.0);
                    }
                }
                if let Some(p99) = percentile(&result.connect_latencies, 0.99) {
                    side(&mut per_connect, is_rookery).push(p99.as_secs_f64() * 1000.0);
                }
                if let Some(p99) = percentile(&result.session_latencies, 0.99) {
                    side(&mut per_session, is_rookery).push(p99.as_secs_f64() * 1000.0);
                }
            }
        }
        throughput.push(operations);
        throughput.push(sessions);
        latency.push(per_connect);
        latency.extend(per_op);
        latency.push(per_session);
    }
    Ok(ImapReport { throughput, latency, memory })
}

/// Opens the idle sessions on each server in turn and returns the table.
async fn idle_memory(settings: &Settings, servers: &Servers, accounts: &Arc<[String]>) -> anyhow::Result<String> {
    let mut table = String::from(
        "| server | idle sessions | processes before / after | RSS before -> after (MiB) \
         | PSS before -> after (MiB) | RSS growth per session | PSS growth per session | target |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    if let Some(rookery) = &servers.rookery {
        let pid = rookery.pid()?;
        let idle =
            Idle { name: "rookery", addr: rookery.imap(), accounts: accounts.clone(), n: settings.idle_sessions };
        table.push_str(&idle.measure(|| Ok(vec![pid])).await?);
    }
    if let Some(dovecot) = &servers.dovecot {
        let pid = dovecot.pid().context("dovecot is not running")?;
        let idle = Idle { name: "dovecot", addr: dovecot.imap, accounts: accounts.clone(), n: settings.idle_sessions };
        let row = idle.measure(|| memory::tree(pid)).await.with_context(|| dovecot.diagnostics())?;
        table.push_str(&row);
    }
    Ok(table)
}

/// The idle-session measurement on one server.
struct Idle {
    name: &'static str,
    addr: SocketAddr,
    accounts: Arc<[String]>,
    n: usize,
}

impl Idle {
    /// Memory of `processes()` before and after opening the sessions; one
    /// line of the table.
    async fn measure(&self, processes: impl Fn() -> anyhow::Result<Vec<u32>>) -> anyhow::Result<String> {
        let (name, n) = (self.name, self.n);
        let before = memory::usage(&processes()?);
        let start = Instant::now();
        let sessions = idle_sessions(self.addr, self.accounts.clone(), PASSWORD, n, OPENING)
            .await
            .with_context(|| format!("{name}: opening {n} idle IMAP sessions"))?;
        let opened = start.elapsed();
        tokio::time::sleep(SETTLE).await;
        let after = memory::usage(&processes()?);
        drop(sessions);
        let per_session = |before: u64, after: u64| after.saturating_sub(before) as f64 / n as f64;
        let rss = per_session(before.rss_kib, after.rss_kib);
        let pss = per_session(before.pss_kib, after.pss_kib);
        eprintln!(
            "  {name} idle: {n} sessions opened in {:.1} s; RSS {} -> {} KiB ({rss:.1} KiB/session), \
             PSS {} -> {} KiB ({pss:.1} KiB/session), {} -> {} processes",
            opened.as_secs_f64(),
            before.rss_kib,
            after.rss_kib,
            before.pss_kib,
            after.pss_kib,
            before.processes,
            after.processes
        );
        let mib = |kib: u64| kib as f64 / 1024.0;
        let target = if name == "rookery" {
            let worst = rss.max(pss);
            format!("<= {IDLE_TARGET_KIB:.0} KiB {}", if worst <= IDLE_TARGET_KIB { "met" } else { "missed" })
        } else {
            String::new()
        };
        Ok(format!(
            "| {name} | {n} | {} / {} | {:.1} -> {:.1} | {:.1} -> {:.1} | {rss:.1} KiB | {pss:.1} KiB | {target} |\n",
            before.processes,
            after.processes,
            mib(before.rss_kib),
            mib(after.rss_kib),
            mib(before.pss_kib),
            mib(after.pss_kib),
        ))
    }
}

fn report_point(label: &str, result: &MixResult) {
    let seconds = result.elapsed.as_secs_f64();
    let p99 = |op: Op| percentile(&result.latencies[op as usize], 0.99).map_or(0.0, |p| p.as_secs_f64() * 1000.0);
    eprintln!(
        "  {label}: {} sessions, {} commands in {seconds:.2} s: {:.0} commands/s, {:.1} sessions/s; \
         p99 ms: login {:.1} select {:.1} fetch-headers {:.1} fetch-body {:.1} store {:.1} append {:.1} expunge {:.1}",
        result.sessions,
        result.operations(),
        result.operations() as f64 / seconds,
        result.sessions as f64 / seconds,
        p99(Op::Login),
        p99(Op::Select),
        p99(Op::FetchHeaders),
        p99(Op::FetchMessage),
        p99(Op::StoreFlags),
        p99(Op::Append),
        p99(Op::Expunge),
    );
}
