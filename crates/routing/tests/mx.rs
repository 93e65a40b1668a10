//! Routing by MX records against a real DNS server on loopback.

mod common;

use common::{resolve_err, resolve_ok, router};
use routing::{MAX_ADDRESSES, MAX_ADDRESSES_PER_HOST, MAX_MX_HOSTS};
use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use testkit::dns::{DnsServer, Zone};

fn v4(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, last)
}

fn v6(last: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)
}

#[tokio::test]
async fn mx_hosts_by_preference_with_ipv6_before_ipv4() {
    let dns = DnsServer::start(
        Zone::new()
            .mx("example.test", 20, "backup.example.test")
            .mx("example.test", 10, "mx.example.test")
            .a("mx.example.test", v4(1))
            .a("mx.example.test", v4(2))
            .aaaa("mx.example.test", v6(1))
            .a("backup.example.test", v4(3)),
    )
    .expect("dns server");
    let got = resolve_ok(&router(&dns), "example.test").await;
    let (first_two, rest) = got.split_at(3);
    // hickory may return the A records of one name in either order.
    let mut first_two_v4 = first_two[1..].to_vec();
    first_two_v4.sort();
    assert_eq!(first_two[0], "mx.example.test [2001:db8::1]:2525 10");
    assert_eq!(first_two_v4, ["mx.example.test 192.0.2.1:2525 10", "mx.example.test 192.0.2.2:2525 10"]);
    assert_eq!(rest, ["backup.example.test 192.0.2.3:2525 20"]);
}

#[tokio::test]
async fn domain_is_case_insensitive_and_may_end_with_a_dot() {
    let dns = DnsServer::start(Zone::new().mx("example.test", 10, "mx.example.test").a("mx.example.test", v4(1)))
        .expect("dns server");
    let router = router(&dns);
    assert_eq!(resolve_ok(&router, "Example.TEST.").await, ["mx.example.test 192.0.2.1:2525 10"]);
}

#[tokio::test]
async fn equal_preferences_are_shuffled() {
    let dns = DnsServer::start(
        Zone::new()
            .mx("example.test", 10, "a.example.test")
            .mx("example.test", 10, "b.example.test")
            .mx("example.test", 5, "first.example.test")
            .a("a.example.test", v4(1))
            .a("b.example.test", v4(2))
            .a("first.example.test", v4(3)),
    )
    .expect("dns server");
    let router = router(&dns);
    let mut orders = HashSet::new();
    for _ in 0..50 {
        let got = resolve_ok(&router, "example.test").await;
        assert_eq!(got[0], "first.example.test 192.0.2.3:2525 5", "the lower preference always comes first");
        orders.insert(got[1..].to_vec());
    }
    // Each order has probability 1/2 per resolve: both missing in 50 is
    // a 2^-49 chance.
    assert_eq!(orders.len(), 2, "orders seen: {orders:?}");
}

#[tokio::test]
async fn mx_host_without_address_is_skipped() {
    let dns = DnsServer::start(
        Zone::new()
            .mx("example.test", 10, "gone.example.test")
            .mx("example.test", 20, "noaddr.example.test")
            .mx("example.test", 30, "mx.example.test")
            .mx("noaddr.example.test", 10, "elsewhere.example.test")
            .a("mx.example.test", v4(1)),
    )
    .expect("dns server");
    assert_eq!(resolve_ok(&router(&dns), "example.test").await, ["mx.example.test 192.0.2.1:2525 30"]);
}

#[tokio::test]
async fn mx_hosts_all_without_addresses_is_temporary() {
    let dns = DnsServer::start(Zone::new().mx("example.test", 10, "gone.example.test").mx(
        "example.test",
        20,
        "gone2.example.test",
    ))
    .expect("dns server");
    let error = resolve_err(&router(&dns), "example.test").await;
    assert!(error.temporary);
    assert_eq!(error.status, "4.4.3");
    assert!(error.text.contains("example.test"), "{error}");
}

#[tokio::test]
async fn mx_exchange_through_cname() {
    let dns = DnsServer::start(
        Zone::new()
            .mx("example.test", 10, "alias.example.test")
            .cname("alias.example.test", "real.example.test")
            .a("real.example.test", v4(7)),
    )
    .expect("dns server");
    assert_eq!(resolve_ok(&router(&dns), "example.test").await, ["alias.example.test 192.0.2.7:2525 10"]);
}

#[tokio::test]
async fn no_mx_means_implicit_mx() {
    let dns = DnsServer::start(Zone::new().a("example.test", v4(9)).aaaa("example.test", v6(9))).expect("dns server");
    assert_eq!(
        resolve_ok(&router(&dns), "example.test").await,
        ["example.test [2001:db8::9]:2525 0", "example.test 192.0.2.9:2525 0"]
    );
}

#[tokio::test]
async fn no_mx_and_no_address_is_permanent() {
    // The name exists (it has a TXT record) but has no MX, A or AAAA.
    let dns = DnsServer::start(Zone::new().txt("example.test", "v=spf1 -all")).expect("dns server");
    let error = resolve_err(&router(&dns), "example.test").await;
    assert!(!error.temporary, "{error}");
    assert_eq!(error.status, "5.4.4");
    assert_eq!(error.text, "domain example.test has no MX and no address records");
}

#[tokio::test]
async fn implicit_mx_through_cname() {
    let dns =
        DnsServer::start(Zone::new().cname("example.test", "real.test").a("real.test", v4(4))).expect("dns server");
    assert_eq!(resolve_ok(&router(&dns), "example.test").await, ["example.test 192.0.2.4:2525 0"]);
}

