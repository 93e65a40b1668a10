//! A fast SMTP sink for the relay suite: the remote server Rookery relays
//! to, and the ceiling a client sending straight to it reaches.
//!
//! It accepts everything: EHLO (with PIPELINING and 8BITMIME), MAIL, any
//! RCPT, DATA read to its terminating `.` line and thrown away. It does
//! not un-dot-stuff (the content is discarded) but finds the terminator
//! across reads, and it counts every message it took: per recipient and
//! by the serial in the bench's Message-ID, so that the bench can check
//! that each message arrived exactly once.
//!
//! It runs on a thread and a tokio runtime of its own: it stands for
//! another machine's server, so it must not share the load generator's
//! thread (one thread doing both would halve the ceiling) nor Rookery's.

use anyhow::{Context, bail};
use bytes::{Buf, BytesMut};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

const READ_CHUNK: usize = 64 * 1024;
/// A command line longer than this is an error (RFC 5321 allows 512).
const MAX_LINE: usize = 4096;
/// The start of each message kept to find its Message-ID: the bench's
/// headers and the Received line Rookery adds fit many times over.
const HEAD_CAP: usize = 8 * 1024;

/// What the sink received since the last [`Sink::take`].
#[derive(Debug, Default)]
pub struct Tally {
    /// Connections accepted.
    pub connections: u64,
    /// Messages whose final `.` was answered 250.
    pub messages: u64,
    /// Messages per recipient (RCPT TO address as sent).
    pub by_recipient: HashMap<String, u64>,
    /// The serials of the bench Message-IDs seen.
    pub serials: HashSet<u64>,
    /// Serials seen more than once (each repeat listed).
    pub duplicates: Vec<u64>,
    /// Messages without a bench Message-ID.
    pub unidentified: u64,
}

impl Tally {
    /// Counts one message for `recipients` with `serial`.
    pub(crate) fn record(&mut self, recipients: &[String], serial: Option<u64>) {
        self.messages += 1;
        for recipient in recipients {
            *self.by_recipient.entry(recipient.clone()).or_default() += 1;
        }
        match serial {
            Some(serial) if !self.serials.insert(serial) => self.duplicates.push(serial),
            Some(_) => {}
            None => self.unidentified += 1,
        }
    }
}

/// Shared by the sink's sessions and the bench.
struct Shared {
    tally: Mutex<Tally>,
    /// Messages received since the sink started; never reset, so that a
    /// waiter can ask for "this many more".
    total: watch::Sender<u64>,
}

