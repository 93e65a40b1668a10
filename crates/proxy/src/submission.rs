//! The submission frontend (RFC 6409): greeting, EHLO/HELO, STARTTLS and
//! AUTH PLAIN/LOGIN before the login; the login is replayed to the
//! backend as `EHLO <the client's name>` then `AUTH PLAIN <initial>`, and
//! the backend's `235` (or `535`, `454`) goes back to the client. After
//! it the client goes on with MAIL FROM straight to the backend.
//!
//! The EHLO reply is a fixed copy of the backends' (crates/smtp
//! op/ehlo.rs), for the reason given in the IMAP module.

mod command;

use crate::backend::{BackendConn, BackendError, printable};
use crate::client::{ClientConn, Gone};
use crate::credentials::Login;
use crate::frontend::{ClientInfo, Frontend, Protocol};
use crate::lines::Line;
use crate::login::{LoginWords, Replay, Verdict};
use crate::lookup::BackendLookup;
use command::Command;
use sasl::{Credentials, SaslError};

/// Lines of one multi-line backend reply (an EHLO reply has about ten).
const MAX_REPLY_LINES: usize = 64;

pub(crate) async fn run<L: BackendLookup>(frontend: &Frontend<L>, mut client: ClientConn, info: ClientInfo) {
    let hostname = &frontend.config.hostname;
    if client.write(format!("220 {hostname} ESMTP Rookery\r\n").as_bytes()).await.is_err() {
        return;
    }
    let mut failures = 0;
    // The client's EHLO/HELO name; AUTH needs one.
    let mut helo: Option<String> = None;
    loop {
        let line = match client.read_line(frontend.config.login_timeout).await {
            Ok(Line::Complete(line)) => line,
            Ok(Line::TooLong) => {
                if client.write(b"500 5.5.2 line too long\r\n").await.is_err() {
                    return;
                }
                continue;
            }
            Err(Gone::TimedOut) => {
                let _ = client.write(format!("421 4.4.2 {hostname} timeout\r\n").as_bytes()).await;
                return;
            }
            Err(Gone::Closed) => return,
        };
        let command = match command::parse(&line) {
            Ok(command) => command,
            Err(reason) => {
                if client.write(format!("501 5.5.2 {reason}\r\n").as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
        };
        tracing::debug!(target: "proxy::submission", command = command.name(), "command");
        let plaintext_allowed = frontend.plaintext_auth_allowed(Protocol::Submission, &client, &info);
        let reply = match command {
            Command::Ehlo(name) => {
                let reply = ehlo_reply(frontend, &client, &name, plaintext_allowed);
                helo = Some(name);
                reply
            }
            Command::Helo(name) => {
                helo = Some(name);
                format!("250 {hostname}\r\n")
            }
            Command::StartTls => match &frontend.tls {
                Some(acceptor) if !client.tls => {
                    if client.write(b"220 2.0.0 ready to start TLS\r\n").await.is_err() {
                        return;
                    }
                    client = match client.start_tls(acceptor, frontend.config.login_timeout).await {
                        Ok(client) => client,
                        Err(_) => return,
                    };
                    // RFC 3207 §4.2: forget what was said in the clear.
                    helo = None;
                    continue;
                }
                Some(_) => "503 5.5.1 TLS already active\r\n".to_owned(),
                None => "502 5.5.1 STARTTLS not available\r\n".to_owned(),
            },
            Command::Auth { mechanism, initial } => match helo.clone() {
                None => "503 5.5.1 send EHLO first\r\n".to_owned(),
                Some(_) if !plaintext_allowed && frontend.tls.is_some() => {
                    "530 5.7.0 must issue STARTTLS first\r\n".to_owned()
                }
                Some(_) if !plaintext_allowed => "538 5.7.11 encryption required\r\n".to_owned(),
                Some(name) => match authenticate(frontend, &mut client, &mechanism, initial).await {
                    Ok(Ok(credentials)) => {
                        match log_in(frontend, client, &info, &name, credentials, &mut failures).await {
                            Some(back) => {
                                client = back;
                                continue;
                            }
                            None => return,
                        }
                    }
                    Ok(Err(reply)) => reply.to_owned(),
                    Err(_) => return,
                },
            },
            Command::Noop => "250 2.0.0 OK\r\n".to_owned(),
            Command::Rset => "250 2.0.0 OK\r\n".to_owned(),
            Command::Quit => {
                let _ = client.write(b"221 2.0.0 bye\r\n").await;
                return;
            }
            Command::Transaction => "530 5.7.0 authentication required\r\n".to_owned(),
            Command::Vrfy => "252 2.5.0 cannot VRFY user, but will accept message and attempt delivery\r\n".to_owned(),
            Command::Other => "500 5.5.1 command unrecognized\r\n".to_owned(),
        };
        if client.write(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn ehlo_reply<L>(frontend: &Frontend<L>, client: &ClientConn, name: &str, plaintext_allowed: bool) -> String {
    let mut lines = vec![
        format!("{} hello {name}", frontend.config.hostname),
        "PIPELINING".to_owned(),
        format!("SIZE {}", frontend.config.max_message_size),
        "8BITMIME".to_owned(),
        "SMTPUTF8".to_owned(),
        "ENHANCEDSTATUSCODES".to_owned(),
    ];
    if frontend.tls.is_some() && !client.tls {
        lines.push("STARTTLS".to_owned());
    }
    if plaintext_allowed {
        lines.push("AUTH PLAIN LOGIN".to_owned());
    }
    let last = lines.len() - 1;
    lines.iter().enumerate().map(|(i, line)| format!("250{}{line}\r\n", if i == last { ' ' } else { '-' })).collect()
}

/// The SASL exchange after `AUTH mechanism [initial]`: credentials, or
/// the reply that ends it.
async fn authenticate<L>(
    frontend: &Frontend<L>,
    client: &mut ClientConn,
    mechanism: &str,
    initial: Option<Vec<u8>>,
) -> Result<Result<Credentials, &'static str>, Gone> {
    let Some(mechanism) = sasl::Mechanism::parse(mechanism) else {
        return Ok(Err("504 5.5.4 mechanism not supported\r\n"));
    };
    let mut login = sasl::LoginExchange::default();
    let mut response = match initial {
        Some(initial) => initial,
        None => {
            let prompt: &[u8] = match mechanism {
                sasl::Mechanism::Plain => b"334 \r\n",
                sasl::Mechanism::Login => b"334 VXNlcm5hbWU6\r\n",
            };
            client.write(prompt).await?;
            match read_response(frontend, client).await? {
                Ok(line) => line,
                Err(reply) => return Ok(Err(reply)),
            }
        }
    };
    loop {
        let step = sasl::decode_response(&response).and_then(|decoded| match mechanism {
            sasl::Mechanism::Plain => sasl::parse_plain(&decoded).map(Some),
            sasl::Mechanism::Login => login.step(decoded),
        });
        match step {
            Ok(Some(credentials)) => return Ok(Ok(credentials)),
            Ok(None) => {
                client.write(b"334 UGFzc3dvcmQ6\r\n").await?;
                response = match read_response(frontend, client).await? {
                    Ok(line) => line,
                    Err(reply) => return Ok(Err(reply)),
                };
            }
            Err(SaslError::Cancelled) => return Ok(Err("501 5.0.0 authentication cancelled\r\n")),
            Err(SaslError::Base64) => return Ok(Err("501 5.5.2 invalid base64\r\n")),
            Err(SaslError::Utf8 | SaslError::Malformed) => {
                return Ok(Err("501 5.5.2 malformed authentication response\r\n"));
            }
        }
    }
}

async fn read_response<L>(
    frontend: &Frontend<L>,
    client: &mut ClientConn,
) -> Result<Result<Vec<u8>, &'static str>, Gone> {
    Ok(match client.read_line(frontend.config.login_timeout).await? {
        Line::Complete(line) => Ok(line.to_vec()),
        Line::TooLong => Err("500 5.5.2 line too long\r\n"),
    })
}

/// Tries the login at the account's backend; gives the client back when
/// the session goes on before the login.
async fn log_in<L: BackendLookup>(
    frontend: &Frontend<L>,
    client: ClientConn,
    info: &ClientInfo,
    helo: &str,
    credentials: Credentials,
    failures: &mut usize,
) -> Option<ClientConn> {
    let login = Login::resolve(credentials, &frontend.config.main_domain);
    let words = LoginWords {
        failed: AUTH_FAILED.to_vec(),
        unavailable: b"454 4.7.0 temporary authentication failure\r\n".to_vec(),
        too_many: b"421 4.7.0 too many errors\r\n",
        answer_before_bye: false,
        splice_idle: frontend.config.splice_idle.submission,
    };
    frontend.finish_login(client, info, login, Replay::Submission { helo }, words, failures).await
}

/// The backends' answer to wrong credentials, word for word.
const AUTH_FAILED: &[u8] = b"535 5.7.8 authentication credentials invalid\r\n";

/// Replays the login at the backend and sorts its answer.
pub(crate) async fn replay(backend: &mut BackendConn, helo: &str, login: &Login) -> Result<Verdict, BackendError> {
    let greeting = read_reply(backend).await?;
    if !greeting.starts_with(b"220") {
        return Err(BackendError::Unexpected { addr: backend.addr, answer: printable(&greeting) });
    }
    backend.write(format!("EHLO {helo}\r\n").as_bytes()).await?;
    let ehlo = read_reply(backend).await?;
    if !ehlo.starts_with(b"250") {
        return Err(BackendError::Unexpected { addr: backend.addr, answer: printable(&ehlo) });
    }
    backend.write(format!("AUTH PLAIN {}\r\n", login.plain_base64()).as_bytes()).await?;
    let reply = read_reply(backend).await?;
    Ok(if reply.starts_with(b"235") {
        Verdict::Accepted { reply }
    } else if reply.starts_with(b"535") {
        Verdict::Refused { reply }
    } else {
        Verdict::Other { reply }
    })
}

/// One whole reply, multi-line ones included (`250-...` up to `250 ...`).
async fn read_reply(backend: &mut BackendConn) -> Result<Vec<u8>, BackendError> {
    let mut reply = Vec::new();
    for _ in 0..MAX_REPLY_LINES {
        let line = backend.read_line().await?;
        let last = line.get(3) != Some(&b'-');
        reply.extend_from_slice(&line);
        if last {
            return Ok(reply);
        }
    }
    Err(BackendError::Unexpected { addr: backend.addr, answer: "an over-long reply".to_owned() })
}

#[cfg(test)]
mod tests;
