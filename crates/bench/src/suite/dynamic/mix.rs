//! The IMAP mix (`load::imap`) against one Rookery server and against a
//! three-member dynamic cluster, with the same clients, account count and
//! mail. In the cluster, account k is filled (and so opened) through
//! member k mod 3, and its client connects to a member chosen so that
//! about two sessions in three enter at a member that does not have the
//! account open and are proxied once to its owner (CM-13). While the
//! cluster runs, the established connections between members are
//! sampled (`sockets`), to compare with CM-33.

use super::client;
use super::members::{DOMAIN, DynCluster, Options};
use super::sockets::{Sampler, Seen, Watch};
use crate::cpu;
use crate::load::imap::Mix;
use crate::load::message::Message;
use crate::load::smtp::{BENCH_SENDER, Delivery, Dialect};
use crate::report::median;
use crate::rookery::Rookery;
use anyhow::{Context, ensure};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// Where the cluster's clients connect from: never a member's address.
const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 7, 9));
const PASSWORD: &str = "mix-bench-pw";
const MEMBERS: usize = 3;
const FILL_CONNECTIONS: usize = 4;

/// The mix's settings, the IMAP suite's flags.
pub struct MixSettings {
    pub levels: Vec<usize>,
    pub messages: u32,
    pub seconds: f64,
    pub repetitions: usize,
    pub message_size: usize,
}

/// One repetition at one client count: commands/s of the single server,
/// of the cluster with every client at its account's owner (no hop), and
/// of the cluster with clients spread (most proxied once); CPU time per
/// command of the single server, of the three members together, and of
/// etcd in the cluster's runs.
#[derive(Debug, Clone, Default)]
pub struct Point {
    pub single: f64,
    pub owner: f64,
    pub cluster: f64,
    pub single_us: f64,
    pub owner_us: f64,
    pub cluster_us: f64,
    pub owner_etcd_us: f64,
    pub cluster_etcd_us: f64,
    pub seen: Seen,
}

/// Everything the mix measured.
pub struct MixResult {
    pub points: BTreeMap<usize, Vec<Point>>,
    /// Per client count: the share of clients that enter at a member that
    /// does not own their account.
    pub proxied: BTreeMap<usize, f64>,
    /// Accounts open on some member after the runs (A) of all (T).
    pub open: usize,
    pub total: usize,
}

impl MixResult {
    pub fn median(&self, clients: usize, figure: impl Fn(&Point) -> f64) -> Option<f64> {
        median(&self.points.get(&clients)?.iter().map(figure).collect::<Vec<_>>())
    }
}

