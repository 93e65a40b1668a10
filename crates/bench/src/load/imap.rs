//! IMAP: a mix close to what a mail client does when it opens a mailbox,
//! the same against both servers. Each session: LOGIN, SELECT INBOX, FETCH
//! the headers (FLAGS, UID, RFC822.SIZE and five header fields) of the 50
//! most recent messages, FETCH one whole message (BODY.PEEK[]), STORE
//! +FLAGS (\Seen \Flagged) on three messages, APPEND a message, mark the
//! appended message \Deleted (UID STORE with the APPENDUID, else STORE *),
//! EXPUNGE, LOGOUT. The mailbox holds the same number of messages at the
//! start of every session, which SELECT checks.
//!
//! Every command is an operation; its latency is from the first byte sent
//! to the tagged reply (APPEND's includes the wait for the continuation).
//! The connection and greeting are timed apart; a session's latency runs
//! from the connect to the reply to LOGOUT.

use super::conn::Conn;
use super::message::Message;
use anyhow::{Context, bail, ensure};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The commands of one session, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Login,
    Select,
    FetchHeaders,
    FetchMessage,
    StoreFlags,
    Append,
    StoreDeleted,
    Expunge,
    Logout,
}

impl Op {
    pub const ALL: [Op; 9] = [
        Op::Login,
        Op::Select,
        Op::FetchHeaders,
        Op::FetchMessage,
        Op::StoreFlags,
        Op::Append,
        Op::StoreDeleted,
        Op::Expunge,
        Op::Logout,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Login => "LOGIN",
            Op::Select => "SELECT INBOX",
            Op::FetchHeaders => "FETCH 50 headers",
            Op::FetchMessage => "FETCH BODY.PEEK[]",
            Op::StoreFlags => "STORE +FLAGS (\\Seen \\Flagged)",
            Op::Append => "APPEND",
            Op::StoreDeleted => "STORE +FLAGS.SILENT (\\Deleted)",
            Op::Expunge => "EXPUNGE",
            Op::Logout => "LOGOUT",
        }
    }
}

/// Messages whose headers each session fetches.
const HEADER_WINDOW: u32 = 50;
/// Messages each session flags.
const FLAGGED: u32 = 3;

/// One timed run of the mix against one IMAP listener.
#[derive(Clone)]
pub struct Mix {
    pub addr: SocketAddr,
    /// The clients' own address; `None`: the system's choice.
    pub source: Option<IpAddr>,
    /// Concurrent clients; client k uses account k only.
    pub clients: usize,
    pub accounts: Arc<[String]>,
    pub password: String,
    /// Messages each INBOX holds at the start of a session (checked).
    pub messages_per_account: u32,
    /// Each client starts sessions until this much time has passed...
    pub duration: Duration,
    /// ...and runs at least this many.
    pub min_sessions: usize,
    pub message: Arc<Message>,
    pub serial: Arc<AtomicU64>,
}

/// What a run did: every command's latency, by command.
#[derive(Debug, Default)]
pub struct MixResult {
    pub sessions: u64,
    /// Indexed like [`Op::ALL`].
    pub latencies: [Vec<Duration>; 9],
    /// TCP connect to the greeting: not a command, not an operation.
    pub connect_latencies: Vec<Duration>,
    pub session_latencies: Vec<Duration>,
    pub elapsed: Duration,
}

impl MixResult {
    pub fn operations(&self) -> u64 {
        self.latencies.iter().map(|samples| samples.len() as u64).sum()
    }

    fn merge(&mut self, other: MixResult) {
        self.sessions += other.sessions;
        for (mine, theirs) in self.latencies.iter_mut().zip(other.latencies) {
            mine.extend(theirs);
        }
        self.connect_latencies.extend(other.connect_latencies);
        self.session_latencies.extend(other.session_latencies);
    }
}

impl Mix {
    pub async fn run(&self) -> anyhow::Result<MixResult> {
        ensure!(self.clients <= self.accounts.len(), "{} clients but {} accounts", self.clients, self.accounts.len());
        let start = Instant::now();
        let mut workers = JoinSet::new();
        for client in 0..self.clients {
            let mix = self.clone();
            workers.spawn(async move {
                let account = &mix.accounts[client];
                let mut result = MixResult::default();
                let mut n = 0;
                while n < mix.min_sessions || start.elapsed() < mix.duration {
                    let began = Instant::now();
                    mix.session(account, n, &mut result).await.with_context(|| format!("IMAP session of {account}"))?;
                    result.session_latencies.push(began.elapsed());
                    result.sessions += 1;
                    n += 1;
                }
                anyhow::Ok(result)
            });
        }
        let mut total = MixResult::default();
        while let Some(result) = workers.join_next().await {
            total.merge(result.context("an IMAP client panicked")??);
        }
        total.elapsed = start.elapsed();
        Ok(total)
    }

