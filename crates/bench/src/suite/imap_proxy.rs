//! IMAP through a frontend (issue 5): the IMAP mix of `load::imap` run
//! five ways in one run, with the same clients, accounts and mail:
//! straight to a Rookery backend, through a Rookery frontend (a second
//! `rookery serve`, `role = "frontend"`, finding the backend in a private
//! slapd), through HAProxy in TCP mode to the same backend (when
//! installed: the cost of the extra hop alone, the floor of any
//! frontend), straight to a Dovecot, and through a Dovecot proxy (a second
//! Dovecot whose passdb says `proxy=y`). Backends listen on one loopback
//! address, the frontend and the proxy on another, and the clients
//! connect from a third.
//!
//! Beside commands/s it records, per run, the CPU time each server
//! process used (where the frontend's cost goes), and it samples the
//! established connections between the members several times a second:
//! client sessions (M), frontend-to-backend IMAP connections, cluster-link
//! connections and directory (LDAP) connections, to compare with CM-33
//! ("pure frontend-backend: about M").

use super::{PASSWORD, Settings};
use crate::cluster::{Addresses, Cluster};
use crate::connections::{self, Counts, Sampler};
use crate::cpu;
use crate::dovecot::{Dovecot, DovecotProxy};
use crate::haproxy::Haproxy;
use crate::load::imap::{Mix, Op};
use crate::load::message::Message;
use crate::load::smtp::{BENCH_SENDER, Delivery, Dialect};
use crate::memory;
use crate::report::{median, percentile};
use anyhow::{Context, ensure};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// The backends' address (Rookery's backend and the backend Dovecot).
const BACKEND_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 5, 1));
/// The frontends' address (Rookery's frontend and the Dovecot proxy).
const FRONTEND_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 5, 2));
/// The clients' address: never one the backends trust for PROXY headers.
const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 5, 3));
/// The accounts' domain, shared by the cluster (Dovecot takes any).
const DOMAIN: &str = "bench.test";
const FILL_CONNECTIONS: usize = 8;
/// Through a frontend, Rookery keeps at least this share of its direct
/// throughput...
const FRONTEND_TARGET: f64 = 0.90;
/// ...and beats Dovecot through its proxy (ratio above 1).
const VERSUS_DOVECOT_TARGET: f64 = 1.0;

/// The ways to the mailboxes, in the order each repetition runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Way {
    RookeryDirect,
    RookeryFrontend,
    RookeryHaproxy,
    DovecotDirect,
    DovecotProxy,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::RookeryDirect => "rookery direct",
            Way::RookeryFrontend => "rookery via frontend",
            Way::RookeryHaproxy => "rookery via haproxy",
            Way::DovecotDirect => "dovecot direct",
            Way::DovecotProxy => "dovecot via proxy",
        }
    }
}

/// Where one way's clients connect, whose CPU is counted, and which
/// connections are watched while it runs.
struct Route {
    way: Way,
    entry: SocketAddr,
    /// The process trees that serve this path: the front (frontend or
    /// proxy; none for a direct path) and the backend.
    front: Option<u32>,
    back: u32,
    /// Listeners whose incoming connections are sampled: the entry (M),
    /// the backend's IMAP (inter-server when proxied), the cluster link,
    /// the directory.
    watches: Watches,
}

#[derive(Clone)]
struct Watches {
    backend_imap: SocketAddr,
    links: Vec<SocketAddr>,
    directory: Vec<SocketAddr>,
}

/// One run of one path.
#[derive(Debug, Clone, Default)]
struct Point {
    commands_per_s: f64,
    sessions_per_s: f64,
    login_p99_ms: f64,
    session_p99_ms: f64,
    /// CPU microseconds per command of the front, the backend and the
    /// bench itself.
    front_us: f64,
    back_us: f64,
    bench_us: f64,
    clients: Counts,
    backend_imap: Counts,
    links: Counts,
    directory: Counts,
}

/// The servers of the suite; either side may be absent (`--servers`).
struct Servers {
    /// Relays to the Rookery backend; dropped before it.
    haproxy: Option<Haproxy>,
    // Dropped before the Dovecot backend: the proxy first.
    dovecot_proxy: Option<DovecotProxy>,
    dovecot: Option<Dovecot>,
    cluster: Option<Cluster>,
}

