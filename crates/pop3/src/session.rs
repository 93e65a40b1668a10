//! The session: its states (RFC 1939 §3), the input loop and the dispatch
//! of commands to the files under `op/`.

use crate::config::Pop3Config;
use crate::maildrop::Maildrop;
use bytes::BytesMut;
use cluster::Locator;
use directory::Directory;
use net::{ConnInfo, Session, Step};
use pop3_codec::{Command, Decoder, ResponseCode, write_err, write_ok};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use tracing::Instrument;

/// What a POP3 session needs from the rest of the server.
pub struct Pop3Services {
    pub directory: Arc<dyn Directory>,
    pub store: Arc<Store>,
    pub locator: Arc<dyn Locator>,
}

/// The states of RFC 1939 §3.
pub(crate) enum State {
    /// Before login: USER/PASS, AUTH, STLS, CAPA, QUIT.
    Authorization(Authorization),
    /// Logged in, holding the account's POP3 lock.
    Transaction(Maildrop),
    /// After QUIT (or a dropped connection): the maildrop is released.
    Update,
}

/// What the AUTHORIZATION state remembers between commands.
#[derive(Default)]
pub(crate) struct Authorization {
    /// The name given with USER, waiting for PASS.
    pub user: Option<String>,
    /// A SASL exchange waiting for the client's next response line.
    pub sasl: Option<SaslExchange>,
}

pub(crate) enum SaslExchange {
    Plain,
    Login(sasl::LoginExchange),
}

/// One POP3 connection's state machine, driven by `net`'s driver.
pub struct Pop3Session {
    pub(crate) config: Arc<Pop3Config>,
    pub(crate) services: Arc<Pop3Services>,
    pub(crate) conn: ConnInfo,
    pub(crate) decoder: Decoder,
    pub(crate) state: State,
    pub(crate) auth_failures: usize,
    /// Counts the session as logged in (`/metrics`) once it is.
    pub(crate) logged_in: Option<net::LoggedIn>,
    errors: usize,
    pub(crate) span: tracing::Span,
}

/// Pending output above which the session lets the driver write before it
/// handles the next pipelined command.
const FLUSH_AT: usize = 1 << 20;

impl Pop3Session {
    pub fn new(config: Arc<Pop3Config>, services: Arc<Pop3Services>, conn: ConnInfo) -> Self {
        let span = tracing::info_span!(target: "pop3", "pop3", account = tracing::field::Empty);
        Self {
            config,
            services,
            conn,
            decoder: Decoder::new(),
            state: State::Authorization(Authorization::default()),
            auth_failures: 0,
            logged_in: None,
            errors: 0,
            span,
        }
    }

    async fn handle_input(&mut self, input: &mut BytesMut, out: &mut Vec<u8>) -> Step {
        // Every complete command is handled now (RFC 2449 PIPELINING),
        // but once the replies pass FLUSH_AT they are written out before
        // the next command, so pipelined RETRs never pile up in memory.
        loop {
            let step = if self.in_sasl_exchange() {
                match self.decoder.decode_line(input) {
                    Ok(None) => return Step::Continue,
                    Ok(Some(line)) => self.handle_sasl_response(&line, out).await,
                    Err(e) => {
                        self.end_sasl_exchange();
                        self.protocol_error(out, None, e)
                    }
                }
            } else {
                match self.decoder.decode(input) {
                    Ok(None) => return Step::Continue,
                    Ok(Some(command)) => {
                        tracing::debug!(target: "pop3", command = command.keyword(), "command");
                        self.dispatch(command, out).await
                    }
                    Err(e) => {
                        tracing::debug!(target: "pop3", error = %e, "bad command line");
                        self.protocol_error(out, None, e)
                    }
                }
            };
            if step != Step::Continue {
                return step;
            }
            if out.len() >= FLUSH_AT && !input.is_empty() {
                return Step::Flush;
            }
        }
    }

    async fn dispatch(&mut self, command: Command, out: &mut Vec<u8>) -> Step {
        match command {
            Command::Capa => self.handle_capa(out),
            Command::Quit => self.handle_quit(out).await,
            Command::Stls => self.handle_stls(out),
            Command::User { name } => self.handle_user(name, out),
            Command::Pass { password } => self.handle_pass(password, out).await,
            Command::Apop { .. } => self.handle_apop(out),
            Command::Auth { mechanism, initial_response } => self.handle_auth(mechanism, initial_response, out).await,
            Command::Stat => self.handle_stat(out),
            Command::List { msg } => self.handle_list(msg, out),
            Command::Uidl { msg } => self.handle_uidl(msg, out),
            Command::Retr { msg } => self.handle_retr(msg, out).await,
            Command::Top { msg, lines } => self.handle_top(msg, lines, out).await,
            Command::Dele { msg } => self.handle_dele(msg, out),
            Command::Rset => self.handle_rset(out),
            Command::Noop => self.handle_noop(out),
        }
    }