    async fn session(&self, account: &str, n: usize, result: &mut MixResult) -> anyhow::Result<()> {
        let began = Instant::now();
        let mut client = Client::connect(self.addr, self.source).await?;
        result.connect_latencies.push(began.elapsed());
        let mut timed = |op: Op, began: Instant| result.latencies[op as usize].push(began.elapsed());

        let began = Instant::now();
        client.command(Op::Login, &format!("LOGIN \"{account}\" \"{}\"", self.password)).await?;
        timed(Op::Login, began);

        let began = Instant::now();
        let select = client.command(Op::Select, "SELECT INBOX").await?;
        timed(Op::Select, began);
        let exists = select.exists.context("SELECT: no EXISTS response")?;
        ensure!(
            exists == self.messages_per_account,
            "SELECT: {exists} messages, expected {} (did the last EXPUNGE work?)",
            self.messages_per_account
        );

        let began = Instant::now();
        let first = exists.saturating_sub(HEADER_WINDOW - 1).max(1);
        let headers = client
            .command(
                Op::FetchHeaders,
                &format!(
                    "FETCH {first}:{exists} (FLAGS UID RFC822.SIZE \
                     BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID)])"
                ),
            )
            .await?;
        timed(Op::FetchHeaders, began);
        let expected = exists - first + 1;
        ensure!(headers.fetches == expected, "FETCH headers: {} FETCH responses, expected {expected}", headers.fetches);

        // A different message each session, spread over the mailbox.
        let one = (n as u32).wrapping_mul(37) % exists + 1;
        let began = Instant::now();
        let body = client.command(Op::FetchMessage, &format!("FETCH {one} BODY.PEEK[]")).await?;
        timed(Op::FetchMessage, began);
        ensure!(
            body.literal_octets >= self.message.size() as u64,
            "FETCH BODY.PEEK[]: {} octets, expected at least {}",
            body.literal_octets,
            self.message.size()
        );

        let flag_first = (n as u32).wrapping_mul(FLAGGED) % (exists - FLAGGED + 1) + 1;
        let began = Instant::now();
        client
            .command(
                Op::StoreFlags,
                &format!("STORE {flag_first}:{} +FLAGS (\\Seen \\Flagged)", flag_first + FLAGGED - 1),
            )
            .await?;
        timed(Op::StoreFlags, began);

        let began = Instant::now();
        let appended = client.append(&self.message, self.serial.fetch_add(1, Ordering::Relaxed)).await?;
        timed(Op::Append, began);

        let began = Instant::now();
        let store_deleted = match appended.append_uid {
            Some(uid) => format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"),
            None => "STORE * +FLAGS.SILENT (\\Deleted)".to_owned(),
        };
        client.command(Op::StoreDeleted, &store_deleted).await?;
        timed(Op::StoreDeleted, began);

        let began = Instant::now();
        let expunged = client.command(Op::Expunge, "EXPUNGE").await?;
        timed(Op::Expunge, began);
        ensure!(expunged.expunges == 1, "EXPUNGE: {} messages expunged, expected 1", expunged.expunges);

        let began = Instant::now();
        client.command(Op::Logout, "LOGOUT").await?;
        timed(Op::Logout, began);
        Ok(())
    }
}

/// Opens `count` sessions, each logged in with INBOX selected, spread over
/// `accounts` in turn, with at most `in_flight` being opened at once; the
/// caller keeps them open (idle) as long as it holds the result.
pub async fn idle_sessions(
    addr: SocketAddr,
    accounts: Arc<[String]>,
    password: &str,
    count: usize,
    in_flight: usize,
) -> anyhow::Result<Vec<IdleSession>> {
    let mut opening = JoinSet::new();
    let mut sessions = Vec::with_capacity(count);
    for i in 0..count {
        if opening.len() >= in_flight {
            sessions.push(opening.join_next().await.expect("a session is being opened")??);
        }
        let account = accounts[i % accounts.len()].clone();
        let password = password.to_owned();
        opening.spawn(async move {
            let mut client = Client::connect(addr, None).await.with_context(|| format!("idle session {}", i + 1))?;
            client.command(Op::Login, &format!("LOGIN \"{account}\" \"{password}\"")).await?;
            client.command(Op::Select, "SELECT INBOX").await?;
            anyhow::Ok(IdleSession { _client: client })
        });
    }
    while let Some(session) = opening.join_next().await {
        sessions.push(session??);
    }
    Ok(sessions)
}

