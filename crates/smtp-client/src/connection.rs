//! One SMTP connection to one server: connect, greeting, EHLO (or HELO),
//! STARTTLS by policy, then transactions (`transaction.rs`), RSET, QUIT.

use crate::command;
use crate::config::{ClientConfig, Timeouts, TlsPolicy};
use crate::destination::Destination;
use crate::error::{Cause, SmtpError, Stage};
use crate::extensions::Extensions;
use crate::reply::Reply;
use crate::tls;
use crate::wire::{Stream, Wire};
use std::net::SocketAddr;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tracing::{debug, info};

/// An open SMTP session, between transactions.
pub struct Connection {
    pub(crate) wire: Wire,
    pub(crate) extensions: Extensions,
    pub(crate) timeouts: Timeouts,
    tls: bool,
    /// False once the connection can carry no more commands: it broke,
    /// timed out, or the server said 421.
    pub(crate) usable: bool,
    /// Transactions that ended with a final reply on this connection.
    pub(crate) transactions: usize,
}

/// How one connection attempt went wrong.
enum Failure {
    /// The STARTTLS handshake failed after the server's 220: the
    /// connection is lost, but a plaintext one may work.
    Handshake(SmtpError),
    Other(SmtpError),
}

impl From<SmtpError> for Failure {
    fn from(error: SmtpError) -> Failure {
        Failure::Other(error)
    }
}

impl Connection {
    /// Connects to `addr`, reads the greeting, says EHLO (HELO when EHLO
    /// is refused) and does STARTTLS as `config.tls_policy` says.
    /// `server_name` is the MX name: SNI, certificate name, diagnostics.
    pub async fn connect(addr: SocketAddr, server_name: &str, config: &ClientConfig) -> Result<Connection, SmtpError> {
        let server = Destination::new(server_name, addr);
        match Connection::open(&server, config, config.tls_policy).await {
            Ok(connection) => Ok(connection),
            Err(Failure::Other(error)) => Err(error),
            Err(Failure::Handshake(error)) if config.tls_policy == TlsPolicy::Opportunistic => {
                info!(target: "smtp_client", server = %server, error = %error,
                    "STARTTLS handshake failed, retrying once without TLS");
                Connection::open(&server, config, TlsPolicy::Disabled).await.map_err(|failure| match failure {
                    Failure::Handshake(error) | Failure::Other(error) => error,
                })
            }
            Err(Failure::Handshake(error)) => Err(error.into_temporary()),
        }
    }

    async fn open(server: &Destination, config: &ClientConfig, policy: TlsPolicy) -> Result<Connection, Failure> {
        let timeouts = config.timeouts;
        let stream = match tokio::time::timeout(timeouts.connect, TcpStream::connect(server.addr)).await {
            Err(_) => return Err(SmtpError::new(server, Stage::Connect, Cause::Timeout).into()),
            Ok(Err(error)) => {
                return Err(SmtpError::new(server, Stage::Connect, Cause::Io(error.to_string())).into());
            }
            Ok(Ok(stream)) => stream,
        };
        // Commands are small and written whole; waiting for Nagle only
        // adds a round trip to each pipelined group.
        let _ = stream.set_nodelay(true);
        let mut connection = Connection {
            wire: Wire::new(Stream::Plain(stream), server.clone()),
            extensions: Extensions::default(),
            timeouts,
            tls: false,
            usable: true,
            transactions: 0,
        };
        connection.greeting().await?;
        connection.hello(&config.helo_name).await?;
        match policy {
            TlsPolicy::Disabled => {}
            TlsPolicy::Opportunistic if !connection.extensions.starttls => {}
            TlsPolicy::Required if !connection.extensions.starttls => {
                let error = connection.wire.error(Stage::StartTls, Cause::TlsNotOffered);
                connection.quit_quietly().await;
                return Err(error.into());
            }
            TlsPolicy::Opportunistic | TlsPolicy::Required => {
                let verify = policy == TlsPolicy::Required;
                connection = connection.start_tls(config, verify).await?;
                if connection.tls {
                    connection.hello(&config.helo_name).await?;
                }
            }
        }
        if let Some(credentials) = config.login(&server.name)
            && let Err(error) = connection.authenticate(credentials).await
        {
            connection.quit_quietly().await;
            return Err(error.into());
        }
        Ok(connection)
    }

    async fn greeting(&mut self) -> Result<(), SmtpError> {
        let reply = self.wire.read_reply(Stage::Greeting, self.timeouts.greeting).await?;
        debug!(target: "smtp_client", server = %self.wire.server, reply = %reply, "greeting");
        if reply.code == 220 {
            return Ok(());
        }
        // 554 (RFC 5321 §3.1) or 421: no service here. Say goodbye, since
        // the server waits for QUIT after a 554.
        let error = self.refusal(Stage::Greeting, reply);
        self.quit_quietly().await;
        Err(error)
    }

    /// EHLO, or HELO when the server refuses EHLO with 5xx (an old or
    /// minimal server; RFC 5321 §3.2).
    async fn hello(&mut self, helo_name: &str) -> Result<(), SmtpError> {
        let reply = self.command(&command::ehlo(helo_name), Stage::Ehlo, self.timeouts.command).await?;
        if reply.code == 250 {
            self.extensions = Extensions::from_ehlo(&reply);
            return Ok(());
        }
        if !reply.is_permanent() {
            return Err(self.refusal(Stage::Ehlo, reply));
        }
        let reply = self.command(&command::helo(helo_name), Stage::Helo, self.timeouts.command).await?;
        if reply.code != 250 {
            return Err(self.refusal(Stage::Helo, reply));
        }
        self.extensions = Extensions::default();
        Ok(())
    }

