//! The session's state machine driven through `net::Session`, with a real
//! store and embedded directory in a temporary directory.

use super::*;
use crate::op::top_of_message;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use cluster::{LocateError, Location, Locator, SingleServer};
use directory::{Directory, EmbeddedDirectory};
use net::{ConnInfo, Session, Step};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use store::{Delivery, DeliveryId, Durability, Store, StoreConfig};
use types::{AccountName, DomainName};

const ALICE: &str = "alice@example.com";
const PASSWORD: &str = "correct horse";

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    services: Arc<Pop3Services>,
    config: Pop3Config,
    next_delivery: AtomicU64,
}

impl Harness {
    async fn new() -> Self {
        Self::with_locator(Arc::new(SingleServer)).await
    }

    async fn with_locator(locator: Arc<dyn Locator>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(Store::open(&dir.path().join("store"), StoreConfig { durability: Durability::Buffered }).unwrap());
        let directory = EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap();
        let domain = DomainName::parse("example.com").unwrap();
        directory.add_domain(&domain).await.unwrap();
        directory.add_account(&account(ALICE), PASSWORD, None).await.unwrap();
        directory.add_account(&account("bob@example.com"), "bobpw", None).await.unwrap();
        let directory: Arc<dyn Directory> = Arc::new(directory);
        let services = Arc::new(Pop3Services { directory, store: store.clone(), locator });
        let config = Pop3Config { main_domain: domain, auth_failure_delay: Duration::ZERO, ..Pop3Config::default() };
        Self { _dir: dir, store, services, config, next_delivery: AtomicU64::new(1) }
    }

    async fn deliver(&self, name: &str, body: &str) {
        let id = DeliveryId(self.next_delivery.fetch_add(1, Ordering::Relaxed).into());
        let delivery = Delivery {
            id,
            mailbox: "INBOX".into(),
            body: Bytes::copy_from_slice(body.as_bytes()),
            flags: Vec::new(),
            internal_date: 1_700_000_000,
            quota_bytes: None,
        };
        self.store.account(&account(name)).await.unwrap().deliver(delivery).await.unwrap();
    }

    async fn inbox_len(&self, name: &str) -> usize {
        self.store.account(&account(name)).await.unwrap().snapshot("INBOX").unwrap().messages.len()
    }

    /// A session from a loopback client without TLS, greeted.
    async fn client(&self) -> Client {
        self.client_with(loopback(), self.config.clone()).await
    }

    async fn client_with(&self, conn: ConnInfo, config: Pop3Config) -> Client {
        let mut session = Pop3Session::new(Arc::new(config), self.services.clone(), conn);
        let mut out = Vec::new();
        assert_eq!(session.greeting(&mut out).await, Step::Continue);
        assert_eq!(out, b"+OK Rookery POP3 ready\r\n");
        Client { session, input: BytesMut::new() }
    }

    /// A loopback session logged in as alice.
    async fn logged_in(&self) -> Client {
        let mut client = self.client().await;
        client.login(ALICE, PASSWORD).await;
        client
    }
}

fn account(name: &str) -> AccountName {
    AccountName::parse(name, None).unwrap()
}

fn conn(peer: &str, tls_available: bool) -> ConnInfo {
    ConnInfo {
        peer: peer.parse::<SocketAddr>().unwrap(),
        local: "127.0.0.1:2110".parse().unwrap(),
        tls: false,
        tls_available,
        proxied_by: None,
    }
}

fn loopback() -> ConnInfo {
    conn("127.0.0.1:40000", false)
}

fn remote() -> ConnInfo {
    conn("192.0.2.7:40000", true)
}

fn plain_response(authzid: &str, authcid: &str, password: &str) -> String {
    BASE64.encode(format!("{authzid}\0{authcid}\0{password}"))
}

struct Client {
    session: Pop3Session,
    input: BytesMut,
}

