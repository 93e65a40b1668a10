//! The small clients of the failover measurement: an IMAP login + SELECT
//! (the probe that says an account is reachable again), an IMAP reader of
//! the Message-IDs in a mailbox (the exactly-once check), and an SMTP
//! sender of one short message. Each call is one connection with an
//! overall time limit, so a member that hangs makes the call fail, not
//! the run.

use crate::load::conn::Conn;
use anyhow::{Context, bail, ensure};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The longest part of a literal kept as text (the rest is skipped).
const MAX_LITERAL_TEXT: usize = 64 * 1024;

/// The bench's line connection ([`Conn`]) with text in and out.
struct Lines {
    conn: Conn,
}

impl Lines {
    async fn connect(addr: SocketAddr, source: IpAddr) -> anyhow::Result<Lines> {
        Ok(Lines { conn: Conn::connect(addr, Some(source)).await? })
    }

    async fn send(&mut self, text: &str) -> anyhow::Result<()> {
        self.conn.write.extend_from_slice(text.as_bytes());
        self.conn.flush().await
    }

    /// One line without its CRLF; an error at the end of the stream.
    async fn line(&mut self) -> anyhow::Result<String> {
        let line = self.conn.read_line().await?;
        Ok(String::from_utf8_lossy(&line).trim_end().to_owned())
    }

    /// Untagged lines up to the tagged reply to `tag`, which must be OK;
    /// literals are read into the returned text (so a Message-ID header
    /// sent as a literal is seen).
    async fn imap_until(&mut self, tag: &str) -> anyhow::Result<Vec<String>> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await?;
            if let Some(rest) = line.strip_prefix(tag).and_then(|rest| rest.strip_prefix(' ')) {
                ensure!(rest.starts_with("OK"), "{line}");
                return Ok(lines);
            }
            if let Some(size) = literal_size(&line) {
                lines.push(line);
                let kept = size.min(MAX_LITERAL_TEXT as u64) as usize;
                let literal = self.conn.read_bytes(kept).await?;
                self.conn.skip(size as usize - kept).await?;
                lines.extend(String::from_utf8_lossy(&literal).lines().map(str::to_owned));
                continue;
            }
            lines.push(line);
        }
    }

    async fn imap_login(&mut self, user: &str, password: &str) -> anyhow::Result<()> {
        let greeting = self.line().await?;
        ensure!(greeting.starts_with("* OK"), "greeting: {greeting}");
        self.send(&format!("a LOGIN \"{user}\" \"{password}\"\r\n")).await?;
        self.imap_until("a").await.map(drop)
    }
}

/// LOGIN and SELECT INBOX as `user`; the message count SELECT reported.
pub async fn login_select(
    addr: SocketAddr,
    source: IpAddr,
    user: &str,
    password: &str,
    limit: Duration,
) -> anyhow::Result<u32> {
    tokio::time::timeout(limit, async {
        let mut c = Lines::connect(addr, source).await?;
        c.imap_login(user, password).await?;
        c.send("b SELECT INBOX\r\n").await?;
        let lines = c.imap_until("b").await?;
        let exists = lines.iter().find_map(|line| exists(line)).context("SELECT: no EXISTS")?;
        let _ = c.send("c LOGOUT\r\n").await;
        Ok(exists)
    })
    .await
    .context("the IMAP probe timed out")?
}

/// The Message-ID of every message in `user`'s INBOX, in mailbox order.
pub async fn message_ids(addr: SocketAddr, source: IpAddr, user: &str, password: &str) -> anyhow::Result<Vec<String>> {
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut c = Lines::connect(addr, source).await?;
        c.imap_login(user, password).await?;
        c.send("b SELECT INBOX\r\n").await?;
        let lines = c.imap_until("b").await?;
        let count = lines.iter().find_map(|line| exists(line)).context("SELECT: no EXISTS")?;
        if count == 0 {
            return Ok(Vec::new());
        }
        c.send("d FETCH 1:* (BODY.PEEK[HEADER.FIELDS (Message-ID)])\r\n").await?;
        let lines = c.imap_until("d").await?;
        let ids: Vec<String> = lines
            .iter()
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("message-id").then(|| value.trim().to_owned())
            })
            .collect();
        ensure!(ids.len() == count as usize, "{count} messages but {} Message-IDs", ids.len());
        let _ = c.send("e LOGOUT\r\n").await;
        Ok(ids)
    })
    .await
    .context("reading the Message-IDs timed out")?
}

/// Sends one short message with `message_id` to `recipient`; `Ok` only
/// when the server acknowledged it with 250 after the data.
pub async fn send(addr: SocketAddr, source: IpAddr, recipient: &str, message_id: &str) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut c = Lines::connect(addr, source).await?;
        smtp_reply(&mut c, "220").await?;
        c.send("EHLO bench.example\r\n").await?;
        smtp_reply(&mut c, "250").await?;
        c.send("MAIL FROM:<sender@bench.example>\r\n").await?;
        smtp_reply(&mut c, "250").await?;
        c.send(&format!("RCPT TO:<{recipient}>\r\n")).await?;
        smtp_reply(&mut c, "250").await?;
        c.send("DATA\r\n").await?;
        smtp_reply(&mut c, "354").await?;
        c.send(&format!(
            "From: <sender@bench.example>\r\nTo: <{recipient}>\r\nMessage-ID: {message_id}\r\n\
             Subject: failover load\r\n\r\nA message sent while members are killed.\r\n.\r\n"
        ))
        .await?;
        smtp_reply(&mut c, "250").await?;
        let _ = c.send("QUIT\r\n").await;
        Ok(())
    })
    .await
    .context("the SMTP session timed out")?
}

/// Reads a (multi-line) SMTP reply; an error unless its code is `code`.
async fn smtp_reply(c: &mut Lines, code: &str) -> anyhow::Result<()> {
    loop {
        let line = c.line().await?;
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            if !line.starts_with(code) {
                bail!("expected {code}: {line}");
            }
            return Ok(());
        }
    }
}

/// `* 12 EXISTS` -> 12.
fn exists(line: &str) -> Option<u32> {
    let rest = line.strip_prefix("* ")?;
    let (number, word) = rest.split_once(' ')?;
    word.eq_ignore_ascii_case("EXISTS").then(|| number.parse().ok()).flatten()
}

/// The size of the literal that ends `line` (`{n}`), if any.
fn literal_size(line: &str) -> Option<u64> {
    let inner = line.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    let digits = &inner[open + 1..];
    digits.strip_suffix('+').unwrap_or(digits).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{exists, literal_size};

    #[test]
    fn reads_exists_and_literal_sizes() {
        assert_eq!(exists("* 12 EXISTS"), Some(12));
        assert_eq!(exists("* 3 RECENT"), None);
        assert_eq!(exists("* OK [UIDVALIDITY 1]"), None);
        assert_eq!(literal_size("* 1 FETCH (BODY[HEADER.FIELDS (Message-ID)] {45}"), Some(45));
        assert_eq!(literal_size("* 1 FETCH (FLAGS ())"), None);
    }
}