pub async fn run(binary: &Path, settings: &MixSettings) -> anyhow::Result<MixResult> {
    let message = Arc::new(Message::new(settings.message_size)?);
    let serial = Arc::new(AtomicU64::new(1));
    let n = settings.levels.iter().copied().max().unwrap_or(1);
    let duration = Duration::from_secs_f64(settings.seconds);

    let single = Rookery::start(binary).await?;
    let single_accounts: Arc<[String]> = (1..=n).map(|i| format!("s{i}@{}", single.domain())).collect();
    single.add_accounts(&single_accounts, PASSWORD).await?;
    fill(single.lmtp(), None, &single_accounts, settings.messages, &message, &serial).await?;

    let options =
        Options { members: MEMBERS, lease_ttl: Duration::from_secs(5), idle_release: Duration::from_secs(600) };
    let binary_owned = binary.to_owned();
    let cluster = tokio::task::spawn_blocking(move || DynCluster::start(&binary_owned, options)).await??;
    let accounts: Vec<String> = (1..=n).map(|i| format!("d{i}@{DOMAIN}")).collect();
    cluster.admin(0).common.add_accounts(&accounts, PASSWORD).await?;
    let started = Instant::now();
    for member in 0..MEMBERS {
        let mine: Vec<String> = accounts.iter().skip(member).step_by(MEMBERS).cloned().collect();
        if !mine.is_empty() {
            let lmtp = cluster.members[member].server.ports.lmtp();
            fill(lmtp, Some(CLIENT_IP), &mine, settings.messages, &message, &serial)
                .await
                .with_context(|| format!("filling through {}", cluster.members[member].name))?;
        }
    }
    // Mail a member handed to another over the link may still be queued.
    // Read through the member that filled it, so that an account the
    // delivery left closed opens there.
    let imap = cluster.imap();
    for (k, account) in accounts.iter().enumerate() {
        let ready = Instant::now();
        while client::login_select(imap[k % MEMBERS], CLIENT_IP, account, PASSWORD, Duration::from_secs(10)).await.ok()
            != Some(settings.messages)
        {
            ensure!(
                ready.elapsed() < Duration::from_secs(60),
                "{account} did not get its {} messages",
                settings.messages
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    eprintln!("bench: filled the cluster's {n} accounts in {:.1} s", started.elapsed().as_secs_f64());
    let mut owners = Vec::new();
    for account in &accounts {
        let owner = cluster.admin(0).owner(account).await?.with_context(|| format!("{account} is not open"))?;
        owners.push(cluster.index_of(&owner).with_context(|| format!("{account} is open on {owner}?"))?);
    }
    let watch = Watch { imap: imap.clone(), links: cluster.links(), client_ip: CLIENT_IP };
    let base = Base { password: PASSWORD, messages: settings.messages, message, serial };

    // Warm-up: one session per account on both.
    base.mix(single.imap(), None, single_accounts.clone(), Duration::ZERO).run().await.context("single warm-up")?;
    cluster_mix(&base, &imap, &accounts, &entries(&owners), Duration::ZERO).await.context("cluster warm-up")?;
    let single_pid = single.pid()?;
    let member_pids: Vec<u32> = cluster.members.iter().filter_map(|member| member.server.pid()).collect();
    let etcd_pid: Vec<u32> = cluster.etcd_pid().into_iter().collect();

    let mut points: BTreeMap<usize, Vec<Point>> = BTreeMap::new();
    let mut proxied = BTreeMap::new();
    for &clients in &settings.levels {
        let entries = entries(&owners[..clients]);
        let share = entries.iter().zip(&owners).filter(|(entry, owner)| entry != owner).count();
        proxied.insert(clients, share as f64 / clients as f64);
        for repetition in 1..=settings.repetitions {
            let before = cpu::ticks(&[single_pid]);
            let result = base.mix(single.imap(), None, single_accounts[..clients].into(), duration).run().await?;
            let single_run = Rate { operations: result.operations(), elapsed: result.elapsed };
            let single_us = single_run.us_per_command(before, cpu::ticks(&[single_pid]));

            let (before, etcd_before) = (cpu::ticks(&member_pids), cpu::ticks(&etcd_pid));
            let owner_run = cluster_mix(&base, &imap, &accounts, &owners[..clients], duration).await?;
            let owner_us = owner_run.us_per_command(before, cpu::ticks(&member_pids));
            let owner_etcd_us = owner_run.us_per_command(etcd_before, cpu::ticks(&etcd_pid));

            let (before, etcd_before) = (cpu::ticks(&member_pids), cpu::ticks(&etcd_pid));
            let sampler = Sampler::start(watch.clone());
            let spread_run = cluster_mix(&base, &imap, &accounts, &entries, duration).await;
            let seen = sampler.finish()?;
            let spread_run = spread_run?;
            let cluster_us = spread_run.us_per_command(before, cpu::ticks(&member_pids));
            let cluster_etcd_us = spread_run.us_per_command(etcd_before, cpu::ticks(&etcd_pid));
            let point = Point {
                single: single_run.per_second(),
                owner: owner_run.per_second(),
                cluster: spread_run.per_second(),
                single_us,
                owner_us,
                cluster_us,
                owner_etcd_us,
                cluster_etcd_us,
                seen,
            };
            eprintln!(
                "  mix c={clients} rep {repetition}/{}: commands/s single {:.0}, cluster at the owners {:.0}, \
                 cluster spread {:.0}; CPU us/command {:.0}, {:.0}, {:.0}, etcd {:.0}, {:.0}; connections max/median: client \
                 sessions {}/{}, member -> member IMAP {}/{}, link {}/{}",
                settings.repetitions,
                point.single,
                point.owner,
                point.cluster,
                point.single_us,
                point.owner_us,
                point.cluster_us,
                point.owner_etcd_us,
                point.cluster_etcd_us,
                seen.clients.max,
                seen.clients.median,
                seen.hops.max,
                seen.hops.median,
                seen.links.max,
                seen.links.median
            );
            points.entry(clients).or_default().push(point);
        }
    }
    let mut open = 0;
    for account in &accounts {
        open += usize::from(cluster.admin(0).owner(account).await?.is_some());
    }
    Ok(MixResult { points, proxied, open, total: accounts.len() })
}

/// What every run shares.
struct Base {
    password: &'static str,
    messages: u32,
    message: Arc<Message>,
    serial: Arc<AtomicU64>,
}

impl Base {
    fn mix(&self, addr: SocketAddr, source: Option<IpAddr>, accounts: Arc<[String]>, duration: Duration) -> Mix {
        Mix {
            addr,
            source,
            clients: accounts.len(),
            accounts,
            password: self.password.to_owned(),
            messages_per_account: self.messages,
            duration,
            min_sessions: 1,
            message: self.message.clone(),
            serial: self.serial.clone(),
        }
    }
}

/// The member each of the first clients enters at, given the member that
/// owns its account: client k goes to its owner plus 1, 2, 0, 1, 2, 0...
/// members on in blocks of three, so that two blocks in three are proxied
/// (and a single client is).
fn entries(owners: &[usize]) -> Vec<usize> {
    owners.iter().enumerate().map(|(k, owner)| (owner + (k / MEMBERS + 1) % MEMBERS) % MEMBERS).collect()
}

/// The mix with client k at member `entries[k]`, one mix per member run
/// at once.
async fn cluster_mix(
    base: &Base,
    imap: &[SocketAddr],
    accounts: &[String],
    entries: &[usize],
    duration: Duration,
) -> anyhow::Result<Rate> {
    let clients = entries.len();
    let mut runs = Vec::new();
    for (member, &addr) in imap.iter().enumerate() {
        let mine: Arc<[String]> = (0..clients).filter(|&k| entries[k] == member).map(|k| accounts[k].clone()).collect();
        if !mine.is_empty() {
            runs.push(base.mix(addr, Some(CLIENT_IP), mine, duration));
        }
    }
    let results = futures_join(runs.iter().map(Mix::run)).await;
    let mut operations = 0;
    let mut elapsed = Duration::ZERO;
    for result in results {
        let result = result?;
        operations += result.operations();
        elapsed = elapsed.max(result.elapsed);
    }
    ensure!(elapsed > Duration::ZERO, "no cluster run took any time");
    Ok(Rate { operations, elapsed })
}

/// What one timed run did.
struct Rate {
    operations: u64,
    elapsed: Duration,
}

impl Rate {
    fn per_second(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU microseconds per command, from the ticks before and after.
    fn us_per_command(&self, before: u64, after: u64) -> f64 {
        if self.operations == 0 {
            return 0.0;
        }
        after.saturating_sub(before) as f64 / cpu::TICKS_PER_SECOND * 1e6 / self.operations as f64
    }
}

/// Runs every future to its end at once (the mixes of the members).
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Delivers `messages` messages to each of `accounts` over LMTP at `lmtp`.
async fn fill(
    lmtp: SocketAddr,
    source: Option<IpAddr>,
    accounts: &[String],
    messages: u32,
    message: &Arc<Message>,
    serial: &Arc<AtomicU64>,
) -> anyhow::Result<()> {
    Delivery {
        addr: lmtp,
        source,
        dialect: Dialect::Lmtp,
        connections: FILL_CONNECTIONS,
        messages: accounts.len() * messages as usize,
        recipients: Delivery::recipient_lines(accounts),
        mail_from: Delivery::mail_from_line(BENCH_SENDER),
        auth: None,
        message: message.clone(),
        serial: serial.clone(),
    }
    .run()
    .await
    .context("filling the IMAP accounts")
}

#[cfg(test)]
mod tests {
    use super::entries;

    #[test]
    fn two_clients_in_three_enter_at_a_member_that_does_not_own_their_account() {
        let owners: Vec<usize> = (0..9).map(|k| k % 3).collect();
        let entries = entries(&owners);
        let proxied = entries.iter().zip(&owners).filter(|(e, o)| e != o).count();
        assert_eq!(proxied, 6);
        assert_ne!(entries[0], owners[0], "a single client is proxied");
        assert!(entries.iter().all(|&e| e < 3));
    }
}