pub(super) async fn run(settings: &Settings) -> anyhow::Result<String> {
    connections::check_ss()?;
    let message = Arc::new(Message::new(settings.message_size)?);
    let serial = Arc::new(AtomicU64::new(1));
    let n_accounts = settings.imap_concurrency.iter().copied().max().unwrap_or(1);
    let accounts: Arc<[String]> = (1..=n_accounts).map(|i| format!("i{i}@{DOMAIN}")).collect();
    let servers = start(settings).await?;
    let routes = routes(&servers)?;

    let total = n_accounts * settings.imap_messages as usize;
    let fill = |addr: SocketAddr| Delivery {
        addr,
        source: Some(CLIENT_IP),
        dialect: Dialect::Lmtp,
        connections: FILL_CONNECTIONS,
        messages: total,
        recipients: Delivery::recipient_lines(&accounts),
        mail_from: Delivery::mail_from_line(BENCH_SENDER),
        auth: None,
        message: message.clone(),
        serial: serial.clone(),
    };
    let mix = |addr: SocketAddr, clients: usize, duration: Duration| Mix {
        addr,
        source: Some(CLIENT_IP),
        clients,
        accounts: accounts.clone(),
        password: PASSWORD.to_owned(),
        messages_per_account: settings.imap_messages,
        duration,
        min_sessions: 1,
        message: message.clone(),
        serial: serial.clone(),
    };
    if let Some(cluster) = &servers.cluster {
        let admin = cluster.backend.admin()?;
        admin.add_domain(DOMAIN).await?;
        admin.add_accounts(&accounts, PASSWORD).await?;
        let start = Instant::now();
        fill(cluster.backend.listener("lmtp")?).run().await.context("filling the rookery backend")?;
        for account in accounts.iter() {
            let count = admin.message_count(account).await?;
            ensure!(count == u64::from(settings.imap_messages), "rookery: {account} holds {count} messages");
        }
        eprintln!(
            "bench: filled the rookery backend's {total} IMAP messages in {:.2} s",
            start.elapsed().as_secs_f64()
        );
    }
    if let Some(dovecot) = &servers.dovecot {
        let start = Instant::now();
        fill(dovecot.lmtp).run().await.with_context(|| format!("filling dovecot\n{}", dovecot.diagnostics()))?;
        for account in accounts.iter() {
            let count = dovecot.message_count(account)?;
            ensure!(count == u64::from(settings.imap_messages), "dovecot: {account} holds {count} messages");
        }
        eprintln!(
            "bench: filled the dovecot backend's {total} IMAP messages in {:.2} s",
            start.elapsed().as_secs_f64()
        );
    }
    // One untimed session per account on every path: Dovecot builds its
    // indexes, the frontend's host cache and the backend's mailboxes warm.
    for route in &routes {
        mix(route.entry, n_accounts, Duration::ZERO)
            .run()
            .await
            .with_context(|| format!("{} warm-up\n{}", route.way.name(), servers.diagnostics(route.way)))?;
    }

    let duration = Duration::from_secs_f64(settings.imap_seconds);
    let mut points: BTreeMap<(usize, Way), Vec<Point>> = BTreeMap::new();
    for &clients in &settings.imap_concurrency {
        for repetition in 1..=settings.repetitions {
            for route in &routes {
                let point = measure(route, mix(route.entry, clients, duration))
                    .await
                    .with_context(|| format!("{} imap\n{}", route.way.name(), servers.diagnostics(route.way)))?;
                report_point(
                    &format!("{} c={clients} rep {repetition}/{}", route.way.name(), settings.repetitions),
                    &point,
                );
                points.entry((clients, route.way)).or_default().push(point);
            }
        }
    }
    Ok(format!("{}\n{}", heading(settings), tables(&settings.imap_concurrency, &points)))
}