/// A running sink; stopped (its thread joined) when dropped.
pub struct Sink {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    total: watch::Receiver<u64>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sink {
    /// Starts the sink on a free port of `ip` (a loopback address).
    pub fn start(ip: &str) -> anyhow::Result<Sink> {
        // Bound here, with std, so that the caller may be inside a runtime
        // and gets the address (or the error) at once.
        let listener = std::net::TcpListener::bind((ip, 0)).with_context(|| format!("binding the sink on {ip}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (total, total_rx) = watch::channel(0);
        let shared = Arc::new(Shared { tally: Mutex::new(Tally::default()), total });
        let (stop, stopped) = oneshot::channel();
        let accepting = shared.clone();
        let thread = std::thread::Builder::new().name("bench-sink".to_owned()).spawn(move || {
            runtime.block_on(async move {
                let listener = match TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(error) => {
                        // The bench then waits in vain and says so.
                        eprintln!("bench sink: {error}");
                        return;
                    }
                };
                tokio::select! {
                    () = accept(listener, accepting) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime here ends every open session.
        })?;
        Ok(Sink { addr, shared, total: total_rx, stop: Some(stop), thread: Some(thread) })
    }

    /// Messages received since the sink started.
    pub fn total(&self) -> u64 {
        *self.total.borrow()
    }

    /// What was received since the last call, and a fresh tally.
    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.shared.tally.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Waits until [`Sink::total`] reaches `target`; fails when no message
    /// arrives for `stall_limit`.
    pub async fn wait_for(&self, target: u64, stall_limit: Duration) -> anyhow::Result<()> {
        let mut total = self.total.clone();
        loop {
            let have = *total.borrow_and_update();
            if have >= target {
                return Ok(());
            }
            match tokio::time::timeout(stall_limit, total.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("the sink stopped"),
                Err(_) => bail!("the sink got no message for {stall_limit:?}; it has {have} of {target}"),
            }
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                shared.tally.lock().unwrap_or_else(PoisonError::into_inner).connections += 1;
                let shared = shared.clone();
                tokio::spawn(async move {
                    // A broken session shows up as missing messages in the
                    // bench's check; say why here.
                    if let Err(error) = Session::new(stream, shared).run().await {
                        eprintln!("bench sink: session failed: {error:#}");
                    }
                });
            }
            Err(error) => {
                // Out of file descriptors and the like: wait, do not spin.
                eprintln!("bench sink: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Where the end of a message is in `buffer`: `Found(content, consumed)`
/// when the terminating `.` line is there (`content` octets of message,
/// including its last CRLF, then `consumed` octets up to the end of the
/// `.` line), `More(scanned)` when the first `scanned` octets are content
/// and the rest may start a terminator. `at_line_start`: the buffer
/// begins a line (the DATA line's CRLF, or a CRLF kept from the last
/// scan, precedes it).
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    Found(usize, usize),
    More(usize),
}

fn scan_data(buffer: &[u8], at_line_start: bool) -> Scan {
    if at_line_start && buffer.starts_with(b".\r\n") {
        return Scan::Found(0, 3);
    }
    if let Some(at) = memchr::memmem::find(buffer, b"\r\n.\r\n") {
        return Scan::Found(at + 2, at + 5);
    }
    // The last four octets may be the start of a terminator (`\r\n.\r`);
    // a shorter buffer at a line start may be the start of `.\r\n`.
    Scan::More(buffer.len().saturating_sub(4))
}

/// The serial in a bench Message-ID (`<16 hex digits@...>`), looked for in
/// the header section of `head`.
pub(crate) fn bench_serial(head: &[u8]) -> Option<u64> {
    let headers = match memchr::memmem::find(head, b"\r\n\r\n") {
        Some(end) => &head[..end + 2],
        None => head,
    };
    headers.split(|&b| b == b'\n').find_map(|line| {
        let (name, value) = line.split_at(line.iter().position(|&b| b == b':')?);
        if !name.eq_ignore_ascii_case(b"Message-ID") {
            return None;
        }
        let value = std::str::from_utf8(&value[1..]).ok()?.trim();
        let digits = value.strip_prefix('<')?.split_once('@')?.0;
        if digits.len() != 16 {
            return None;
        }
        u64::from_str_radix(digits, 16).ok()
    })
}

struct Session {
    stream: TcpStream,
    shared: Arc<Shared>,
    read: BytesMut,
    /// Replies not sent yet: with PIPELINING they go out together when the
    /// client has nothing more for us to read.
    write: Vec<u8>,
    recipients: Vec<String>,
}

impl Session {
    fn new(stream: TcpStream, shared: Arc<Shared>) -> Session {
        Session {
            stream,
            shared,
            read: BytesMut::with_capacity(READ_CHUNK),
            write: Vec::with_capacity(1024),
            recipients: Vec::new(),
        }
    }

    async fn run(mut self) -> anyhow::Result<()> {
        self.stream.set_nodelay(true)?;
        self.write.extend_from_slice(b"220 sink.example ESMTP bench sink\r\n");
        loop {
            let Some(line) = self.read_line().await? else { return Ok(()) };
            let verb = line.get(..4).map(<[u8]>::to_ascii_uppercase).unwrap_or_default();
            match &verb[..] {
                b"EHLO" => {
                    self.recipients.clear();
                    self.write.extend_from_slice(b"250-sink.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
                }
                b"HELO" | b"RSET" => {
                    self.recipients.clear();
                    self.write.extend_from_slice(b"250 2.0.0 ok\r\n");
                }
                b"MAIL" => {
                    self.recipients.clear();
                    self.write.extend_from_slice(b"250 2.1.0 ok\r\n");
                }
                b"RCPT" => {
                    let text = String::from_utf8_lossy(&line);
                    let address = text
                        .split_once('<')
                        .and_then(|(_, rest)| rest.split_once('>'))
                        .map_or_else(|| text.trim().to_owned(), |(address, _)| address.to_owned());
                    self.recipients.push(address);
                    self.write.extend_from_slice(b"250 2.1.5 ok\r\n");
                }
                b"DATA" if self.recipients.is_empty() => {
                    self.write.extend_from_slice(b"503 5.5.1 no valid recipients\r\n");
                }
                b"DATA" => {
                    self.write.extend_from_slice(b"354 go ahead\r\n");
                    let serial = self.read_data().await?;
                    let recipients = std::mem::take(&mut self.recipients);
                    self.shared.tally.lock().unwrap_or_else(PoisonError::into_inner).record(&recipients, serial);
                    self.shared.total.send_modify(|total| *total += 1);
                    self.write.extend_from_slice(b"250 2.0.0 ok\r\n");
                }
                b"NOOP" => self.write.extend_from_slice(b"250 2.0.0 ok\r\n"),
                b"QUIT" => {
                    self.write.extend_from_slice(b"221 2.0.0 bye\r\n");
                    self.flush().await?;
                    return Ok(());
                }
                _ => self.write.extend_from_slice(b"502 5.5.1 not implemented\r\n"),
            }
        }
    }

    /// Sends the replies collected so far.
    async fn flush(&mut self) -> anyhow::Result<()> {
        if !self.write.is_empty() {
            self.stream.write_all(&self.write).await.context("writing to the client")?;
            self.write.clear();
        }
        Ok(())
    }

    /// Reads more from the client, first sending the replies it waits for
    /// (everything it pipelined so far has been answered). `false` at the
    /// end of the stream.
    async fn fill(&mut self) -> anyhow::Result<bool> {
        self.flush().await?;
        self.read.reserve(READ_CHUNK);
        Ok(self.stream.read_buf(&mut self.read).await.context("reading from the client")? > 0)
    }

    /// The next command line without its line end; `None` when the client
    /// closed the connection between commands.
    async fn read_line(&mut self) -> anyhow::Result<Option<BytesMut>> {
        let mut searched = 0;
        loop {
            if let Some(at) = memchr::memchr(b'\n', &self.read[searched..]) {
                let mut line = self.read.split_to(searched + at + 1);
                line.truncate(line.len() - 1);
                if line.last() == Some(&b'\r') {
                    line.truncate(line.len() - 1);
                }
                return Ok(Some(line));
            }
            searched = self.read.len();
            if searched > MAX_LINE {
                bail!("a command line longer than {MAX_LINE} octets");
            }
            if !self.fill().await? {
                if self.read.is_empty() {
                    return Ok(None);
                }
                bail!("the client closed the connection in a command line");
            }
        }
    }

    /// Reads the message after a 354 up to and including its `.` line,
    /// dropping it as it goes; the serial of its bench Message-ID.
    async fn read_data(&mut self) -> anyhow::Result<Option<u64>> {
        let mut head = Vec::new();
        let mut at_line_start = true;
        loop {
            match scan_data(&self.read, at_line_start) {
                Scan::Found(content, consumed) => {
                    keep_head(&mut head, &self.read[..content]);
                    self.read.advance(consumed);
                    return Ok(bench_serial(&head));
                }
                Scan::More(scanned) => {
                    if scanned > 0 {
                        keep_head(&mut head, &self.read[..scanned]);
                        self.read.advance(scanned);
                        at_line_start = false;
                    }
                }
            }
            if !self.fill().await? {
                bail!("the client closed the connection in DATA");
            }
        }
    }
}

/// Appends to `head` what fits under [`HEAD_CAP`].
fn keep_head(head: &mut Vec<u8>, content: &[u8]) {
    let room = HEAD_CAP.saturating_sub(head.len());
    head.extend_from_slice(&content[..room.min(content.len())]);
}

#[cfg(test)]
mod tests;
