//! Account failover (issue 6, CM-14): in each round an account that is
//! open on some member, and is being read over IMAP and receiving mail
//! through the two other members, loses its member to `kill -9`; the time
//! from the kill until a LOGIN + SELECT of the account through a survivor
//! succeeds is the failover time. The killed member is then restarted on
//! its data (same link address) before the next round. At the end every
//! message the members acknowledged must be in its account exactly once.

use super::client;
use super::members::{DOMAIN, DynCluster, Options};
use crate::report::median;
use anyhow::{Context, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Where the probe and the load connect from.
const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 7, 9));
const PASSWORD: &str = "failover-bench-pw";
/// Accounts the rounds take in turn.
const ACCOUNTS: usize = 6;
/// Time between two probes after the kill.
const PROBE_INTERVAL: Duration = Duration::from_millis(25);
/// One probe's limit: a session the survivor holds while it tries the
/// dead member must not stall the measurement.
const PROBE_LIMIT: Duration = Duration::from_secs(2);
/// A round that has not failed over in this long fails the run.
const ROUND_LIMIT: Duration = Duration::from_secs(60);
/// The small load: one message and one IMAP session per this interval.
const SEND_INTERVAL: Duration = Duration::from_millis(100);
const READ_INTERVAL: Duration = Duration::from_millis(150);
/// Load before the kill, and after the failover before the restart.
const LOAD_BEFORE: Duration = Duration::from_secs(1);
const LOAD_AFTER: Duration = Duration::from_millis(500);
/// How long queued mail may take to land after the last round.
const SETTLE_LIMIT: Duration = Duration::from_secs(90);

/// What the failover rounds measured at one lease TTL.
#[derive(Debug)]
pub struct Failover {
    pub lease_ttl: Duration,
    pub times: Vec<Duration>,
    /// Messages acknowledged (250) and sends that failed or were cut.
    pub acknowledged: usize,
    pub unacknowledged: usize,
    /// Acknowledged messages missing at the end; messages found more than
    /// once; messages found that nobody sent.
    pub lost: usize,
    pub duplicated: usize,
    pub unknown: usize,
    /// The load's IMAP sessions (LOGIN + SELECT) that worked and failed.
    pub reads_ok: u64,
    pub reads_failed: u64,
}

impl Failover {
    pub fn median(&self) -> Option<f64> {
        median(&self.times.iter().map(Duration::as_secs_f64).collect::<Vec<_>>())
    }

    pub fn worst(&self) -> Option<Duration> {
        self.times.iter().max().copied()
    }
}

/// Messages sent per account: acknowledged ones and the others (cut by a
/// kill: they may or may not have landed, once at most).
#[derive(Default)]
struct Ledger {
    acknowledged: BTreeMap<String, BTreeSet<String>>,
    unacknowledged: BTreeMap<String, BTreeSet<String>>,
}

/// Runs `rounds` kills on a fresh three-member cluster with `lease_ttl`.
pub async fn run(binary: &Path, rounds: usize, lease_ttl: Duration) -> anyhow::Result<Failover> {
    let options = Options { members: 3, lease_ttl, idle_release: Duration::from_secs(600) };
    let binary_owned = binary.to_owned();
    let mut cluster = tokio::task::spawn_blocking(move || DynCluster::start(&binary_owned, options)).await??;
    let accounts: Vec<String> = (1..=ACCOUNTS).map(|i| format!("f{i}@{DOMAIN}")).collect();
    cluster.admin(0).common.add_accounts(&accounts, PASSWORD).await?;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let serial = Arc::new(AtomicU64::new(1));
    let (mut reads_ok, mut reads_failed) = (0, 0);
    let mut times = Vec::new();
    for round in 0..rounds {
        let account = &accounts[round % accounts.len()];
        let owner = open_somewhere(&cluster, account, round, &ledger, &serial).await?;
        let survivors: Vec<testkit::Ports> = (0..cluster.members.len())
            .filter(|&i| i != owner)
            .map(|i| cluster.members[i].server.ports.clone())
            .collect();
        let load = Load::start(&survivors, account, &ledger, &serial);
        tokio::time::sleep(LOAD_BEFORE).await;

        cluster.kill(owner);
        let killed = Instant::now();
        let probe = survivors[0].imap();
        loop {
            let attempt = Instant::now();
            if client::login_select(probe, CLIENT_IP, account, PASSWORD, PROBE_LIMIT).await.is_ok() {
                break;
            }
            if killed.elapsed() > ROUND_LIMIT {
                bail!("round {}: {account} not reachable {ROUND_LIMIT:?} after the kill", round + 1);
            }
            tokio::time::sleep(PROBE_INTERVAL.saturating_sub(attempt.elapsed())).await;
        }
        let time = killed.elapsed();
        times.push(time);
        tokio::time::sleep(LOAD_AFTER).await;
        let (ok, failed) = load.stop().await;
        reads_ok += ok;
        reads_failed += failed;
        eprintln!(
            "  failover round {}/{rounds} (lease TTL {lease_ttl:?}): {account} on {} killed, open again through \
             a survivor after {:.0} ms",
            round + 1,
            cluster.members[owner].name,
            time.as_secs_f64() * 1000.0
        );
        // Blocking, with no load running: waits for the member's "ready".
        cluster.restart(owner)?;
    }
    let (lost, duplicated, unknown) = settle(&cluster, &accounts, &ledger).await?;
    let ledger = ledger.lock().map_err(|_| anyhow::anyhow!("the ledger's lock is poisoned"))?;
    Ok(Failover {
        lease_ttl,
        times,
        acknowledged: ledger.acknowledged.values().map(BTreeSet::len).sum(),
        unacknowledged: ledger.unacknowledged.values().map(BTreeSet::len).sum(),
        lost,
        duplicated,
        unknown,
        reads_ok,
        reads_failed,
    })
}

