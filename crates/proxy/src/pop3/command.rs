//! POP3 commands of the AUTHORIZATION state (RFC 1939, RFC 2449, RFC
//! 5034), parsed from one line without its CRLF.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Capa,
    Quit,
    Stls,
    /// The rest of the line: names may hold spaces.
    User(String),
    /// The rest of the line: passwords may hold spaces.
    Pass(String),
    /// `AUTH` alone lists the mechanisms; `initial` is still base64.
    Auth {
        mechanism: Option<String>,
        initial: Option<Vec<u8>>,
    },
    Apop,
    /// Valid only after the login, or not at all.
    Other,
}

impl Command {
    /// For the debug log: never an argument (a password).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Command::Capa => "CAPA",
            Command::Quit => "QUIT",
            Command::Stls => "STLS",
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Auth { .. } => "AUTH",
            Command::Apop => "APOP",
            Command::Other => "other",
        }
    }
}

/// A line that is not a command is answered `-ERR <reason>`.
pub(crate) fn parse(line: &[u8]) -> Result<Command, &'static str> {
    let line = std::str::from_utf8(line).map_err(|_| "invalid UTF-8")?;
    let (keyword, rest) = match line.split_once(' ') {
        Some((keyword, rest)) => (keyword, Some(rest)),
        None => (line, None),
    };
    if keyword.is_empty() {
        return Err("empty command");
    }
    let argument = |rest: Option<&str>| rest.filter(|r| !r.is_empty()).map(str::to_owned).ok_or("missing argument");
    Ok(match keyword.to_ascii_uppercase().as_str() {
        "CAPA" => Command::Capa,
        "QUIT" => Command::Quit,
        "STLS" => Command::Stls,
        "USER" => Command::User(argument(rest)?),
        "PASS" => Command::Pass(argument(rest)?),
        "APOP" => Command::Apop,
        "AUTH" => {
            let mut words = rest.unwrap_or("").split(' ').filter(|w| !w.is_empty());
            let mechanism = words.next().map(str::to_owned);
            let initial = words.next().map(|w| w.as_bytes().to_vec());
            if words.next().is_some() {
                return Err("too many arguments");
            }
            Command::Auth { mechanism, initial }
        }
        _ => Command::Other,
    })
}