#[tokio::test]
async fn null_mx_is_permanent() {
    let dns = DnsServer::start(Zone::new().mx("example.test", 0, ".").a("example.test", v4(1))).expect("dns server");
    let error = resolve_err(&router(&dns), "example.test").await;
    assert!(!error.temporary);
    assert_eq!(error.status, "5.1.10");
    assert!(error.text.contains("null MX"), "{error}");
}

#[tokio::test]
async fn nxdomain_is_permanent() {
    let dns = DnsServer::start(Zone::new().a("other.test", v4(1))).expect("dns server");
    let error = resolve_err(&router(&dns), "missing.test").await;
    assert!(!error.temporary);
    assert_eq!(error.status, "5.1.2");
    assert_eq!(error.text, "domain missing.test does not exist");
}

#[tokio::test]
async fn address_literal_domain_skips_dns() {
    let dns = DnsServer::start(Zone::new()).expect("dns server");
    let router = router(&dns);
    assert_eq!(resolve_ok(&router, "[192.0.2.5]").await, ["192.0.2.5 192.0.2.5:2525 0"]);
    assert_eq!(resolve_ok(&router, "[IPv6:2001:db8::5]").await, ["2001:db8::5 [2001:db8::5]:2525 0"]);
}

#[tokio::test]
async fn invalid_domain_is_permanent() {
    let dns = DnsServer::start(Zone::new()).expect("dns server");
    let error = resolve_err(&router(&dns), "bad domain").await;
    assert!(!error.temporary);
    assert_eq!(error.status, "5.1.3");
}

#[tokio::test]
async fn hostile_zone_is_capped() {
    let mut zone = Zone::new();
    for host in 0..(MAX_MX_HOSTS as u8 + 5) {
        let name = format!("mx{host:02}.example.test");
        zone = zone.mx("example.test", u16::from(host), &name);
        for address in 0..10 {
            zone = zone.a(&name, Ipv4Addr::new(192, 0, host, address));
        }
    }
    let dns = DnsServer::start(zone).expect("dns server");
    let got = resolve_ok(&router(&dns), "example.test").await;
    assert_eq!(got.len(), MAX_ADDRESSES, "{got:?}");
    // Per-host cap: the first hosts do not take every slot.
    let hosts: HashSet<_> = got.iter().map(|line| line.split(' ').next().unwrap_or_default().to_owned()).collect();
    assert_eq!(hosts.len(), MAX_ADDRESSES / MAX_ADDRESSES_PER_HOST, "{got:?}");
    assert!(got[0].starts_with("mx00.example.test "), "{got:?}");
}

#[tokio::test]
async fn at_most_max_mx_hosts_are_tried() {
    let mut zone = Zone::new();
    // Only hosts past the cap have addresses: none is looked up.
    for host in 0..(MAX_MX_HOSTS as u16 + 3) {
        let name = format!("mx{host:02}.example.test");
        zone = zone.mx("example.test", host, &name);
        if host >= MAX_MX_HOSTS as u16 {
            zone = zone.a(&name, v4(host as u8));
        }
    }
    let dns = DnsServer::start(zone).expect("dns server");
    let error = resolve_err(&router(&dns), "example.test").await;
    assert!(error.temporary, "{error}");
    assert_eq!(error.status, "4.4.3");
}

#[tokio::test]
async fn duplicate_addresses_are_tried_once() {
    let dns = DnsServer::start(
        Zone::new()
            .mx("example.test", 10, "a.example.test")
            .mx("example.test", 20, "b.example.test")
            .a("a.example.test", v4(1))
            .a("b.example.test", v4(1))
            .a("b.example.test", v4(2)),
    )
    .expect("dns server");
    assert_eq!(
        resolve_ok(&router(&dns), "example.test").await,
        ["a.example.test 192.0.2.1:2525 10", "b.example.test 192.0.2.2:2525 20"]
    );
}

#[tokio::test]
async fn internationalized_domain_is_queried_as_a_labels() {
    // The zone is written in U-labels too; both become xn--bcher-kva.
    let dns = DnsServer::start(Zone::new().mx("bücher.test", 10, "mx.bücher.test").a("mx.bücher.test", v4(8)))
        .expect("dns server");
    assert_eq!(resolve_ok(&router(&dns), "Bücher.test").await, ["mx.xn--bcher-kva.test 192.0.2.8:2525 10"]);
}

#[test]
fn router_can_be_shared_across_tasks() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}
    let dns = DnsServer::start(Zone::new()).expect("dns server");
    let router = router(&dns);
    assert_send_sync(&router);
    // The queue runner spawns deliveries; the future must be Send.
    assert_send(&router.resolve("example.test"));
}

#[tokio::test]
async fn answer_too_long_for_udp_comes_over_tcp_and_is_capped() {
    // 300 MX records (about 9 KB) do not fit a UDP answer: the resolver
    // must ask again over TCP.
    let mut zone = Zone::new();
    for host in 0..300u16 {
        let name = format!("mx{host:03}.example.test");
        zone = zone.mx("example.test", host, &name).a(&name, Ipv4Addr::new(198, 51, (host / 256) as u8, host as u8));
    }
    let dns = DnsServer::start(zone).expect("dns server");
    let got = resolve_ok(&router(&dns), "example.test").await;
    let expected: Vec<String> =
        (0..MAX_MX_HOSTS).map(|host| format!("mx{host:03}.example.test 198.51.0.{host}:2525 {host}")).collect();
    assert_eq!(got, expected);
}