impl Client {
    /// Feeds raw bytes; returns the replies and the step.
    async fn send(&mut self, bytes: &str) -> (String, Step) {
        self.input.extend_from_slice(bytes.as_bytes());
        let mut out = Vec::new();
        let step = self.session.input(&mut self.input, &mut out).await;
        (String::from_utf8(out).unwrap(), step)
    }

    /// Sends one command line that must not end the session.
    async fn cmd(&mut self, line: &str) -> String {
        let (reply, step) = self.send(&format!("{line}\r\n")).await;
        assert_eq!(step, Step::Continue, "{line} -> {reply}");
        reply
    }

    async fn ok(&mut self, line: &str) -> String {
        let reply = self.cmd(line).await;
        assert!(reply.starts_with("+OK"), "{line} -> {reply}");
        reply
    }

    async fn err(&mut self, line: &str) -> String {
        let reply = self.cmd(line).await;
        assert!(reply.starts_with("-ERR"), "{line} -> {reply}");
        reply
    }

    async fn login(&mut self, user: &str, password: &str) {
        self.ok(&format!("USER {user}")).await;
        let reply = self.ok(&format!("PASS {password}")).await;
        assert!(reply.contains(" messages ("), "{reply}");
    }

    async fn quit(&mut self) -> String {
        let (reply, step) = self.send("QUIT\r\n").await;
        assert_eq!(step, Step::Close);
        self.session.closed().await;
        reply
    }

    async fn capabilities(&mut self) -> Vec<String> {
        let reply = self.ok("CAPA").await;
        let mut lines: Vec<String> = reply.split("\r\n").map(str::to_owned).collect();
        assert_eq!(lines.remove(0), "+OK capability list follows");
        assert_eq!(lines.pop().as_deref(), Some(""));
        assert_eq!(lines.pop().as_deref(), Some("."));
        lines
    }
}

#[tokio::test]
async fn user_pass_login_and_transaction_commands() {
    let h = Harness::new().await;
    h.deliver(ALICE, "Subject: one\r\n\r\nfirst\r\n").await;
    h.deliver(ALICE, "Subject: two\r\n\r\nsecond message\r\n").await;
    let mut c = h.client().await;
    assert_eq!(c.ok("USER alice@example.com").await, "+OK send PASS\r\n");
    assert_eq!(c.ok(&format!("PASS {PASSWORD}")).await, "+OK alice@example.com has 2 messages (55 octets)\r\n");
    assert_eq!(c.ok("STAT").await, "+OK 2 55\r\n");
    assert_eq!(c.ok("LIST").await, "+OK 2 messages (55 octets)\r\n1 23\r\n2 32\r\n.\r\n");
    assert_eq!(c.ok("LIST 2").await, "+OK 2 32\r\n");
    assert_eq!(c.err("LIST 3").await, "-ERR no such message 3, only 2 messages in maildrop\r\n");
    let uidl = c.ok("UIDL").await;
    let ids: Vec<&str> = uidl.lines().skip(1).take(2).collect();
    assert!(ids[0].starts_with("1 ") && ids[1].starts_with("2 ") && ids[0] != ids[1], "{uidl}");
    assert!(uidl.ends_with("\r\n.\r\n"));
    let single = c.ok("UIDL 2").await;
    assert_eq!(single, format!("+OK {}\r\n", ids[1]));
    assert_eq!(c.ok("RETR 1").await, "+OK 23 octets\r\nSubject: one\r\n\r\nfirst\r\n.\r\n");
    assert_eq!(c.ok("NOOP").await, "+OK\r\n");
    assert_eq!(c.ok("DELE 1").await, "+OK message 1 deleted\r\n");
    assert_eq!(c.err("DELE 1").await, "-ERR message 1 already deleted\r\n");
    assert_eq!(c.err("RETR 1").await, "-ERR message 1 already deleted\r\n");
    assert_eq!(c.err("TOP 1 0").await, "-ERR message 1 already deleted\r\n");
    assert_eq!(c.err("LIST 1").await, "-ERR message 1 already deleted\r\n");
    assert_eq!(c.err("UIDL 1").await, "-ERR message 1 already deleted\r\n");
    assert_eq!(c.ok("STAT").await, "+OK 1 32\r\n");
    assert_eq!(c.ok("LIST").await, "+OK 1 messages (32 octets)\r\n2 32\r\n.\r\n");
    assert_eq!(c.ok("UIDL").await, format!("+OK unique-id listing follows\r\n{}\r\n.\r\n", ids[1]));
    assert_eq!(c.ok("RSET").await, "+OK maildrop has 2 messages (55 octets)\r\n");
    assert_eq!(c.ok("STAT").await, "+OK 2 55\r\n");
    assert_eq!(c.err("RETR 9").await, "-ERR no such message 9, only 2 messages in maildrop\r\n");
    assert_eq!(c.quit().await, "+OK Rookery POP3 signing off (2 messages left)\r\n");
    assert_eq!(h.inbox_len(ALICE).await, 2);
}

