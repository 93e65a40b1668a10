//! SMTP and LMTP delivery: `connections` sessions, each sending its share
//! of the messages back-to-back over one session, one recipient per
//! message, recipients taken round-robin over the accounts. For message
//! submission (RFC 6409) each session first authenticates with AUTH PLAIN.
//!
//! When the server offers PIPELINING (RFC 2920) a message costs one round
//! trip: after the 354 the client sends the message, the end-of-data line
//! and the next MAIL, RCPT and DATA in one write, then reads their four
//! replies. Without PIPELINING every command waits for its reply.

use super::conn::Conn;
use super::message::Message;
use anyhow::{Context, bail};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::task::JoinSet;

/// The reverse-path of the delivery suites (the relay suite sends as its
/// account: submission only takes the authenticated sender).
pub const BENCH_SENDER: &str = "sender@bench.example";

/// The greeting word that tells SMTP from LMTP (RFC 2033 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Smtp,
    Lmtp,
}

/// One delivery run against one listener.
#[derive(Clone)]
pub struct Delivery {
    pub addr: SocketAddr,
    /// The clients' own address; `None`: the system's choice.
    pub source: Option<IpAddr>,
    pub dialect: Dialect,
    pub connections: usize,
    pub messages: usize,
    /// Ready `RCPT TO:<...>\r\n` lines, one per account.
    pub recipients: Arc<[Vec<u8>]>,
    /// The ready `MAIL FROM:<...>\r\n` line of every message.
    pub mail_from: Arc<[u8]>,
    /// The ready `AUTH PLAIN ...\r\n` line each session sends after EHLO;
    /// `None`: no AUTH.
    pub auth: Option<Arc<[u8]>>,
    pub message: Arc<Message>,
    /// Source of unique Message-IDs across the whole run.
    pub serial: Arc<AtomicU64>,
}

impl Delivery {
    /// `RCPT TO` lines for `accounts`, in order.
    pub fn recipient_lines(accounts: &[String]) -> Arc<[Vec<u8>]> {
        accounts.iter().map(|account| format!("RCPT TO:<{account}>\r\n").into_bytes()).collect()
    }

    /// The `MAIL FROM` line for `sender`.
    pub fn mail_from_line(sender: &str) -> Arc<[u8]> {
        format!("MAIL FROM:<{sender}>\r\n").into_bytes().into()
    }

    /// The `AUTH PLAIN` line (RFC 4616, initial response) for `user`.
    pub fn auth_plain_line(user: &str, password: &str) -> Arc<[u8]> {
        format!("AUTH PLAIN {}\r\n", base64(format!("\0{user}\0{password}").as_bytes())).into_bytes().into()
    }

    /// How many of `messages` go to each of `accounts` accounts: message
    /// `i` (over all connections) goes to account `i % accounts`.
    pub fn per_account(messages: usize, accounts: usize) -> Vec<u64> {
        (0..accounts).map(|i| (messages / accounts + usize::from(i < messages % accounts)) as u64).collect()
    }

    /// Runs all sessions to their QUIT; every message was acknowledged
    /// with 250 when it returns.
    pub async fn run(&self) -> anyhow::Result<()> {
        let mut sessions = JoinSet::new();
        for connection in 0..self.connections {
            let share = share(self.messages, self.connections, connection);
            if share > 0 {
                let delivery = self.clone();
                sessions.spawn(async move { delivery.session(connection, share).await });
            }
        }
        while let Some(result) = sessions.join_next().await {
            result.context("a delivery session panicked")??;
        }
        Ok(())
    }

