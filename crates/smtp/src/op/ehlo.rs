//! EHLO, HELO and LHLO (RFC 5321 §4.1.1.1, RFC 2033 §4.1).

use crate::reply::write_multiline;
use crate::session::{Helo, SmtpSession, State};
use std::borrow::Cow;
use std::io::Write;

impl SmtpSession {
    /// A greeting also aborts any transaction (RFC 5321 §4.1.4).
    pub(crate) fn ehlo(&mut self, host: &str, extended: bool, out: &mut Vec<u8>) {
        self.state = State::Idle;
        self.helo = Some(Helo { name: host.to_owned(), extended });
        let hostname = &self.config.hostname;
        if !extended {
            let _ = write!(out, "250 {hostname}\r\n");
            return;
        }
        let mut lines: Vec<Cow<'_, str>> = Vec::with_capacity(9);
        lines.push(format!("{hostname} hello {host}").into());
        lines.push("PIPELINING".into());
        lines.push(format!("SIZE {}", self.config.max_message_size).into());
        lines.push("8BITMIME".into());
        lines.push("SMTPUTF8".into());
        lines.push("ENHANCEDSTATUSCODES".into());
        if self.conn.tls_available && !self.conn.tls {
            lines.push("STARTTLS".into());
        }
        if self.auth_offered() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        write_multiline(out, 250, lines.iter().map(|line| line.as_ref()));
    }
}