async fn start(settings: &Settings) -> anyhow::Result<Servers> {
    let cluster = match &settings.rookery_bin {
        Some(binary) => {
            let addresses = Addresses { backend: BACKEND_IP, frontend: FRONTEND_IP };
            let binary = binary.clone();
            let cluster = tokio::task::spawn_blocking(move || Cluster::start(&binary, addresses)).await??;
            eprintln!(
                "bench: rookery backend imap {} (pid {}), frontend imap {} (pid {}), directory {}",
                cluster.backend.listener("imap")?,
                cluster.backend.pid().unwrap_or_default(),
                cluster.frontend.listener("imap")?,
                cluster.frontend.pid().unwrap_or_default(),
                cluster.directory()
            );
            Some(cluster)
        }
        None => None,
    };
    let haproxy = match (&cluster, Haproxy::binary()) {
        (Some(cluster), Some(binary)) => {
            // From the frontend's address, which the backend trusts for
            // PROXY headers.
            let haproxy = Haproxy::start(&binary, FRONTEND_IP, cluster.backend.listener("imap")?).await?;
            eprintln!("bench: haproxy imap {} (pid {})", haproxy.imap, haproxy.pid().unwrap_or_default());
            Some(haproxy)
        }
        (Some(_), None) => {
            eprintln!("bench: haproxy not installed (apt-get install haproxy): its way is skipped");
            None
        }
        (None, _) => None,
    };
    let (dovecot, dovecot_proxy) = match &settings.dovecot_bin {
        Some(binary) => {
            // The proxy connects from its own address, as Rookery's
            // frontend does, and the backend believes the client addresses
            // it forwards.
            let dovecot = Dovecot::start_on(binary, BACKEND_IP, Some(FRONTEND_IP)).await?;
            let proxy = DovecotProxy::start(binary, FRONTEND_IP, dovecot.imap).await?;
            eprintln!("bench: dovecot imap {}, dovecot proxy imap {}", dovecot.imap, proxy.imap);
            (Some(dovecot), Some(proxy))
        }
        None => (None, None),
    };
    Ok(Servers { haproxy, dovecot_proxy, dovecot, cluster })
}

fn routes(servers: &Servers) -> anyhow::Result<Vec<Route>> {
    let mut routes = Vec::new();
    if let Some(cluster) = &servers.cluster {
        let watches = Watches {
            backend_imap: cluster.backend.listener("imap")?,
            links: vec![cluster.backend.link(), cluster.frontend.link()],
            directory: vec![cluster.directory()],
        };
        let back = cluster.backend.pid().context("the rookery backend is not running")?;
        let front = cluster.frontend.pid().context("the rookery frontend is not running")?;
        routes.push(Route {
            way: Way::RookeryDirect,
            entry: watches.backend_imap,
            front: None,
            back,
            watches: watches.clone(),
        });
        routes.push(Route {
            way: Way::RookeryFrontend,
            entry: cluster.frontend.listener("imap")?,
            front: Some(front),
            back,
            watches: watches.clone(),
        });
        if let Some(haproxy) = &servers.haproxy {
            let front = haproxy.pid().context("haproxy is not running")?;
            routes.push(Route { way: Way::RookeryHaproxy, entry: haproxy.imap, front: Some(front), back, watches });
        }
    }
    if let (Some(dovecot), Some(proxy)) = (&servers.dovecot, &servers.dovecot_proxy) {
        let watches = Watches { backend_imap: dovecot.imap, links: Vec::new(), directory: Vec::new() };
        let back = dovecot.pid().context("dovecot is not running")?;
        let front = proxy.pid().context("the dovecot proxy is not running")?;
        routes.push(Route {
            way: Way::DovecotDirect,
            entry: dovecot.imap,
            front: None,
            back,
            watches: watches.clone(),
        });
        routes.push(Route { way: Way::DovecotProxy, entry: proxy.imap, front: Some(front), back, watches });
    }
    Ok(routes)
}

impl Servers {
    fn diagnostics(&self, way: Way) -> String {
        match way {
            Way::RookeryDirect | Way::RookeryFrontend | Way::RookeryHaproxy => {
                let haproxy = self.haproxy.as_ref().map(Haproxy::diagnostics).unwrap_or_default();
                self.cluster.as_ref().map_or_else(String::new, |c| {
                    format!("backend:\n{}\nfrontend:\n{}\n{haproxy}", c.backend.diagnostics(), c.frontend.diagnostics())
                })
            }
            Way::DovecotDirect | Way::DovecotProxy => {
                let backend = self.dovecot.as_ref().map(Dovecot::diagnostics).unwrap_or_default();
                let proxy = self.dovecot_proxy.as_ref().map(DovecotProxy::diagnostics).unwrap_or_default();
                format!("backend:\n{backend}\nproxy:\n{proxy}")
            }
        }
    }
}