    async fn session(&self, connection: usize, share: usize) -> anyhow::Result<()> {
        let mut session = Session::start(self.addr, self.source, self.dialect).await?;
        if let Some(auth) = &self.auth {
            // Not pipelined: what may follow depends on the answer.
            session.command(auth, Expect::Authenticated).await?;
            session.sync().await?;
        }
        for n in 0..share {
            let recipient = &self.recipients[(connection + n * self.connections) % self.recipients.len()];
            session.command(&self.mail_from, Expect::Ok).await?;
            session.command(recipient, Expect::Ok).await?;
            session.command(b"DATA\r\n", Expect::StartData).await?;
            // The message may only follow the 354.
            session.sync().await?;
            self.message.append_data(&mut session.conn.write, self.serial.fetch_add(1, Ordering::Relaxed));
            // One reply per recipient, for SMTP and LMTP alike.
            session.queued(Expect::Ok).await?;
        }
        session.command(b"QUIT\r\n", Expect::Closing).await?;
        session.sync().await
    }
}

/// How many of `messages` session `connection` of `connections` sends.
fn share(messages: usize, connections: usize, connection: usize) -> usize {
    messages / connections + usize::from(connection < messages % connections)
}

/// Base64 (RFC 4648, padded) by hand: one short line per session does not
/// need a crate.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]) } else { '=' });
        }
    }
    out
}

/// The reply class a queued command waits for.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Greeting,
    Authenticated,
    Ok,
    StartData,
    Closing,
}

impl Expect {
    fn accepts(self, code: u16) -> bool {
        match self {
            Expect::Greeting => code == 220,
            Expect::Authenticated => code == 235,
            Expect::Ok => (200..300).contains(&code),
            Expect::StartData => code == 354,
            Expect::Closing => code == 221,
        }
    }
}

struct Session {
    conn: Conn,
    pipelining: bool,
    /// Replies still to read, in order.
    pending: Vec<Expect>,
    /// The last reply read, for error messages and the EHLO keywords.
    reply: String,
}

impl Session {
    async fn start(addr: SocketAddr, source: Option<IpAddr>, dialect: Dialect) -> anyhow::Result<Session> {
        let conn = Conn::connect(addr, source).await?;
        let mut session = Session { conn, pipelining: false, pending: Vec::with_capacity(8), reply: String::new() };
        session.pending.push(Expect::Greeting);
        session.sync().await?;
        let hello: &[u8] = match dialect {
            Dialect::Smtp => b"EHLO bench.example\r\n",
            Dialect::Lmtp => b"LHLO bench.example\r\n",
        };
        session.command(hello, Expect::Ok).await?;
        session.sync().await?;
        session.pipelining = session
            .reply
            .lines()
            .any(|line| line.get(4..).is_some_and(|keyword| keyword.eq_ignore_ascii_case("PIPELINING")));
        Ok(session)
    }

    /// Queues a command; without PIPELINING, sends it and reads its reply.
    async fn command(&mut self, line: &[u8], expect: Expect) -> anyhow::Result<()> {
        self.conn.write.extend_from_slice(line);
        self.queued(expect).await
    }

    /// Records that what was appended to the write buffer gets a reply.
    async fn queued(&mut self, expect: Expect) -> anyhow::Result<()> {
        self.pending.push(expect);
        if !self.pipelining { self.sync().await } else { Ok(()) }
    }

    /// Sends what is queued and reads every pending reply.
    async fn sync(&mut self) -> anyhow::Result<()> {
        self.conn.flush().await?;
        for i in 0..self.pending.len() {
            let expect = self.pending[i];
            let code = self.read_reply().await?;
            if !expect.accepts(code) {
                bail!("expected {expect:?}, the server replied: {}", self.reply.trim_end());
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Reads a whole reply (every `NNN-` line and the final `NNN `).
    async fn read_reply(&mut self) -> anyhow::Result<u16> {
        self.reply.clear();
        loop {
            let line = self.conn.read_line().await?;
            self.reply.push_str(&String::from_utf8_lossy(&line));
            let code = line
                .get(..3)
                .and_then(|digits| std::str::from_utf8(digits).ok()?.parse::<u16>().ok())
                .with_context(|| format!("not a reply line: {:?}", String::from_utf8_lossy(&line)))?;
            if line.get(3) != Some(&b'-') {
                return Ok(code);
            }
        }
    }
}

#[cfg(test)]
mod tests;
