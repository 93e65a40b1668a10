//! The dynamic demos' etcd: one private node (Debian's etcd-server) in the
//! demo's directory, started as a child like slapd, in its own process
//! group, and ready once its `/health` says so (a leader elected and a
//! quorum read served). One node is enough on one machine: the demo shows
//! the members' failover, not etcd's.

use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A fresh node elects itself in about a second; this covers a loaded
/// machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest `/health` answer read.
const MAX_HEALTH_REPLY: u64 = 64 * 1024;

/// Starts etcd with its data in `dir/data` and its log in `dir/etcd.log`,
/// clients on `client` and raft on `peer`, and waits until it is healthy.
pub async fn spawn(dir: &Path, client: SocketAddr, peer: SocketAddr) -> anyhow::Result<tokio::process::Child> {
    let binary = find_etcd()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (client_url, peer_url) = (format!("http://{client}"), format!("http://{peer}"));
    let mut command = tokio::process::Command::new(&binary);
    command
        .args(["--name", "demo", "--data-dir"])
        .arg(dir.join("data"))
        .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
        .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("demo={peer_url}"), "--initial-cluster-state", "new"])
        .args(["--initial-cluster-token", "rookery-demo"])
        // One node: short raft timings make it elect itself at once.
        .args(["--heartbeat-interval=50", "--election-timeout=500"])
        .args(["--logger", "zap", "--log-outputs", "stderr"]);
    let what = format!("etcd on {client} ({})", binary.display());
    let ready = || healthy(client);
    super::members::spawn_service(
        &what,
        command,
        &dir.join("etcd.log"),
        ready,
        Duration::from_millis(50),
        START_TIMEOUT,
    )
    .await
}

/// `GET /health` answers `{"health":"true"}` once the node has a leader.
async fn healthy(addr: SocketAddr) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut reply = Vec::new();
        stream.take(MAX_HEALTH_REPLY).read_to_end(&mut reply).await.ok()?;
        let reply = String::from_utf8_lossy(&reply);
        (reply.starts_with("HTTP/1.1 200") && reply.contains("\"health\":\"true\"")).then_some(())
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), attempt).await, Ok(Some(())))
}

/// Debian installs etcd in /usr/bin; look on PATH and there.
fn find_etcd() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    find_in(std::env::split_paths(&path).chain(["/usr/bin", "/usr/local/bin"].map(PathBuf::from)))
}

fn find_in(dirs: impl Iterator<Item = PathBuf>) -> anyhow::Result<PathBuf> {
    dirs.map(|dir| dir.join("etcd")).find(|candidate| candidate.is_file()).context(
        "etcd not found: the dynamic demos run a private etcd; install the Debian package etcd-server \
         (apt-get install etcd-server)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_etcd_names_the_debian_package() {
        let empty = tempfile::tempdir().unwrap();
        let err = find_in(std::iter::once(empty.path().to_owned())).unwrap_err();
        assert!(err.to_string().contains("install the Debian package etcd-server"), "{err}");
        std::fs::write(empty.path().join("etcd"), "").unwrap();
        assert_eq!(find_in(std::iter::once(empty.path().to_owned())).unwrap(), empty.path().join("etcd"));
    }
}