/// The CPU ticks of a process and everything below it (Dovecot's login
/// and mail processes; a Rookery member is one process).
fn tree_ticks(root: u32) -> anyhow::Result<u64> {
    Ok(cpu::ticks(&memory::tree(root)?))
}

/// Runs `mix` on `route` with the CPU clocks and the connection sampler
/// around it.
async fn measure(route: &Route, mix: Mix) -> anyhow::Result<Point> {
    let bench = std::process::id();
    let cpu_before =
        [route.front.map(tree_ticks).transpose()?, Some(tree_ticks(route.back)?), Some(cpu::ticks(&[bench]))];
    let watches = &route.watches;
    let sampler = Sampler::start(vec![
        vec![route.entry],
        vec![watches.backend_imap],
        watches.links.clone(),
        watches.directory.clone(),
    ]);
    let result = mix.run().await;
    let counts = sampler.finish()?;
    let result = result?;
    let cpu_after =
        [route.front.map(tree_ticks).transpose()?, Some(tree_ticks(route.back)?), Some(cpu::ticks(&[bench]))];
    let seconds = result.elapsed.as_secs_f64();
    let operations = result.operations() as f64;
    let us_per_command = |i: usize| match (cpu_before[i], cpu_after[i]) {
        (Some(before), Some(after)) if operations > 0.0 => {
            after.saturating_sub(before) as f64 / cpu::TICKS_PER_SECOND * 1e6 / operations
        }
        _ => 0.0,
    };
    let p99_ms = |samples: &[Duration]| percentile(samples, 0.99).map_or(0.0, |p| p.as_secs_f64() * 1000.0);
    Ok(Point {
        commands_per_s: operations / seconds,
        sessions_per_s: result.sessions as f64 / seconds,
        login_p99_ms: p99_ms(&result.latencies[Op::Login as usize]),
        session_p99_ms: p99_ms(&result.session_latencies),
        front_us: us_per_command(0),
        back_us: us_per_command(1),
        bench_us: us_per_command(2),
        clients: counts[0],
        backend_imap: counts[1],
        links: counts[2],
        directory: counts[3],
    })
}

fn report_point(label: &str, point: &Point) {
    eprintln!(
        "  {label}: {:.0} commands/s, {:.1} sessions/s; p99 login {:.1} ms, session {:.1} ms; CPU per command: \
         front {:.0} us, backend {:.0} us, bench {:.0} us; connections max/median: clients {}/{}, to backend \
         imap {}/{}, link {}/{}, directory {}/{}",
        point.commands_per_s,
        point.sessions_per_s,
        point.login_p99_ms,
        point.session_p99_ms,
        point.front_us,
        point.back_us,
        point.bench_us,
        point.clients.max,
        point.clients.median,
        point.backend_imap.max,
        point.backend_imap.median,
        point.links.max,
        point.links.median,
        point.directory.max,
        point.directory.median,
    );
}

/// The median of one figure over a point's repetitions.
fn med(points: Option<&Vec<Point>>, figure: impl Fn(&Point) -> f64) -> Option<f64> {
    median(&points?.iter().map(figure).collect::<Vec<_>>())
}

fn shown(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v < 100.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.0}"),
    }
}

/// A connection count: whole, or with the half a median of an even
/// number of samples can have.
fn count(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
    }
}

fn ratio(over: Option<f64>, under: Option<f64>) -> Option<f64> {
    Some(over? / under?)
}

fn verdict(value: Option<f64>, target: f64, above: bool) -> String {
    match value {
        None => String::new(),
        Some(v) if (above && v > target) || (!above && v >= target) => "met".to_owned(),
        Some(_) => "missed".to_owned(),
    }
}

/// What the tables are of: one line above them.
fn heading(settings: &Settings) -> String {
    format!(
        "IMAP through a frontend: the IMAP mix, {} s per run, one account per client ({} messages of {} B each), \
         median of {} repetition(s); clients on {CLIENT_IP}, frontend and proxy on {FRONTEND_IP}, backends on \
         {BACKEND_IP}\n",
        settings.imap_seconds, settings.imap_messages, settings.message_size, settings.repetitions
    )
}

