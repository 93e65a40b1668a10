//! The POP3 frontend: greeting, CAPA, STLS, USER/PASS and AUTH PLAIN/LOGIN
//! (with or without an initial response) in the AUTHORIZATION state; the
//! login is replayed to the backend as `AUTH PLAIN` with an initial
//! response, and the backend's `+OK`/`-ERR` goes back to the client.
//!
//! CAPA is a fixed copy of the backends' list (crates/pop3 op/capa.rs),
//! for the reason given in the IMAP module: the backend is unknown until
//! the login, and all backends run the same code. After the login CAPA
//! goes through the splice to the backend.

mod command;

use crate::backend::{BackendConn, BackendError, printable};
use crate::client::{ClientConn, Gone};
use crate::credentials::Login;
use crate::frontend::{ClientInfo, Frontend, Protocol};
use crate::lines::Line;
use crate::login::{LoginWords, Replay, Verdict};
use crate::lookup::BackendLookup;
use command::Command;
use sasl::Credentials;

pub(crate) async fn run<L: BackendLookup>(frontend: &Frontend<L>, mut client: ClientConn, info: ClientInfo) {
    if client.write(b"+OK Rookery POP3 ready\r\n").await.is_err() {
        return;
    }
    let mut failures = 0;
    // USER's name, waiting for PASS.
    let mut user: Option<String> = None;
    loop {
        let line = match client.read_line(frontend.config.login_timeout).await {
            Ok(Line::Complete(line)) => line,
            Ok(Line::TooLong) => {
                if client.write(b"-ERR line too long\r\n").await.is_err() {
                    return;
                }
                continue;
            }
            Err(Gone::TimedOut) => {
                let _ = client.write(b"-ERR idle for too long, closing connection\r\n").await;
                return;
            }
            Err(Gone::Closed) => return,
        };
        let command = match command::parse(&line) {
            Ok(command) => command,
            Err(reason) => {
                if client.write(format!("-ERR {reason}\r\n").as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
        };
        tracing::debug!(target: "proxy::pop3", command = command.name(), "command");
        let plaintext_allowed = frontend.plaintext_auth_allowed(Protocol::Pop3, &client, &info);
        let reply = match command {
            Command::Capa => capabilities(frontend, &client, plaintext_allowed),
            Command::Quit => {
                let _ = client.write(b"+OK Rookery POP3 signing off\r\n").await;
                return;
            }
            Command::Stls => match &frontend.tls {
                Some(acceptor) if !client.tls => {
                    if client.write(b"+OK begin TLS negotiation\r\n").await.is_err() {
                        return;
                    }
                    client = match client.start_tls(acceptor, frontend.config.login_timeout).await {
                        Ok(client) => client,
                        Err(_) => return,
                    };
                    user = None;
                    continue;
                }
                _ => "-ERR command not valid in this state\r\n".to_owned(),
            },
            Command::User(_) | Command::Pass(_) | Command::Auth { mechanism: Some(_), .. } if !plaintext_allowed => {
                refuse_plaintext(frontend).to_owned()
            }
            Command::User(name) => {
                user = Some(name);
                "+OK send PASS\r\n".to_owned()
            }
            Command::Pass(password) => match user.take() {
                Some(authcid) => {
                    let credentials = Credentials { authzid: None, authcid, password };
                    match log_in(frontend, client, &info, credentials, &mut failures).await {
                        Some(back) => {
                            client = back;
                            continue;
                        }
                        None => return,
                    }
                }
                None => "-ERR send USER first\r\n".to_owned(),
            },
            Command::Auth { mechanism: None, .. } => {
                let mut list = "+OK SASL mechanisms follow\r\n".to_owned();
                if plaintext_allowed {
                    list.push_str("PLAIN\r\nLOGIN\r\n");
                }
                list.push_str(".\r\n");
                list
            }
            Command::Auth { mechanism: Some(mechanism), initial } => {
                match authenticate(frontend, &mut client, &mechanism, initial).await {
                    Ok(Ok(credentials)) => match log_in(frontend, client, &info, credentials, &mut failures).await {
                        Some(back) => {
                            client = back;
                            continue;
                        }
                        None => return,
                    },
                    Ok(Err(reply)) => reply,
                    Err(_) => return,
                }
            }
            Command::Apop => "-ERR APOP is not supported\r\n".to_owned(),
            Command::Other => "-ERR command not valid in this state\r\n".to_owned(),
        };
        if client.write(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn refuse_plaintext<L>(frontend: &Frontend<L>) -> &'static str {
    if frontend.tls.is_some() {
        "-ERR [AUTH] plaintext authentication requires TLS, use STLS first\r\n"
    } else {
        "-ERR [AUTH] plaintext authentication is not allowed\r\n"
    }
}

fn capabilities<L>(frontend: &Frontend<L>, client: &ClientConn, plaintext_allowed: bool) -> String {
    let mut capa =
        "+OK capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n".to_owned();
    if plaintext_allowed {
        capa.push_str("USER\r\nSASL PLAIN LOGIN\r\n");
    }
    if frontend.tls.is_some() && !client.tls {
        capa.push_str("STLS\r\n");
    }
    capa.push_str("IMPLEMENTATION Rookery\r\n.\r\n");
    capa
}

/// The SASL exchange after `AUTH mechanism [initial]`: credentials, or
/// the answer that ends it.
async fn authenticate<L>(
    frontend: &Frontend<L>,
    client: &mut ClientConn,
    mechanism: &str,
    initial: Option<Vec<u8>>,
) -> Result<Result<Credentials, String>, Gone> {
    let Some(mechanism) = sasl::Mechanism::parse(mechanism) else {
        return Ok(Err("-ERR unsupported SASL mechanism\r\n".to_owned()));
    };
    let mut login = sasl::LoginExchange::default();
    let mut response = match initial {
        Some(initial) => initial,
        None => {
            let prompt = match mechanism {
                sasl::Mechanism::Plain => "+ \r\n",
                sasl::Mechanism::Login => "+ VXNlcm5hbWU6\r\n",
            };
            client.write(prompt.as_bytes()).await?;
            match read_response(frontend, client).await? {
                Ok(line) => line,
                Err(reply) => return Ok(Err(reply)),
            }
        }
    };
    loop {
        let decoded = match sasl::decode_response(&response) {
            Ok(decoded) => decoded,
            Err(sasl::SaslError::Cancelled) => return Ok(Err("-ERR authentication cancelled\r\n".to_owned())),
            Err(e) => return Ok(Err(format!("-ERR {e}\r\n"))),
        };
        let step = match mechanism {
            sasl::Mechanism::Plain => sasl::parse_plain(&decoded).map(Some),
            sasl::Mechanism::Login => login.step(decoded),
        };
        match step {
            Ok(Some(credentials)) => return Ok(Ok(credentials)),
            Ok(None) => {
                client.write(b"+ UGFzc3dvcmQ6\r\n").await?;
                response = match read_response(frontend, client).await? {
                    Ok(line) => line,
                    Err(reply) => return Ok(Err(reply)),
                };
            }
            Err(e) => return Ok(Err(format!("-ERR {e}\r\n"))),
        }
    }
}

async fn read_response<L>(frontend: &Frontend<L>, client: &mut ClientConn) -> Result<Result<Vec<u8>, String>, Gone> {
    Ok(match client.read_line(frontend.config.login_timeout).await? {
        Line::Complete(line) => Ok(line.to_vec()),
        Line::TooLong => Err("-ERR line too long\r\n".to_owned()),
    })
}

/// Tries the login at the account's backend; gives the client back when
/// the AUTHORIZATION state goes on.
async fn log_in<L: BackendLookup>(
    frontend: &Frontend<L>,
    client: ClientConn,
    info: &ClientInfo,
    credentials: Credentials,
    failures: &mut usize,
) -> Option<ClientConn> {
    let login = Login::resolve(credentials, &frontend.config.main_domain);
    let words = LoginWords {
        failed: AUTH_FAILED.to_vec(),
        unavailable: b"-ERR [SYS/TEMP] account is unavailable, try again later\r\n".to_vec(),
        // The backends' last answer before they hang up, word for word.
        too_many: b"-ERR [AUTH] invalid credentials; too many failures, closing connection\r\n",
        answer_before_bye: false,
        splice_idle: frontend.config.splice_idle.pop3,
    };
    frontend.finish_login(client, info, login, Replay::Pop3, words, failures).await
}

/// The backends' answer to wrong credentials, word for word.
const AUTH_FAILED: &[u8] = b"-ERR [AUTH] invalid credentials\r\n";

/// Replays the login at the backend and sorts its answer.
pub(crate) async fn replay(backend: &mut BackendConn, login: &Login) -> Result<Verdict, BackendError> {
    let greeting = backend.read_line().await?;
    if !greeting.starts_with(b"+OK") {
        return Err(BackendError::Unexpected { addr: backend.addr, answer: printable(&greeting) });
    }
    backend.write(format!("AUTH PLAIN {}\r\n", login.plain_base64()).as_bytes()).await?;
    let line = backend.read_line().await?;
    Ok(classify(line))
}

fn classify(line: Vec<u8>) -> Verdict {
    let text = printable(&line).to_ascii_uppercase();
    if text.starts_with("+OK") {
        Verdict::Accepted { reply: line }
    } else if text.starts_with("-ERR [AUTH]") {
        Verdict::Refused { reply: line }
    } else if text.starts_with("-ERR [SYS/TEMP]") && text.contains("SERVED ELSEWHERE") {
        // The backends' wording for "not hosted here" (crates/pop3
        // op/login.rs).
        Verdict::NotHostedHere { reply: line }
    } else {
        Verdict::Other { reply: line }
    }
}

#[cfg(test)]
mod tests;
