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

use anyhow::{Context, anyhow, bail};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
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

/// A running private slapd; killed when dropped.
pub struct Slapd {
    dir: TempDir,
    addr: SocketAddr,
    child: Option<Child>,
}

impl Slapd {
    /// Writes a config and a database with the base entry, starts slapd on
    /// a free port of 127.0.0.1 and waits until it answers an LDAP bind.
    pub fn start() -> anyhow::Result<Slapd> {
        Self::start_with(false)
    }

    /// As [`Slapd::start`], but with mdb's default durability (a sync per
    /// write transaction, no `dbnosync`): for benchmarks of writes.
    pub fn start_durable() -> anyhow::Result<Slapd> {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> anyhow::Result<Slapd> {
        for binary in ["slapd", "slapadd"] {
            if find_binary(binary).is_none() {
                bail!("{binary} not found: install the Debian packages slapd and ldap-utils (test.sh does)");
            }
        }
        let dir = tempfile::Builder::new().prefix("rookery-slapd-").tempdir()?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        std::fs::write(dir.path().join("slapd.conf"), config(dir.path(), durable)?)?;
        std::fs::write(dir.path().join("base.ldif"), base_ldif())?;
        let slapadd = Command::new(find_binary("slapadd").unwrap_or_else(|| PathBuf::from("slapadd")))
            .arg("-q")
            .arg("-f")
            .arg(dir.path().join("slapd.conf"))
            .arg("-l")
            .arg(dir.path().join("base.ldif"))
            .output()
            .context("running slapadd")?;
        if !slapadd.status.success() {
            bail!("slapadd failed ({}): {}", slapadd.status, String::from_utf8_lossy(&slapadd.stderr));
        }
        // Another process may take the free port between our probe and
        // slapd's bind; a few attempts make that harmless.
        let mut last_error = anyhow!("slapd never started");
        for _ in 0..3 {
            let addr = free_port()?;
            match spawn(dir.path(), addr) {
                Ok(child) => return Ok(Slapd { dir, addr, child: Some(child) }),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// `ldap://127.0.0.1:<port>/`.
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

fn config(dir: &Path, durable: bool) -> anyhow::Result<String> {
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
loglevel none

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
",
        system = system_schema.display(),
        schema = schema.display(),
        // Tests run thousands of writes; crash durability of a throwaway
        // database is not what they check (a SIGKILL still loses nothing
        // slapd committed to the page cache).
        nosync = if durable { "" } else { "dbnosync" },
    ))
}

fn base_ldif() -> String {
    format!("dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: rookery\no: Rookery tests\n")
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
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
