//! Shared by the coordination tests: short timings, a real etcd from the
//! test kit, and a TCP proxy that can cut one member off from etcd.
#![allow(dead_code)]

use coord::{CoordConfig, Coordinator, MemberInfo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub const TTL: Duration = Duration::from_secs(2);
pub const MARGIN: Duration = Duration::from_millis(500);

pub fn init_logs() {
    let _ = tracing_subscriber::fmt().with_env_filter("cluster::coord=debug").with_test_writer().try_init();
}

pub fn config(endpoints: Vec<String>, member: &str) -> CoordConfig {
    CoordConfig { lease_ttl: TTL, fence_margin: MARGIN, ..CoordConfig::new(endpoints, "dc1.example", member) }
}

pub fn info(role: &str, imap_port: u16) -> MemberInfo {
    MemberInfo {
        role: role.into(),
        imap: Some(SocketAddr::from(([127, 0, 0, 1], imap_port))),
        queue_messages: Some(u64::from(imap_port)),
        ..MemberInfo::default()
    }
}

pub async fn member(endpoints: Vec<String>, name: &str) -> Coordinator {
    Coordinator::start(config(endpoints, name), info("backend", 1143)).await.expect("coordinator starts")
}

/// Polls an async condition until it holds, or panics after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A TCP proxy in front of one etcd endpoint. [`Proxy::cut`] turns it into
/// a black hole: connections stay open but nothing passes either way, as
/// when a member's network to etcd fails.
pub struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    cut_signal: watch::Sender<bool>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let cut = Arc::new(AtomicBool::new(false));
        let (cut_signal, _) = watch::channel(false);
        let (flag, signal) = (cut.clone(), cut_signal.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (flag, mut cut_rx) = (flag.clone(), signal.subscribe());
                tokio::spawn(async move {
                    if flag.load(Ordering::SeqCst) {
                        hold(client).await;
                        return;
                    }
                    let Ok(server) = TcpStream::connect(upstream).await else { return };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let mut up = [0u8; 16 * 1024];
                    let mut down = [0u8; 16 * 1024];
                    loop {
                        tokio::select! {
                            read = client_read.read(&mut up) => match read {
                                Ok(0) | Err(_) => return,
                                Ok(n) => if server_write.write_all(&up[..n]).await.is_err() { return },
                            },
                            read = server_read.read(&mut down) => match read {
                                Ok(0) | Err(_) => return,
                                Ok(n) => if client_write.write_all(&down[..n]).await.is_err() { return },
                            },
                            _ = async { let _ = cut_rx.wait_for(|cut| *cut).await; } => break,
                        }
                    }
                    // Keep both sockets open, pass nothing.
                    let _keep = (client_read, client_write, server_read, server_write);
                    std::future::pending::<()>().await;
                });
            }
        });
        Proxy { addr, cut, cut_signal }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.cut_signal.send_replace(true);
    }
}

async fn hold(stream: TcpStream) {
    let _keep = stream;
    std::future::pending::<()>().await;
}