/// Makes sure `account` is open on some member (a message through member
/// `round % 3` opens it if nobody has it) and returns that member.
async fn open_somewhere(
    cluster: &DynCluster,
    account: &str,
    round: usize,
    ledger: &Arc<Mutex<Ledger>>,
    serial: &Arc<AtomicU64>,
) -> anyhow::Result<usize> {
    let entry = round % cluster.members.len();
    let started = Instant::now();
    loop {
        let ports = &cluster.members[entry].server.ports;
        send_one(ports.smtp(), account, ledger, serial).await;
        // Reading it opens it too, should the mail have been queued.
        let _ = client::login_select(ports.imap(), CLIENT_IP, account, PASSWORD, PROBE_LIMIT).await;
        if let Some(owner) = cluster.admin(entry).owner(account).await?
            && let Some(index) = cluster.index_of(&owner)
        {
            return Ok(index);
        }
        if started.elapsed() > ROUND_LIMIT {
            bail!("{account} is not open on any member");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends one message and records whether it was acknowledged.
async fn send_one(smtp: SocketAddr, account: &str, ledger: &Mutex<Ledger>, serial: &AtomicU64) {
    let id = format!("<failover-{}@bench.example>", serial.fetch_add(1, Ordering::Relaxed));
    let result = client::send(smtp, CLIENT_IP, account, &id).await;
    if let Ok(mut ledger) = ledger.lock() {
        let book = if result.is_ok() { &mut ledger.acknowledged } else { &mut ledger.unacknowledged };
        book.entry(account.to_owned()).or_default().insert(id);
    }
}

/// The small load of one round: mail and IMAP sessions for one account
/// through the survivors-to-be, alternately.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: JoinSet<(u64, u64)>,
}

impl Load {
    fn start(entries: &[testkit::Ports], account: &str, ledger: &Arc<Mutex<Ledger>>, serial: &Arc<AtomicU64>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = JoinSet::new();
        let smtp: Vec<SocketAddr> = entries.iter().map(testkit::Ports::smtp).collect();
        let imap: Vec<SocketAddr> = entries.iter().map(testkit::Ports::imap).collect();
        let (sender_account, ledger, serial, stopped) =
            (account.to_owned(), ledger.clone(), serial.clone(), stop.clone());
        tasks.spawn(async move {
            let mut n = 0;
            while !stopped.load(Ordering::Relaxed) {
                send_one(smtp[n % smtp.len()], &sender_account, &ledger, &serial).await;
                n += 1;
                tokio::time::sleep(SEND_INTERVAL).await;
            }
            (0, 0)
        });
        let (account, stopped) = (account.to_owned(), stop.clone());
        tasks.spawn(async move {
            let (mut ok, mut failed, mut n) = (0, 0, 0);
            while !stopped.load(Ordering::Relaxed) {
                match client::login_select(imap[n % imap.len()], CLIENT_IP, &account, PASSWORD, PROBE_LIMIT).await {
                    Ok(_) => ok += 1,
                    Err(_) => failed += 1,
                }
                n += 1;
                tokio::time::sleep(READ_INTERVAL).await;
            }
            (ok, failed)
        });
        Load { stop, tasks }
    }

    /// Stops the load; the IMAP sessions that worked and failed.
    async fn stop(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut ok, mut failed) = (0, 0);
        while let Some(Ok((o, f))) = self.tasks.join_next().await {
            ok += o;
            failed += f;
        }
        (ok, failed)
    }
}

/// Waits until every acknowledged message has landed (mail queued for a
/// dead owner is retried every second), then compares each mailbox with
/// the ledger: (lost, duplicated, unknown).
async fn settle(
    cluster: &DynCluster,
    accounts: &[String],
    ledger: &Mutex<Ledger>,
) -> anyhow::Result<(usize, usize, usize)> {
    let (acknowledged, unacknowledged) = {
        let ledger = ledger.lock().map_err(|_| anyhow::anyhow!("the ledger's lock is poisoned"))?;
        (ledger.acknowledged.clone(), ledger.unacknowledged.clone())
    };
    let imap = cluster.members[0].server.ports.imap();
    let started = Instant::now();
    loop {
        let mut lost = 0;
        let mut duplicated = 0;
        let mut unknown = 0;
        for account in accounts {
            let ids = client::message_ids(imap, CLIENT_IP, account, PASSWORD)
                .await
                .with_context(|| format!("reading {account}"))?;
            let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
            for id in &ids {
                *seen.entry(id.as_str()).or_default() += 1;
            }
            let acked = acknowledged.get(account);
            let cut = unacknowledged.get(account);
            lost += acked.map_or(0, |acked| acked.iter().filter(|id| !seen.contains_key(id.as_str())).count());
            duplicated += seen.values().filter(|&&n| n > 1).count();
            unknown += seen
                .keys()
                .filter(|id| !acked.is_some_and(|a| a.contains(**id)) && !cut.is_some_and(|c| c.contains(**id)))
                .count();
        }
        if lost == 0 || started.elapsed() > SETTLE_LIMIT {
            return Ok((lost, duplicated, unknown));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