/// The suite's tables (Markdown), for the client counts `levels`.
fn tables(levels: &[usize], points: &BTreeMap<(usize, Way), Vec<Point>>) -> String {
    let get = |clients: usize, way: Way| points.get(&(clients, way));
    let mut out = String::new();
    out.push_str(
        "| clients | rookery direct cmd/s | rookery via frontend cmd/s | frontend ratio | rookery via haproxy cmd/s \
         | haproxy ratio | dovecot direct cmd/s | dovecot via proxy cmd/s | proxy ratio \
         | rookery / dovecot, both proxied | targets |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for &clients in levels {
        let rate = |path| med(get(clients, path), |p| p.commands_per_s);
        let (rd, rf, dd, dp) =
            (rate(Way::RookeryDirect), rate(Way::RookeryFrontend), rate(Way::DovecotDirect), rate(Way::DovecotProxy));
        let frontend_ratio = ratio(rf, rd);
        let versus = ratio(rf, dp);
        let mut targets = Vec::new();
        if frontend_ratio.is_some() {
            targets
                .push(format!("frontend >= {FRONTEND_TARGET:.2} {}", verdict(frontend_ratio, FRONTEND_TARGET, false)));
        }
        if versus.is_some() {
            targets.push(format!("rookery > dovecot {}", verdict(versus, VERSUS_DOVECOT_TARGET, true)));
        }
        let rh = rate(Way::RookeryHaproxy);
        let _ = writeln!(
            out,
            "| {clients} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            shown(rd),
            shown(rf),
            shown(frontend_ratio),
            shown(rh),
            shown(ratio(rh, rd)),
            shown(dd),
            shown(dp),
            shown(ratio(dp, dd)),
            shown(versus),
            targets.join("; ")
        );
    }

    out.push_str(
        "\nLatency and CPU per path (medians): p99 of LOGIN and of a whole session (connect to LOGOUT); CPU time \
         per command of the front (frontend, haproxy or proxy), the backend and the bench's own client, in microseconds\n\n\
         | clients | path | sessions/s | LOGIN p99 ms | session p99 ms | front CPU us/cmd | backend CPU us/cmd \
         | bench CPU us/cmd |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for &clients in levels {
        for (&(c, path), runs) in points.range((clients, Way::RookeryDirect)..=(clients, Way::DovecotProxy)) {
            let m = |figure: fn(&Point) -> f64| shown(med(Some(runs), figure));
            let front = if matches!(path, Way::RookeryDirect | Way::DovecotDirect) {
                "-".to_owned()
            } else {
                m(|p| p.front_us)
            };
            let _ = writeln!(
                out,
                "| {c} | {} | {} | {} | {} | {front} | {} | {} |",
                path.name(),
                m(|p| p.sessions_per_s),
                m(|p| p.login_p99_ms),
                m(|p| p.session_p99_ms),
                m(|p| p.back_us),
                m(|p| p.bench_us),
            );
        }
    }

    out.push_str(
        "\nConnections under load, sampled every 200 ms during each proxied run (max / median over the run, \
         median over the repetitions): M = client sessions open at the frontend or proxy; CM-33 expects \
         about M frontend-backend connections for a pure frontend-backend cluster\n\n\
         | clients | path | client sessions M | frontend -> backend IMAP | per M (medians) | cluster link \
         | directory (LDAP) |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for &clients in levels {
        for path in [Way::RookeryFrontend, Way::RookeryHaproxy, Way::DovecotProxy] {
            let Some(runs) = get(clients, path) else { continue };
            let both = |counts: fn(&Point) -> Counts| {
                let max = med(Some(runs), |p| counts(p).max as f64);
                let median = med(Some(runs), |p| counts(p).median);
                format!("{} / {}", count(max), count(median))
            };
            let per_m = ratio(med(Some(runs), |p| p.backend_imap.median), med(Some(runs), |p| p.clients.median));
            let rookery = path != Way::DovecotProxy;
            let _ = writeln!(
                out,
                "| {clients} | {} | {} | {} | {} | {} | {} |",
                path.name(),
                both(|p| p.clients),
                both(|p| p.backend_imap),
                shown(per_m),
                if rookery { both(|p| p.links) } else { "-".to_owned() },
                if rookery { both(|p| p.directory) } else { "-".to_owned() },
            );
        }
    }
    out
}

#[cfg(test)]
mod tests;
