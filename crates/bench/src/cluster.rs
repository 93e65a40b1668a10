//! The frontend suite's Rookery cluster: a private slapd (the test kit's,
//! with the project's schema) as the shared directory, one backend and one
//! frontend, each a `rookery serve` process with its own config file and
//! temporary data directory. The backend listens on one loopback address
//! and the frontend on another; the frontend proxies IMAP, POP3 and
//! submission to the backend's listeners (`[cluster.services]`), and the
//! two are linked by the cluster link. Everything is killed (SIGKILL) and
//! removed when the [`Cluster`] is dropped.
//!
//! `testkit::TestServer` is not used for the members: it puts every
//! listener on 127.0.0.1, and the suite needs each member on an address of
//! its own (to tell the legs apart, and because the backend trusts PROXY
//! headers from the frontend's address, which the clients must not share).

use crate::rookery::AdminApi;
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use testkit::slapd::Slapd;

/// The backend's name in the directory (`hostServer`) and its main domain.
const BACKEND_NAME: &str = "sv1.bench";
const FRONTEND_NAME: &str = "fe.bench";
/// Throwaway: the cluster lives on loopback for one run.
const SECRET: &str = "the bench cluster's secret";
/// A member prints its listeners and "ready" within a second or two; this
/// covers a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the members listen. The frontend's sessions to the backend leave
/// from its own address (its cluster link address), which the backend
/// trusts for PROXY headers because it is on the link's allow-list (CM-21).
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    pub backend: IpAddr,
    pub frontend: IpAddr,
}

/// slapd, a backend and a frontend.
pub struct Cluster {
    // Dropped in this order: the members before their directory.
    pub frontend: Member,
    pub backend: Member,
    slapd: Slapd,
}

impl Cluster {
    /// Starts slapd, then the backend, then the frontend (which needs the
    /// backend's service addresses). Blocking: call from `spawn_blocking`.
    pub fn start(binary: &Path, addresses: Addresses) -> anyhow::Result<Cluster> {
        let slapd = Slapd::start().context("starting slapd")?;
        let backend_link = SocketAddr::new(addresses.backend, free_port(addresses.backend)?);
        let frontend_link = SocketAddr::new(addresses.frontend, free_port(addresses.frontend)?);
        let members = [(BACKEND_NAME, backend_link), (FRONTEND_NAME, frontend_link)];
        let common = |name: &str, ip: IpAddr, link: SocketAddr, peer: SocketAddr| MemberConfig {
            name: name.to_owned(),
            ip,
            link,
            allow: peer.ip(),
            members: members.iter().map(|(name, addr)| ((*name).to_owned(), *addr)).collect(),
            directory: directory_section(&slapd),
            role_specific: String::new(),
        };
        let mut backend_config = common(BACKEND_NAME, addresses.backend, backend_link, frontend_link);
        backend_config.role_specific = "[cluster]\nrole = \"backend\"\n".to_owned();
        let backend = Member::start(binary, &backend_config).context("starting the backend")?;
        let mut frontend_config = common(FRONTEND_NAME, addresses.frontend, frontend_link, backend_link);
        frontend_config.role_specific = format!(
            "[cluster]\nrole = \"frontend\"\n\n[cluster.services.\"{BACKEND_NAME}\"]\nimap = \"{}\"\npop3 = \"{}\"\n\
             submission = \"{}\"\n",
            backend.listener("imap")?,
            backend.listener("pop3")?,
            backend.listener("submission")?
        );
        let frontend = Member::start(binary, &frontend_config).context("starting the frontend")?;
        Ok(Cluster { frontend, backend, slapd })
    }

    /// The directory's address: the frontend's look-ups go there.
    pub fn directory(&self) -> SocketAddr {
        self.slapd.addr()
    }
}

fn directory_section(slapd: &Slapd) -> String {
    format!(
        "[directory]\nkind = \"ldap\"\nurl = \"{}\"\nbase_dn = \"{}\"\nbind_dn = \"{}\"\nbind_password = \"{}\"\n",
        slapd.url(),
        slapd.base_dn(),
        slapd.admin_dn(),
        slapd.admin_password()
    )
}

/// What differs between the members' config files.
struct MemberConfig {
    name: String,
    ip: IpAddr,
    link: SocketAddr,
    /// The other member's address, the only one allowed on the link.
    allow: IpAddr,
    members: Vec<(String, SocketAddr)>,
    directory: String,
    /// `[cluster]` with the role, and the role's own sections.
    role_specific: String,
}

