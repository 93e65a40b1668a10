//! DNS that fails: SERVFAIL and no answer at all are temporary errors.

mod common;

use common::{config, resolve_err, resolve_ok, router};
use routing::Router;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use testkit::dns::{DnsServer, Zone};

#[tokio::test]
async fn servfail_on_mx_is_temporary() {
    let dns = DnsServer::start(Zone::new().servfail("example.test")).expect("dns server");
    let error = resolve_err(&router(&dns), "example.test").await;
    assert!(error.temporary, "{error}");
    assert_eq!(error.status, "4.4.3");
    assert!(error.text.contains("example.test"), "{error}");
}

#[tokio::test]
async fn servfail_on_every_mx_host_is_temporary() {
    let dns = DnsServer::start(Zone::new().mx("example.test", 10, "mx.example.test").servfail("mx.example.test"))
        .expect("dns server");
    let error = resolve_err(&router(&dns), "example.test").await;
    assert!(error.temporary, "{error}");
    assert_eq!(error.status, "4.4.3");
    assert!(error.text.contains("mx.example.test"), "the failing host is named: {error}");
}

#[tokio::test]
async fn servfail_on_one_mx_host_skips_it() {
    let dns = DnsServer::start(
        Zone::new()
            .mx("example.test", 10, "broken.example.test")
            .mx("example.test", 20, "mx.example.test")
            .servfail("broken.example.test")
            .a("mx.example.test", Ipv4Addr::new(192, 0, 2, 1)),
    )
    .expect("dns server");
    assert_eq!(resolve_ok(&router(&dns), "example.test").await, ["mx.example.test 192.0.2.1:2525 20"]);
}

#[tokio::test]
async fn no_answer_times_out_as_temporary() {
    let dns = DnsServer::start(Zone::new().silent("example.test")).expect("dns server");
    let router = Router::new(&routing::OutboundConfig { resolve_timeout: Duration::from_millis(500), ..config(&dns) })
        .expect("valid config");
    let started = Instant::now();
    let error = resolve_err(&router, "example.test").await;
    let took = started.elapsed();
    assert!(error.temporary, "{error}");
    assert_eq!(error.status, "4.4.3");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn silent_mx_host_times_out_as_temporary() {
    let dns = DnsServer::start(Zone::new().mx("example.test", 10, "mx.example.test").silent("mx.example.test"))
        .expect("dns server");
    let router = Router::new(&routing::OutboundConfig { resolve_timeout: Duration::from_millis(500), ..config(&dns) })
        .expect("valid config");
    let error = resolve_err(&router, "example.test").await;
    assert!(error.temporary, "{error}");
    assert_eq!(error.status, "4.4.3");
}

#[tokio::test]
async fn no_dns_server_listening_is_temporary() {
    // Bind and drop a socket so the port is (almost certainly) closed.
    let port = std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).expect("free port").port();
    let config = routing::OutboundConfig {
        smtp_port: 2525,
        dns_servers: vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))],
        resolve_timeout: Duration::from_secs(2),
        ..routing::OutboundConfig::default()
    };
    let router = Router::new(&config).expect("valid config");
    let error = resolve_err(&router, "example.test").await;
    assert!(error.temporary, "{error}");
    assert_eq!(error.status, "4.4.3");
}
