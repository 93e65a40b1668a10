//! The suites: start the servers, create and fill the accounts, measure
//! each point `repetitions` times with the servers interleaved (so that
//! noise from other work on the machine falls on both alike), and print
//! the table of medians.

mod delivery;
pub mod dynamic;
mod imap;
mod imap_proxy;
mod pop3;
pub mod relay;

use crate::dovecot::Dovecot;
use crate::load::message::Message;
use crate::report;
use crate::rookery::Rookery;
use anyhow::ensure;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// What to run, from the command line.
pub struct Settings {
    pub delivery: bool,
    pub pop3: bool,
    pub messages: usize,
    pub messages_per_connection: usize,
    pub accounts: usize,
    pub concurrency: Vec<usize>,
    pub pop3_accounts: usize,
    pub pop3_messages: usize,
    pub pop3_passes: usize,
    pub pop3_concurrency: Vec<usize>,
    pub imap: bool,
    /// Concurrent IMAP clients per point; the largest is also the number
    /// of IMAP accounts.
    pub imap_concurrency: Vec<usize>,
    /// Messages in each IMAP account.
    pub imap_messages: u32,
    /// Seconds each IMAP client keeps starting sessions per point.
    pub imap_seconds: f64,
    /// Idle IMAP sessions of the memory measurement (0: none).
    pub idle_sessions: usize,
    /// The IMAP mix direct and through a frontend or proxy (issue 5), with
    /// the IMAP suite's clients, messages and seconds.
    pub imap_proxy: bool,
    pub relay: bool,
    /// Messages per relay run, spread over all connections.
    pub relay_messages: usize,
    pub relay_messages_per_connection: usize,
    pub relay_concurrency: Vec<usize>,
    /// Size of each relayed message in bytes.
    pub relay_message_size: usize,
    /// `[store] fsync` of the relay suite's Rookery (off: diagnostic).
    pub relay_fsync: bool,
    /// Which server takes the relayed mail.
    pub relay_sink: relay::SinkKind,
    pub repetitions: usize,
    pub message_size: usize,
    /// `None`: Rookery is not measured.
    pub rookery_bin: Option<PathBuf>,
    /// `None`: Dovecot is not measured.
    pub dovecot_bin: Option<PathBuf>,
}

impl Settings {
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.messages > 0 && self.messages_per_connection > 0 && self.accounts > 0,
            "--messages, --messages-per-connection and --accounts must be positive"
        );
        ensure!(
            self.pop3_messages > 0 && self.pop3_accounts > 0,
            "--pop3-messages and --pop3-accounts must be positive"
        );
        ensure!(
            self.relay_messages > 0 && self.relay_messages_per_connection > 0,
            "--relay-messages and --relay-messages-per-connection must be positive"
        );
        ensure!(self.repetitions > 0, "--repetitions must be positive");
        // The mix fetches 3 messages' flags and one whole message of any
        // mailbox; 50 messages make the header FETCH what it says.
        ensure!(self.imap_messages >= 50, "--imap-messages must be at least 50");
        ensure!(self.imap_seconds >= 0.0, "--imap-seconds must not be negative");
        ensure!(
            self.concurrency
                .iter()
                .chain(&self.pop3_concurrency)
                .chain(&self.imap_concurrency)
                .chain(&self.relay_concurrency)
                .all(|&c| c > 0),
            "concurrency levels must be positive"
        );
        Ok(())
    }

    /// One line saying what will be measured.
    fn describe(&self) -> String {
        let list = |levels: &[usize]| levels.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        let mut parts = Vec::new();
        if self.delivery {
            parts.push(format!(
                "delivery: {} messages per run (at most {} per connection) to {} accounts, concurrency {}",
                self.messages,
                self.messages_per_connection,
                self.accounts,
                list(&self.concurrency)
            ));
        }
        if self.pop3 {
            parts.push(format!(
                "pop3: {} accounts x {} messages, {} pass(es) per run, concurrency {}",
                self.pop3_accounts,
                self.pop3_messages,
                self.pop3_passes,
                list(&self.pop3_concurrency)
            ));
        }
        if self.imap {
            parts.push(format!(
                "imap: {} messages per account, one account per client, {} s per run, clients {}, {} idle sessions",
                self.imap_messages,
                self.imap_seconds,
                list(&self.imap_concurrency),
                self.idle_sessions
            ));
        }
        if self.imap_proxy {
            parts.push(format!(
                "imap-proxy: {} messages per account, one account per client, {} s per run, clients {}, \
                 direct and through a frontend/proxy",
                self.imap_messages,
                self.imap_seconds,
                list(&self.imap_concurrency)
            ));
        }
        if self.relay {
            parts.push(format!(
                "relay: {} messages of {} B per run (at most {} per connection), concurrency {}, fsync {}",
                self.relay_messages,
                self.relay_message_size,
                self.relay_messages_per_connection,
                list(&self.relay_concurrency),
                if self.relay_fsync { "on" } else { "OFF (diagnostic)" }
            ));
        }
        let size = if self.delivery || self.pop3 || self.imap || self.imap_proxy {
            format!("; {} B messages", self.message_size)
        } else {
            String::new()
        };
        format!("{}{size}, {} repetition(s)", parts.join("; "), self.repetitions)
    }
}