impl MemberConfig {
    fn text(&self, data: &Path) -> String {
        let listen = |section: &str| format!("[{section}]\nlisten = [\"{}\"]\n", SocketAddr::new(self.ip, 0));
        let members: String = self.members.iter().map(|(name, addr)| format!("\"{name}\" = \"{addr}\"\n")).collect();
        format!(
            "# Written by rookery's bench: one member of a throwaway cluster.\n\
             data_dir = \"{data}\"\nmain_domain = \"{name}\"\n\n{smtp}\n{submission}\n{lmtp}\n{pop3}\n{imap}\n{admin}\n{webmail}\n\
             [store]\nfsync = true\n\n[outbound]\nenabled = false\n\n{directory}\n{role}\n\
             [cluster.members]\n{members}\n[cluster.link]\naddress = \"{link}\"\nallow = [\"{allow}\"]\n\
             secret = \"{SECRET}\"\n",
            data = data.display(),
            name = self.name,
            smtp = listen("smtp"),
            submission = listen("submission"),
            lmtp = listen("lmtp"),
            pop3 = listen("pop3"),
            imap = listen("imap"),
            admin = listen("admin"),
            webmail = listen("webmail"),
            directory = self.directory,
            role = self.role_specific,
            link = self.link,
            allow = self.allow,
        )
    }
}

/// One running `rookery serve`.
pub struct Member {
    process: Process,
    link: SocketAddr,
    listeners: HashMap<String, SocketAddr>,
    /// `None` on a member without a postmaster (a frontend).
    admin: Option<AdminApi>,
}

impl Member {
    fn start(binary: &Path, config: &MemberConfig) -> anyhow::Result<Member> {
        let dir = tempfile::Builder::new().prefix("bench-member-").tempdir()?;
        let data = dir.path().join("data");
        let config_path = dir.path().join("rookery.toml");
        std::fs::write(&config_path, config.text(&data))?;
        let stderr = std::fs::File::create(dir.path().join("stderr"))?;
        let mut child = Command::new(binary)
            .arg("--config")
            .arg(&config_path)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take();
        // From here on the guard kills the process on any error.
        let process = Process { dir, child: Some(child) };
        let stdout = stdout.context("stdout is piped")?;
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || read_lines(stdout, lines_tx));
        let deadline = Instant::now() + START_TIMEOUT;
        let mut listeners = HashMap::new();
        loop {
            let Ok(line) = lines_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
                bail!("{} did not become ready:\n{}", config.name, process.diagnostics());
            };
            if line.starts_with("rookery: ready") {
                break;
            }
            if let Some((protocol, addr)) = parse_listening(&line) {
                listeners.insert(protocol, addr);
            }
        }
        let admin_addr = listeners.get("admin").copied().context("no admin listener")?;
        // Made on a backend's first start; a frontend has no accounts.
        let admin = match std::fs::read_to_string(data.join("postmaster.password")) {
            Ok(password) => Some(AdminApi::new(admin_addr, &config.name, password.trim().to_owned())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(error).context("reading postmaster.password"),
        };
        Ok(Member { process, link: config.link, listeners, admin })
    }

    /// The address `protocol`'s listener got.
    pub fn listener(&self, protocol: &str) -> anyhow::Result<SocketAddr> {
        self.listeners.get(protocol).copied().with_context(|| format!("no {protocol} listener"))
    }

    /// The admin API as the member's postmaster.
    pub fn admin(&self) -> anyhow::Result<&AdminApi> {
        self.admin.as_ref().context("this member has no postmaster (a frontend)")
    }

    /// The member's cluster link address.
    pub fn link(&self) -> SocketAddr {
        self.link
    }

    /// The member's process.
    pub fn pid(&self) -> Option<u32> {
        self.process.child.as_ref().map(Child::id)
    }

    pub fn diagnostics(&self) -> String {
        self.process.diagnostics()
    }
}

/// A member's process and its directory (config, data, stderr); the
/// process is killed (SIGKILL) and the directory removed when dropped.
struct Process {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Process {
    /// The end of what the member wrote on stderr, for error messages.
    fn diagnostics(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("--- stderr (last lines)\n{}", tail.join("\n"))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Forwards each stdout line; keeps draining after the receiver is gone,
/// so that the member never blocks on a full pipe.
fn read_lines(stdout: impl Read, lines: mpsc::Sender<String>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        let _ = lines.send(line);
    }
}

/// `rookery: imap listening on 127.0.5.1:41234` (admin: `http://addr`).
fn parse_listening(line: &str) -> Option<(String, SocketAddr)> {
    let rest = line.strip_prefix("rookery: ")?;
    let (protocol, addr) = rest.split_once(" listening on ")?;
    let addr = addr.trim().trim_start_matches("http://");
    Some((protocol.to_owned(), addr.parse().ok()?))
}

/// A port on `ip` that was free a moment ago (the link address must be
/// known to both members before either starts).
fn free_port(ip: IpAddr) -> anyhow::Result<u16> {
    Ok(TcpListener::bind((ip, 0)).with_context(|| format!("binding to {ip}"))?.local_addr()?.port())
}