#[tokio::test]
async fn login_without_domain_means_main_domain_and_uidl_is_stable() {
    let h = Harness::new().await;
    h.deliver(ALICE, "a\r\n").await;
    let mut c = h.client().await;
    c.login("Alice", PASSWORD).await;
    let first = c.ok("UIDL").await;
    c.quit().await;
    let mut c = h.client().await;
    c.login(ALICE, PASSWORD).await;
    assert_eq!(c.ok("UIDL").await, first);
}

#[tokio::test]
async fn dele_then_quit_removes_messages() {
    let h = Harness::new().await;
    for body in ["one\r\n", "two\r\n", "three\r\n"] {
        h.deliver(ALICE, body).await;
    }
    let mut c = h.logged_in().await;
    c.ok("DELE 1").await;
    c.ok("DELE 3").await;
    assert_eq!(c.quit().await, "+OK Rookery POP3 signing off (2 messages deleted, 1 left)\r\n");
    assert_eq!(h.inbox_len(ALICE).await, 1);
    let mut c = h.logged_in().await;
    assert_eq!(c.ok("RETR 1").await, "+OK 5 octets\r\ntwo\r\n.\r\n");
}

#[tokio::test]
async fn dele_then_dropped_connection_keeps_messages() {
    let h = Harness::new().await;
    h.deliver(ALICE, "one\r\n").await;
    h.deliver(ALICE, "two\r\n").await;
    let mut c = h.logged_in().await;
    c.ok("DELE 1").await;
    c.ok("DELE 2").await;
    c.session.closed().await;
    assert_eq!(h.inbox_len(ALICE).await, 2);
    // The lock went with the connection.
    let mut c = h.logged_in().await;
    assert_eq!(c.ok("STAT").await, "+OK 2 10\r\n");
}

#[tokio::test]
async fn timed_out_session_deletes_nothing() {
    let h = Harness::new().await;
    h.deliver(ALICE, "one\r\n").await;
    let mut c = h.logged_in().await;
    c.ok("DELE 1").await;
    let mut out = Vec::new();
    c.session.timed_out(&mut out);
    assert_eq!(out, b"-ERR idle for too long, closing connection\r\n");
    c.session.closed().await;
    assert_eq!(h.inbox_len(ALICE).await, 1);
    assert_eq!(c.session.idle_timeout(), Duration::from_secs(600));
}

#[tokio::test]
async fn second_session_gets_in_use_until_the_first_ends() {
    let h = Harness::new().await;
    let mut first = h.logged_in().await;
    let mut second = h.client().await;
    second.ok("USER alice").await;
    assert_eq!(second.err(&format!("PASS {PASSWORD}")).await, "-ERR [IN-USE] mailbox is locked by another session\r\n");
    // Still in AUTHORIZATION: may try again.
    assert_eq!(second.err("STAT").await, "-ERR command not valid in this state\r\n");
    // Another account is not affected.
    let mut bob = h.client().await;
    bob.login("bob", "bobpw").await;
    first.quit().await;
    second.login(ALICE, PASSWORD).await;
}

