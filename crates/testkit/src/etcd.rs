//! A private etcd (Debian's etcd-server 3.4) on loopback, one node or a
//! cluster of three, for the dynamic cluster's tests.
//!
//! Data lives in a temporary directory, removed with the value. One node
//! listens on free ports of 127.0.0.1; a cluster's nodes each get their own
//! address, 127.0.23.1 to 127.0.23.N (no other test uses 127.0.23.x), so a
//! node's failure is the failure of one address. Raft runs with short
//! timings so a fresh node elects itself in about 0.1 s. Nodes can be
//! killed (SIGKILL) and restarted on their data, or paused (SIGSTOP) and
//! resumed, which leaves their sockets open but silent: the failure a
//! client notices only by timeouts.

use anyhow::{Context, anyhow, bail};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A node answers in a few hundred milliseconds; this covers a loaded
/// machine and a three-node cluster's first election.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running private etcd; every node is killed and the data removed when
/// dropped.
pub struct Etcd {
    dir: TempDir,
    nodes: Vec<Node>,
    /// `--initial-cluster`: every node's peer URL.
    initial_cluster: String,
}

struct Node {
    name: String,
    client: SocketAddr,
    peer: SocketAddr,
    /// Raft timings in milliseconds: heartbeat, election timeout.
    timing: (u32, u32),
    child: Option<Child>,
}

