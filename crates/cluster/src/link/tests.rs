//! The accepting side against a hand-driven client that completes the
//! handshake and then misbehaves, over real loopback sockets.

use super::conn::{Conn, ConnError};
use super::*;
use async_trait::async_trait;
use queue::Outcome;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;

const SECRET: &str = "unit test cluster secret";

#[derive(Default)]
struct Counting {
    calls: AtomicUsize,
}

#[async_trait]
impl LinkHandler for Counting {
    async fn deliver(&self, _peer: SocketAddr, request: DeliverRequest) -> Vec<Outcome> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        vec![Outcome::Delivered; request.envelope.recipients.len()]
    }
    async fn submit(&self, peer: SocketAddr, request: DeliverRequest) -> Vec<Outcome> {
        self.deliver(peer, request).await
    }
    async fn admin(&self, _peer: SocketAddr, _operation: AdminOperation) -> Result<AdminReply, AdminError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(AdminReply::Done)
    }
}

async fn server() -> (LinkServer, Arc<Counting>) {
    let mut config = LinkConfig::new("127.0.0.3:0".parse().unwrap(), SECRET);
    config.allow = vec!["127.0.0.2".parse().unwrap()];
    let handler = Arc::new(Counting::default());
    let server = LinkServer::bind(&config, ClusterSecret::new(SECRET.as_bytes()), handler.clone()).await.unwrap();
    (server, handler)
}

/// A connection from 127.0.0.2 that has passed the handshake.
async fn authenticated(peer: SocketAddr) -> Conn {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let stream = socket.connect(peer).await.unwrap();
    let mut conn = Conn::new(stream, peer);
    let version =
        handshake::client(&mut conn, &ClusterSecret::new(SECRET.as_bytes()), SUPPORTED_VERSIONS).await.unwrap();
    assert_eq!(version, 2);
    conn
}

async fn assert_closed(conn: &mut Conn) {
    let read =
        tokio::time::timeout(Duration::from_secs(5), conn.read_frame()).await.expect("the server kept the connection");
    assert!(matches!(read, Err(ConnError::Closed | ConnError::Io(_))), "{read:?}");
}

#[tokio::test]
async fn an_oversized_request_frame_closes_the_connection() {
    let (server, handler) = server().await;
    let mut conn = authenticated(server.local_addr()).await;
    // A request announcing 4 GiB - 1: refused on its first five bytes,
    // nothing of that size is ever allocated.
    conn.stream_mut().write_all(&[0xff, 0xff, 0xff, 0xff, 16, 0, 0, 0, 0]).await.unwrap();
    assert_closed(&mut conn).await;
    assert_eq!(handler.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn garbage_after_the_handshake_closes_the_connection() {
    let (server, handler) = server().await;
    let mut conn = authenticated(server.local_addr()).await;
    conn.stream_mut().write_all(b"\x00\x00\x00\x20\x10 this is not a request, at all.....").await.unwrap();
    assert_closed(&mut conn).await;
    assert_eq!(handler.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_handshake_frame_after_the_handshake_closes_the_connection() {
    let (server, handler) = server().await;
    let mut conn = authenticated(server.local_addr()).await;
    conn.stream_mut().write_all(&[0, 0, 0, 13, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).await.unwrap();
    assert_closed(&mut conn).await;
    assert_eq!(handler.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_well_formed_request_is_answered_with_its_id() {
    let (server, handler) = server().await;
    let mut conn = authenticated(server.local_addr()).await;
    let (meta, body) = message::encode_request(&Request::Ping).unwrap();
    conn.write_frame(frame::Kind::Request, 42, &meta, &body).await.unwrap();
    let response = conn.read_frame().await.unwrap();
    assert_eq!(response.request_id, 42);
    assert_eq!(message::decode_response(&response.meta, response.body).unwrap(), Response::Pong);
    assert_eq!(handler.calls.load(Ordering::SeqCst), 0, "a ping is answered by the link");
}

/// A peer that answers the first request on each connection and closes
/// the connection after reading the second, unanswered: a member dying
/// just after receiving a request. Returns its address and the number of
/// requests of each connection's second kind it received, per name.
async fn peer_dying_on_second_request() -> (SocketAddr, Arc<std::sync::Mutex<Vec<&'static str>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.3:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let unanswered = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = unanswered.clone();
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            let record = record.clone();
            tokio::spawn(async move {
                let mut conn = Conn::new(stream, peer);
                handshake::server(&mut conn, &ClusterSecret::new(SECRET.as_bytes()), SUPPORTED_VERSIONS).await.unwrap();
                let first = conn.read_frame().await.unwrap();
                let meta = message::encode_response(&Response::Pong).unwrap();
                conn.write_frame(frame::Kind::Response, first.request_id, &meta, &bytes::Bytes::new()).await.unwrap();
                let second = conn.read_frame().await.unwrap();
                let request = message::decode_request(&second.meta, second.body).unwrap();
                record.lock().unwrap().push(request.name());
                // Dropping `conn` closes it without an answer.
            });
        }
    });
    (address, unanswered)
}

fn client() -> LinkClient {
    LinkClient::new(&LinkConfig::new("127.0.0.2:0".parse().unwrap(), SECRET), ClusterSecret::new(SECRET.as_bytes()))
}

#[tokio::test]
async fn a_delivery_cut_off_after_sending_is_not_sent_again() {
    let (peer, unanswered) = peer_dying_on_second_request().await;
    let client = client();
    client.ping(peer).await.unwrap();
    let request = DeliverRequest {
        delivery_id: 1,
        account: types::AccountName::parse("bob@example.com", None).unwrap(),
        envelope: queue::Envelope {
            mail_from: String::new(),
            recipients: vec!["bob@example.com".into()],
            received_at: 0,
            authenticated_as: None,
            smtputf8: false,
        },
        body: bytes::Bytes::from_static(b"once only"),
    };
    let error = client.deliver(peer, request).await.unwrap_err();
    assert!(matches!(error, LinkError::Interrupted { .. }), "{error}");
    assert!(error.is_temporary());
    assert_eq!(*unanswered.lock().unwrap(), vec!["deliver"]);
    assert_eq!(client.stats(peer).opened, 1, "no second connection, no second attempt");
}

#[tokio::test]
async fn an_idempotent_request_cut_off_is_sent_again_on_a_new_connection() {
    let (peer, unanswered) = peer_dying_on_second_request().await;
    let client = client();
    client.ping(peer).await.unwrap();
    client.ping(peer).await.unwrap();
    assert_eq!(*unanswered.lock().unwrap(), vec!["ping"]);
    assert_eq!(client.stats(peer).opened, 2);
}
