use super::*;
use proptest::prelude::*;

fn addr(s: &str) -> Option<SocketAddr> {
    Some(s.parse().unwrap())
}

/// A v2 header: `command` 0 (LOCAL) or 1 (PROXY), `family_protocol` as on
/// the wire (0x11 TCP over IPv4, 0x21 TCP over IPv6), then the payload.
pub(crate) fn v2(command: u8, family_protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.push(0x20 | command);
    h.push(family_protocol);
    h.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn check(input: &[u8], expected: Parsed) {
    assert_eq!(parse(input), expected, "input {:?}", String::from_utf8_lossy(input));
}

fn malformed(input: &[u8]) {
    assert!(matches!(parse(input), Parsed::Malformed(_)), "input {:?}: {:?}", input, parse(input));
}

#[test]
fn v1_headers() {
    let tcp4 = b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 25\r\n";
    check(tcp4, Parsed::Complete { len: tcp4.len(), client: addr("192.0.2.1:40000") });
    let tcp6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 40000 143\r\nA1 NOOP\r\n";
    check(tcp6, Parsed::Complete { len: tcp6.len() - 9, client: addr("[2001:db8::1]:40000") });
    check(b"PROXY UNKNOWN\r\n", Parsed::Complete { len: 15, client: None });
    check(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", Parsed::Complete { len: 35, client: None });
}

#[test]
fn every_proper_prefix_of_a_header_is_incomplete() {
    let headers: Vec<Vec<u8>> = vec![
        b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 25\r\n".to_vec(),
        b"PROXY TCP6 2001:db8::1 2001:db8::2 40000 143\r\n".to_vec(),
        b"PROXY UNKNOWN\r\n".to_vec(),
        v2(1, 0x11, &[192, 0, 2, 1, 198, 51, 100, 2, 0x9c, 0x40, 0, 25, 1, 0, 2, b'h', b'2']),
        v2(0, 0x00, &[]),
    ];
    for header in headers {
        for end in 0..header.len() {
            check(&header[..end], Parsed::Incomplete);
        }
        assert!(matches!(parse(&header), Parsed::Complete { .. }));
    }
}

#[test]
fn v2_headers() {
    // TCP over IPv4 with two TLVs (ALPN "h2", authority "mx"), skipped.
    let mut payload = vec![192, 0, 2, 1, 198, 51, 100, 2, 0x9c, 0x40, 0, 25];
    payload.extend_from_slice(&[0x01, 0, 2, b'h', b'2', 0x02, 0, 2, b'm', b'x']);
    let header = v2(1, 0x11, &payload);
    check(&header, Parsed::Complete { len: header.len(), client: addr("192.0.2.1:40000") });

    let mut payload = Vec::new();
    payload.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    payload.extend_from_slice(&"2001:db8::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
    payload.extend_from_slice(&[0x9c, 0x40, 0, 143, 0x04, 0, 1, 0]);
    let mut with_data = v2(1, 0x21, &payload);
    let len = with_data.len();
    with_data.extend_from_slice(b"A1 NOOP\r\n");
    check(&with_data, Parsed::Complete { len, client: addr("[2001:db8::1]:40000") });

    // LOCAL (a health check), even with addresses: the connection's own stand.
    check(&v2(0, 0x00, &[]), Parsed::Complete { len: 16, client: None });
    let local = v2(0, 0x11, &[192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2]);
    check(&local, Parsed::Complete { len: local.len(), client: None });
    // PROXY with an unspecified family: no address to take.
    check(&v2(1, 0x00, &[]), Parsed::Complete { len: 16, client: None });
}

#[test]
fn malformed_headers() {
    malformed(b"EHLO client.example\r\n");
    malformed(b"GET / HTTP/1.1\r\n");
    malformed(b"PROXY TCP5 192.0.2.1 198.51.100.2 40000 25\r\n");
    malformed(b"PROXY TCP4 192.0.2.300 198.51.100.2 40000 25\r\n");
    malformed(b"PROXY TCP4 192.0.2.1 198.51.100.2 70000 25\r\n");
    malformed(b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 25\rX");
    malformed(b"proxy TCP4 192.0.2.1 198.51.100.2 40000 25\r\n");
    // A v1 line longer than 107 bytes, with or without its end.
    let long = format!("PROXY UNKNOWN {}", "x".repeat(120));
    malformed(long.as_bytes());
    malformed(format!("{long}\r\n").as_bytes());
    // v2: bad version, bad command, UDP, addresses longer than the length.
    let mut bad_version = v2(1, 0x11, &[0; 12]);
    bad_version[12] = 0x11;
    malformed(&bad_version);
    malformed(&v2(2, 0x11, &[0; 12]));
    malformed(&v2(1, 0x12, &[0; 12]));
    malformed(&v2(1, 0x11, &[0; 4]));
}

#[test]
fn a_v2_header_longer_than_the_cap_is_refused_before_it_is_read() {
    let mut header = V2_SIGNATURE.to_vec();
    header.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
    malformed(&header);
}

#[test]
fn trusted_proxies_parse_networks_and_addresses() {
    let trusted = TrustedProxies::parse(["10.0.0.0/8", " 192.0.2.7 ", "2001:db8::/32"]).unwrap();
    for ip in ["10.1.2.3", "192.0.2.7", "2001:db8::5", "::ffff:10.9.9.9"] {
        assert!(trusted.contains(ip.parse().unwrap()), "{ip}");
    }
    for ip in ["11.0.0.1", "192.0.2.8", "2001:db9::1", "127.0.0.1"] {
        assert!(!trusted.contains(ip.parse().unwrap()), "{ip}");
    }
    let err = TrustedProxies::parse(["10.0.0.0/8", "lb.example"]).unwrap_err();
    assert_eq!(err.entry, "lb.example");
    assert!(TrustedProxies::parse(["10.0.0.0/33"]).is_err());
    assert!(TrustedProxies::parse(Vec::<String>::new()).unwrap().is_empty());
}

proptest! {
    /// Arbitrary bytes never panic, and a complete header never claims
    /// more bytes than there are.
    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Parsed::Complete { len, .. } = parse(&input) {
            prop_assert!(len <= input.len());
        }
    }

    /// Bytes after a valid signature reach the deeper parts of both parsers.
    #[test]
    fn arbitrary_bytes_after_a_signature_never_panic(
        v2_tail in proptest::collection::vec(any::<u8>(), 0..300),
        v1_tail in "[ -~\r\n]{0,120}",
    ) {
        let mut input = V2_SIGNATURE.to_vec();
        input.extend_from_slice(&v2_tail);
        let _ = parse(&input);
        let v1 = format!("PROXY {v1_tail}");
        let _ = parse(v1.as_bytes());
    }

    /// A header followed by anything parses to the same header.
    #[test]
    fn bytes_after_a_header_are_not_part_of_it(tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let header = b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 25\r\n";
        let mut input = header.to_vec();
        input.extend_from_slice(&tail);
        prop_assert_eq!(parse(&input), Parsed::Complete { len: header.len(), client: addr("192.0.2.1:40000") });
    }
}

#[test]
fn a_v2_header_with_the_ssl_tlv_says_the_client_used_tls() {
    use ppp::v2::{Builder, Command, Protocol, Type, Version};
    let addresses = (addr("192.0.2.1:40000").unwrap(), addr("192.0.2.2:143").unwrap());
    let builder = || Builder::with_addresses(Version::Two | Command::Proxy, Protocol::Stream, addresses);
    let with_ssl = builder().write_tlv(Type::SSL, &[0x01, 0, 0, 0, 0]).unwrap().build().unwrap();
    assert!(client_used_tls(&with_ssl));
    // The TLV present but without PP2_CLIENT_SSL: no TLS on the client's leg.
    let without_flag = builder().write_tlv(Type::SSL, &[0x00, 0, 0, 0, 0]).unwrap().build().unwrap();
    assert!(!client_used_tls(&without_flag));
    assert!(!client_used_tls(&builder().build().unwrap()));
    assert!(!client_used_tls(b"PROXY TCP4 192.0.2.1 192.0.2.2 40000 143\r\n"));
}