/// The password of every benchmark account on both servers.
const PASSWORD: &str = crate::dovecot::PASSWORD;

/// The servers being measured; either may be absent (`--servers`).
struct Servers {
    rookery: Option<Rookery>,
    dovecot: Option<Dovecot>,
    /// The accounts' domain: Rookery's main domain (Dovecot takes any).
    domain: String,
    message: Arc<Message>,
    /// Message-IDs stay unique over the whole run.
    serial: Arc<AtomicU64>,
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let message = Arc::new(Message::new(settings.message_size)?);
    eprintln!("bench: {}", settings.describe());
    // The relay suite starts a Rookery of its own and needs no Dovecot.
    let against_dovecot = settings.delivery || settings.pop3 || settings.imap;
    let dovecot = match &settings.dovecot_bin {
        Some(binary) if against_dovecot => Some(Dovecot::start(binary).await?),
        _ => None,
    };
    let rookery = match &settings.rookery_bin {
        Some(binary) if against_dovecot => Some(Rookery::start(binary).await?),
        _ => None,
    };
    if let Some(dovecot) = &dovecot {
        eprintln!(
            "bench: dovecot lmtp {} pop3 {} imap {}, mail in {}",
            dovecot.lmtp,
            dovecot.pop3,
            dovecot.imap,
            dovecot.mail_dir("").display()
        );
    }
    if let Some(rookery) = &rookery {
        eprintln!(
            "bench: rookery smtp {} lmtp {} pop3 {} imap {}, data in {}",
            rookery.smtp(),
            rookery.lmtp(),
            rookery.pop3(),
            rookery.imap(),
            rookery.data_dir().display()
        );
    }
    let domain = rookery
        .as_ref()
        .map_or_else(|| testkit::TestServerOptions::default().main_domain, |rookery| rookery.domain().to_owned());
    let servers = Servers { rookery, dovecot, domain, message, serial: Arc::new(AtomicU64::new(1)) };
    let mut rows = Vec::new();
    if settings.delivery {
        rows.extend(delivery::run(&settings, &servers).await?);
    }
    if settings.pop3 {
        rows.extend(pop3::run(&settings, &servers).await?);
    }
    let imap = if settings.imap { Some(imap::run(&settings, &servers).await?) } else { None };
    // Stopped before the relay suite, so that they hold no memory or
    // processes while it runs.
    drop(servers);
    let relay = match (&settings.rookery_bin, settings.relay) {
        (Some(binary), true) => relay::run(&settings, binary).await?,
        (None, true) => {
            eprintln!("bench: relay skipped: it measures Rookery (--servers dovecot)");
            Vec::new()
        }
        (_, false) => Vec::new(),
    };
    // Starts its own servers: a Rookery cluster, a Dovecot and its proxy.
    let imap_proxy = if settings.imap_proxy { Some(imap_proxy::run(&settings).await?) } else { None };
    if against_dovecot {
        println!(
            "\n{} B messages, median of {} repetition(s); ratio = rookery / dovecot\n",
            settings.message_size, settings.repetitions
        );
    }
    if !rows.is_empty() {
        println!("{}", report::table(&rows));
    }
    if let Some(imap) = imap {
        println!(
            "IMAP mix, {} s per run, one account per client ({} messages each); every command is an operation\n",
            settings.imap_seconds, settings.imap_messages
        );
        println!("{}", report::table_in(&imap.throughput, "/s"));
        println!("IMAP p99 latency per command and per session (lower is better; ratio < 1: Rookery faster)\n");
        println!("{}", report::table_in(&imap.latency, "p99 ms"));
        if !imap.memory.is_empty() {
            println!("IMAP memory of idle logged-in sessions (LOGIN + SELECT INBOX each)\n");
            println!("{}", imap.memory);
        }
    }
    if !relay.is_empty() {
        println!(
            "\nRelay: {} B messages, median of {} repetition(s), fsync {}, outbound \
             connections_per_destination = {}; ratio = rookery / ceiling (the same client sending straight to \
             the sink)\n",
            settings.relay_message_size,
            settings.repetitions,
            if settings.relay_fsync { "on" } else { "OFF (diagnostic, not the target's setting)" },
            relay::CONNECTIONS_PER_DESTINATION
        );
        println!("{}", report::table_against(&relay, "ceiling", "msg/s"));
    }
    if let Some(imap_proxy) = imap_proxy {
        println!("\n{imap_proxy}");
    }
    Ok(())
}

/// Messages per second.
fn rate(messages: usize, elapsed: Duration) -> f64 {
    messages as f64 / elapsed.as_secs_f64()
}
