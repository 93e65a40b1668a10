//! `bench`: runs the same load against Rookery and against Dovecot in one
//! run and prints both figures with their ratio (DESIGN.md §10; results go
//! in `BENCHMARKS.md`); the relay suite compares Rookery with the ceiling
//! of its own SMTP sink instead.
//!
//! It owns the load generator (`load`), the lifecycle of the two servers it
//! measures (`rookery`, `dovecot`: each started on free loopback ports with
//! temporary data and stopped at the end), the SMTP sink the relay suite
//! relays to (`sink`) and the report. It must never touch a server it did
//! not start.
#![forbid(unsafe_code)]

mod cluster;
mod connections;
mod cpu;
mod dovecot;
mod haproxy;
mod load;
mod memory;
mod python_sink;
mod reassign;
mod report;
mod rookery;
mod sink;
mod suite;

use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Measures Rookery against Dovecot under the same load and prints the ratio.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Cli {
    /// Which workload to run.
    #[arg(value_enum)]
    suite: SuiteName,
    /// Small counts and one repetition: a smoke test that takes seconds.
    #[arg(long)]
    quick: bool,
    /// Messages per delivery run, spread over all connections [default: 4000; quick: 200].
    #[arg(long)]
    messages: Option<usize>,
    /// At most this many messages per connection, so that runs with few
    /// connections stay short [default: 500; quick: 50].
    #[arg(long)]
    messages_per_connection: Option<usize>,
    /// Accounts the delivery runs spread their messages over [default: 100; quick: 10].
    #[arg(long)]
    accounts: Option<usize>,
    /// Concurrent connections of the delivery runs [default: 1,8,32; quick: 1,8].
    #[arg(long, value_delimiter = ',')]
    concurrency: Option<Vec<usize>>,
    /// Accounts filled for the POP3 runs, one session each [default: 8].
    #[arg(long)]
    pop3_accounts: Option<usize>,
    /// Messages in each POP3 account [default: 500; quick: 25].
    #[arg(long)]
    pop3_messages: Option<usize>,
    /// Times each timed POP3 run retrieves every account [default: 25; quick: 1].
    #[arg(long)]
    pop3_passes: Option<usize>,
    /// Concurrent POP3 sessions [default: 1,8].
    #[arg(long, value_delimiter = ',')]
    pop3_concurrency: Option<Vec<usize>>,
    /// Concurrent IMAP clients, one account each [default: 1,10,50; quick: 1,10].
    #[arg(long, value_delimiter = ',')]
    imap_concurrency: Option<Vec<usize>>,
    /// Messages in each IMAP account [default: 200; quick: 60].
    #[arg(long)]
    imap_messages: Option<u32>,
    /// Seconds each IMAP client keeps starting sessions, per run [default: 10; quick: 1].
    #[arg(long)]
    imap_seconds: Option<f64>,
    /// Idle logged-in IMAP sessions for the memory measurement, 0 for none [default: 5000; quick: 200].
    #[arg(long)]
    idle_sessions: Option<usize>,
    /// Messages per relay run, spread over all connections [default: 10000; quick: 300].
    #[arg(long)]
    relay_messages: Option<usize>,
    /// At most this many relayed messages per connection [default: 2000; quick: 100].
    #[arg(long)]
    relay_messages_per_connection: Option<usize>,
    /// Concurrent submission connections of the relay runs [default: 1,8,32; quick: 1,8].
    #[arg(long, value_delimiter = ',')]
    relay_concurrency: Option<Vec<usize>>,
    /// Size of each relayed message in bytes, headers included.
    #[arg(long, default_value_t = 4 * 1024)]
    relay_message_size: usize,
    /// The relay suite's Rookery fsyncs its queue (`[store] fsync`). `false`
    /// is a diagnostic only: it shows what the relay costs without the
    /// disk; the target is measured with fsync.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    relay_fsync: bool,
    /// The SMTP server the relay suite relays to: the bench's own null
    /// sink, or the aiosmtpd sink of the outbound tests.
    #[arg(long, value_enum, default_value_t = suite::relay::SinkKind::Bench)]
    relay_sink: suite::relay::SinkKind,
    /// Account records of the reassign suite [default: 500000; quick: 5000].
    #[arg(long)]
    reassign_accounts: Option<usize>,
    /// Repetitions per point; the table shows their median [default: 3; quick: 1].
    #[arg(long)]
    repetitions: Option<usize>,
    /// Size of each message of the delivery, POP3 and IMAP suites in bytes, headers included.
    #[arg(long, default_value_t = 10 * 1024)]
    message_size: usize,
    /// Which servers to measure.
    #[arg(long, value_enum, default_value_t = Servers::Both)]
    servers: Servers,
    /// The rookery binary [default: `rookery` next to this program, i.e. target/release/rookery].
    #[arg(long)]
    rookery_bin: Option<PathBuf>,
    /// The dovecot binary.
    #[arg(long, default_value = "/usr/sbin/dovecot")]
    dovecot_bin: PathBuf,
    /// Kills of an account's member per lease TTL in the dynamic suite [default: 20; quick: 3].
    #[arg(long)]
    kills: Option<usize>,
    /// Lease TTLs of the dynamic suite's failover runs, in seconds [default: 3,5; quick: 3].
    #[arg(long, value_delimiter = ',')]
    lease_ttl: Option<Vec<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SuiteName {
    /// SMTP and LMTP delivery into mailboxes.
    Delivery,
    /// POP3 retrieval of filled mailboxes.
    Pop3,
    /// The IMAP client mix and idle-session memory.
    Imap,
    /// The IMAP mix straight to a backend and through a frontend, for
    /// Rookery and for Dovecot (issue 5).
    ImapProxy,
    /// Relay through Rookery's queue to an SMTP sink, against the sink's
    /// ceiling (no Dovecot).
    Relay,
    /// All of the above.
    All,
    /// Failover in the LDAP directory: reassign and restore of many account
    /// records against one ldapmodify client, adopt and release (not in `all`).
    Reassign,
    /// The dynamic cluster (issue 6): failover time over kills, the IMAP mix
    /// on one server and on three members, connections against CM-33 (not in `all`).
    Dynamic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Servers {
    Both,
    Rookery,
    Dovecot,
}

impl Cli {
    fn settings(self) -> anyhow::Result<suite::Settings> {
        let quick = self.quick;
        let pick =
            |value: Option<usize>, normal: usize, small: usize| value.unwrap_or(if quick { small } else { normal });
        let rookery_bin = match (self.servers, self.rookery_bin) {
            (Servers::Dovecot, _) => None,
            (_, Some(path)) => Some(path),
            (_, None) => Some(rookery::default_binary()?),
        };
        let settings = suite::Settings {
            delivery: matches!(self.suite, SuiteName::Delivery | SuiteName::All),
            pop3: matches!(self.suite, SuiteName::Pop3 | SuiteName::All),
            messages: pick(self.messages, 4000, 200),
            messages_per_connection: pick(self.messages_per_connection, 500, 50),
            accounts: pick(self.accounts, 100, 10),
            concurrency: self.concurrency.unwrap_or_else(|| if quick { vec![1, 8] } else { vec![1, 8, 32] }),
            pop3_accounts: pick(self.pop3_accounts, 8, 8),
            pop3_messages: pick(self.pop3_messages, 500, 25),
            pop3_passes: pick(self.pop3_passes, 25, 1),
            pop3_concurrency: self.pop3_concurrency.unwrap_or_else(|| vec![1, 8]),
            imap: matches!(self.suite, SuiteName::Imap | SuiteName::All),
            imap_concurrency: self
                .imap_concurrency
                .unwrap_or_else(|| if quick { vec![1, 10] } else { vec![1, 10, 50] }),
            imap_messages: self.imap_messages.unwrap_or(if quick { 60 } else { 200 }),
            imap_seconds: self.imap_seconds.unwrap_or(if quick { 1.0 } else { 10.0 }),
            idle_sessions: pick(self.idle_sessions, 5000, 200),
            imap_proxy: matches!(self.suite, SuiteName::ImapProxy | SuiteName::All),
            relay: matches!(self.suite, SuiteName::Relay | SuiteName::All),
            relay_messages: pick(self.relay_messages, 10_000, 300),
            relay_messages_per_connection: pick(self.relay_messages_per_connection, 2000, 100),
            relay_concurrency: self
                .relay_concurrency
                .unwrap_or_else(|| if quick { vec![1, 8] } else { vec![1, 8, 32] }),
            relay_message_size: self.relay_message_size,
            relay_fsync: self.relay_fsync,
            relay_sink: self.relay_sink,
            repetitions: pick(self.repetitions, 3, 1),
            message_size: self.message_size,
            rookery_bin,
            dovecot_bin: (self.servers != Servers::Rookery).then_some(self.dovecot_bin),
        };
        settings.validate()?;
        Ok(settings)
    }
}

// One thread for the load generator: it never takes both cores from the
// servers it measures.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.suite == SuiteName::Reassign {
        return finish(reassign_settings(cli).and_then(|settings| reassign::run(&settings)));
    }
    if cli.suite == SuiteName::Dynamic {
        let result = match dynamic_settings(cli) {
            Ok(settings) => tokio::select! {
                result = suite::dynamic::run(&settings) => result,
                _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            },
            Err(error) => Err(error),
        };
        return finish(result);
    }
    let result = match cli.settings() {
        Ok(settings) => {
            // Dropping the run on ctrl-c drops the server guards, which stop
            // both servers and remove their temporary data.
            tokio::select! {
                result = suite::run(settings) => result,
                _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            }
        }
        Err(error) => Err(error),
    };
    finish(result)
}

