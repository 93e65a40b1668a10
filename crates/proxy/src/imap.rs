//! The IMAP frontend: greeting, CAPABILITY, STARTTLS, ID, LOGIN and
//! AUTHENTICATE PLAIN/LOGIN (with and without SASL-IR) before the login;
//! the login is replayed to the backend as `AUTHENTICATE PLAIN` with an
//! initial response under the client's own tag, so the backend's tagged
//! answer goes back to the client untouched.
//!
//! The capability list before the login is a fixed copy of the backends'
//! (crates/imap `capabilities`): the backend is not known until the login
//! names the account, and every backend runs the same code. After the
//! login the client gets the backend's own list, in its `OK [CAPABILITY]`.

mod command;
mod reader;

use crate::backend::{BackendConn, BackendError, printable};
use crate::client::{ClientConn, Gone};
use crate::credentials::Login;
use crate::frontend::{ClientInfo, Frontend, Protocol};
use crate::login::{LoginWords, Replay, Verdict};
use crate::lookup::BackendLookup;
use command::Kind;
use reader::Read;
use sasl::Credentials;

/// Untagged lines a backend may send before its login answer, in bytes.
const MAX_UNTAGGED: usize = 64 * 1024;

pub(crate) async fn run<L: BackendLookup>(frontend: &Frontend<L>, mut client: ClientConn, info: ClientInfo) {
    let greeting = format!("* OK [CAPABILITY {}] Rookery IMAP ready\r\n", capabilities(frontend, &client, &info));
    if client.write(greeting.as_bytes()).await.is_err() {
        return;
    }
    let mut failures = 0;
    loop {
        let segments = match reader::read_command(&mut client, &frontend.config).await {
            Ok(Read::Command(segments)) => segments,
            Ok(Read::Answer(reply)) => {
                if client.write(&reply).await.is_err() {
                    return;
                }
                continue;
            }
            Ok(Read::Close(reply)) => {
                let _ = client.write(&reply).await;
                return;
            }
            Err(Gone::TimedOut) => {
                let _ = client.write(b"* BYE autologout; idle for too long\r\n").await;
                return;
            }
            Err(Gone::Closed) => return,
        };
        let command = match command::parse(&segments) {
            Ok(command) => command,
            Err(e) => {
                if client.write(&e.reply()).await.is_err() {
                    return;
                }
                continue;
            }
        };
        tracing::debug!(target: "proxy::imap", tag = %command.tag, command = ?CommandName(&command.kind), "command");
        let tag = command.tag;
        let reply = match command.kind {
            Kind::Capability => {
                format!("* CAPABILITY {}\r\n{tag} OK CAPABILITY completed\r\n", capabilities(frontend, &client, &info))
            }
            Kind::Noop => format!("{tag} OK NOOP completed\r\n"),
            Kind::Id => format!("* ID NIL\r\n{tag} OK ID completed\r\n"),
            Kind::Logout => {
                let _ = client.write(format!("* BYE logging out\r\n{tag} OK LOGOUT completed\r\n").as_bytes()).await;
                return;
            }
            Kind::StartTls => match &frontend.tls {
                Some(acceptor) if !client.tls => {
                    if client.write(format!("{tag} OK begin TLS negotiation now\r\n").as_bytes()).await.is_err() {
                        return;
                    }
                    client = match client.start_tls(acceptor, frontend.config.login_timeout).await {
                        Ok(client) => client,
                        Err(_) => return,
                    };
                    continue;
                }
                Some(_) => format!("{tag} BAD TLS is already active\r\n"),
                None => format!("{tag} BAD STARTTLS is not available\r\n"),
            },
            Kind::Login { user, password } => {
                if !frontend.plaintext_auth_allowed(Protocol::Imap, &client, &info) {
                    format!("{tag} NO [PRIVACYREQUIRED] use STARTTLS first\r\n")
                } else {
                    let credentials = match (String::from_utf8(user), String::from_utf8(password)) {
                        (Ok(authcid), Ok(password)) => Some(Credentials { authzid: None, authcid, password }),
                        _ => None,
                    };
                    match log_in(frontend, client, &info, &tag, credentials, &mut failures).await {
                        Some(back) => {
                            client = back;
                            continue;
                        }
                        None => return,
                    }
                }
            }
            Kind::Authenticate { mechanism, initial } => {
                let credentials = match authenticate(frontend, &mut client, &info, &tag, &mechanism, initial).await {
                    Ok(Sasl::Done(credentials)) => credentials,
                    Ok(Sasl::Refused(reply)) => {
                        if client.write(reply.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Err(_) => return,
                };
                match log_in(frontend, client, &info, &tag, credentials, &mut failures).await {
                    Some(back) => {
                        client = back;
                        continue;
                    }
                    None => return,
                }
            }
            Kind::Other { name } => format!("{tag} BAD {name} is not valid before login\r\n"),
        };
        if client.write(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// How an AUTHENTICATE exchange with the client ended.
enum Sasl {
    /// The client's credentials; `None` when they are not text, which is
    /// answered like a wrong password.
    Done(Option<Credentials>),
    /// Answered without a login attempt (cancelled, malformed, policy).
    Refused(String),
}

/// LOGIN's prompts, base64 of `Username:` and `Password:`.
const USERNAME_PROMPT: &[u8] = b"+ VXNlcm5hbWU6\r\n";
const PASSWORD_PROMPT: &[u8] = b"+ UGFzc3dvcmQ6\r\n";

async fn authenticate<L: BackendLookup>(
    frontend: &Frontend<L>,
    client: &mut ClientConn,
    info: &ClientInfo,
    tag: &str,
    mechanism: &str,
    initial: Option<Vec<u8>>,
) -> Result<Sasl, Gone> {
    let login = mechanism.eq_ignore_ascii_case("LOGIN");
    if !login && !mechanism.eq_ignore_ascii_case("PLAIN") {
        return Ok(Sasl::Refused(format!("{tag} NO unsupported mechanism\r\n")));
    }
    if !frontend.plaintext_auth_allowed(Protocol::Imap, client, info) {
        return Ok(Sasl::Refused(format!("{tag} NO [PRIVACYREQUIRED] use STARTTLS first\r\n")));
    }
    let first = match initial {
        Some(initial) => initial,
        None => {
            client.write(if login { USERNAME_PROMPT } else { b"+ \r\n" }).await?;
            match reader::read_sasl_line(client, &frontend.config).await? {
                Ok(line) => line,
                Err(reply) => return Ok(Sasl::Refused(reply.for_tag(tag))),
            }
        }
    };
    let first = match reader::decode_sasl(&first) {
        Ok(first) => first,
        Err(reply) => return Ok(Sasl::Refused(reply.for_tag(tag))),
    };
    if !login {
        return Ok(match sasl::parse_plain(&first) {
            Ok(credentials) => Sasl::Done(Some(credentials)),
            Err(sasl::SaslError::Utf8) => Sasl::Done(None),
            Err(_) => Sasl::Refused(format!("{tag} BAD invalid PLAIN message\r\n")),
        });
    }
    client.write(PASSWORD_PROMPT).await?;
    let password = match reader::read_sasl_line(client, &frontend.config).await? {
        Ok(line) => line,
        Err(reply) => return Ok(Sasl::Refused(reply.for_tag(tag))),
    };
    let password = match reader::decode_sasl(&password) {
        Ok(password) => password,
        Err(reply) => return Ok(Sasl::Refused(reply.for_tag(tag))),
    };
    let mut exchange = sasl::LoginExchange::default();
    let credentials = match exchange.step(first) {
        Ok(None) => exchange.step(password).ok().flatten(),
        _ => None,
    };
    Ok(Sasl::Done(credentials))
}

/// Tries the login at the account's backend. Gives the client back when
/// the session goes on before the login, `None` when it is over (spliced
/// and finished, closed, or too many failures).
async fn log_in<L: BackendLookup>(
    frontend: &Frontend<L>,
    client: ClientConn,
    info: &ClientInfo,
    tag: &str,
    credentials: Option<Credentials>,
    failures: &mut usize,
) -> Option<ClientConn> {
    let login = credentials.and_then(|c| Login::resolve(c, &frontend.config.main_domain));
    let words = LoginWords {
        failed: auth_failed(tag),
        unavailable: format!("{tag} NO [UNAVAILABLE] account is unavailable, try again later\r\n").into_bytes(),
        too_many: b"* BYE too many failed logins\r\n",
        answer_before_bye: true,
        splice_idle: frontend.config.splice_idle.imap,
    };
    frontend.finish_login(client, info, login, Replay::Imap { tag }, words, failures).await
}

/// The backends' answer to wrong credentials, word for word.
fn auth_failed(tag: &str) -> Vec<u8> {
    format!("{tag} NO [AUTHENTICATIONFAILED] invalid credentials\r\n").into_bytes()
}

/// The capabilities before the login: the backends' list (see the
/// module comment), with STARTTLS and the login methods as this
/// connection allows them.
fn capabilities<L: BackendLookup>(frontend: &Frontend<L>, client: &ClientConn, info: &ClientInfo) -> String {
    let mut caps = vec!["IMAP4rev1", "IMAP4rev2", "ESEARCH", "SEARCHRES"];
    if frontend.tls.is_some() && !client.tls {
        caps.push("STARTTLS");
    }
    if frontend.plaintext_auth_allowed(Protocol::Imap, client, info) {
        caps.extend(["AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR"]);
    } else {
        caps.push("LOGINDISABLED");
    }
    caps.extend(["ID", "ENABLE", "IDLE", "UIDPLUS", "MOVE", "UNSELECT", "BINARY", "CONDSTORE", "QRESYNC"]);
    caps.extend(["CHILDREN", "SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "NAMESPACE", "QUOTA", "QUOTA=RES-STORAGE"]);
    caps.push("LITERAL-");
    format!("{} APPENDLIMIT={}", caps.join(" "), frontend.config.imap_append_limit)
}

/// Replays the login at the backend and sorts its answer.
pub(crate) async fn replay(backend: &mut BackendConn, tag: &str, login: &Login) -> Result<Verdict, BackendError> {
    let greeting = backend.read_line().await?;
    if !greeting.starts_with(b"* OK") {
        return Err(BackendError::Unexpected { addr: backend.addr, answer: printable(&greeting) });
    }
    backend.write(format!("{tag} AUTHENTICATE PLAIN {}\r\n", login.plain_base64()).as_bytes()).await?;
    let mut untagged = Vec::new();
    loop {
        let line = backend.read_line().await?;
        if line.starts_with(b"* ") && untagged.len() + line.len() <= MAX_UNTAGGED {
            untagged.extend_from_slice(&line);
            continue;
        }
        let Some(status) = line.strip_prefix(tag.as_bytes()).and_then(|rest| rest.strip_prefix(b" ")) else {
            return Err(BackendError::Unexpected { addr: backend.addr, answer: printable(&line) });
        };
        return Ok(classify(status, untagged, line.clone()));
    }
}

/// Sorts a tagged answer (`status` is what follows the tag).
fn classify(status: &[u8], mut untagged: Vec<u8>, line: Vec<u8>) -> Verdict {
    let status = printable(status);
    let upper = status.to_ascii_uppercase();
    if upper.starts_with("OK") {
        untagged.extend_from_slice(&line);
        Verdict::Accepted { reply: untagged }
    } else if upper.starts_with("NO [AUTHENTICATIONFAILED]") {
        Verdict::Refused { reply: line }
    } else if upper.starts_with("NO [UNAVAILABLE]") && upper.contains("SERVED ELSEWHERE") {
        // The backends' wording for "not hosted here" (crates/imap
        // op/auth.rs); a response code of its own would be sturdier.
        Verdict::NotHostedHere { reply: line }
    } else {
        Verdict::Other { reply: line }
    }
}

/// A command's name for the debug log, never its arguments (a password).
struct CommandName<'a>(&'a Kind);

impl std::fmt::Debug for CommandName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Kind::Capability => f.write_str("CAPABILITY"),
            Kind::Noop => f.write_str("NOOP"),
            Kind::Logout => f.write_str("LOGOUT"),
            Kind::StartTls => f.write_str("STARTTLS"),
            Kind::Id => f.write_str("ID"),
            Kind::Login { .. } => f.write_str("LOGIN"),
            Kind::Authenticate { mechanism, .. } => write!(f, "AUTHENTICATE {mechanism}"),
            Kind::Other { name } => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests;
