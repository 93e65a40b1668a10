//! Static routes, relay hosts and forward-to hosts: no MX lookup.

mod common;

use common::{config, resolve_err, resolve_ok};
use routing::{OutboundConfig, Router};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use testkit::dns::{DnsServer, Zone};

fn v4(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, last)
}

/// A zone where MX routing would give a different answer, so a test can
/// tell that configuration won.
fn zone() -> Zone {
    Zone::new()
        .mx("example.test", 10, "mx.example.test")
        .a("mx.example.test", v4(100))
        .a("relay1.test", v4(1))
        .a("relay2.test", v4(2))
        .a("static.test", v4(3))
}

fn routes(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    entries.iter().map(|(key, hosts)| (key.to_string(), hosts.iter().map(|h| h.to_string()).collect())).collect()
}

fn list(hosts: &[&str]) -> Vec<String> {
    hosts.iter().map(|h| h.to_string()).collect()
}

fn router_with(dns: &DnsServer, change: impl FnOnce(&mut OutboundConfig)) -> Router {
    let mut config = config(dns);
    change(&mut config);
    Router::new(&config).expect("valid config")
}

#[tokio::test]
async fn relay_takes_every_domain_in_order_with_ports() {
    let dns = DnsServer::start(zone()).expect("dns server");
    let router = router_with(&dns, |c| c.relay = list(&["relay1.test:587", "relay2.test", "[192.0.2.50]:26"]));
    let expected = ["relay1.test 192.0.2.1:587 0", "relay2.test 192.0.2.2:2525 1", "192.0.2.50 192.0.2.50:26 2"];
    assert_eq!(resolve_ok(&router, "example.test").await, expected);
    // Even a domain that does not exist: the relay decides.
    assert_eq!(resolve_ok(&router, "missing.test").await, expected);
}

#[tokio::test]
async fn relay_host_without_address_is_skipped_and_none_is_temporary() {
    let dns = DnsServer::start(zone()).expect("dns server");
    let router = router_with(&dns, |c| c.relay = list(&["gone.test", "relay2.test"]));
    assert_eq!(resolve_ok(&router, "example.test").await, ["relay2.test 192.0.2.2:2525 1"]);
    let router = router_with(&dns, |c| c.relay = list(&["gone.test"]));
    let error = resolve_err(&router, "example.test").await;
    assert!(error.temporary, "a configuration problem never bounces: {error}");
    assert_eq!(error.status, "4.4.3");
    assert!(error.text.contains("gone.test does not exist"), "{error}");
}

#[tokio::test]
async fn forward_to_is_like_relay() {
    let dns = DnsServer::start(zone()).expect("dns server");
    let router = router_with(&dns, |c| c.forward_to = list(&["relay2.test:2626", "relay1.test"]));
    assert_eq!(
        resolve_ok(&router, "example.test").await,
        ["relay2.test 192.0.2.2:2626 0", "relay1.test 192.0.2.1:2525 1"]
    );
}

#[tokio::test]
async fn forward_to_all_frontends_is_temporary_for_now() {
    let dns = DnsServer::start(zone()).expect("dns server");
    for targets in [&["*"][..], &["relay1.test", "*"][..]] {
        let router = router_with(&dns, |c| c.forward_to = list(targets));
        let error = resolve_err(&router, "example.test").await;
        assert!(error.temporary, "{error}");
        assert_eq!(error.text, "cluster frontends are not known on this server");
    }
}

#[tokio::test]
async fn static_route_beats_relay_and_mx() {
    let dns = DnsServer::start(zone()).expect("dns server");
    let router = router_with(&dns, |c| {
        c.relay = list(&["relay1.test"]);
        c.routes =
            routes(&[("example.test", &["static.test:2600", "[192.0.2.60]", "192.0.2.61:27", "[IPv6:2001:db8::62]"])]);
    });
    assert_eq!(
        resolve_ok(&router, "EXAMPLE.test").await,
        [
            "static.test 192.0.2.3:2600 0",
            "192.0.2.60 192.0.2.60:2525 1",
            "192.0.2.61 192.0.2.61:27 2",
            "2001:db8::62 [2001:db8::62]:2525 3"
        ]
    );
    // Other domains still go to the relay.
    assert_eq!(resolve_ok(&router, "other.test").await, ["relay1.test 192.0.2.1:2525 0"]);
}

#[tokio::test]
async fn static_route_without_relay_leaves_other_domains_to_mx() {
    let dns = DnsServer::start(zone()).expect("dns server");
    let router = router_with(&dns, |c| c.routes = routes(&[("other.test", &["static.test"])]));
    assert_eq!(resolve_ok(&router, "example.test").await, ["mx.example.test 192.0.2.100:2525 10"]);
    assert_eq!(resolve_ok(&router, "other.test").await, ["static.test 192.0.2.3:2525 0"]);
}

#[tokio::test]
async fn subdomain_route_keys() {
    let dns = DnsServer::start(zone()).expect("dns server");
    let router = router_with(&dns, |c| {
        c.routes = routes(&[("*.example.test", &["[192.0.2.70]"]), ("*.deep.example.test", &["[192.0.2.71]"])])
    });
    assert_eq!(resolve_ok(&router, "a.example.test").await, ["192.0.2.70 192.0.2.70:2525 0"]);
    assert_eq!(resolve_ok(&router, "x.deep.example.test").await, ["192.0.2.71 192.0.2.71:2525 0"]);
    // The parent itself is not a subdomain: it goes by MX.
    assert_eq!(resolve_ok(&router, "example.test").await, ["mx.example.test 192.0.2.100:2525 10"]);
}

#[tokio::test]
async fn relay_takes_address_literal_domains_too() {
    let dns = DnsServer::start(zone()).expect("dns server");
    let router = router_with(&dns, |c| c.relay = list(&["relay1.test"]));
    assert_eq!(resolve_ok(&router, "[192.0.2.80]").await, ["relay1.test 192.0.2.1:2525 0"]);
    let router = router_with(&dns, |c| c.forward_to = list(&["relay2.test"]));
    assert_eq!(resolve_ok(&router, "[IPv6:2001:db8::80]").await, ["relay2.test 192.0.2.2:2525 0"]);
}
