//! POP3 retrieval: `sessions` concurrent sessions go through the accounts
//! `passes` times, one session per account and pass; each session logs in
//! with USER/PASS, checks STAT, RETRs every message (read to the final dot)
//! and QUITs without DELE.
//!
//! When the server offers PIPELINING (RFC 2449) up to [`WINDOW`] RETRs are
//! in flight; otherwise each RETR waits for the previous message.

use super::conn::Conn;
use anyhow::{Context, bail, ensure};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinSet;

/// RETR commands in flight per pipelining session.
const WINDOW: usize = 16;

/// One retrieval run against one POP3 listener.
#[derive(Clone)]
pub struct Retrieval {
    pub addr: SocketAddr,
    pub sessions: usize,
    pub accounts: Arc<[String]>,
    pub password: String,
    /// Messages each maildrop must hold (checked with STAT).
    pub messages_per_account: usize,
    /// How many times every account is retrieved.
    pub passes: usize,
}

/// What a run read.
#[derive(Debug, Default, Clone, Copy)]
pub struct Retrieved {
    pub messages: u64,
    /// Message octets as sent (dot-stuffed), without status lines.
    pub octets: u64,
}

impl Retrieval {
    pub async fn run(&self) -> anyhow::Result<Retrieved> {
        let sessions = self.sessions.min(self.accounts.len());
        let mut workers = JoinSet::new();
        for worker in 0..sessions {
            let retrieval = self.clone();
            workers.spawn(async move {
                let mut total = Retrieved::default();
                for _ in 0..retrieval.passes {
                    // Worker k owns accounts k, k + sessions, ...: a maildrop
                    // never has two sessions at once.
                    for account in retrieval.accounts.iter().skip(worker).step_by(sessions) {
                        let session =
                            retrieval.session(account).await.with_context(|| format!("POP3 session of {account}"))?;
                        total.messages += session.messages;
                        total.octets += session.octets;
                    }
                }
                anyhow::Ok(total)
            });
        }
        let mut total = Retrieved::default();
        while let Some(result) = workers.join_next().await {
            let worker = result.context("a POP3 session panicked")??;
            total.messages += worker.messages;
            total.octets += worker.octets;
        }
        Ok(total)
    }

    async fn session(&self, account: &str) -> anyhow::Result<Retrieved> {
        let mut conn = Conn::connect(self.addr, None).await?;
        status(&mut conn, "greeting").await?;
        conn.write.extend_from_slice(b"CAPA\r\n");
        conn.flush().await?;
        status(&mut conn, "CAPA").await?;
        let mut pipelining = false;
        loop {
            let line = conn.read_line().await?;
            if &line[..] == b".\r\n" {
                break;
            }
            pipelining |= line.eq_ignore_ascii_case(b"PIPELINING\r\n");
        }
        write!(conn.write, "USER {account}\r\n")?;
        conn.flush().await?;
        status(&mut conn, "USER").await?;
        write!(conn.write, "PASS {}\r\n", self.password)?;
        conn.flush().await?;
        status(&mut conn, "PASS").await?;
        conn.write.extend_from_slice(b"STAT\r\n");
        conn.flush().await?;
        let stat = status(&mut conn, "STAT").await?;
        let count: usize = stat
            .split_ascii_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("bad STAT reply {stat:?}"))?;
        ensure!(
            count == self.messages_per_account,
            "STAT says {count} messages, expected {}",
            self.messages_per_account
        );

        let window = if pipelining { WINDOW } else { 1 };
        let mut retrieved = Retrieved::default();
        let mut sent = 0;
        while (retrieved.messages as usize) < count {
            // Top the window up when half of it has been answered.
            let in_flight = sent - retrieved.messages as usize;
            if in_flight <= window / 2 {
                while sent < count && sent - (retrieved.messages as usize) < window {
                    sent += 1;
                    write!(conn.write, "RETR {sent}\r\n")?;
                }
                conn.flush().await?;
            }
            status(&mut conn, "RETR").await?;
            retrieved.octets += conn.skip_dot_terminated().await?;
            retrieved.messages += 1;
        }
        conn.write.extend_from_slice(b"QUIT\r\n");
        conn.flush().await?;
        status(&mut conn, "QUIT").await?;
        Ok(retrieved)
    }
}

/// Reads a status line; fails on anything but `+OK`.
async fn status(conn: &mut Conn, what: &str) -> anyhow::Result<String> {
    let line = conn.read_line().await?;
    let text = String::from_utf8_lossy(&line).trim_end().to_owned();
    if !line.starts_with(b"+OK") {
        bail!("{what}: the server replied {text:?}");
    }
    Ok(text)
}
