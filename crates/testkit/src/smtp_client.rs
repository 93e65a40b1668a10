//! A raw line client for protocol edge cases (garbage, over-long lines,
//! half-sent DATA) that well-behaved client libraries refuse to send.
//! It works for SMTP, LMTP and POP3 alike: send bytes, read reply lines.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct SmtpClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl SmtpClient {
    pub fn connect(addr: SocketAddr) -> std::io::Result<SmtpClient> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let writer = stream.try_clone()?;
        Ok(SmtpClient { reader: BufReader::new(stream), writer })
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Sends `line` followed by CRLF.
    pub fn line(&mut self, line: &str) -> std::io::Result<()> {
        self.send(format!("{line}\r\n").as_bytes())
    }

    /// Reads one line without its CRLF; empty when the server closed.
    pub fn read_line(&mut self) -> std::io::Result<String> {
        let mut buf = Vec::new();
        self.reader.read_until(b'\n', &mut buf)?;
        Ok(String::from_utf8_lossy(&buf).trim_end_matches(['\r', '\n']).to_owned())
    }

    /// Reads a complete SMTP reply (all `NNN-` lines and the final `NNN `);
    /// empty when the server has closed the connection.
    pub fn reply(&mut self) -> std::io::Result<String> {
        let mut all = String::new();
        loop {
            let line = self.read_line()?;
            if line.is_empty() {
                // End of stream: whatever came before, or "" if nothing.
                return Ok(all);
            }
            all.push_str(&line);
            all.push('\n');
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return Ok(all);
            }
        }
    }

    /// Sends a command line and returns the reply.
    pub fn command(&mut self, line: &str) -> std::io::Result<String> {
        self.line(line)?;
        self.reply()
    }

    /// True when the server has closed the connection (EOF on read).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = Vec::new();
        matches!(self.reader.read_until(b'\n', &mut buf), Ok(0) | Err(_))
    }
}