#[tokio::test]
async fn top_sends_header_and_first_body_lines() {
    let h = Harness::new().await;
    h.deliver(ALICE, "From: a\r\nSubject: t\r\n\r\nline 1\r\nline 2\r\nline 3\r\n").await;
    let mut c = h.logged_in().await;
    assert_eq!(c.ok("TOP 1 0").await, "+OK top of message follows\r\nFrom: a\r\nSubject: t\r\n\r\n.\r\n");
    assert_eq!(
        c.ok("TOP 1 2").await,
        "+OK top of message follows\r\nFrom: a\r\nSubject: t\r\n\r\nline 1\r\nline 2\r\n.\r\n"
    );
    assert_eq!(
        c.ok("TOP 1 100").await,
        "+OK top of message follows\r\nFrom: a\r\nSubject: t\r\n\r\nline 1\r\nline 2\r\nline 3\r\n.\r\n"
    );
    assert_eq!(c.err("TOP 2 1").await, "-ERR no such message 2, only 1 messages in maildrop\r\n");
}

#[test]
fn top_of_message_cases() {
    #[track_caller]
    fn check(message: &str, lines: u32, expected: &str) {
        assert_eq!(std::str::from_utf8(top_of_message(message.as_bytes(), lines)).unwrap(), expected);
    }
    check("", 0, "");
    check("A: b\r\n", 0, "A: b\r\n");
    check("A: b\r\n\r\nx\r\ny\r\n", 0, "A: b\r\n\r\n");
    check("A: b\r\n\r\nx\r\ny\r\n", 1, "A: b\r\n\r\nx\r\n");
    check("A: b\r\n\r\nx\r\ny", 5, "A: b\r\n\r\nx\r\ny");
    check("A: b\n\nx\ny\n", 1, "A: b\n\nx\n");
    check("\r\nbody\r\n", 0, "\r\n");
    check("A: b\r\n\r\n\r\n\r\nz\r\n", 2, "A: b\r\n\r\n\r\n\r\n");
}

#[tokio::test]
async fn retr_dot_stuffs_lines_starting_with_a_dot() {
    let h = Harness::new().await;
    h.deliver(ALICE, "Subject: dots\r\n\r\n.\r\n..two\r\n.three\r\nend.\r\n").await;
    h.deliver(ALICE, "Subject: no final newline\r\n\r\n.last").await;
    let mut c = h.logged_in().await;
    assert_eq!(c.ok("RETR 1").await, "+OK 41 octets\r\nSubject: dots\r\n\r\n..\r\n...two\r\n..three\r\nend.\r\n.\r\n");
    assert_eq!(c.ok("RETR 2").await, "+OK 34 octets\r\nSubject: no final newline\r\n\r\n..last\r\n.\r\n");
    assert_eq!(c.ok("TOP 1 1").await, "+OK top of message follows\r\nSubject: dots\r\n\r\n..\r\n.\r\n");
}

#[tokio::test]
async fn pipelined_commands_are_all_answered_in_one_input() {
    let h = Harness::new().await;
    h.deliver(ALICE, "x\r\n").await;
    let mut c = h.client().await;
    let (reply, step) =
        c.send(&format!("CAPA\r\nUSER {ALICE}\r\nPASS {PASSWORD}\r\nSTAT\r\nBOGUS\r\nLIST 1\r\nRETR 1\r\nNO")).await;
    assert_eq!(step, Step::Continue);
    let statuses: Vec<&str> =
        reply.split("\r\n").filter(|line| line.starts_with("+OK") || line.starts_with("-ERR")).collect();
    assert_eq!(
        statuses,
        [
            "+OK capability list follows",
            "+OK send PASS",
            "+OK alice@example.com has 1 messages (3 octets)",
            "+OK 1 3",
            "-ERR unknown command",
            "+OK 1 3",
            "+OK 3 octets"
        ]
    );
    assert!(reply.ends_with("x\r\n.\r\n"));
    // The incomplete command waits for the rest.
    assert_eq!(
        c.send("OP\r\nQUIT\r\n").await,
        ("+OK\r\n+OK Rookery POP3 signing off (1 messages left)\r\n".into(), Step::Close)
    );
}