/// A logged-in session with INBOX selected; the connection closes when it
/// is dropped.
pub struct IdleSession {
    _client: Client,
}

/// What the responses to one command said.
#[derive(Debug, Default)]
struct Responses {
    exists: Option<u32>,
    fetches: u32,
    expunges: u32,
    literal_octets: u64,
    /// From the tagged OK's `[APPENDUID uidvalidity uid]`.
    append_uid: Option<u32>,
}

struct Client {
    conn: Conn,
    next_tag: u32,
}

impl Client {
    async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> anyhow::Result<Client> {
        let mut client = Client { conn: Conn::connect(addr, source).await?, next_tag: 1 };
        let greeting = client.conn.read_line().await?;
        if !greeting.starts_with(b"* OK") {
            bail!("greeting: {:?}", String::from_utf8_lossy(&greeting).trim_end());
        }
        Ok(client)
    }

    fn tag(&mut self) -> String {
        let tag = format!("A{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    async fn command(&mut self, op: Op, command: &str) -> anyhow::Result<Responses> {
        let tag = self.tag();
        write!(self.conn.write, "{tag} {command}\r\n")?;
        self.conn.flush().await?;
        let mut responses = Responses::default();
        self.read_until_tagged(op, &tag, &mut responses).await?;
        Ok(responses)
    }

    /// APPEND with a synchronising literal: the message is sent after the
    /// server's `+`.
    async fn append(&mut self, message: &Message, serial: u64) -> anyhow::Result<Responses> {
        let tag = self.tag();
        write!(self.conn.write, "{tag} APPEND INBOX {{{}}}\r\n", message.size())?;
        self.conn.flush().await?;
        let mut responses = Responses::default();
        loop {
            let line = self.conn.read_line().await?;
            if line.starts_with(b"+") {
                break;
            }
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            if line.starts_with(tag.as_bytes()) {
                bail!("{}: the server replied {text:?}", Op::Append.name());
            }
            drop(line);
            self.response(&text, &mut responses).await?;
        }
        message.append_text(&mut self.conn.write, serial);
        self.conn.write.extend_from_slice(b"\r\n");
        self.conn.flush().await?;
        self.read_until_tagged(Op::Append, &tag, &mut responses).await?;
        Ok(responses)
    }

    async fn read_until_tagged(&mut self, op: Op, tag: &str, responses: &mut Responses) -> anyhow::Result<()> {
        loop {
            let line = self.conn.read_line().await?;
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            drop(line);
            if let Some(rest) = text.strip_prefix(tag).and_then(|rest| rest.strip_prefix(' ')) {
                if !rest.starts_with("OK") {
                    bail!("{}: the server replied {text:?}", op.name());
                }
                responses.append_uid = append_uid(rest);
                return Ok(());
            }
            self.response(&text, responses).await?;
        }
    }

    /// Takes in an untagged response whose first line is `first`, reading
    /// its literals and the lines after them.
    async fn response(&mut self, first: &str, responses: &mut Responses) -> anyhow::Result<()> {
        let mut words = first.split(' ');
        if words.next() == Some("*")
            && let (Some(Ok(number)), Some(kind)) = (words.next().map(str::parse::<u32>), words.next())
        {
            match kind.to_ascii_uppercase().as_str() {
                "EXISTS" => responses.exists = Some(number),
                "FETCH" => responses.fetches += 1,
                "EXPUNGE" => responses.expunges += 1,
                _ => {}
            }
        }
        let mut line = first.to_owned();
        while let Some(size) = literal_size(&line) {
            self.conn.skip(size).await?;
            responses.literal_octets += size as u64;
            let next = self.conn.read_line().await?;
            line = String::from_utf8_lossy(&next).trim_end().to_owned();
        }
        Ok(())
    }
}

/// The size of the literal that ends `line` (`{n}` or `{n+}`), if any.
fn literal_size(line: &str) -> Option<usize> {
    let inner = line.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    let digits = &inner[open + 1..];
    digits.strip_suffix('+').unwrap_or(digits).parse().ok()
}

/// The UID of `OK [APPENDUID uidvalidity uid] ...`.
fn append_uid(tagged: &str) -> Option<u32> {
    let at = tagged.find("[APPENDUID ")?;
    let mut words = tagged[at + "[APPENDUID ".len()..].split([' ', ']']);
    words.next()?;
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests;
