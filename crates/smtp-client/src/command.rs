//! The command lines the client writes. smtp-proto 0.2 parses commands
//! but does not write them, so they are formatted here (and parsed back
//! with smtp-proto in the tests).

/// The ESMTP parameters of one MAIL command, chosen from what the server
/// offers and what the message needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MailParameters {
    /// `SIZE=` (RFC 1870), when the server offers SIZE.
    pub size: Option<u64>,
    /// `BODY=8BITMIME` (RFC 6152).
    pub body_8bitmime: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
}

pub(crate) fn mail_from(reverse_path: &str, parameters: MailParameters) -> String {
    let mut line = format!("MAIL FROM:<{reverse_path}>");
    if let Some(size) = parameters.size {
        line.push_str(&format!(" SIZE={size}"));
    }
    if parameters.body_8bitmime {
        line.push_str(" BODY=8BITMIME");
    }
    if parameters.smtputf8 {
        line.push_str(" SMTPUTF8");
    }
    line.push_str("\r\n");
    line
}

pub(crate) fn rcpt_to(forward_path: &str) -> String {
    format!("RCPT TO:<{forward_path}>\r\n")
}

pub(crate) fn ehlo(name: &str) -> String {
    format!("EHLO {name}\r\n")
}

pub(crate) fn helo(name: &str) -> String {
    format!("HELO {name}\r\n")
}

pub(crate) const DATA: &str = "DATA\r\n";
pub(crate) const RSET: &str = "RSET\r\n";
pub(crate) const QUIT: &str = "QUIT\r\n";
pub(crate) const STARTTLS: &str = "STARTTLS\r\n";

/// Whether `address` can go between angle brackets without changing the
/// command: no control characters (a CR or LF would end the command and
/// start another one), no brackets.
pub(crate) fn is_safe_path(address: &str) -> bool {
    !address.bytes().any(|byte| byte < 0x20 || byte == 0x7f || byte == b'<' || byte == b'>')
}

/// Whether a command line for `address` needs SMTPUTF8.
pub(crate) fn needs_smtputf8(address: &str) -> bool {
    !address.is_ascii()
}

#[cfg(test)]
mod tests;
