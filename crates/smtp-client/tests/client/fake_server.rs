//! A scripted SMTP server on 127.0.0.1:0: each connection plays a list
//! of steps (the n-th connection the n-th script, later ones the last),
//! and everything the client sent is recorded.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

#[derive(Clone)]
pub enum Step {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Read one command line; it must start with this (any case).
    Expect(&'static str),
    /// Read message content up to and including CRLF . CRLF.
    ReadData,
    /// The server side of the TLS handshake.
    StartTls(TlsAcceptor),
    /// Close the connection.
    Close,
    /// Answer nothing ever again (input is read and dropped).
    Hang,
    /// Write this byte without end, until the client goes.
    Flood(u8),
    Sleep(Duration),
    /// A well-behaved server from here on, until QUIT or the client goes.
    Serve(Serve),
}

/// How `Step::Serve` answers.
#[derive(Clone)]
pub struct Serve {
    pub ehlo: &'static str,
    /// Waited before the reply to the final dot.
    pub final_delay: Duration,
    /// Close after this many messages.
    pub max_messages: Option<usize>,
}

impl Default for Serve {
    fn default() -> Serve {
        Serve { ehlo: EHLO_PIPELINING, final_delay: Duration::ZERO, max_messages: None }
    }
}

pub const EHLO_PIPELINING: &str =
    "250-fake.test greets you\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";
pub const EHLO_PLAIN: &str = "250-fake.test greets you\r\n250 8BITMIME\r\n";

pub fn send(text: &str) -> Step {
    Step::Send(text.as_bytes().to_vec())
}

/// The greeting and an EHLO exchange with this EHLO reply.
pub fn greet(ehlo: &str) -> Vec<Step> {
    vec![send("220 fake.test ESMTP\r\n"), Step::Expect("EHLO"), send(ehlo)]
}

/// What the server saw.
#[derive(Debug, Default, Clone)]
pub struct Record {
    pub connections: usize,
    pub active: usize,
    pub max_active: usize,
    /// Connections that ended (client QUIT or close, or script end).
    pub ended: usize,
    /// Command lines, with the connection index, CRLF removed.
    pub commands: Vec<(usize, String)>,
    /// Message contents as received (still dot-stuffed, with the final
    /// `.` line).
    pub messages: Vec<Vec<u8>>,
    /// Each read from the socket, with the connection index.
    pub reads: Vec<(usize, Vec<u8>)>,
    /// Script steps that did not go as written.
    pub errors: Vec<String>,
    pub tls_handshakes: usize,
}

impl Record {
    pub fn command_names(&self) -> Vec<String> {
        self.commands.iter().map(|(_, line)| line.split([' ', ':']).next().unwrap_or("").to_uppercase()).collect()
    }
}

pub struct FakeServer {
    pub addr: std::net::SocketAddr,
    record: Arc<Mutex<Record>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    pub async fn start(scripts: Vec<Vec<Step>>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let record = Arc::new(Mutex::new(Record::default()));
        let task = tokio::spawn({
            let record = record.clone();
            async move {
                let mut index = 0;
                loop {
                    let Ok((stream, _)) = listener.accept().await else { return };
                    let script = scripts[index.min(scripts.len() - 1)].clone();
                    {
                        let mut record = record.lock().unwrap();
                        record.connections += 1;
                        record.active += 1;
                        record.max_active = record.max_active.max(record.active);
                    }
                    let record = record.clone();
                    tokio::spawn(async move {
                        let mut connection =
                            Conn { io: Box::new(stream), buf: Vec::new(), index, record: record.clone() };
                        connection.play(script).await;
                        drop(connection);
                        let mut record = record.lock().unwrap();
                        record.active -= 1;
                        record.ended += 1;
                    });
                    index += 1;
                }
            }
        });
        FakeServer { addr, record, task }
    }

    pub fn record(&self) -> Record {
        self.record.lock().unwrap().clone()
    }

