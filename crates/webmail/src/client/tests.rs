use super::*;
use axum::http::Request;

fn parts(peer: &str, headers: &[(&str, &str)]) -> Parts {
    let mut request = Request::builder().uri("/");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (mut parts, ()) = request.body(()).unwrap().into_parts();
    parts.extensions.insert(ConnectInfo(PeerInfo { addr: peer.parse().unwrap(), tls: false }));
    parts
}

#[test]
fn untrusted_peer_headers_are_ignored() {
    let proxies = net::TrustedProxies::parse(["127.0.0.9"]).unwrap();
    let parts = parts("127.0.0.5:1000", &[("x-forwarded-for", "10.1.1.1"), ("x-forwarded-proto", "https")]);
    assert_eq!(client_info(&parts, &proxies), ClientInfo { ip: "127.0.0.5".parse().unwrap(), tls: false });
}

#[test]
fn trusted_peer_headers_name_the_client() {
    let proxies = net::TrustedProxies::parse(["127.0.0.9"]).unwrap();
    let parts = parts("127.0.0.9:1000", &[("x-forwarded-for", "6.6.6.6, 10.1.1.1"), ("x-forwarded-proto", "https")]);
    assert_eq!(client_info(&parts, &proxies), ClientInfo { ip: "10.1.1.1".parse().unwrap(), tls: true });
    let garbage = self::parts("127.0.0.9:1000", &[("x-forwarded-for", "not an ip")]);
    assert_eq!(client_info(&garbage, &proxies).ip, "127.0.0.9".parse::<IpAddr>().unwrap());
}