impl Etcd {
    /// One node on free ports of 127.0.0.1, healthy when this returns.
    pub fn start() -> anyhow::Result<Etcd> {
        Self::launch_all(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)], (10, 100))
    }

    /// `size` nodes on 127.0.23.1.. (one address each), healthy (a leader
    /// elected, a quorum read answered) when this returns.
    pub fn start_cluster(size: usize) -> anyhow::Result<Etcd> {
        if !(1..=9).contains(&size) {
            bail!("an etcd cluster of {size} nodes is not supported here");
        }
        let ips = (1..=size).map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 23, i as u8))).collect();
        // Three nodes on a loaded 2-core machine: a 10 ms heartbeat would
        // miss beats and re-elect all the time.
        Self::launch_all(ips, (50, 500))
    }

    fn launch_all(ips: Vec<IpAddr>, timing: (u32, u32)) -> anyhow::Result<Etcd> {
        if find_binary("etcd").is_none() {
            bail!("etcd not found: install the Debian package etcd-server (test.sh does)");
        }
        let mut dir = tempfile::Builder::new().prefix("rookery-etcd-").tempdir()?;
        // Another process may take a probed port before etcd binds it; a
        // few attempts make that harmless.
        let mut last_error = anyhow!("etcd never started");
        for _ in 0..3 {
            let mut nodes = Vec::new();
            for (index, ip) in ips.iter().enumerate() {
                nodes.push(Node {
                    name: format!("n{}", index + 1),
                    client: free_port(*ip)?,
                    peer: free_port(*ip)?,
                    timing,
                    child: None,
                });
            }
            let initial_cluster =
                nodes.iter().map(|node| format!("{}=http://{}", node.name, node.peer)).collect::<Vec<_>>().join(",");
            let _ = std::fs::remove_dir_all(dir.path().join("data"));
            // Built before the nodes start, so a failure drops (kills) them.
            let mut etcd = Etcd { dir, nodes, initial_cluster };
            match etcd.spawn_all() {
                Ok(()) => return Ok(etcd),
                Err(error) => {
                    last_error = error;
                    etcd.kill_all();
                    dir = std::mem::replace(&mut etcd.dir, tempfile::Builder::new().prefix("rookery-etcd-").tempdir()?);
                }
            }
        }
        Err(last_error)
    }

    fn spawn_all(&mut self) -> anyhow::Result<()> {
        for index in 0..self.nodes.len() {
            let child = spawn(self.dir.path(), &self.nodes[index], &self.initial_cluster)?;
            self.nodes[index].child = Some(child);
        }
        for index in 0..self.nodes.len() {
            self.wait_healthy(index)?;
        }
        Ok(())
    }

    /// `http://<ip>:<port>` of every node, in node order.
    pub fn endpoints(&self) -> Vec<String> {
        (0..self.nodes.len()).map(|node| self.endpoint(node)).collect()
    }

    pub fn endpoint(&self, node: usize) -> String {
        format!("http://{}", self.nodes[node].client)
    }

    pub fn client_addr(&self, node: usize) -> SocketAddr {
        self.nodes[node].client
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The temporary directory: `data/<node>/` and `<node>.log`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self, node: usize) -> Option<u32> {
        self.nodes[node].child.as_ref().map(Child::id)
    }

    /// Kills the node at once (SIGKILL), as a crash would.
    pub fn kill(&mut self, node: usize) {
        if let Some(mut child) = self.nodes[node].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the node again on its data and addresses (killing it first
    /// if it still runs) and waits until it is healthy.
    pub fn restart(&mut self, node: usize) -> anyhow::Result<()> {
        self.kill(node);
        let child = spawn(self.dir.path(), &self.nodes[node], &self.initial_cluster)?;
        self.nodes[node].child = Some(child);
        self.wait_healthy(node)
    }

    /// Freezes the node (SIGSTOP): its sockets stay open, nothing answers.
    pub fn pause(&self, node: usize) -> anyhow::Result<()> {
        self.signal(node, "-STOP")
    }

    /// Lets a paused node run again (SIGCONT).
    pub fn resume(&self, node: usize) -> anyhow::Result<()> {
        self.signal(node, "-CONT")
    }

    fn signal(&self, node: usize, signal: &str) -> anyhow::Result<()> {
        let pid = self.pid(node).ok_or_else(|| anyhow!("etcd node {node} is not running"))?;
        let status = Command::new("kill").arg(signal).arg(pid.to_string()).status()?;
        if !status.success() {
            bail!("kill {signal} {pid} failed: {status}");
        }
        Ok(())
    }

    /// Polls the node's `/health` (a leader and a quorum read) until it
    /// says true.
    fn wait_healthy(&mut self, index: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = self.nodes[index].client;
        loop {
            if healthy(addr) {
                return Ok(());
            }
            let node = &mut self.nodes[index];
            let exited = node.child.as_mut().is_none_or(|child| !matches!(child.try_wait(), Ok(None)));
            if exited || Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(self.dir.path().join(format!("{}.log", node.name))).unwrap_or_default();
                let tail: String =
                    log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
                bail!("etcd node {} on {} did not become healthy:\n{tail}", node.name, node.client);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill_all(&mut self) {
        for node in 0..self.nodes.len() {
            self.kill(node);
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        // SIGKILL ends a paused (SIGSTOPped) node too.
        self.kill_all();
    }
}

fn spawn(dir: &Path, node: &Node, initial_cluster: &str) -> anyhow::Result<Child> {
    let log = File::options().create(true).append(true).open(dir.join(format!("{}.log", node.name)))?;
    let client = format!("http://{}", node.client);
    let peer = format!("http://{}", node.peer);
    Command::new(find_binary("etcd").unwrap_or_else(|| PathBuf::from("etcd")))
        .arg("--name")
        .arg(&node.name)
        .arg("--data-dir")
        .arg(dir.join("data").join(&node.name))
        .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", initial_cluster, "--initial-cluster-state", "new"])
        .args(["--initial-cluster-token", "rookery-test"])
        .arg(format!("--heartbeat-interval={}", node.timing.0))
        .arg(format!("--election-timeout={}", node.timing.1))
        .args(["--logger", "zap", "--log-outputs", "stderr"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting etcd")
}

fn free_port(ip: IpAddr) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind((ip, 0)).with_context(|| format!("binding a free port on {ip}"))?;
    Ok(listener.local_addr()?)
}

/// `GET /health` answers `{"health":"true"}` once the node has a leader
/// and has served a quorum read.
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.take(64 * 1024).read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200") && response.contains("\"health\":\"true\"")
}

/// Debian installs etcd in /usr/bin; look on PATH and there.
fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/local/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
