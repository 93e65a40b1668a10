//! A private OpenLDAP `slapd` on loopback with the project's schema, for
//! the LDAP directory and the static cluster's tests.
//!
//! The config is slapd.conf form in a temporary directory (core, cosine,
//! inetorgperson and `schema/rookery.schema`; one mdb database), so no
//! system-wide slapd state is read or changed. The base entry is loaded
//! with `slapadd` before the first start, so a test needs no LDAP client
//! to begin. slapd runs in the foreground (`-d 0`): it stays our child
//! process, and with no syslog on the machine that is also the only way
//! its start-up errors reach us (they go to `slapd.log` here and into the
//! error). [`Slapd::restart`] keeps the database, for failover tests.
//!
//! A replicated pair (CM-36): [`Slapd::start_provider`] adds the syncprov
//! overlay, and [`Slapd::start_consumer`] starts a second slapd on another
//! loopback address (127.0.0.2) that copies the provider with syncrepl
//! (refreshAndPersist, retrying every second) and refers writes to it
//! (`updateref`). [`Slapd::wait_caught_up`] compares their `contextCSN`.

use anyhow::{Context, anyhow, bail};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const BASE_DN: &str = "dc=rookery,dc=test";
const ADMIN_DN: &str = "cn=admin,dc=rookery,dc=test";
/// Throwaway: the instance lives in a temporary directory on loopback.
const ADMIN_PASSWORD: &str = "rookery-test-admin";
/// slapd answers within tens of milliseconds; this covers a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Where a consumer listens: its own loopback address, as a replica on
/// another machine would have its own.
const CONSUMER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// What part a slapd plays in replication.
enum Replication {
    None,
    /// Serves its changes to consumers (the syncprov overlay).
    Provider,
    /// Copies the provider at this URL and refers writes to it.
    Consumer {
        provider_url: String,
    },
}

/// What a new slapd is to be.
struct Setup {
    durable: bool,
    ip: Ipv4Addr,
    replication: Replication,
}

/// A running private slapd; killed when dropped.
pub struct Slapd {
    dir: TempDir,
    addr: SocketAddr,
    child: Option<Child>,
    replication: Replication,
}

impl Slapd {
    /// Writes a config and a database with the base entry, starts slapd on
    /// a free port of 127.0.0.1 and waits until it answers an LDAP bind.
    pub fn start() -> anyhow::Result<Slapd> {
        Self::start_with(Setup { durable: false, ip: Ipv4Addr::LOCALHOST, replication: Replication::None })
    }

    /// As [`Slapd::start`], but with mdb's default durability (a sync per
    /// write transaction, no `dbnosync`): for benchmarks of writes.
    pub fn start_durable() -> anyhow::Result<Slapd> {
        Self::start_with(Setup { durable: true, ip: Ipv4Addr::LOCALHOST, replication: Replication::None })
    }

    /// As [`Slapd::start`], with the syncprov overlay: consumers started
    /// with [`Slapd::start_consumer`] replicate from it.
    pub fn start_provider() -> anyhow::Result<Slapd> {
        Self::start_with(Setup { durable: false, ip: Ipv4Addr::LOCALHOST, replication: Replication::Provider })
    }

    /// A consumer of `provider` on 127.0.0.2 with an empty database that
    /// syncrepl fills; returns once it has caught up with the provider.
    /// Writes sent to it are answered with a referral to the provider,
    /// even from its rootdn (slapd 2.5 lets only syncrepl itself write to
    /// a consumer). It has the same base, admin DN and password as the
    /// provider, and replicates as the provider's rootdn.
    pub fn start_consumer(provider: &Slapd) -> anyhow::Result<Slapd> {
        if !matches!(provider.replication, Replication::Provider) {
            bail!("start_consumer needs a slapd from Slapd::start_provider");
        }
        let replication = Replication::Consumer { provider_url: provider.url() };
        let consumer = Self::start_with(Setup { durable: false, ip: CONSUMER_IP, replication })?;
        consumer.wait_caught_up(provider, START_TIMEOUT)?;
        Ok(consumer)
    }

