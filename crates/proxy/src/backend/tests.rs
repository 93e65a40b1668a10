use super::*;

#[tokio::test]
async fn a_backend_connection_leaves_from_the_cluster_address_with_keepalive() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let to = listener.local_addr().unwrap();
    let source: IpAddr = "127.0.0.7".parse().unwrap();
    let stream = connect_from(to, Some(source)).await.unwrap();
    let (_, peer) = listener.accept().await.unwrap();
    assert_eq!(peer.ip(), source, "the backend sees the member's cluster address");
    let socket = socket2::SockRef::from(&stream);
    assert!(socket.keepalive().unwrap(), "an IDLE's silent leg is kept alive");
    assert_eq!(socket.tcp_keepalive_time().unwrap(), net::keepalive::KEEPALIVE_IDLE);

    // A source of the other family is no source at all.
    let v6: IpAddr = "::1".parse().unwrap();
    connect_from(to, Some(v6)).await.unwrap();
    let (_, peer) = listener.accept().await.unwrap();
    assert!(peer.ip().is_ipv4());
}
