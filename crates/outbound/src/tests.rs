//! Remote delivery against real sockets: the test kit's DNS server says
//! where each domain's mail goes, and small scripted SMTP servers on
//! 127.0.0.x take it (or refuse it).

use super::*;
use bytes::Bytes;
use queue::QueueId;
use routing::OutboundConfig;
use smtp_client::{ClientConfig, PoolLimits, Timeouts, TlsPolicy};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::dns::{DnsServer, Zone};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What a sink was sent: reverse-path, accepted recipients, data.
type Received = Arc<Mutex<Vec<(String, Vec<String>, String)>>>;

/// A scripted SMTP server: greets with `greeting`, refuses recipients
/// whose local part starts with `bad` (550) or `busy` (450), keeps the
/// rest.
struct Sink {
    received: Received,
}

impl Sink {
    async fn start(ip: Ipv4Addr, port: u16, greeting: &'static str) -> Sink {
        let listener = TcpListener::bind((ip, port)).await.unwrap();
        let received: Received = Arc::default();
        let store = received.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, greeting, store.clone()));
            }
        });
        Sink { received }
    }

    fn received(&self) -> Vec<(String, Vec<String>, String)> {
        self.received.lock().unwrap().clone()
    }
}

/// Greetings that make a sink misbehave instead of serving.
const SILENT: &str = "(says nothing)";
const CLOSES_IN_DATA: &str = "220 closes during DATA";
/// Greetings of sinks that take mail only after a login as `user` with
/// password `secret`: by AUTH PLAIN or LOGIN, or by LOGIN only.
const WANTS_LOGIN: &str = "220 wants a login";
const LOGIN_ONLY: &str = "220 wants AUTH LOGIN";

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn serve(socket: tokio::net::TcpStream, greeting: &'static str, received: Received) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    if greeting == SILENT {
        // Holds the connection open and never answers.
        let _ = lines.next_line().await;
        std::future::pending::<()>().await;
    }
    let _ = write.write_all(format!("{greeting}\r\n").as_bytes()).await;
    if !greeting.starts_with("220") {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let wants_login = greeting == WANTS_LOGIN || greeting == LOGIN_ONLY;
    let mut logged_in = false;
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") && greeting == WANTS_LOGIN {
            "250-sink\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME".to_owned()
        } else if upper.starts_with("EHLO") && greeting == LOGIN_ONLY {
            "250-sink\r\n250 AUTH LOGIN".to_owned()
        } else if upper.starts_with("EHLO") {
            "250-sink\r\n250-PIPELINING\r\n250 8BITMIME".to_owned()
        } else if upper.starts_with("AUTH PLAIN ") && greeting == WANTS_LOGIN {
            logged_in = line[11..] == base64("\0user\0secret");
            if logged_in { "235 2.7.0 welcome" } else { "535 5.7.8 bad login" }.to_owned()
        } else if upper == "AUTH LOGIN" {
            let _ = write.write_all(format!("334 {}\r\n", base64("Username:")).as_bytes()).await;
            let user = lines.next_line().await.ok().flatten().unwrap_or_default();
            let _ = write.write_all(format!("334 {}\r\n", base64("Password:")).as_bytes()).await;
            let password = lines.next_line().await.ok().flatten().unwrap_or_default();
            logged_in = user == base64("user") && password == base64("secret");
            if logged_in { "235 2.7.0 welcome" } else { "535 5.7.8 bad login" }.to_owned()
        } else if upper.starts_with("MAIL FROM:") && wants_login && !logged_in {
            "530 5.7.0 authentication required".to_owned()
        } else if upper.starts_with("MAIL FROM:") {
            from = line[10..].trim_matches(['<', '>', ' ']).split('>').next().unwrap_or_default().to_owned();
            "250 2.1.0 ok".to_owned()
        } else if upper.starts_with("RCPT TO:") {
            let address = line[8..].trim().trim_matches(['<', '>']).to_owned();
            if address.starts_with("bad") {
                "550 5.1.1 no such user".to_owned()
            } else if address.starts_with("busy") {
                "450 4.2.1 try later".to_owned()
            } else {
                to.push(address);
                "250 2.1.5 ok".to_owned()
            }
        } else if upper == "DATA" && greeting == CLOSES_IN_DATA {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let _ = lines.next_line().await;
            return;
        } else if upper == "DATA" {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let mut data = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "." {
                    break;
                }
                data.push_str(&line);
                data.push('\n');
            }
            received.lock().unwrap().push((std::mem::take(&mut from), std::mem::take(&mut to), data));
            "250 2.0.0 queued".to_owned()
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            "250 2.0.0 ok".to_owned()
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            "502 5.5.2 unknown".to_owned()
        };
        if write.write_all(format!("{reply}\r\n").as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A port free on 127.0.0.2, likely free on the other 127.0.0.x too.
async fn free_port() -> u16 {
    TcpListener::bind("127.0.0.2:0").await.unwrap().local_addr().unwrap().port()
}

fn remote_delivery(dns: &DnsServer, port: u16) -> RemoteDelivery {
    remote_delivery_with_timeout(dns, port, Duration::from_secs(5))
}

/// Remote delivery with a login (user `user`) for the servers named `host`.
fn remote_delivery_with_login(dns: &DnsServer, port: u16, host: &str, password: &str) -> RemoteDelivery {
    let credentials = smtp_client::Credentials { user: "user".into(), password: password.into() };
    remote_delivery_configured(dns, port, Duration::from_secs(5), &[(host, credentials)])
}

#[tokio::test]
async fn a_server_that_wants_a_login_gets_it_and_a_refused_login_defers() {
    let port = free_port().await;
    let plain = Sink::start(Ipv4Addr::new(127, 0, 0, 2), port, WANTS_LOGIN).await;
    let login_only = Sink::start(Ipv4Addr::new(127, 0, 0, 3), port, LOGIN_ONLY).await;
    let dns = DnsServer::start(
        Zone::new()
            .mx("plain.test", 10, "relay.plain.test")
            .a("relay.plain.test", Ipv4Addr::new(127, 0, 0, 2))
            .mx("login.test", 10, "relay.login.test")
            .a("relay.login.test", Ipv4Addr::new(127, 0, 0, 3)),
    )
    .unwrap();
    let outcomes =
        remote_delivery_with_login(&dns, port, "relay.plain.test", "secret").deliver(&job(&["a@plain.test"])).await;
    assert!(matches!(outcomes[0], Outcome::Delivered), "{outcomes:?}");
    assert_eq!(plain.received().len(), 1);
    let outcomes =
        remote_delivery_with_login(&dns, port, "relay.login.test", "secret").deliver(&job(&["b@login.test"])).await;
    assert!(matches!(outcomes[0], Outcome::Delivered), "{outcomes:?}");
    assert_eq!(login_only.received().len(), 1);

    // A wrong password is the operator's to fix: the mail waits.
    let outcomes =
        remote_delivery_with_login(&dns, port, "relay.plain.test", "wrong").deliver(&job(&["c@plain.test"])).await;
    assert!(matches!(&outcomes[0], Outcome::Deferred(r) if r.contains("535 5.7.8")), "{outcomes:?}");
    // No login configured for the server: it refuses MAIL, as it says.
    let outcomes = remote_delivery(&dns, port).deliver(&job(&["d@plain.test"])).await;
    assert!(matches!(&outcomes[0], Outcome::Failed(r) if r.contains("530 5.7.0")), "{outcomes:?}");
    // A server that needs a login but offers no AUTH: deferred, naming it.
    let _plain_sink = Sink::start(Ipv4Addr::new(127, 0, 0, 4), port, "220 no auth here").await;
    let dns2 = DnsServer::start(
        Zone::new().mx("none.test", 10, "mx.none.test").a("mx.none.test", Ipv4Addr::new(127, 0, 0, 4)),
    )
    .unwrap();
    let outcomes =
        remote_delivery_with_login(&dns2, port, "mx.none.test", "secret").deliver(&job(&["e@none.test"])).await;
    assert!(
        matches!(&outcomes[0], Outcome::Deferred(r) if r.contains("offers neither AUTH PLAIN nor AUTH LOGIN")),
        "{outcomes:?}"
    );
    assert_eq!(plain.received().len(), 1);
}

fn remote_delivery_with_timeout(dns: &DnsServer, port: u16, timeout: Duration) -> RemoteDelivery {
    remote_delivery_configured(dns, port, timeout, &[])
}

fn remote_delivery_configured(
    dns: &DnsServer,
    port: u16,
    timeout: Duration,
    logins: &[(&str, smtp_client::Credentials)],
) -> RemoteDelivery {
    let config = OutboundConfig {
        smtp_port: port,
        dns_servers: vec![dns.addr()],
        resolve_timeout: Duration::from_secs(5),
        ..OutboundConfig::default()
    };
    let mut client = ClientConfig::new("test.example");
    client.tls_policy = TlsPolicy::Disabled;
    client.timeouts = Timeouts::all(timeout);
    for (host, credentials) in logins {
        client.logins.insert((*host).to_owned(), credentials.clone());
    }
    RemoteDelivery::new(Router::new(&config).unwrap(), Pool::new(client, PoolLimits::default()))
}

fn job(recipients: &[&str]) -> Job {
    Job {
        id: QueueId(7),
        origin: 1,
        envelope: queue::Envelope {
            mail_from: "alice@example.com".into(),
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            received_at: 0,
            authenticated_as: None,
            smtputf8: false,
        },
        body: Bytes::from_static(b"Subject: hi\r\n\r\nhello\r\n"),
        recipients: (0..recipients.len()).collect(),
    }
}

#[tokio::test]
async fn one_transaction_per_domain_to_the_most_preferred_mx() {
    let port = free_port().await;
    let primary = Sink::start(Ipv4Addr::new(127, 0, 0, 2), port, "220 primary").await;
    let backup = Sink::start(Ipv4Addr::new(127, 0, 0, 3), port, "220 backup").await;
    let dns = DnsServer::start(
        Zone::new()
            .mx("remote.test", 10, "mx1.remote.test")
            .mx("remote.test", 20, "mx2.remote.test")
            .a("mx1.remote.test", Ipv4Addr::new(127, 0, 0, 2))
            .a("mx2.remote.test", Ipv4Addr::new(127, 0, 0, 3)),
    )
    .unwrap();
    let remote = remote_delivery(&dns, port);
    let outcomes =
        remote.deliver(&job(&["a@remote.test", "bad@remote.test", "b@REMOTE.test", "busy@remote.test"])).await;
    assert!(matches!(outcomes[0], Outcome::Delivered));
    assert!(matches!(&outcomes[1], Outcome::Failed(r) if r.contains("550 5.1.1")), "{outcomes:?}");
    assert!(matches!(outcomes[2], Outcome::Delivered));
    assert!(matches!(&outcomes[3], Outcome::Deferred(r) if r.contains("450 4.2.1")), "{outcomes:?}");
    let received = primary.received();
    assert_eq!(received.len(), 1, "one transaction for the domain");
    assert_eq!(received[0].0, "alice@example.com");
    assert_eq!(received[0].1, vec!["a@remote.test".to_owned(), "b@REMOTE.test".to_owned()]);
    assert!(received[0].2.contains("hello"));
    assert!(backup.received().is_empty());
}

#[tokio::test]
async fn an_unreachable_or_busy_mx_is_passed_over_for_the_next() {
    let port = free_port().await;
    // 127.0.0.4 has nobody listening; 127.0.0.5 greets with 421.
    let _busy = Sink::start(Ipv4Addr::new(127, 0, 0, 5), port, "421 4.3.2 busy").await;
    let backup = Sink::start(Ipv4Addr::new(127, 0, 0, 6), port, "220 backup").await;
    let dns = DnsServer::start(
        Zone::new()
            .mx("remote.test", 10, "down.remote.test")
            .mx("remote.test", 20, "busy.remote.test")
            .mx("remote.test", 30, "up.remote.test")
            .a("down.remote.test", Ipv4Addr::new(127, 0, 0, 4))
            .a("busy.remote.test", Ipv4Addr::new(127, 0, 0, 5))
            .a("up.remote.test", Ipv4Addr::new(127, 0, 0, 6)),
    )
    .unwrap();
    let outcomes = remote_delivery(&dns, port).deliver(&job(&["a@remote.test"])).await;
    assert!(matches!(outcomes[0], Outcome::Delivered), "{outcomes:?}");
    assert_eq!(backup.received().len(), 1);
}

#[tokio::test]
async fn routing_failures_defer_or_bounce() {
    let port = free_port().await;
    let dns = DnsServer::start(
        Zone::new()
            .mx("down.test", 10, "mx.down.test")
            .a("mx.down.test", Ipv4Addr::new(127, 0, 0, 7))
            .mx("nomail.test", 0, ".")
            .servfail("broken.test"),
    )
    .unwrap();
    let outcomes = remote_delivery(&dns, port)
        .deliver(&job(&["a@nowhere.test", "b@down.test", "c@nomail.test", "d@broken.test", "no-domain"]))
        .await;
    assert!(matches!(&outcomes[0], Outcome::Failed(r) if r.starts_with("5.1.2")), "{outcomes:?}");
    assert!(matches!(&outcomes[1], Outcome::Deferred(r) if r.contains("127.0.0.7")), "{outcomes:?}");
    assert!(matches!(&outcomes[2], Outcome::Failed(r) if r.starts_with("5.1.10")), "{outcomes:?}");
    assert!(matches!(&outcomes[3], Outcome::Deferred(r) if r.starts_with("4.4.3")), "{outcomes:?}");
    assert!(matches!(&outcomes[4], Outcome::Failed(r) if r.starts_with("5.1.3")), "{outcomes:?}");
}

#[tokio::test]
async fn a_permanent_refusal_is_not_retried_elsewhere() {
    let port = free_port().await;
    let _refusing = Sink::start(Ipv4Addr::new(127, 0, 0, 8), port, "554 5.7.1 go away").await;
    let backup = Sink::start(Ipv4Addr::new(127, 0, 0, 9), port, "220 backup").await;
    let dns = DnsServer::start(
        Zone::new()
            .mx("remote.test", 10, "mx1.remote.test")
            .mx("remote.test", 20, "mx2.remote.test")
            .a("mx1.remote.test", Ipv4Addr::new(127, 0, 0, 8))
            .a("mx2.remote.test", Ipv4Addr::new(127, 0, 0, 9)),
    )
    .unwrap();
    let outcomes = remote_delivery(&dns, port).deliver(&job(&["a@remote.test"])).await;
    assert!(matches!(&outcomes[0], Outcome::Failed(r) if r.contains("554 5.7.1")), "{outcomes:?}");
    assert!(backup.received().is_empty());
}

#[tokio::test]
async fn misbehaving_servers_end_in_a_retry_with_a_reason() {
    let port = free_port().await;
    let _garbage = Sink::start(Ipv4Addr::new(127, 0, 0, 10), port, "hello, no code here").await;
    let _silent = Sink::start(Ipv4Addr::new(127, 0, 0, 11), port, SILENT).await;
    let _closing = Sink::start(Ipv4Addr::new(127, 0, 0, 12), port, CLOSES_IN_DATA).await;
    let _multiline =
        Sink::start(Ipv4Addr::new(127, 0, 0, 13), port, "421-busy\r\n421-very busy\r\n421 4.3.2 go away").await;
    let dns = DnsServer::start(
        Zone::new()
            .mx("garbage.test", 10, "mx.garbage.test")
            .a("mx.garbage.test", Ipv4Addr::new(127, 0, 0, 10))
            .mx("silent.test", 10, "mx.silent.test")
            .a("mx.silent.test", Ipv4Addr::new(127, 0, 0, 11))
            .mx("closing.test", 10, "mx.closing.test")
            .a("mx.closing.test", Ipv4Addr::new(127, 0, 0, 12))
            .mx("multiline.test", 10, "mx.multiline.test")
            .a("mx.multiline.test", Ipv4Addr::new(127, 0, 0, 13)),
    )
    .unwrap();
    let remote = remote_delivery_with_timeout(&dns, port, Duration::from_millis(500));
    let started = std::time::Instant::now();
    let outcomes =
        remote.deliver(&job(&["a@garbage.test", "b@silent.test", "c@closing.test", "d@multiline.test"])).await;
    assert!(started.elapsed() < Duration::from_secs(5), "nothing hangs: {:?}", started.elapsed());
    let reasons: Vec<&str> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Deferred(reason) => reason.as_str(),
            other => panic!("a retry, not {other:?}"),
        })
        .collect();
    assert!(reasons[0].contains("127.0.0.10"), "{reasons:?}");
    assert!(reasons[1].contains("timed out"), "{reasons:?}");
    assert!(reasons[2].contains("lost connection"), "{reasons:?}");
    assert!(reasons[3].contains("421 busy very busy go away"), "all lines of the reply: {reasons:?}");
}
