//! Dovecot, the peer: a private `dovecot -F` with its own configuration,
//! runtime directory, log and maildirs in a temporary directory, LMTP,
//! POP3 and IMAP on free loopback ports. [`Dovecot`] stops it when dropped. It never
//! touches the system instance (`/etc/dovecot`, `/run/dovecot`).
//!
//! Durability stays at Dovecot's default, `mail_fsync = optimized`: LMTP
//! fsyncs each message file and fdatasyncs the maildir's `new/` before its
//! 250; the index files are not fsynced.

mod proxy;

pub use proxy::DovecotProxy;

use anyhow::{Context, bail};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Unix user and group that own the mail (Debian's `nobody`/`nogroup`).
const MAIL_USER: &str = "nobody";
const MAIL_GROUP: &str = "nogroup";
/// The password every account has (static passdb).
pub const PASSWORD: &str = "pw";

/// A running private Dovecot.
pub struct Dovecot {
    instance: Instance,
    pub lmtp: SocketAddr,
    pub pop3: SocketAddr,
    pub imap: SocketAddr,
}

impl Dovecot {
    /// Writes the configuration and starts `binary -F -c <conf>` on
    /// 127.0.0.1; returns once its listeners accept connections.
    pub async fn start(binary: &Path) -> anyhow::Result<Dovecot> {
        Self::start_on(binary, IpAddr::V4(Ipv4Addr::LOCALHOST), None).await
    }

    /// Dovecot listening on `ip`; `trusted` goes into
    /// `login_trusted_networks` (a proxy's address: its forwarded client
    /// addresses are believed).
    pub async fn start_on(binary: &Path, ip: IpAddr, trusted: Option<IpAddr>) -> anyhow::Result<Dovecot> {
        let dir = Instance::directory()?;
        let lmtp = free_port(ip)?;
        let pop3 = free_port(ip)?;
        let imap = free_port(ip)?;
        let trusted = trusted.map_or_else(String::new, |ip| format!("login_trusted_networks = {ip}\n"));
        let config = config_text(dir.path(), lmtp, pop3, imap) + &trusted;
        let instance = Instance::start(binary, dir, &config, &[lmtp, pop3, imap]).await?;
        Ok(Dovecot { instance, lmtp, pop3, imap })
    }

    /// Dovecot's stderr and the end of its log, for error messages.
    pub fn diagnostics(&self) -> String {
        self.instance.diagnostics()
    }

    /// Messages in `account`'s INBOX, counted in the maildir.
    pub fn message_count(&self, account: &str) -> anyhow::Result<u64> {
        let maildir = self.mail_dir(account);
        let mut count = 0;
        for sub in ["new", "cur"] {
            match std::fs::read_dir(maildir.join(sub)) {
                Ok(entries) => count += entries.count() as u64,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error).with_context(|| format!("reading {}", maildir.display())),
            }
        }
        Ok(count)
    }

    /// The master process; every other Dovecot process descends from it.
    pub fn pid(&self) -> Option<u32> {
        self.instance.pid()
    }

    pub fn mail_dir(&self, account: &str) -> PathBuf {
        self.instance.dir.path().join("mail").join(account)
    }
}

/// One private Dovecot: its directory (configuration, runtime directory,
/// log, mail) and its master process, stopped when dropped.
struct Instance {
    dir: tempfile::TempDir,
    child: Option<Child>,
    listeners: Vec<SocketAddr>,
}

