use super::{ForwardTarget, HostSpec, address_literal};
use std::net::SocketAddr;

fn check(input: &str, expected: Option<HostSpec>) {
    assert_eq!(HostSpec::parse(input, 25), expected, "input {input:?}");
}

fn name(name: &str, port: u16) -> Option<HostSpec> {
    Some(HostSpec::Name { name: name.to_owned(), port })
}

fn address(addr: &str) -> Option<HostSpec> {
    Some(HostSpec::Address(addr.parse::<SocketAddr>().expect("test address parses")))
}

#[test]
fn names_with_and_without_ports() {
    check("mx.example.com", name("mx.example.com", 25));
    check("MX.Example.com.", name("mx.example.com", 25));
    check("mx.example.com:2525", name("mx.example.com", 2525));
    check(" relay:587 ", name("relay", 587));
}

#[test]
fn addresses_skip_dns() {
    check("[192.0.2.1]", address("192.0.2.1:25"));
    check("[192.0.2.1]:2525", address("192.0.2.1:2525"));
    check("192.0.2.1", address("192.0.2.1:25"));
    check("192.0.2.1:2525", address("192.0.2.1:2525"));
    check("[IPv6:2001:db8::1]", address("[2001:db8::1]:25"));
    check("[ipv6:2001:db8::1]:26", address("[2001:db8::1]:26"));
    check("[2001:db8::1]:2525", address("[2001:db8::1]:2525"));
    check("2001:db8::1", address("[2001:db8::1]:25"));
}

#[test]
fn bad_hosts() {
    for input in [
        "",
        "x:y:z",
        "mx.example.com:",
        "mx.example.com:0",
        "mx.example.com:65536",
        "mx.example.com:+25",
        "mx.example.com:25x",
        "[192.0.2.1",
        "[192.0.2.1]x",
        "[192.0.2.1]:",
        "[mx.example.com]",
        "[IPv6:192.0.2.1]",
        "mx example.com",
        "*",
    ] {
        check(input, None);
    }
}

#[test]
fn address_literal_domains() {
    assert_eq!(address_literal("[192.0.2.1]"), Some("192.0.2.1".parse().expect("ip")));
    assert_eq!(address_literal("[IPv6:::1]"), Some("::1".parse().expect("ip")));
    assert_eq!(address_literal("192.0.2.1"), None);
    assert_eq!(address_literal("[example.com]"), None);
}

#[test]
fn forward_targets() {
    assert_eq!(ForwardTarget::parse("*", 25), Some(ForwardTarget::AllFrontends));
    assert_eq!(
        ForwardTarget::parse("fe1:2525", 25),
        Some(ForwardTarget::Host(HostSpec::Name { name: "fe1".into(), port: 2525 }))
    );
    assert_eq!(ForwardTarget::parse("*.example.com", 25), None);
}
