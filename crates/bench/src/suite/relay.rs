//! Relay (issue 4): mail submitted to Rookery for another domain, relayed
//! by its queue to the bench's SMTP sink, against the ceiling: the same
//! client sending the same messages straight to the same sink.
//!
//! Rookery's clock runs from the first submission until the sink has
//! every message, so the queue's relay is inside the measurement; the time
//! of the last 250 (durable in the queue) gives the submission-side rate.
//! After each run the sink's tally is checked: every message exactly
//! once, for the right recipient, nothing else.

use super::{PASSWORD, Settings, rate};
use crate::load::message::Message;
use crate::load::smtp::{Delivery, Dialect};
use crate::python_sink::PythonSink;
use crate::report::Row;
use crate::rookery::Rookery;
use crate::sink::{Sink, Tally};
use anyhow::{Context, bail, ensure};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which SMTP server takes the relayed mail (`--relay-sink`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SinkKind {
    /// The bench's own null sink (`sink.rs`): keeps nothing, costs almost
    /// nothing, so its ceiling is the machine's bare SMTP round trip.
    Bench,
    /// The aiosmtpd sink of the outbound tests (`tests/clients/smtp_sink.py`):
    /// a real SMTP server that keeps each message as a file.
    Aiosmtpd,
}

/// The sink of a run, either kind.
enum RelaySink {
    Bench(Sink),
    Python(PythonSink),
}

impl RelaySink {
    fn start(kind: SinkKind) -> anyhow::Result<RelaySink> {
        Ok(match kind {
            SinkKind::Bench => RelaySink::Bench(Sink::start("127.0.0.1")?),
            SinkKind::Aiosmtpd => {
                let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
                RelaySink::Python(PythonSink::start("127.0.0.1", &repo)?)
            }
        })
    }

    fn addr(&self) -> std::net::SocketAddr {
        match self {
            RelaySink::Bench(sink) => sink.addr,
            RelaySink::Python(sink) => sink.addr,
        }
    }

    fn total(&self) -> u64 {
        match self {
            RelaySink::Bench(sink) => sink.total(),
            RelaySink::Python(sink) => sink.total(),
        }
    }

    fn take(&self) -> anyhow::Result<Tally> {
        match self {
            RelaySink::Bench(sink) => Ok(sink.take()),
            RelaySink::Python(sink) => sink.take(),
        }
    }

    async fn wait_for(&self, target: u64, stall_limit: Duration) -> anyhow::Result<()> {
        match self {
            RelaySink::Bench(sink) => sink.wait_for(target, stall_limit).await,
            RelaySink::Python(sink) => sink.wait_for(target, stall_limit).await,
        }
    }

    /// The workload names of the table, naming the sink.
    fn workloads(&self) -> (&'static str, &'static str) {
        match self {
            RelaySink::Bench(_) => (
                "relay: submission -> queue -> sink vs direct to sink",
                "relay: submission accepted (last 250) vs direct to sink",
            ),
            RelaySink::Python(_) => (
                "relay to aiosmtpd: submission -> queue -> sink vs direct to sink",
                "relay to aiosmtpd: submission accepted (last 250) vs direct to sink",
            ),
        }
    }
}
/// Rookery must relay at least 70 % as fast as the sink takes mail.
const TARGET: f64 = 0.70;
/// The recipients' domain: not one of Rookery's, so that its mail goes out.
const SINK_DOMAIN: &str = "sink.example";
/// Outbound connections Rookery may open to the sink. The queue runner
/// delivers up to 64 messages at once (`[queue] delivery_concurrency`, its
/// default); as many connections make its own concurrency, not the pool,
/// the limit, at every client count up to 32 and beyond.
pub const CONNECTIONS_PER_DESTINATION: usize = 64;
/// A run that makes no progress for this long has failed.
const STALL_LIMIT: Duration = Duration::from_secs(60);
/// How often the queue is polled while it empties after a run.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

pub(super) async fn run(settings: &Settings, binary: &Path) -> anyhow::Result<Vec<Row>> {
    let sink = RelaySink::start(settings.relay_sink)?;
    let (relay_workload, accept_workload) = sink.workloads();
    let outbound = format!(
        "relay = [\"{}\"]\ntls = \"disabled\"\nconnections_per_destination = {CONNECTIONS_PER_DESTINATION}\n",
        sink.addr()
    );
    let rookery = Rookery::start_relaying(binary, outbound, settings.relay_fsync).await?;
    let rookery_pid = rookery.pid()?.to_string();
    let account = format!("relay@{}", rookery.domain());
    rookery.add_accounts(std::slice::from_ref(&account), PASSWORD).await?;
    eprintln!(
        "bench: relay sink {}, rookery submission {} relaying to it, data in {}",
        sink.addr(),
        rookery.submission(),
        rookery.data_dir().display()
    );
    let message = Arc::new(Message::new(settings.relay_message_size)?);
    // Message-IDs stay unique over the whole suite, so that a message
    // relayed twice is caught even when the copy comes a run later.
    let serial = Arc::new(AtomicU64::new(1));
    let mut relay_rows = Vec::new();
    let mut accept_rows = Vec::new();
    for &concurrency in &settings.relay_concurrency {
        let messages = settings.relay_messages.min(settings.relay_messages_per_connection * concurrency);
        // One recipient per connection: connection k sends all its messages
        // to `ck@sink.example`, so the per-recipient counts check each one.
        let recipients: Vec<String> = (0..concurrency).map(|k| format!("c{k}@{SINK_DOMAIN}")).collect();
        let run = Run { messages, expected: Delivery::per_account(messages, concurrency), recipients };
        let delivery = |addr, auth| Delivery {
            addr,
            source: None,
            dialect: Dialect::Smtp,
            connections: concurrency,
            messages,
            recipients: Delivery::recipient_lines(&run.recipients),
            mail_from: Delivery::mail_from_line(&account),
            auth,
            message: message.clone(),
            serial: serial.clone(),
        };
        let submission = delivery(rookery.submission(), Some(Delivery::auth_plain_line(&account, PASSWORD)));
        let direct = delivery(sink.addr(), None);
        let mut relay_row = Row::new(relay_workload, concurrency, Some(TARGET));
        let mut accept_row = Row::new(accept_workload, concurrency, None);
        for repetition in 1..=settings.repetitions {
            let label = |path: &str| {
                format!("{path} c={concurrency} rep {repetition}/{}: {messages} messages", settings.repetitions)
            };
            let relayed = run.measure(&sink, &submission, Some(&rookery_pid)).await.context("rookery relay")?;
            let drained = wait_for_empty_queue(&rookery).await?;
            relay_row.rookery.push(rate(messages, relayed.elapsed));
            accept_row.rookery.push(rate(messages, relayed.accepted));
            eprintln!(
                "  {}: last 250 after {:.2} s ({:.0} msg/s), all at the sink in {:.2} s: {:.0} msg/s \
                 (queue empty {:.0} ms later); {}",
                label("rookery relay"),
                relayed.accepted.as_secs_f64(),
                rate(messages, relayed.accepted),
                relayed.elapsed.as_secs_f64(),
                rate(messages, relayed.elapsed),
                drained.as_secs_f64() * 1000.0,
                relayed.costs(messages)
            );

            let ceiling = run.measure(&sink, &direct, None).await.context("direct to the sink")?;
            relay_row.peer.push(rate(messages, ceiling.elapsed));
            accept_row.peer.push(rate(messages, ceiling.elapsed));
            eprintln!(
                "  {} in {:.2} s: {:.0} msg/s; {}",
                label("ceiling (direct)"),
                ceiling.elapsed.as_secs_f64(),
                rate(messages, ceiling.elapsed),
                ceiling.costs(messages)
            );
        }
        relay_rows.push(relay_row);
        accept_rows.push(accept_row);
    }
    relay_rows.extend(accept_rows);
    Ok(relay_rows)
}

/// What one run took.
struct Measured {
    /// Until the last 250.
    accepted: Duration,
    /// Until the sink had every message.
    elapsed: Duration,
    /// Connections the sink accepted during the run.
    connections: u64,
    /// CPU time (user + system) of Rookery, when it took part.
    rookery_cpu: Option<Duration>,
    /// CPU time of the bench process: the load generator and the sink.
    bench_cpu: Duration,
}

impl Measured {
    /// Where the work went, per message: for reading the figures, not
    /// part of the table.
    fn costs(&self, messages: usize) -> String {
        let per_message = |cpu: Duration| cpu.as_secs_f64() * 1e6 / messages as f64;
        let rookery = self.rookery_cpu.map_or_else(String::new, |cpu| {
            format!("rookery CPU {:.2} s = {:.0} us/msg, ", cpu.as_secs_f64(), per_message(cpu))
        });
        // The aiosmtpd sink counts no connections (and its CPU is its own
        // process's, not the bench's).
        let connections = match self.connections {
            0 => String::new(),
            n => format!("; the sink accepted {n} connection(s)"),
        };
        format!("{rookery}bench (client + sink) CPU {:.0} us/msg{connections}", per_message(self.bench_cpu))
    }
}

/// The CPU time (user + system, all threads, exited ones included) of
/// process `pid` ("self" for the bench), from `/proc/<pid>/stat`.
fn cpu_time(pid: &str) -> anyhow::Result<Duration> {
    // USER_HZ: the unit of these fields, 100 on every Linux ABI.
    const TICKS_PER_SECOND: u64 = 100;
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("reading /proc/{pid}/stat"))?;
    // utime and stime are fields 14 and 15, counted from the pid; the
    // command name before them, in parentheses, may hold spaces.
    let after_comm = stat.rfind(')').map(|at| &stat[at + 1..]).context("no command name in /proc/<pid>/stat")?;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = |index: usize| -> anyhow::Result<u64> {
        fields.get(index).context("/proc/<pid>/stat is short")?.parse().context("not a tick count")
    };
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 1000 / TICKS_PER_SECOND))
}

