use super::*;
use ppp::v2::{Addresses, Header};

fn parsed(bytes: &[u8]) -> Header<'_> {
    Header::try_from(bytes).unwrap()
}

#[test]
fn the_header_names_the_client_and_the_frontend() {
    let bytes = v2_header("192.0.2.7:40000".parse().unwrap(), "198.51.100.1:143".parse().unwrap(), false).unwrap();
    let header = parsed(&bytes);
    assert_eq!(header.len(), bytes.len());
    match header.addresses {
        Addresses::IPv4(a) => {
            assert_eq!(a.source_address, std::net::Ipv4Addr::new(192, 0, 2, 7));
            assert_eq!(a.source_port, 40000);
            assert_eq!(a.destination_port, 143);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(header.tlvs().count(), 0);
}

#[test]
fn a_tls_client_is_marked_and_families_are_made_equal() {
    let bytes = v2_header("[::ffff:192.0.2.7]:1".parse().unwrap(), "[2001:db8::1]:993".parse().unwrap(), true).unwrap();
    let header = parsed(&bytes);
    assert!(matches!(header.addresses, Addresses::IPv4(_)), "{:?}", header.addresses);
    let tlvs: Vec<_> = header.tlvs().collect::<Result<_, _>>().unwrap();
    assert_eq!(tlvs.len(), 1);
    assert_eq!(tlvs[0].kind, u8::from(Type::SSL));
    assert_eq!(tlvs[0].value[0], PP2_CLIENT_SSL);
}