#[tokio::test]
async fn commands_in_the_wrong_state() {
    let h = Harness::new().await;
    h.deliver(ALICE, "x\r\n").await;
    let mut c = h.client().await;
    for line in ["STAT", "LIST", "LIST 1", "UIDL", "RETR 1", "TOP 1 1", "DELE 1", "RSET", "NOOP"] {
        assert_eq!(c.err(line).await, "-ERR command not valid in this state\r\n", "{line}");
    }
    let mut c = h.logged_in().await;
    for line in ["USER alice", "PASS x", "AUTH PLAIN", "AUTH", "STLS", "APOP alice 0123456789abcdef0123456789abcdef"] {
        assert_eq!(c.err(line).await, "-ERR command not valid in this state\r\n", "{line}");
    }
    // Still logged in and working.
    assert_eq!(c.ok("STAT").await, "+OK 1 3\r\n");
}

#[tokio::test]
async fn protocol_errors_answer_and_eventually_close() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    assert_eq!(c.err("HELO there").await, "-ERR unknown command\r\n");
    assert_eq!(c.err("RETR x").await, "-ERR syntax error: argument must be a number\r\n");
    assert_eq!(c.err("PASS early").await, "-ERR send USER first\r\n");
    assert_eq!(c.err("APOP a 0123456789abcdef0123456789abcdef").await, "-ERR APOP is not supported\r\n");
    let long = "X".repeat(5000);
    assert_eq!(c.err(&long).await, "-ERR line too long\r\n");
    // A too-long line arriving in pieces is answered once and dropped.
    assert_eq!(c.send(&"Y".repeat(3000)).await, ("-ERR line too long\r\n".into(), Step::Continue));
    assert_eq!(c.send(&"Y".repeat(3000)).await, (String::new(), Step::Continue));
    assert!(c.input.len() < pop3_codec::MAX_LINE);
    assert_eq!(c.send("Y\r\nCAPA\r\n").await.0.lines().next(), Some("+OK capability list follows"));
    // That is 6 errors; the 10th closes.
    for _ in 0..3 {
        c.err("BOGUS").await;
    }
    assert_eq!(
        c.send("BOGUS\r\nNOOP\r\n").await,
        ("-ERR unknown command; too many errors, closing connection\r\n".into(), Step::Close)
    );
}

#[tokio::test]
async fn wrong_password_is_refused_then_the_connection_closed() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    c.ok("USER alice").await;
    assert_eq!(c.err("PASS wrong").await, "-ERR [AUTH] invalid credentials\r\n");
    // The USER was forgotten.
    assert_eq!(c.err("PASS wrong").await, "-ERR send USER first\r\n");
    c.ok("USER nobody@example.com").await;
    assert_eq!(c.err("PASS wrong").await, "-ERR [AUTH] invalid credentials\r\n");
    c.ok("USER bad..name").await;
    let (reply, step) = c.send("PASS x\r\n").await;
    assert_eq!(
        (reply.as_str(), step),
        ("-ERR [AUTH] invalid credentials; too many failures, closing connection\r\n", Step::Close)
    );
}

#[tokio::test]
async fn failed_login_waits_for_the_configured_delay() {
    let h = Harness::new().await;
    let delay = Duration::from_millis(100);
    let config = Pop3Config { auth_failure_delay: delay, ..h.config.clone() };
    let mut c = h.client_with(loopback(), config).await;
    c.ok("USER alice").await;
    let start = std::time::Instant::now();
    c.err("PASS wrong").await;
    assert!(start.elapsed() >= delay);
}

