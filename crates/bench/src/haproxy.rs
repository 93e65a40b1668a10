//! HAProxy in TCP mode, the floor of any frontend: a private `haproxy`
//! that relays every IMAP connection to one backend without reading a
//! byte of it (no login, no directory), prefixed by a PROXY v2 header and
//! leaving from its own address, as Rookery's frontend does. Whatever it
//! costs the backend's throughput is the price of the extra TCP hop on
//! this machine, which no proxy can go below. [`Haproxy`] stops it when
//! dropped.
//!
//! Its threads are HAProxy's default (one per core), its buffers its
//! default (16 KiB), and it splices with the kernel's `splice(2)` where it
//! can (`option splice-auto`).

use anyhow::Context;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running private HAProxy.
pub struct Haproxy {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub imap: SocketAddr,
}

impl Haproxy {
    /// Debian's binary, if installed (`apt-get install haproxy`).
    pub fn binary() -> Option<PathBuf> {
        ["/usr/sbin/haproxy", "/usr/bin/haproxy"].into_iter().map(PathBuf::from).find(|path| path.exists())
    }

    /// A relay listening on `ip` (a free port) whose connections to
    /// `backend` leave from `ip` and start with a PROXY v2 header.
    pub async fn start(binary: &Path, ip: IpAddr, backend: SocketAddr) -> anyhow::Result<Haproxy> {
        let dir = tempfile::Builder::new().prefix("bench-haproxy-").tempdir()?;
        let imap = crate::dovecot::free_port(ip)?;
        let config_path = dir.path().join("haproxy.cfg");
        std::fs::write(&config_path, config_text(imap, backend))?;
        let stderr = std::fs::File::create(dir.path().join("stderr"))?;
        let child = Command::new(binary)
            // -db: in the foreground, so that this child is HAProxy itself.
            .arg("-db")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut haproxy = Haproxy { dir, child: Some(child), imap };
        haproxy.wait_ready().await?;
        Ok(haproxy)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let Some(child) = self.child.as_mut() else { return Ok(()) };
        let diagnostics = || read_diagnostics(self.dir.path());
        crate::dovecot::wait_listening("haproxy", child, &[self.imap], Duration::from_secs(10), diagnostics).await
    }

    pub fn diagnostics(&self) -> String {
        read_diagnostics(self.dir.path())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// HAProxy's stderr in `dir`.
fn read_diagnostics(dir: &Path) -> String {
    let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    format!("--- haproxy stderr\n{stderr}")
}

fn config_text(listen: SocketAddr, backend: SocketAddr) -> String {
    format!(
        "# Written by rookery's bench: a private HAProxy relaying IMAP for one run.\n\
         global\n    maxconn 5000\n\n\
         defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n    \
         option splice-auto\n\n\
         listen imap\n    bind {listen}\n    \
         server backend {backend} send-proxy-v2 source {source}\n",
        source = listen.ip(),
    )
}