    /// STARTTLS and the handshake. A refused STARTTLS leaves the session
    /// as it was: fine when opportunistic (RFC 3207 lets the client go on
    /// in plaintext), a temporary failure when TLS is required.
    async fn start_tls(mut self, config: &ClientConfig, verify: bool) -> Result<Connection, Failure> {
        let timeout = self.timeouts.command;
        let reply = self.command(command::STARTTLS, Stage::StartTls, timeout).await?;
        if reply.code != 220 {
            let error = self.refusal(Stage::StartTls, reply);
            if verify {
                self.quit_quietly().await;
                return Err(error.into_temporary().into());
            }
            info!(target: "smtp_client", server = %self.wire.server, error = %error, "STARTTLS refused, going on without TLS");
            return Ok(self);
        }
        if self.wire.has_unread_input() {
            debug!(target: "smtp_client", server = %self.wire.server, "input before the TLS handshake discarded");
        }
        self.wire.discard_input();
        let server = self.wire.server.clone();
        let tls_error = |text: String| SmtpError::new(&server, Stage::StartTls, Cause::Tls(text)).into_temporary();
        let connector = config.tls.connector(verify).map_err(|error| Failure::Other(tls_error(error.to_string())))?;
        let name =
            tls::server_name(&server.name, server.addr, verify).map_err(|text| Failure::Other(tls_error(text)))?;
        let Stream::Plain(tcp) = self.wire.stream else {
            return Err(Failure::Other(tls_error("STARTTLS on a TLS connection".into())));
        };
        let tls_stream = match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
            Err(_) => return Err(Failure::Handshake(SmtpError::new(&server, Stage::StartTls, Cause::Timeout))),
            Ok(Err(error)) => return Err(Failure::Handshake(tls_error(error.to_string()))),
            Ok(Ok(tls_stream)) => tls_stream,
        };
        let (_, session) = tls_stream.get_ref();
        debug!(target: "smtp_client", server = %server,
            version = ?session.protocol_version(), cipher = ?session.negotiated_cipher_suite().map(|suite| suite.suite()),
            verified = verify, "TLS established");
        self.wire.stream = Stream::Tls(Box::new(tls_stream));
        self.tls = true;
        // RFC 3207 §4.2: forget what was learnt before TLS.
        self.extensions = Extensions::default();
        Ok(self)
    }

    /// Writes one command line and reads its reply; a 421 reply means the
    /// server is closing the connection.
    pub(crate) async fn command(
        &mut self,
        line: &str,
        stage: Stage,
        timeout: std::time::Duration,
    ) -> Result<Reply, SmtpError> {
        debug!(target: "smtp_client", server = %self.wire.server, command = line.trim_end(), "command");
        let result = async {
            self.wire.write(line.as_bytes(), stage, timeout).await?;
            self.wire.read_reply(stage, timeout).await
        }
        .await;
        self.note(result, stage)
    }

    /// Logs a reply and marks the connection unusable after a failure
    /// that leaves the server out of step or gone.
    pub(crate) fn note(&mut self, result: Result<Reply, SmtpError>, stage: Stage) -> Result<Reply, SmtpError> {
        match &result {
            Ok(reply) => {
                debug!(target: "smtp_client", server = %self.wire.server, ?stage, reply = %reply, "reply");
                if reply.code == 421 {
                    self.usable = false;
                }
            }
            Err(error) => {
                debug!(target: "smtp_client", server = %self.wire.server, ?stage, error = %error, "no reply");
                self.usable = false;
            }
        }
        result
    }

    /// The error for a reply that is not the one expected: 2xx and 3xx
    /// replies out of place are a protocol error, hence temporary.
    pub(crate) fn refusal(&self, stage: Stage, reply: Reply) -> SmtpError {
        let temporary = !reply.is_permanent();
        let error = self.wire.error(stage, Cause::Reply(reply));
        if temporary { error.into_temporary() } else { error }
    }

    /// RSET: ends any transaction, so the connection can carry another.
    pub async fn reset(&mut self) -> Result<(), SmtpError> {
        let reply = self.command(command::RSET, Stage::Reset, self.timeouts.command).await?;
        if reply.is_positive() {
            return Ok(());
        }
        // A server that refuses RSET is in a state we do not know.
        self.usable = false;
        Err(self.refusal(Stage::Reset, reply))
    }

    /// QUIT and close. The server's answer changes nothing, but waiting
    /// for it lets the server close first (no TIME_WAIT here).
    pub async fn quit(mut self) -> Result<(), SmtpError> {
        let reply = self.command(command::QUIT, Stage::Quit, self.timeouts.command).await;
        let _ = tokio::time::timeout(self.timeouts.command, self.wire.stream.shutdown()).await;
        match reply {
            Ok(reply) if reply.is_positive() => Ok(()),
            Ok(reply) => Err(self.refusal(Stage::Quit, reply)),
            Err(error) => Err(error),
        }
    }

    /// QUIT without waiting for the answer, when giving up on a server.
    async fn quit_quietly(&mut self) {
        let _ = self.wire.write(command::QUIT.as_bytes(), Stage::Quit, self.timeouts.command).await;
        self.usable = false;
    }

    /// The server this connection talks to.
    pub fn server(&self) -> &Destination {
        &self.wire.server
    }

    /// What the server announced (after STARTTLS: what it announced then).
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Whether the session runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether another transaction may be tried on this connection.
    pub fn is_usable(&self) -> bool {
        self.usable
    }

    /// How many transactions this connection has carried.
    pub fn transactions(&self) -> usize {
        self.transactions
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.wire.server)
            .field("extensions", &self.extensions)
            .field("tls", &self.tls)
            .field("usable", &self.usable)
            .finish()
    }
}