#[tokio::test]
async fn auth_plain_with_initial_response() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    let reply = c.ok(&format!("AUTH PLAIN {}", plain_response("", ALICE, PASSWORD))).await;
    assert_eq!(reply, "+OK alice@example.com has 0 messages (0 octets)\r\n");
    assert_eq!(c.ok("STAT").await, "+OK 0 0\r\n");
}

#[tokio::test]
async fn auth_plain_with_continuation() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    assert_eq!(c.cmd("AUTH plain").await, "+ \r\n");
    // The response line is not a command, even if it looks like one.
    let reply = c.ok(&plain_response(ALICE, ALICE, PASSWORD)).await;
    assert!(reply.starts_with("+OK alice@example.com has"), "{reply}");
}

#[tokio::test]
async fn auth_plain_failures() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ \r\n");
    assert_eq!(c.err("!!not base64!!").await, "-ERR invalid base64\r\n");
    assert_eq!(c.err("AUTH PLAIN %%%").await, "-ERR invalid base64\r\n");
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ \r\n");
    assert_eq!(c.err("*").await, "-ERR authentication cancelled\r\n");
    assert_eq!(c.err("AUTH PLAIN =").await, "-ERR malformed response\r\n");
    assert_eq!(c.err("AUTH CRAM-MD5").await, "-ERR unsupported SASL mechanism\r\n");
    // Acting as another account is refused like a wrong password.
    let as_bob = plain_response("bob@example.com", ALICE, PASSWORD);
    assert_eq!(c.err(&format!("AUTH PLAIN {as_bob}")).await, "-ERR [AUTH] invalid credentials\r\n");
    let wrong = plain_response("", ALICE, "wrong");
    assert_eq!(c.err(&format!("AUTH PLAIN {wrong}")).await, "-ERR [AUTH] invalid credentials\r\n");
    // A too-long response line ends the exchange.
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ \r\n");
    assert_eq!(c.err(&"A".repeat(2000)).await, "-ERR line too long\r\n");
    assert_eq!(c.err("STAT").await, "-ERR command not valid in this state\r\n");
    c.ok(&format!("AUTH PLAIN {}", plain_response("", ALICE, PASSWORD))).await;
}

#[tokio::test]
async fn auth_login_exchange() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    assert_eq!(c.cmd("AUTH LOGIN").await, "+ VXNlcm5hbWU6\r\n");
    assert_eq!(c.cmd(&BASE64.encode("alice")).await, "+ UGFzc3dvcmQ6\r\n");
    let reply = c.ok(&BASE64.encode(PASSWORD)).await;
    assert!(reply.starts_with("+OK alice@example.com has"), "{reply}");
}

#[tokio::test]
async fn auth_login_with_initial_response_and_failure() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    assert_eq!(c.cmd(&format!("AUTH LOGIN {}", BASE64.encode("bob"))).await, "+ UGFzc3dvcmQ6\r\n");
    assert_eq!(c.err(&BASE64.encode("nope")).await, "-ERR [AUTH] invalid credentials\r\n");
    assert_eq!(c.cmd(&format!("AUTH LOGIN {}", BASE64.encode("bob"))).await, "+ UGFzc3dvcmQ6\r\n");
    c.ok(&BASE64.encode("bobpw")).await;
}

#[tokio::test]
async fn auth_without_mechanism_lists_mechanisms() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    assert_eq!(c.ok("AUTH").await, "+OK SASL mechanisms follow\r\nPLAIN\r\nLOGIN\r\n.\r\n");
    let mut c = h.client_with(remote(), h.config.clone()).await;
    assert_eq!(c.ok("AUTH").await, "+OK SASL mechanisms follow\r\n.\r\n");
}