/// One point: what is sent and what the sink must have received.
struct Run {
    messages: usize,
    /// Messages per recipient, in the order of `recipients`.
    expected: Vec<u64>,
    recipients: Vec<String>,
}

impl Run {
    /// Sends the messages until the sink has them all, then checks the
    /// sink's tally. `rookery_pid`: the process whose CPU time to take.
    async fn measure(
        &self,
        sink: &RelaySink,
        delivery: &Delivery,
        rookery_pid: Option<&str>,
    ) -> anyhow::Result<Measured> {
        // Anything here came after the last run was checked: a copy.
        check_no_stray(&sink.take()?)?;
        let first = delivery.serial.load(Ordering::Relaxed);
        let target = sink.total() + self.messages as u64;
        let rookery_before = rookery_pid.map(cpu_time).transpose()?;
        let bench_before = cpu_time("self")?;
        let start = Instant::now();
        delivery.run().await?;
        let accepted = start.elapsed();
        sink.wait_for(target, STALL_LIMIT).await?;
        let elapsed = start.elapsed();
        let bench_cpu = cpu_time("self")?.saturating_sub(bench_before);
        let rookery_cpu = match (rookery_pid, rookery_before) {
            (Some(pid), Some(before)) => Some(cpu_time(pid)?.saturating_sub(before)),
            _ => None,
        };
        let last = delivery.serial.load(Ordering::Relaxed);
        ensure!(last - first == self.messages as u64, "{} serials used for {} messages", last - first, self.messages);
        let tally = sink.take()?;
        self.check(&tally, first..last)?;
        Ok(Measured { accepted, elapsed, connections: tally.connections, rookery_cpu, bench_cpu })
    }

