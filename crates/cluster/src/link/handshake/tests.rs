//! The accepting side of the handshake against scripted clients over a
//! real loopback connection.

use super::*;
use tokio::net::{TcpListener, TcpStream};

const SECRET: &[u8] = b"handshake test secret";

/// A connected pair on loopback: (client side, server side running
/// `server` with `SECRET`).
async fn pair(versions: &'static [u16]) -> (Conn, tokio::task::JoinHandle<Result<u16, HandshakeError>>) {
    let listener = TcpListener::bind("127.0.0.3:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, peer) = listener.accept().await.unwrap();
        let mut conn = Conn::new(stream, peer);
        server(&mut conn, &ClusterSecret::new(SECRET), versions).await
    });
    let stream = TcpStream::connect(address).await.unwrap();
    (Conn::new(stream, address), server)
}

async fn read_refusal(conn: &mut Conn) -> Refusal {
    let frame = conn.read_frame().await.unwrap();
    assert_eq!(frame.kind, Kind::Refused);
    parse(&frame.meta).unwrap()
}

#[tokio::test]
async fn a_client_proof_made_with_another_secret_is_refused() {
    let (mut client, server) = pair(&[1]).await;
    let hello = Hello { magic: MAGIC, versions: vec![1], nonce: [7; 32] };
    send(&mut client, Kind::Hello, &hello).await.unwrap();
    let frame = client.read_frame().await.unwrap();
    let challenge: Challenge = parse(&frame.meta).unwrap();
    // A client that skips checking the server and signs with its own key.
    let wrong = ClusterSecret::new(b"not the cluster's secret");
    let transcript = transcript("client", &hello.versions, &hello.nonce, challenge.version, &challenge.nonce);
    send(&mut client, Kind::Proof, &Proof { proof: sign(&wrong, &transcript) }).await.unwrap();
    assert_eq!(read_refusal(&mut client).await, Refusal::BadProof);
    assert!(matches!(server.await.unwrap(), Err(HandshakeError::BadProof)));
}

#[tokio::test]
async fn the_server_proof_is_not_accepted_as_a_client_proof() {
    let (mut client, server) = pair(&[1]).await;
    let hello = Hello { magic: MAGIC, versions: vec![1], nonce: [9; 32] };
    send(&mut client, Kind::Hello, &hello).await.unwrap();
    let frame = client.read_frame().await.unwrap();
    let challenge: Challenge = parse(&frame.meta).unwrap();
    // Reflecting the server's own tag back must fail: the roles differ.
    send(&mut client, Kind::Proof, &Proof { proof: challenge.proof }).await.unwrap();
    assert_eq!(read_refusal(&mut client).await, Refusal::BadProof);
    assert!(matches!(server.await.unwrap(), Err(HandshakeError::BadProof)));
}

#[tokio::test]
async fn no_common_version_is_refused_naming_the_servers_versions() {
    let (mut client, server) = pair(&[1, 3]).await;
    send(&mut client, Kind::Hello, &Hello { magic: MAGIC, versions: vec![2], nonce: [0; 32] }).await.unwrap();
    assert_eq!(read_refusal(&mut client).await, Refusal::NoCommonVersion { versions: vec![1, 3] });
    match server.await.unwrap() {
        Err(HandshakeError::NoCommonVersion { ours, theirs }) => assert_eq!((ours, theirs), (vec![1, 3], vec![2])),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_highest_common_version_is_chosen() {
    let (mut client, server) = pair(&[1, 2, 3]).await;
    let secret = ClusterSecret::new(SECRET);
    let version = super::client(&mut client, &secret, &[2, 3, 4]).await.unwrap();
    assert_eq!(version, 3);
    assert_eq!(server.await.unwrap().unwrap(), 3);
}

#[tokio::test]
async fn a_wrong_magic_is_refused() {
    let (mut client, server) = pair(&[1]).await;
    send(&mut client, Kind::Hello, &Hello { magic: 0, versions: vec![1], nonce: [0; 32] }).await.unwrap();
    assert_eq!(read_refusal(&mut client).await, Refusal::NotALinkClient);
    assert!(matches!(server.await.unwrap(), Err(HandshakeError::Protocol(_))));
}