fn reassign_settings(cli: Cli) -> anyhow::Result<reassign::Settings> {
    let accounts = cli.reassign_accounts.unwrap_or(if cli.quick { 5_000 } else { 500_000 });
    let rookery_bin = match cli.rookery_bin {
        Some(path) => path,
        None => rookery::default_binary()?,
    };
    Ok(reassign::Settings { accounts, rookery_bin })
}

fn dynamic_settings(cli: Cli) -> anyhow::Result<suite::dynamic::Settings> {
    let quick = cli.quick;
    let rookery_bin = match cli.rookery_bin {
        Some(path) => path,
        None => rookery::default_binary()?,
    };
    let settings = suite::dynamic::Settings {
        rookery_bin,
        kills: cli.kills.unwrap_or(if quick { 3 } else { 20 }),
        lease_ttls: cli
            .lease_ttl
            .unwrap_or_else(|| if quick { vec![3] } else { vec![3, 5] })
            .into_iter()
            .map(std::time::Duration::from_secs)
            .collect(),
        mix: suite::dynamic::MixSettings {
            levels: cli.imap_concurrency.unwrap_or_else(|| if quick { vec![1, 10] } else { vec![1, 10, 50] }),
            messages: cli.imap_messages.unwrap_or(if quick { 60 } else { 200 }),
            seconds: cli.imap_seconds.unwrap_or(if quick { 1.0 } else { 10.0 }),
            repetitions: cli.repetitions.unwrap_or(if quick { 1 } else { 3 }),
            message_size: cli.message_size,
        },
    };
    settings.validate()?;
    Ok(settings)
}

fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
