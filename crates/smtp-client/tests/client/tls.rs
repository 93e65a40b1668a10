//! STARTTLS by policy.

use crate::fake_server::{FakeServer, Serve, Step, greet, send, test_ca};
use crate::{config, envelope};
use smtp_client::{Cause, Connection, RcptResult, Stage, TlsPolicy, TlsSettings};

const EHLO_TLS: &str = "250-fake.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n";
const EHLO_AFTER_TLS: &str = "250-fake.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n";

fn starttls_script(acceptor: tokio_rustls::TlsAcceptor) -> Vec<Step> {
    let mut steps = greet(EHLO_TLS);
    steps.extend([
        Step::Expect("STARTTLS"),
        send("220 2.0.0 ready\r\n"),
        Step::StartTls(acceptor),
        Step::Expect("EHLO"),
        send(EHLO_AFTER_TLS),
        Step::Serve(Serve { ehlo: EHLO_AFTER_TLS, ..Serve::default() }),
    ]);
    steps
}

#[tokio::test]
async fn opportunistic_takes_a_certificate_it_cannot_verify() {
    let ca = test_ca();
    let server = FakeServer::start(vec![starttls_script(ca.acceptor)]).await;
    // The default trust anchors do not know the test CA.
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    assert!(connection.is_tls());
    // What the server said before TLS is forgotten; after it, re-learnt.
    assert!(!connection.extensions().starttls);
    assert!(connection.extensions().eight_bit_mime);
    assert_eq!(connection.send(&envelope(&["a@x.org"]), b"secret\r\n").await.unwrap(), vec![RcptResult::Accepted]);
    let record = server.record();
    assert_eq!(record.tls_handshakes, 1);
    assert_eq!(record.command_names(), ["EHLO", "STARTTLS", "EHLO", "MAIL", "RCPT", "DATA"]);
    assert_eq!(record.messages, vec![b"secret\r\n.\r\n".to_vec()]);
}

#[tokio::test]
async fn failed_opportunistic_handshake_retries_in_plaintext() {
    let mut broken = greet(EHLO_TLS);
    broken.extend([Step::Expect("STARTTLS"), send("220 2.0.0 ready\r\n"), send("this is not TLS\r\n"), Step::Close]);
    let mut plain = greet(EHLO_TLS);
    plain.push(Step::Serve(Serve { ehlo: EHLO_TLS, ..Serve::default() }));
    let server = FakeServer::start(vec![broken, plain]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    assert!(!connection.is_tls());
    assert_eq!(connection.send(&envelope(&["a@x.org"]), b"hi\r\n").await.unwrap(), vec![RcptResult::Accepted]);
    let record = server.record();
    assert_eq!(record.connections, 2);
    let second: Vec<&str> =
        record.commands.iter().filter(|(connection, _)| *connection == 1).map(|(_, line)| line.as_str()).collect();
    assert!(!second.iter().any(|line| line.starts_with("STARTTLS")), "{second:?}");
}

#[tokio::test]
async fn required_tls_not_offered_is_temporary() {
    let mut steps = greet("250-fake.test\r\n250 PIPELINING\r\n");
    steps.push(Step::Serve(Serve::default()));
    let server = FakeServer::start(vec![steps]).await;
    let mut config = config();
    config.tls_policy = TlsPolicy::Required;
    let error = Connection::connect(server.addr, "localhost", &config).await.unwrap_err();
    assert_eq!((error.stage(), error.cause(), error.is_temporary()), (Stage::StartTls, &Cause::TlsNotOffered, true));
    assert_eq!(error.to_string(), "TLS is required, but localhost[127.0.0.1] does not offer STARTTLS");
}

#[tokio::test]
async fn required_tls_with_an_unverifiable_certificate_is_temporary() {
    let ca = test_ca();
    let server = FakeServer::start(vec![starttls_script(ca.acceptor)]).await;
    let mut config = config();
    config.tls_policy = TlsPolicy::Required;
    let error = Connection::connect(server.addr, "localhost", &config).await.unwrap_err();
    assert_eq!(error.stage(), Stage::StartTls);
    assert!(matches!(error.cause(), Cause::Tls(_)), "{error}");
    assert!(error.is_temporary());
    // No plaintext retry when TLS is required.
    assert_eq!(server.record().connections, 1);
}

#[tokio::test]
async fn required_tls_with_a_trusted_certificate() {
    let ca = test_ca();
    let server = FakeServer::start(vec![starttls_script(ca.acceptor)]).await;
    let mut config = config();
    config.tls_policy = TlsPolicy::Required;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.ca_der).unwrap();
    config.tls = TlsSettings::with_roots(roots);
    let mut connection = Connection::connect(server.addr, "localhost", &config).await.unwrap();
    assert!(connection.is_tls());
    assert_eq!(connection.send(&envelope(&["a@x.org"]), b"hi\r\n").await.unwrap(), vec![RcptResult::Accepted]);
    // The certificate names localhost, not this name.
    let error = Connection::connect(server.addr, "mx.example.com", &config).await.unwrap_err();
    assert!(matches!(error.cause(), Cause::Tls(_)), "{error}");
}

#[tokio::test]
async fn disabled_tls_ignores_starttls() {
    let mut steps = greet(EHLO_TLS);
    steps.push(Step::Serve(Serve { ehlo: EHLO_TLS, ..Serve::default() }));
    let server = FakeServer::start(vec![steps]).await;
    let mut config = config();
    config.tls_policy = TlsPolicy::Disabled;
    let connection = Connection::connect(server.addr, "localhost", &config).await.unwrap();
    assert!(!connection.is_tls());
    assert_eq!(server.record().command_names(), ["EHLO"]);
}

#[tokio::test]
async fn replies_sent_before_the_handshake_are_not_believed() {
    // A man in the middle appends a reply to the 220 (CVE-2011-0411).
    let ca = test_ca();
    let mut steps = greet(EHLO_TLS);
    steps.extend([
        Step::Expect("STARTTLS"),
        send("220 2.0.0 ready\r\n250 injected\r\n"),
        Step::StartTls(ca.acceptor),
        Step::Expect("EHLO"),
        send(EHLO_AFTER_TLS),
        Step::Serve(Serve { ehlo: EHLO_AFTER_TLS, ..Serve::default() }),
    ]);
    let server = FakeServer::start(vec![steps]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    assert!(connection.is_tls());
    assert!(connection.extensions().pipelining);
    assert_eq!(connection.send(&envelope(&["a@x.org"]), b"hi\r\n").await.unwrap(), vec![RcptResult::Accepted]);
}

#[tokio::test]
async fn refused_opportunistic_starttls_goes_on_in_plaintext() {
    let mut steps = greet(EHLO_TLS);
    steps.extend([
        Step::Expect("STARTTLS"),
        send("454 4.7.0 TLS not available\r\n"),
        Step::Serve(Serve { ehlo: EHLO_TLS, ..Serve::default() }),
    ]);
    let server = FakeServer::start(vec![steps]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    assert!(!connection.is_tls());
    assert_eq!(connection.send(&envelope(&["a@x.org"]), b"hi\r\n").await.unwrap(), vec![RcptResult::Accepted]);
    assert_eq!(server.record().connections, 1);
}