#[tokio::test]
async fn plaintext_auth_is_refused_without_tls_off_loopback() {
    let h = Harness::new().await;
    let mut c = h.client_with(remote(), h.config.clone()).await;
    let refusal = "-ERR [AUTH] plaintext authentication requires TLS, use STLS first\r\n";
    assert_eq!(c.err("USER alice").await, refusal);
    assert_eq!(c.err("AUTH PLAIN").await, refusal);
    assert_eq!(c.err(&format!("AUTH PLAIN {}", plain_response("", ALICE, PASSWORD))).await, refusal);
    assert_eq!(c.err("AUTH LOGIN").await, refusal);
    let (reply, step) = c.send("STLS\r\n").await;
    assert_eq!((reply.as_str(), step), ("+OK begin TLS negotiation\r\n", Step::StartTls));
    c.input.clear();
    c.session.tls_started();
    c.login(ALICE, PASSWORD).await;
    c.quit().await;

    // Without TLS on offer the text says so.
    let mut c = h.client_with(conn("192.0.2.7:40000", false), h.config.clone()).await;
    assert_eq!(c.err("USER alice").await, "-ERR [AUTH] plaintext authentication is not allowed\r\n");
    // Loopback clients lose the exemption when it is switched off.
    let config = Pop3Config { allow_plaintext_auth_on_loopback: false, ..h.config.clone() };
    let mut c = h.client_with(loopback(), config).await;
    assert_eq!(c.err("USER alice").await, "-ERR [AUTH] plaintext authentication is not allowed\r\n");
    // allow_plaintext_auth lets anyone in.
    let config = Pop3Config { allow_plaintext_auth: true, ..h.config.clone() };
    let mut c = h.client_with(remote(), config).await;
    c.login(ALICE, PASSWORD).await;
}

#[tokio::test]
async fn capa_before_and_after_tls_and_login() {
    let h = Harness::new().await;
    let base = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).chain(&["IMPLEMENTATION Rookery"]).map(|s| s.to_string()).collect()
    };
    // Loopback, no TLS on offer: plaintext allowed.
    let mut c = h.client().await;
    assert_eq!(c.capabilities().await, with(&["USER", "SASL PLAIN LOGIN"]));
    // Loopback with TLS on offer.
    let mut c = h.client_with(conn("127.0.0.1:40000", true), h.config.clone()).await;
    assert_eq!(c.capabilities().await, with(&["USER", "SASL PLAIN LOGIN", "STLS"]));
    // Remote: only STLS until TLS is up.
    let mut c = h.client_with(remote(), h.config.clone()).await;
    assert_eq!(c.capabilities().await, with(&["STLS"]));
    let (_, step) = c.send("STLS\r\n").await;
    assert_eq!(step, Step::StartTls);
    c.session.tls_started();
    assert_eq!(c.capabilities().await, with(&["USER", "SASL PLAIN LOGIN"]));
    // After login nothing about logging in.
    c.login(ALICE, PASSWORD).await;
    assert_eq!(c.capabilities().await, with(&[]));
}

#[tokio::test]
async fn stls_rules() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    assert_eq!(c.err("STLS").await, "-ERR STLS is not available\r\n");
    let mut c = h.client_with(remote(), h.config.clone()).await;
    // Commands pipelined after STLS are not run; a USER before it is
    // forgotten.
    let config = Pop3Config { allow_plaintext_auth: true, ..h.config.clone() };
    let mut p = h.client_with(remote(), config).await;
    p.ok("USER alice").await;
    let (reply, step) = p.send("STLS\r\nNOOP\r\n").await;
    assert_eq!((reply.as_str(), step), ("+OK begin TLS negotiation\r\n", Step::StartTls));
    p.input.clear();
    p.session.tls_started();
    assert_eq!(p.err(&format!("PASS {PASSWORD}")).await, "-ERR send USER first\r\n");
    assert_eq!(p.err("STLS").await, "-ERR TLS is already active\r\n");
    c.send("STLS\r\n").await;
    c.session.tls_started();
    c.login(ALICE, PASSWORD).await;
    assert_eq!(c.err("STLS").await, "-ERR command not valid in this state\r\n");
}

