//! SMTP commands a submission frontend answers before AUTH (RFC 5321,
//! RFC 4954), parsed from one line without its CRLF.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Ehlo(String),
    Helo(String),
    StartTls,
    /// `initial` is still base64; `=` is an empty response.
    Auth {
        mechanism: String,
        initial: Option<Vec<u8>>,
    },
    Noop,
    Rset,
    Quit,
    /// MAIL, RCPT, DATA, BDAT: a transaction needs a login here.
    Transaction,
    Vrfy,
    Other,
}

impl Command {
    /// For the debug log: never an argument (a password).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Transaction => "transaction",
            Command::Vrfy => "VRFY",
            Command::Other => "other",
        }
    }
}

/// A line that is not a command: answered `501 5.5.2 <reason>`.
pub(crate) fn parse(line: &[u8]) -> Result<Command, &'static str> {
    let line = std::str::from_utf8(line).map_err(|_| "invalid UTF-8")?;
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    let domain = || {
        if rest.is_empty() || rest.contains(' ') { Err("syntax: EHLO domain") } else { Ok(rest.to_owned()) }
    };
    Ok(match verb.to_ascii_uppercase().as_str() {
        "EHLO" => Command::Ehlo(domain()?),
        "HELO" => Command::Helo(domain()?),
        "STARTTLS" => Command::StartTls,
        "AUTH" => {
            let mut words = rest.split(' ').filter(|w| !w.is_empty());
            let mechanism = words.next().ok_or("syntax: AUTH mechanism [initial-response]")?.to_owned();
            let initial = words.next().map(|w| w.as_bytes().to_vec());
            if words.next().is_some() {
                return Err("syntax: AUTH mechanism [initial-response]");
            }
            Command::Auth { mechanism, initial }
        }
        "NOOP" => Command::Noop,
        "RSET" => Command::Rset,
        "QUIT" => Command::Quit,
        "MAIL" | "RCPT" | "DATA" | "BDAT" => Command::Transaction,
        "VRFY" => Command::Vrfy,
        _ => Command::Other,
    })
}