impl Instance {
    /// A fresh directory with `run/`, `state/` and `mail/` (owned by the
    /// mail user).
    fn directory() -> anyhow::Result<tempfile::TempDir> {
        let dir = tempfile::Builder::new().prefix("bench-dovecot-").tempdir()?;
        // Dovecot's login and mail processes run as other users: they must
        // reach their directories below this one.
        set_mode(dir.path(), 0o755)?;
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir(dir.path().join(sub))?;
        }
        let uid = numeric_id("/etc/passwd", MAIL_USER)?;
        let gid = numeric_id("/etc/group", MAIL_GROUP)?;
        std::os::unix::fs::chown(dir.path().join("mail"), Some(uid), Some(gid))?;
        Ok(dir)
    }

    /// Writes `config` into `dir` and starts `binary -F -c <conf>`;
    /// returns once every one of `listeners` accepts connections.
    async fn start(
        binary: &Path,
        dir: tempfile::TempDir,
        config: &str,
        listeners: &[SocketAddr],
    ) -> anyhow::Result<Instance> {
        let config_path = dir.path().join("dovecot.conf");
        std::fs::write(&config_path, config)?;
        let stderr = std::fs::File::create(dir.path().join("stderr"))?;
        let child = Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            // Its own process group: a ctrl-c at the terminal reaches only
            // the bench, whose guard then stops Dovecot in order.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut instance = Instance { dir, child: Some(child), listeners: listeners.to_vec() };
        instance.wait_ready().await?;
        Ok(instance)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let Some(child) = self.child.as_mut() else { return Ok(()) };
        let diagnostics = || read_diagnostics(self.dir.path());
        wait_listening("dovecot", child, &self.listeners, Duration::from_secs(20), diagnostics).await
    }

    fn diagnostics(&self) -> String {
        read_diagnostics(self.dir.path())
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM to the master (which stops its children), SIGKILL if it
    /// has not exited after five seconds.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Dovecot's stderr and the end of its log in `dir`.
fn read_diagnostics(dir: &Path) -> String {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let log = read("dovecot.log");
    let tail: Vec<&str> = log.lines().rev().take(20).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!("--- stderr\n{}--- log (last lines)\n{}", read("stderr"), tail.join("\n"))
}

/// Waits until `child` accepts connections on every one of `listeners`;
/// fails with `diagnostics()` if it exits first or `limit` passes. Shared
/// by the peers the bench starts (Dovecot, HAProxy).
pub(crate) async fn wait_listening(
    name: &str,
    child: &mut Child,
    listeners: &[SocketAddr],
    limit: Duration,
    diagnostics: impl Fn() -> String,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("{name} exited ({status}) at start:\n{}", diagnostics());
        }
        let mut listening = true;
        for &addr in listeners {
            listening &= tokio::net::TcpStream::connect(addr).await.is_ok();
        }
        if listening {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{name} did not listen within {} s:\n{}", limit.as_secs(), diagnostics());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The whole configuration: no `!include`, nothing read from /etc/dovecot.
fn config_text(dir: &Path, lmtp: SocketAddr, pop3: SocketAddr, imap: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        r#"# Written by rookery's bench: a private Dovecot for one benchmark run.
instance_name = bench-dovecot
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = lmtp pop3 imap
listen = {listen_ip}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:{dir}/mail/%u
# The default, stated: fsync each delivered message before the reply.
mail_fsync = optimized

passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={MAIL_USER} gid={MAIL_GROUP} home={dir}/mail/%u allow_all_users=yes
}}

service lmtp {{
  inet_listener lmtp {{
    address = {lmtp_ip}
    port = {lmtp_port}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {pop3_ip}
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = {imap_ip}
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  process_limit = 12000
}}

# Room for the IMAP memory measurement's idle sessions (5,000 by default,
# 100 per account from one address); Dovecot's process model is unchanged:
# a login process per connection, then an imap process per session.
default_process_limit = 12000
default_client_limit = 24000
service imap {{
  process_limit = 12000
}}
service anvil {{
  client_limit = 24000
}}
service auth {{
  client_limit = 24000
}}
protocol imap {{
  mail_max_userip_connections = 12000
}}
"#,
        lmtp_ip = lmtp.ip(),
        lmtp_port = lmtp.port(),
        pop3_ip = pop3.ip(),
        pop3_port = pop3.port(),
        imap_ip = imap.ip(),
        imap_port = imap.port(),
        listen_ip = imap.ip(),
    )
}

/// A port on `ip` that was free a moment ago.
pub(crate) fn free_port(ip: IpAddr) -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind((ip, 0)).with_context(|| format!("binding to {ip}"))?.local_addr()?)
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// The numeric id of `name` in `/etc/passwd` or `/etc/group` (third field).
fn numeric_id(file: &str, name: &str) -> anyhow::Result<u32> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    text.lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&name))
        .and_then(|fields| fields.get(2)?.parse().ok())
        .with_context(|| format!("{name} is not in {file}"))
}