#[tokio::test]
async fn quit_before_login_closes() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    assert_eq!(c.quit().await, "+OK Rookery POP3 signing off\r\n");
}

#[tokio::test]
async fn shutting_down_says_goodbye() {
    let h = Harness::new().await;
    let mut c = h.logged_in().await;
    let mut out = Vec::new();
    c.session.shutting_down(&mut out);
    assert_eq!(out, b"-ERR [SYS/TEMP] server shutting down, try again later\r\n");
}

/// Says every account lives on another server, or cannot say.
struct Remote {
    unavailable: bool,
}

#[async_trait]
impl Locator for Remote {
    async fn locate(&self, account: &AccountName) -> Result<Location, LocateError> {
        if self.unavailable {
            return Err(LocateError::Unavailable { account: account.clone(), reason: "test".into() });
        }
        Ok(Location::Elsewhere { server: "sv2".into() })
    }
}

#[tokio::test]
async fn account_served_elsewhere_is_refused_for_now() {
    let h = Harness::with_locator(Arc::new(Remote { unavailable: false })).await;
    let mut c = h.client().await;
    c.ok("USER alice").await;
    assert_eq!(c.err(&format!("PASS {PASSWORD}")).await, "-ERR [SYS/TEMP] account is served elsewhere\r\n");
    let h = Harness::with_locator(Arc::new(Remote { unavailable: true })).await;
    let mut c = h.client().await;
    c.ok("USER alice").await;
    assert_eq!(c.err(&format!("PASS {PASSWORD}")).await, "-ERR [SYS/TEMP] account is unavailable, try again later\r\n");
}

#[tokio::test]
async fn pipelined_retrs_flush_before_a_megabyte_piles_up() {
    let h = Harness::new().await;
    let big = format!(
        "Subject: big\r\n\r\n{}",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n".repeat(9000)
    );
    for _ in 0..3 {
        h.deliver(ALICE, &big).await;
    }
    let mut c = h.logged_in().await;
    let (first, step) = c.send("RETR 1\r\nRETR 2\r\nRETR 3\r\nNOOP\r\n").await;
    assert_eq!(step, Step::Flush, "two 576 KB messages pass the 1 MiB mark");
    assert_eq!(first.matches("+OK ").count(), 2);
    let (rest, step) = c.send("").await;
    assert_eq!(step, Step::Continue);
    assert_eq!(rest.matches("+OK").count(), 2, "RETR 3 and NOOP");
    assert!(c.input.is_empty());
}

/// An account moving to another server: its session is closed (nothing
/// it marked is deleted) and a new login gets a temporary failure.
#[tokio::test]
async fn a_session_of_an_account_being_moved_is_closed_without_deleting() {
    let h = Harness::new().await;
    h.deliver(ALICE, "Subject: a\r\n\r\nx\r\n").await;
    let mut c = h.logged_in().await;
    c.ok("DELE 1").await;
    let account = h.store.account(&account(ALICE)).await.unwrap();
    account.freeze().await;
    account.close_sessions("account is moving");
    tokio::time::timeout(Duration::from_secs(5), c.session.wake()).await.expect("the session is woken");
    let mut out = Vec::new();
    assert_eq!(c.session.woken(&mut out).await, Step::Close);
    c.session.closed().await;
    assert_eq!(account.snapshot("INBOX").unwrap().messages.len(), 1, "DELE without QUIT deletes nothing");
    let mut again = h.client().await;
    again.ok(&format!("USER {ALICE}")).await;
    let reply = again.err(&format!("PASS {PASSWORD}")).await;
    assert!(reply.starts_with("-ERR [SYS/TEMP]") && reply.contains("being moved"), "{reply}");
}