    /// Every message once, each recipient its share, nothing else.
    fn check(&self, tally: &Tally, serials: std::ops::Range<u64>) -> anyhow::Result<()> {
        check_identified_once(tally)?;
        ensure!(
            tally.messages == self.messages as u64,
            "the sink received {} messages, {} were sent",
            tally.messages,
            self.messages
        );
        if let Some(outside) = tally.serials.iter().find(|serial| !serials.contains(serial)) {
            bail!("the sink received message {outside:016x}, not one of this run's");
        }
        ensure!(tally.serials.len() == self.messages, "the sink has {} distinct messages", tally.serials.len());
        for (recipient, &expected) in self.recipients.iter().zip(&self.expected) {
            let have = tally.by_recipient.get(recipient).copied().unwrap_or(0);
            ensure!(have == expected, "the sink has {have} messages for {recipient}, expected {expected}");
        }
        ensure!(
            tally.by_recipient.len() == self.recipients.len(),
            "the sink has messages for other recipients: {:?}",
            tally.by_recipient.keys().filter(|r| !self.recipients.contains(r)).collect::<Vec<_>>()
        );
        Ok(())
    }
}

/// No duplicates and no message without the bench's Message-ID.
fn check_identified_once(tally: &Tally) -> anyhow::Result<()> {
    if let Some(serial) = tally.duplicates.first() {
        bail!("the sink received message {serial:016x} more than once ({} repeats)", tally.duplicates.len());
    }
    ensure!(tally.unidentified == 0, "the sink received {} messages without a bench Message-ID", tally.unidentified);
    Ok(())
}

fn check_no_stray(tally: &Tally) -> anyhow::Result<()> {
    check_identified_once(tally)?;
    ensure!(tally.messages == 0, "the sink received {} messages between runs (late copies?)", tally.messages);
    Ok(())
}

/// Waits (untimed) until Rookery's queue is empty, so that its last
/// bookkeeping does not fall into the next run; how long that took.
async fn wait_for_empty_queue(rookery: &Rookery) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        let queued = rookery.queue_len().await?;
        if queued == 0 {
            return Ok(start.elapsed());
        }
        if start.elapsed() > STALL_LIMIT {
            bail!("rookery still queues {queued} messages {STALL_LIMIT:?} after the sink had them all");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