    /// Answers a client's mistake with `-ERR`, counting it; past
    /// [`Pop3Config::max_errors`] the connection is closed.
    pub(crate) fn protocol_error(
        &mut self,
        out: &mut Vec<u8>,
        code: Option<ResponseCode>,
        text: impl fmt::Display,
    ) -> Step {
        self.errors += 1;
        if self.config.max_errors != 0 && self.errors >= self.config.max_errors {
            tracing::debug!(target: "pop3", errors = self.errors, "too many errors; closing");
            write_err(out, code, format_args!("{text}; too many errors, closing connection"));
            return Step::Close;
        }
        write_err(out, code, text);
        Step::Continue
    }

    pub(crate) fn wrong_state(&mut self, out: &mut Vec<u8>) -> Step {
        self.protocol_error(out, None, "command not valid in this state")
    }

    /// The maildrop, in the TRANSACTION state.
    pub(crate) fn maildrop(&mut self) -> Option<&mut Maildrop> {
        match &mut self.state {
            State::Transaction(maildrop) => Some(maildrop),
            _ => None,
        }
    }

    /// The AUTHORIZATION state's memory, in that state.
    pub(crate) fn authorization(&mut self) -> Option<&mut Authorization> {
        match &mut self.state {
            State::Authorization(authorization) => Some(authorization),
            _ => None,
        }
    }

    /// Whether USER/PASS and AUTH PLAIN/LOGIN, which all show the password
    /// to anyone on the path, may be used on this connection now.
    pub(crate) fn plaintext_auth_allowed(&self) -> bool {
        self.conn.tls
            || self.config.allow_plaintext_auth
            || (self.config.allow_plaintext_auth_on_loopback && self.conn.peer_is_loopback())
    }

    fn in_sasl_exchange(&self) -> bool {
        matches!(&self.state, State::Authorization(Authorization { sasl: Some(_), .. }))
    }
}

#[async_trait::async_trait]
impl Session for Pop3Session {
    async fn greeting(&mut self, out: &mut Vec<u8>) -> Step {
        write_ok(out, "Rookery POP3 ready");
        Step::Continue
    }

    async fn input(&mut self, input: &mut BytesMut, out: &mut Vec<u8>) -> Step {
        let span = self.span.clone();
        self.handle_input(input, out).instrument(span).await
    }

    fn tls_started(&mut self) {
        // RFC 2595 §4: forget what the client said before TLS. The driver
        // has dropped the input buffered before the handshake.
        self.conn.tls = true;
        self.decoder = Decoder::new();
        if let Some(authorization) = self.authorization() {
            *authorization = Authorization::default();
        }
    }

    fn timed_out(&mut self, out: &mut Vec<u8>) {
        // RFC 1939 §3: an autologout does not enter the UPDATE state.
        let _entered = self.span.enter();
        tracing::debug!(target: "pop3", "idle timeout");
        write_err(out, None, "idle for too long, closing connection");
    }

    fn shutting_down(&mut self, out: &mut Vec<u8>) {
        write_err(out, Some(ResponseCode::SysTemp), "server shutting down, try again later");
    }

    fn idle_timeout(&self) -> Duration {
        self.config.idle_timeout
    }

    async fn closed(&mut self) {
        // Without QUIT nothing is deleted; dropping the maildrop releases
        // the account's lock.
        self.state = State::Update;
    }

    async fn wake(&mut self) {
        let State::Transaction(maildrop) = &mut self.state else { return std::future::pending::<()>().await };
        // A request to close may predate this session's watch.
        if maildrop.closing.borrow_and_update().is_some() {
            return;
        }
        if maildrop.closing.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    async fn woken(&mut self, _out: &mut Vec<u8>) -> Step {
        let State::Transaction(maildrop) = &self.state else { return Step::Continue };
        let Some(reason) = maildrop.closing.borrow().clone() else { return Step::Continue };
        // POP3 has no unsolicited replies: the client sees the connection
        // close; without QUIT nothing it marked is deleted (RFC 1939 §6).
        let _entered = self.span.enter();
        tracing::info!(target: "pop3", reason = %reason, "session closed by the server");
        self.state = State::Update;
        Step::Close
    }
}