    fn start_with(setup: Setup) -> anyhow::Result<Slapd> {
        let mut binaries = vec!["slapd", "slapadd"];
        if !matches!(setup.replication, Replication::None) {
            // contextCSN is read with ldapsearch.
            binaries.push("ldapsearch");
        }
        for binary in binaries {
            if find_binary(binary).is_none() {
                bail!("{binary} not found: install the Debian packages slapd and ldap-utils (test.sh does)");
            }
        }
        let dir = tempfile::Builder::new().prefix("rookery-slapd-").tempdir()?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        std::fs::write(dir.path().join("slapd.conf"), config(dir.path(), setup.durable, &setup.replication)?)?;
        // A consumer starts empty: syncrepl brings the base entry too.
        if !matches!(setup.replication, Replication::Consumer { .. }) {
            load_base(dir.path(), &setup.replication)?;
        }
        // Another process may take the free port between our probe and
        // slapd's bind; a few attempts make that harmless.
        let mut last_error = anyhow!("slapd never started");
        for _ in 0..3 {
            let addr = free_port(setup.ip)?;
            match spawn(dir.path(), addr) {
                Ok(child) => return Ok(Slapd { dir, addr, child: Some(child), replication: setup.replication }),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// The `contextCSN` values of the base entry: how far this server's
    /// copy goes, one value per provider (`serverID`). Empty when the
    /// base entry is not there yet (a consumer before its first refresh).
    pub fn context_csn(&self) -> anyhow::Result<Vec<String>> {
        let output = Command::new(find_binary("ldapsearch").unwrap_or_else(|| PathBuf::from("ldapsearch")))
            .args(["-x", "-LLL", "-o", "ldif-wrap=no", "-o", "nettimeout=5", "-l", "5"])
            .args(["-H", &self.url(), "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, "-b", BASE_DN, "-s", "base"])
            .arg("contextCSN")
            .output()
            .context("running ldapsearch")?;
        match output.status.code() {
            Some(0) => {}
            // noSuchObject: the base entry has not arrived yet.
            Some(32) => return Ok(Vec::new()),
            _ => bail!(
                "ldapsearch for contextCSN on {} failed ({}): {}",
                self.url(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
        }
        let text = String::from_utf8_lossy(&output.stdout);
        Ok(text
            .lines()
            .filter_map(|line| line.split_once(": "))
            .filter(|(name, _)| name.eq_ignore_ascii_case("contextCSN"))
            .map(|(_, value)| value.trim().to_owned())
            .collect())
    }

    /// Waits until this consumer has every change `provider` has: for
    /// each of the provider's `contextCSN` values, this server has one of
    /// the same `serverID` that is at least as new (CSNs are fixed-width
    /// timestamps, so they compare as strings).
    pub fn wait_caught_up(&self, provider: &Slapd, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let wanted = provider.context_csn()?;
            let have = self.context_csn().unwrap_or_default();
            if !wanted.is_empty() && wanted.iter().all(|csn| has_caught_up(&have, csn)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} has not caught up with {} within {timeout:?}: {have:?}, provider {wanted:?}",
                    self.url(),
                    provider.url()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `ldap://127.0.0.1:<port>/` (a consumer: `ldap://127.0.0.2:<port>/`).
    pub fn url(&self) -> String {
        format!("ldap://{}/", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The database's suffix; its entry exists from the start.
    pub fn base_dn(&self) -> &str {
        BASE_DN
    }

    /// The rootdn: no access controls and no size limits apply to it.
    pub fn admin_dn(&self) -> &str {
        ADMIN_DN
    }

    pub fn admin_password(&self) -> &str {
        ADMIN_PASSWORD
    }

    /// The temporary directory: `slapd.conf`, `data/`, `slapd.log`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Stops slapd gracefully (SIGTERM) and waits for it to exit; the
    /// database stays for [`Slapd::restart`].
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("slapd did not stop within {STOP_TIMEOUT:?}; killed");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Kills slapd at once (SIGKILL), as a crash would; mdb is crash-safe,
    /// so [`Slapd::restart`] finds every committed write.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts slapd again on the same port and database, killing it first
    /// if it is still running.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.launch()
    }

    fn launch(&mut self) -> anyhow::Result<()> {
        self.child = Some(spawn(self.dir.path(), self.addr)?);
        Ok(())
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts slapd on `addr` with the config in `dir` and waits until it
/// answers; on failure the error carries slapd's own output.
fn spawn(dir: &Path, addr: SocketAddr) -> anyhow::Result<Child> {
    let log_path = dir.join("slapd.log");
    let log = File::create(&log_path)?;
    let mut child = Command::new(find_binary("slapd").unwrap_or_else(|| PathBuf::from("slapd")))
        .arg("-d")
        .arg("0")
        .arg("-h")
        .arg(format!("ldap://{addr}/"))
        .arg("-f")
        .arg(dir.join("slapd.conf"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting slapd")?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if answers_bind(addr) {
            return Ok(child);
        }
        let exited = !matches!(child.try_wait(), Ok(None));
        if exited || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!("slapd on {addr} did not start:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Loads the base entry with `slapadd` (with `-w` on a provider, so the
/// base entry gets the `contextCSN` consumers compare with).
fn load_base(dir: &Path, replication: &Replication) -> anyhow::Result<()> {
    std::fs::write(dir.join("base.ldif"), base_ldif())?;
    let mut slapadd = Command::new(find_binary("slapadd").unwrap_or_else(|| PathBuf::from("slapadd")));
    slapadd.arg("-q").arg("-f").arg(dir.join("slapd.conf")).arg("-l").arg(dir.join("base.ldif"));
    if matches!(replication, Replication::Provider) {
        slapadd.arg("-w");
    }
    let output = slapadd.output().context("running slapadd")?;
    if !output.status.success() {
        bail!("slapadd failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// Whether `have` (a consumer's contextCSN values) covers the provider's
/// `csn`: `<time>#<count>#<serverID>#<mod>`.
fn has_caught_up(have: &[String], csn: &str) -> bool {
    let server_id = |csn: &str| csn.split('#').nth(2).map(str::to_owned);
    have.iter().any(|mine| server_id(mine) == server_id(csn) && mine.as_str() >= csn)
}

/// The replication part of the database section.
fn replication_config(replication: &Replication) -> String {
    match replication {
        Replication::None => String::new(),
        // The checkpoint writes contextCSN to the database after every
        // write, so a provider killed with SIGKILL restarts with the CSN
        // its consumers have (a production provider checkpoints less
        // often: see schema/replication/).
        Replication::Provider => {
            "index entryCSN eq\nindex entryUUID eq\noverlay syncprov\nsyncprov-checkpoint 1 1\n".to_owned()
        }
        Replication::Consumer { provider_url } => format!(
            "index entryCSN eq
index entryUUID eq
# Copies everything under the base as the provider's rootdn, at once
# and then as changes happen; retries every second while the provider
# is away.
syncrepl rid=001
  provider={provider_url}
  type=refreshAndPersist
  retry=\"1 +\"
  searchbase=\"{BASE_DN}\"
  bindmethod=simple
  binddn=\"{ADMIN_DN}\"
  credentials={ADMIN_PASSWORD}
# Writes sent here are referred to the provider.
updateref {provider_url}
"
        ),
    }
}

fn config(dir: &Path, durable: bool, replication: &Replication) -> anyhow::Result<String> {
    let schema = crate::repo_root().join("schema/rookery.schema");
    if !schema.is_file() {
        bail!("{} is missing", schema.display());
    }
    let system_schema = Path::new("/etc/ldap/schema");
    let modules = ["/usr/lib/ldap", "/usr/lib/x86_64-linux-gnu/ldap", "/usr/lib/aarch64-linux-gnu/ldap"]
        .into_iter()
        .find(|path| Path::new(path).join("back_mdb.la").exists() || Path::new(path).join("back_mdb.so").exists())
        .unwrap_or("/usr/lib/ldap");
    let dir = dir.display();
    Ok(format!(
        "include {system}/core.schema
include {system}/cosine.schema
include {system}/inetorgperson.schema
include {schema}
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
modulepath {modules}
moduleload back_mdb
{syncprov}loglevel none

database mdb
# The mdb default (10 MiB) fills up at about 10,000 accounts.
maxsize 1073741824
suffix \"{BASE_DN}\"
rootdn \"{ADMIN_DN}\"
rootpw {ADMIN_PASSWORD}
directory {dir}/data
{nosync}
limits dn.exact=\"{ADMIN_DN}\" size=unlimited time=unlimited
# Anonymous binds stand for a deployment's read-only frontend DN: 500
# entries per search, as by default, but any number through paging.
limits anonymous size.soft=500 size.hard=500 size.prtotal=unlimited
index objectClass eq
index uid eq
index rookeryAddress eq
index rookeryAliasTarget eq
index hostServer eq
index oldHostServer eq
{replication}",
        system = system_schema.display(),
        schema = schema.display(),
        // Tests run thousands of writes; crash durability of a throwaway
        // database is not what they check (a SIGKILL still loses nothing
        // slapd committed to the page cache).
        nosync = if durable { "" } else { "dbnosync" },
        syncprov = if matches!(replication, Replication::Provider) { "moduleload syncprov\n" } else { "" },
        replication = replication_config(replication),
    ))
}

fn base_ldif() -> String {
    format!("dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: rookery\no: Rookery tests\n")
}

fn free_port(ip: Ipv4Addr) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(SocketAddr::new(IpAddr::V4(ip), 0))?;
    Ok(listener.local_addr()?)
}

/// Sends an anonymous LDAPv3 bind and waits for any LDAP message back:
/// an open port alone does not mean slapd has opened its database.
fn answers_bind(addr: SocketAddr) -> bool {
    // SEQUENCE { messageID 1, [APPLICATION 0] { version 3, name "", simple "" } }
    const ANONYMOUS_BIND: [u8; 14] =
        [0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00];
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(&ANONYMOUS_BIND).is_err() {
        return false;
    }
    let mut first = [0u8; 1];
    matches!(stream.read(&mut first), Ok(1) if first[0] == 0x30)
}

/// slapd lives in /usr/sbin, which is not on every user's PATH.
fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
