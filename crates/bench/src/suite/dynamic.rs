//! The dynamic cluster (issue 6): account failover time over a number of
//! `kill -9`s at one or more lease TTLs (`failover`), with a check that no
//! acknowledged message was lost or doubled; the IMAP mix against one
//! server and against a three-member dynamic cluster (`mix`); and the
//! connections between members during the cluster's runs against CM-33's
//! M*(N-1)/N*A/T. There is no Dovecot here: Dovecot has no dynamic
//! cluster to compare with.

mod client;
mod failover;
mod members;
mod mix;
mod sockets;

use crate::connections;
use failover::Failover;
use mix::MixResult;
pub use mix::MixSettings;
use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

/// What to run, from the command line.
pub struct Settings {
    pub rookery_bin: PathBuf,
    /// Kills per lease TTL.
    pub kills: usize,
    pub lease_ttls: Vec<Duration>,
    pub mix: MixSettings,
}

impl Settings {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.lease_ttls.is_empty(), "--lease-ttl needs at least one TTL");
        // The fence margin is 1 s: a TTL must leave time beyond it.
        anyhow::ensure!(
            self.lease_ttls.iter().all(|ttl| *ttl >= Duration::from_secs(2)),
            "--lease-ttl must be at least 2 s"
        );
        anyhow::ensure!(self.mix.levels.iter().all(|&c| c > 0), "client counts must be positive");
        anyhow::ensure!(self.mix.messages >= 50, "--imap-messages must be at least 50");
        anyhow::ensure!(self.mix.repetitions > 0, "--repetitions must be positive");
        Ok(())
    }
}

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    connections::check_ss()?;
    eprintln!(
        "bench: dynamic: {} kills at lease TTL {:?}; IMAP mix {} messages per account, {} s per run, clients {:?}, \
         {} repetition(s)",
        settings.kills,
        settings.lease_ttls,
        settings.mix.messages,
        settings.mix.seconds,
        settings.mix.levels,
        settings.mix.repetitions
    );
    let mut failovers = Vec::new();
    if settings.kills > 0 {
        for &ttl in &settings.lease_ttls {
            failovers.push(failover::run(&settings.rookery_bin, settings.kills, ttl).await?);
        }
    }
    let mix = mix::run(&settings.rookery_bin, &settings.mix).await?;
    println!("{}", report(settings, &failovers, &mix));
    Ok(())
}

fn report(settings: &Settings, failovers: &[Failover], mix: &MixResult) -> String {
    let mut out = String::new();
    if !failovers.is_empty() {
        out.push_str(
            "Failover after kill -9 of the member that has the account open (three members, one-node etcd): time \
             from the kill to a working LOGIN + SELECT through a survivor, probed every 25 ms\n\n\
             | lease TTL | kills | median s | worst s | bound TTL + 2 s | acknowledged | not acknowledged | lost \
             | duplicated | unknown | load IMAP sessions ok / failed |\n\
             | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for f in failovers {
            let bound = f.lease_ttl + Duration::from_secs(2);
            let worst = f.worst().unwrap_or_default();
            let _ = writeln!(
                out,
                "| {:.0} s | {} | {} | {:.2} | {} | {} | {} | {} | {} | {} | {} / {} |",
                f.lease_ttl.as_secs_f64(),
                f.times.len(),
                f.median().map_or_else(|| "-".to_owned(), |m| format!("{m:.2}")),
                worst.as_secs_f64(),
                if worst <= bound { "met" } else { "missed" },
                f.acknowledged,
                f.unacknowledged,
                f.lost,
                f.duplicated,
                f.unknown,
                f.reads_ok,
                f.reads_failed
            );
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "IMAP mix, {} s per run, one account per client ({} messages of {} B each), median of {} repetition(s); \
         single = one rookery server (local directory); cluster = three dynamic members (LDAP directory, etcd), \
         either each client at the member that has its account open, or spread so that most sessions are proxied \
         once to the owner; CPU = user + system time of the server processes (the three members together)\n",
        settings.mix.seconds, settings.mix.messages, settings.mix.message_size, settings.mix.repetitions
    );
    out.push_str(
        "| clients | single cmd/s | cluster, each client at its owner | cluster, spread | spread / single \
         | at owners / single | sessions proxied (spread) | CPU us/cmd single | CPU us/cmd cluster at owners \
         | CPU us/cmd cluster spread | etcd CPU us/cmd at owners / spread |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for &clients in &settings.mix.levels {
        let single = mix.median(clients, |p| p.single);
        let owner = mix.median(clients, |p| p.owner);
        let cluster = mix.median(clients, |p| p.cluster);
        let ratio = |over: Option<f64>| single.zip(over).map(|(s, o)| o / s);
        let _ = writeln!(
            out,
            "| {clients} | {} | {} | {} | {} | {} | {:.0} % | {} | {} | {} | {} / {} |",
            shown(single),
            shown(owner),
            shown(cluster),
            shown(ratio(cluster)),
            shown(ratio(owner)),
            mix.proxied.get(&clients).copied().unwrap_or_default() * 100.0,
            shown(mix.median(clients, |p| p.single_us)),
            shown(mix.median(clients, |p| p.owner_us)),
            shown(mix.median(clients, |p| p.cluster_us)),
            shown(mix.median(clients, |p| p.owner_etcd_us)),
            shown(mix.median(clients, |p| p.cluster_etcd_us)),
        );
    }
    let members = 3.0;
    let a_over_t = mix.open as f64 / mix.total.max(1) as f64;
    let _ = writeln!(
        out,
        "\nConnections between members during the cluster runs (max / median of 200 ms samples, median over the \
         repetitions). CM-33: M*(N-1)/N*A/T with M = client sessions (median), N = {members:.0} members, A = \
         accounts open on some member after the runs ({}), T = all accounts ({}); here every session's account is \
         open, so the sessions proxied are those whose entry member is not the owner\n",
        mix.open, mix.total
    );
    out.push_str(
        "| clients | client sessions M | member -> member IMAP | cluster link | CM-33 M*(N-1)/N*A/T | measured / CM-33 \
         | expected from the entry plan M*share |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for &clients in &settings.mix.levels {
        let both = |pick: fn(&mix::Point) -> connections::Counts| {
            format!(
                "{} / {}",
                shown(mix.median(clients, |p| pick(p).max as f64)),
                shown(mix.median(clients, |p| pick(p).median))
            )
        };
        let m = mix.median(clients, |p| p.seen.clients.median);
        let hops = mix.median(clients, |p| p.seen.hops.median);
        let cm33 = m.map(|m| m * (members - 1.0) / members * a_over_t);
        let plan = m.map(|m| m * mix.proxied.get(&clients).copied().unwrap_or_default());
        let _ = writeln!(
            out,
            "| {clients} | {} | {} | {} | {} | {} | {} |",
            both(|p| p.seen.clients),
            both(|p| p.seen.hops),
            both(|p| p.seen.links),
            shown(cm33),
            shown(hops.zip(cm33).filter(|(_, e)| *e > 0.0).map(|(h, e)| h / e)),
            shown(plan)
        );
    }
    out
}

/// A figure: two decimals below 100, whole above.
fn shown(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v < 100.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.0}"),
    }
}
