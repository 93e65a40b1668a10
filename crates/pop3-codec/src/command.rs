//! The commands a POP3 client sends, and their encoding (used by tests and
//! by clients such as the test kit; the server only decodes).

use std::fmt;

/// A value that must never reach a log: a password or a SASL response.
/// `Debug` prints a placeholder; [`Secret::expose`] gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret text, for the one place that checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// One client command. Message numbers are 1-based (RFC 1939 §3); the
/// decoder never yields 0 for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name` (RFC 1939 §7).
    User {
        name: String,
    },
    /// `PASS string`: everything after the first space, spaces included
    /// (RFC 1939 §7 lets the server treat them as part of the password).
    Pass {
        password: Secret,
    },
    /// `APOP name digest`, the digest being 32 hex digits.
    Apop {
        name: String,
        digest: String,
    },
    /// `AUTH [mechanism [initial-response]]` (RFC 5034). Without a
    /// mechanism the client asks for the list of mechanisms; the initial
    /// response is always `None` then. The response is still base64.
    Auth {
        mechanism: Option<String>,
        initial_response: Option<Secret>,
    },
    Stat,
    /// `LIST [msg]`.
    List {
        msg: Option<u32>,
    },
    /// `UIDL [msg]`.
    Uidl {
        msg: Option<u32>,
    },
    Retr {
        msg: u32,
    },
    /// `TOP msg n`: the headers and the first `lines` lines of the body.
    Top {
        msg: u32,
        lines: u32,
    },
    Dele {
        msg: u32,
    },
    Rset,
    Noop,
    Quit,
    /// RFC 2449 §5.
    Capa,
    /// RFC 2595 §4.
    Stls,
}

impl Command {
    /// The command's keyword, upper-case: safe to log for every command.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User { .. } => "USER",
            Command::Pass { .. } => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } => "AUTH",
            Command::Stat => "STAT",
            Command::List { .. } => "LIST",
            Command::Uidl { .. } => "UIDL",
            Command::Retr { .. } => "RETR",
            Command::Top { .. } => "TOP",
            Command::Dele { .. } => "DELE",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
        }
    }

    /// Appends the command line, CRLF included.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        out.extend_from_slice(self.keyword().as_bytes());
        // Writing into a Vec cannot fail.
        let _ = match self {
            Command::User { name } => write!(out, " {name}"),
            Command::Pass { password } => write!(out, " {}", password.expose()),
            Command::Apop { name, digest } => write!(out, " {name} {digest}"),
            Command::Auth { mechanism: None, .. } => Ok(()),
            Command::Auth { mechanism: Some(mechanism), initial_response } => match initial_response {
                None => write!(out, " {mechanism}"),
                Some(response) => write!(out, " {mechanism} {}", response.expose()),
            },
            Command::List { msg: Some(msg) } | Command::Uidl { msg: Some(msg) } => write!(out, " {msg}"),
            Command::Retr { msg } | Command::Dele { msg } => write!(out, " {msg}"),
            Command::Top { msg, lines } => write!(out, " {msg} {lines}"),
            Command::List { msg: None }
            | Command::Uidl { msg: None }
            | Command::Stat
            | Command::Rset
            | Command::Noop
            | Command::Quit
            | Command::Capa
            | Command::Stls => Ok(()),
        };
        out.extend_from_slice(b"\r\n");
    }
}