    /// Polls until `done` holds (5 s at most).
    pub async fn wait_for(&self, what: &str, done: impl Fn(&Record) -> bool) -> Record {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let record = self.record();
            if done(&record) {
                return record;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {record:#?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

struct Conn {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    index: usize,
    record: Arc<Mutex<Record>>,
}

impl Conn {
    fn error(&self, text: String) {
        self.record.lock().unwrap().errors.push(format!("connection {}: {text}", self.index));
    }

    /// Reads once more; false at the end of input.
    async fn fill(&mut self) -> bool {
        let mut chunk = vec![0u8; 64 * 1024];
        match self.io.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                chunk.truncate(n);
                self.buf.extend_from_slice(&chunk);
                self.record.lock().unwrap().reads.push((self.index, chunk));
                true
            }
        }
    }

    async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buf.iter().position(|&byte| byte == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string();
                self.record.lock().unwrap().commands.push((self.index, line.clone()));
                return Some(line);
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    async fn data(&mut self) -> bool {
        loop {
            let found = if self.buf.starts_with(b".\r\n") {
                Some(3)
            } else {
                self.buf.windows(5).position(|window| window == b"\r\n.\r\n").map(|at| at + 5)
            };
            if let Some(end) = found {
                let content: Vec<u8> = self.buf.drain(..end).collect();
                self.record.lock().unwrap().messages.push(content);
                return true;
            }
            if !self.fill().await {
                return false;
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> bool {
        self.io.write_all(bytes).await.is_ok() && self.io.flush().await.is_ok()
    }

    async fn play(&mut self, script: Vec<Step>) {
        for step in script {
            match step {
                Step::Send(bytes) => {
                    if !self.write(&bytes).await {
                        return;
                    }
                }
                Step::Expect(prefix) => match self.line().await {
                    Some(line) if line.to_uppercase().starts_with(prefix) => {}
                    Some(line) => {
                        self.error(format!("expected {prefix}, got {line:?}"));
                        return;
                    }
                    None => return,
                },
                Step::ReadData => {
                    if !self.data().await {
                        return;
                    }
                }
                Step::StartTls(acceptor) => {
                    self.buf.clear();
                    let io = std::mem::replace(&mut self.io, Box::new(empty::EmptyDuplex));
                    match acceptor.accept(io).await {
                        Ok(tls) => {
                            self.io = Box::new(tls);
                            self.record.lock().unwrap().tls_handshakes += 1;
                        }
                        Err(error) => {
                            self.error(format!("TLS handshake: {error}"));
                            return;
                        }
                    }
                }
                Step::Close => return,
                Step::Hang => while self.fill().await {},
                Step::Flood(byte) => {
                    let block = vec![byte; 64 * 1024];
                    while self.write(&block).await {}
                    return;
                }
                Step::Sleep(duration) => tokio::time::sleep(duration).await,
                Step::Serve(serve) => return self.serve(serve).await,
            }
        }
    }

    async fn serve(&mut self, serve: Serve) {
        let mut messages = 0;
        while let Some(line) = self.line().await {
            let verb = line.split([' ', ':']).next().unwrap_or("").to_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" => serve.ehlo.as_bytes(),
                "HELO" | "RSET" | "NOOP" => b"250 2.0.0 ok\r\n",
                "MAIL" => b"250 2.1.0 sender ok\r\n",
                "RCPT" => b"250 2.1.5 recipient ok\r\n",
                "DATA" => {
                    if !self.write(b"354 go ahead\r\n").await || !self.data().await {
                        return;
                    }
                    tokio::time::sleep(serve.final_delay).await;
                    if !self.write(b"250 2.0.0 queued\r\n").await {
                        return;
                    }
                    messages += 1;
                    if serve.max_messages == Some(messages) {
                        return;
                    }
                    continue;
                }
                "QUIT" => {
                    self.write(b"221 2.0.0 bye\r\n").await;
                    return;
                }
                _ => b"500 5.5.1 unknown command\r\n",
            };
            if !self.write(reply).await {
                return;
            }
        }
    }
}

/// A stand-in while the real stream is in the TLS acceptor.
mod empty {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    pub struct EmptyDuplex;

    impl AsyncRead for EmptyDuplex {
        fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for EmptyDuplex {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }
}

/// TLS material for the fake server: a CA and a certificate for
/// `localhost` it signed.
pub struct TestCa {
    pub ca_der: rustls::pki_types::CertificateDer<'static>,
    pub acceptor: TlsAcceptor,
}

pub fn test_ca() -> TestCa {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key")).expect("ca cert");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .expect("leaf params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf cert");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .expect("server config");
    TestCa { ca_der: ca.der().clone(), acceptor: TlsAcceptor::from(Arc::new(config)) }
}
