//! The `Received:` trace header (RFC 5321 §4.4) prepended to every
//! message, with the protocol names of RFC 3848 and RFC 6531.

use std::io::Write;
use std::net::IpAddr;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// What the header says about one message.
pub(crate) struct Trace<'a> {
    /// The EHLO/HELO/LHLO argument.
    pub helo: &'a str,
    pub peer: IpAddr,
    pub hostname: &'a str,
    /// `ESMTPSA`, `LMTP`, ...
    pub protocol: &'static str,
    pub id: &'a str,
    /// The recipient, named only when there is exactly one.
    pub recipient: Option<&'a str>,
    pub date: OffsetDateTime,
}

/// The `with` keyword: RFC 3848 (`S` for TLS, `A` for AUTH) and RFC 6531
/// (`UTF8` prefix).
pub(crate) fn protocol(lmtp: bool, extended: bool, smtputf8: bool, tls: bool, authenticated: bool) -> &'static str {
    if !lmtp && !extended {
        return "SMTP";
    }
    const NAMES: [&str; 16] = [
        "ESMTP",
        "ESMTPA",
        "ESMTPS",
        "ESMTPSA",
        "UTF8SMTP",
        "UTF8SMTPA",
        "UTF8SMTPS",
        "UTF8SMTPSA",
        "LMTP",
        "LMTPA",
        "LMTPS",
        "LMTPSA",
        "UTF8LMTP",
        "UTF8LMTPA",
        "UTF8LMTPS",
        "UTF8LMTPSA",
    ];
    let index =
        usize::from(authenticated) | usize::from(tls) << 1 | usize::from(smtputf8) << 2 | usize::from(lmtp) << 3;
    NAMES[index]
}

impl Trace<'_> {
    pub fn write(&self, out: &mut Vec<u8>) {
        let date = self.date.format(&Rfc2822).unwrap_or_default();
        let _ = write!(
            out,
            "Received: from {} ({})\r\n\tby {} with {} id {}",
            self.helo,
            IpLiteral(self.peer),
            self.hostname,
            self.protocol,
            self.id
        );
        match self.recipient {
            Some(recipient) => {
                let _ = write!(out, "\r\n\tfor <{recipient}>; {date}\r\n");
            }
            None => {
                let _ = write!(out, ";\r\n\t{date}\r\n");
            }
        }
    }
}

/// The `Received:` fields in the header section of `message`: its hop
/// count (RFC 5321 §6.3). Continuation lines and the body are not counted.
pub(crate) fn hops(message: &[u8]) -> usize {
    const FIELD: &[u8] = b"received:";
    message
        .split(|&b| b == b'\n')
        .take_while(|line| !matches!(line, [] | [b'\r']))
        .filter(|line| line.len() >= FIELD.len() && line[..FIELD.len()].eq_ignore_ascii_case(FIELD))
        .count()
}

/// An address literal (RFC 5321 §4.1.3): `[192.0.2.1]`, `[IPv6:2001:db8::1]`.
struct IpLiteral(IpAddr);

impl std::fmt::Display for IpLiteral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.to_canonical() {
            IpAddr::V4(v4) => write!(f, "[{v4}]"),
            IpAddr::V6(v6) => write!(f, "[IPv6:{v6}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_are_the_received_fields_of_the_header_section() {
        let message = b"Received: from a\r\n\tby b\r\nRECEIVED: x\r\nSubject: Received: no\r\nreceived:y\r\n\r\nReceived: body\r\n";
        assert_eq!(hops(message), 3);
        assert_eq!(hops(b"Subject: none\r\n\r\n"), 0);
        assert_eq!(hops(b""), 0);
        assert_eq!(hops(b"Received: bare LF\nReceived: too\n\nReceived: body\n"), 2);
    }

    #[test]
    fn protocol_names() {
        assert_eq!(protocol(false, false, false, true, true), "SMTP");
        assert_eq!(protocol(false, true, false, false, false), "ESMTP");
        assert_eq!(protocol(false, true, false, true, false), "ESMTPS");
        assert_eq!(protocol(false, true, false, true, true), "ESMTPSA");
        assert_eq!(protocol(false, true, true, false, true), "UTF8SMTPA");
        assert_eq!(protocol(true, false, false, false, false), "LMTP");
        assert_eq!(protocol(true, true, true, true, false), "UTF8LMTPS");
    }

    #[test]
    fn header_text() {
        let mut trace = Trace {
            helo: "client.example",
            peer: "::ffff:192.0.2.7".parse().unwrap(),
            hostname: "mx.example.com",
            protocol: "ESMTPS",
            id: "00000000000000ab",
            recipient: Some("bob@example.com"),
            date: OffsetDateTime::from_unix_timestamp(0).unwrap(),
        };
        let mut out = Vec::new();
        trace.write(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Received: from client.example ([192.0.2.7])\r\n\tby mx.example.com with ESMTPS id 00000000000000ab\r\n\
             \tfor <bob@example.com>; Thu, 01 Jan 1970 00:00:00 +0000\r\n"
        );
        trace.recipient = None;
        trace.peer = "2001:db8::1".parse().unwrap();
        let mut out = Vec::new();
        trace.write(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Received: from client.example ([IPv6:2001:db8::1])\r\n\tby mx.example.com with ESMTPS id 00000000000000ab;\r\n\
             \tThu, 01 Jan 1970 00:00:00 +0000\r\n"
        );
    }
}
