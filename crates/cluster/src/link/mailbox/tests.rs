//! Mailbox operations over real loopback sockets: a member that serves
//! them from memory, an older member that does not know them, a newer
//! member's request this build does not know.

use crate::link::conn::Conn;
use crate::link::*;
use async_trait::async_trait;
use bytes::Bytes;
use queue::Outcome;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpSocket;

const SECRET: &str = "unit test cluster secret";

fn alice() -> types::AccountName {
    types::AccountName::parse("alice@example.com", None).unwrap()
}

/// One mailbox (id 1) of imported messages, in memory.
#[derive(Default)]
struct Memory {
    messages: Mutex<Vec<(Vec<String>, i64, Bytes)>>,
    /// Answer fetches with more bytes than the link carries.
    oversized: bool,
}

#[async_trait]
impl LinkHandler for Memory {
    async fn deliver(&self, _peer: SocketAddr, request: DeliverRequest) -> Vec<Outcome> {
        vec![Outcome::Delivered; request.envelope.recipients.len()]
    }
    async fn submit(&self, _peer: SocketAddr, request: DeliverRequest) -> Vec<Outcome> {
        vec![Outcome::Delivered; request.envelope.recipients.len()]
    }
    async fn admin(&self, _peer: SocketAddr, _operation: AdminOperation) -> Result<AdminReply, AdminError> {
        Ok(AdminReply::Done)
    }
    async fn mailbox(
        &self,
        _peer: SocketAddr,
        op: MailboxOp,
        body: Bytes,
    ) -> (Result<MailboxReply, MailboxError>, Bytes) {
        let mut messages = self.messages.lock().unwrap();
        match op {
            MailboxOp::Import { flags, internal_date, .. } => {
                messages.push((flags, internal_date, body));
                (Ok(MailboxReply::Imported { uid_validity: 7, uid: Some(messages.len() as u32) }), Bytes::new())
            }
            MailboxOp::Fetch { .. } if self.oversized => (
                Ok(MailboxReply::Messages { uid_validity: 7, messages: Vec::new(), more: false }),
                Bytes::from(vec![0; MAX_RESPONSE_BODY + 1]),
            ),
            MailboxOp::Fetch { after_uid, max_messages, .. } => {
                let mut listed = Vec::new();
                let mut bytes = Vec::new();
                for (i, (flags, internal_date, body)) in messages.iter().enumerate().skip(after_uid as usize) {
                    if listed.len() == max_messages as usize {
                        break;
                    }
                    let size = body.len() as u64;
                    listed.push(FetchedMessage {
                        uid: i as u32 + 1,
                        flags: flags.clone(),
                        internal_date: *internal_date,
                        modseq: 1,
                        size,
                        len: size,
                    });
                    bytes.extend_from_slice(body);
                }
                let more = after_uid as usize + listed.len() < messages.len();
                (Ok(MailboxReply::Messages { uid_validity: 7, messages: listed, more }), Bytes::from(bytes))
            }
            MailboxOp::ListMailboxes { account } => {
                (Err(MailboxError::NoSuchAccount(account.to_string())), Bytes::new())
            }
            other => (Err(MailboxError::Refused(other.name().into())), Bytes::new()),
        }
    }
}

async fn server_speaking(handler: Arc<dyn LinkHandler>, versions: &[u16]) -> LinkServer {
    let mut config = LinkConfig::new("127.0.0.3:0".parse().unwrap(), SECRET);
    config.allow = vec!["127.0.0.2".parse().unwrap()];
    LinkServer::bind_speaking(&config, ClusterSecret::new(SECRET.as_bytes()), handler, versions).await.unwrap()
}

fn client() -> LinkClient {
    LinkClient::new(&LinkConfig::new("127.0.0.2:0".parse().unwrap(), SECRET), ClusterSecret::new(SECRET.as_bytes()))
}

fn import(flags: &[&str], date: i64) -> MailboxOp {
    MailboxOp::Import {
        account: alice(),
        mailbox: "INBOX".into(),
        flags: flags.iter().map(|f| (*f).to_owned()).collect(),
        internal_date: date,
        upload: None,
    }
}

#[tokio::test]
async fn imported_messages_come_back_in_batches_with_flags_dates_and_bytes() {
    let server = server_speaking(Arc::new(Memory::default()), SUPPORTED_VERSIONS).await;
    let (peer, client) = (server.local_addr(), client());
    for i in 0..5 {
        let body = Bytes::from(format!("Message-ID: <{i}@x>\r\n\r\nbody {i}\r\n"));
        let (result, _) = client.mailbox(peer, import(&["\\Seen"], 1_600_000_000 + i), body).await.unwrap();
        assert_eq!(result, Ok(MailboxReply::Imported { uid_validity: 7, uid: Some(i as u32 + 1) }));
    }
    let mut after_uid = 0;
    let mut seen = Vec::new();
    loop {
        let op = MailboxOp::Fetch { account: alice(), mailbox: 1, after_uid, max_messages: 2, max_bytes: 1 << 20 };
        let (result, body) = client.mailbox(peer, op, Bytes::new()).await.unwrap();
        let Ok(MailboxReply::Messages { messages, more, .. }) = result else { panic!("{result:?}") };
        assert!(messages.len() <= 2);
        let mut at = 0;
        for m in &messages {
            let bytes = &body[at..at + m.len as usize];
            at += m.len as usize;
            assert_eq!(m.flags, vec!["\\Seen".to_owned()]);
            seen.push((m.uid, m.internal_date, String::from_utf8(bytes.to_vec()).unwrap()));
            after_uid = m.uid;
        }
        assert_eq!(at, body.len());
        if !more {
            break;
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[4], (5, 1_600_000_004, "Message-ID: <4@x>\r\n\r\nbody 4\r\n".to_owned()));
    assert_eq!(client.stats(peer).opened, 1, "one connection for all of it");
}

#[tokio::test]
async fn an_operation_error_is_an_answer_not_a_link_failure() {
    let server = server_speaking(Arc::new(Memory::default()), SUPPORTED_VERSIONS).await;
    let (peer, client) = (server.local_addr(), client());
    let (result, _) = client.mailbox(peer, MailboxOp::ListMailboxes { account: alice() }, Bytes::new()).await.unwrap();
    assert_eq!(result, Err(MailboxError::NoSuchAccount("alice@example.com".into())));
    client.ping(peer).await.unwrap();
    assert_eq!(client.stats(peer).opened, 1);
}

#[tokio::test]
async fn a_handler_answering_more_than_the_link_carries_gets_an_error_answer() {
    let server = server_speaking(Arc::new(Memory { oversized: true, ..Memory::default() }), SUPPORTED_VERSIONS).await;
    let (peer, client) = (server.local_addr(), client());
    let op = MailboxOp::Fetch { account: alice(), mailbox: 1, after_uid: 0, max_messages: 1, max_bytes: 1 };
    let (result, body) = client.mailbox(peer, op, Bytes::new()).await.unwrap();
    assert!(matches!(result, Err(MailboxError::Failed(ref reason)) if reason.contains("exceeds")), "{result:?}");
    assert!(body.is_empty());
}

#[tokio::test]
async fn a_member_that_serves_no_mailboxes_refuses_clearly() {
    #[derive(Default)]
    struct DeliveryOnly;
    #[async_trait]
    impl LinkHandler for DeliveryOnly {
        async fn deliver(&self, _peer: SocketAddr, r: DeliverRequest) -> Vec<Outcome> {
            vec![Outcome::Delivered; r.envelope.recipients.len()]
        }
        async fn submit(&self, _peer: SocketAddr, r: DeliverRequest) -> Vec<Outcome> {
            vec![Outcome::Delivered; r.envelope.recipients.len()]
        }
        async fn admin(&self, _peer: SocketAddr, _o: AdminOperation) -> Result<AdminReply, AdminError> {
            Ok(AdminReply::Done)
        }
    }
    let server = server_speaking(Arc::new(DeliveryOnly), SUPPORTED_VERSIONS).await;
    let (peer, client) = (server.local_addr(), client());
    let (result, _) = client.mailbox(peer, MailboxOp::ListMailboxes { account: alice() }, Bytes::new()).await.unwrap();
    assert!(matches!(result, Err(MailboxError::Refused(ref r)) if r.contains("list-mailboxes")), "{result:?}");
}

#[tokio::test]
async fn an_older_member_is_never_sent_what_it_cannot_decode() {
    let handler = Arc::new(Memory::default());
    let server = server_speaking(handler.clone(), &[1]).await;
    let (peer, client) = (server.local_addr(), client());
    let error = client.mailbox(peer, import(&[], 0), Bytes::from_static(b"x")).await.unwrap_err();
    assert!(matches!(error, LinkError::Unsupported { version: 1, needed: 2, .. }), "{error}");
    assert!(error.to_string().contains("version 1"), "{error}");
    assert!(handler.messages.lock().unwrap().is_empty());
    // The connection opened for it stays good for what version 1 knows.
    client.ping(peer).await.unwrap();
    assert_eq!(client.stats(peer).opened, 1);
}

/// A connection from 127.0.0.2 that has passed the handshake offering
/// `versions`.
async fn raw_connection(peer: SocketAddr, versions: &[u16]) -> Conn {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let stream = socket.connect(peer).await.unwrap();
    let mut conn = Conn::new(stream, peer);
    handshake::client(&mut conn, &ClusterSecret::new(SECRET.as_bytes()), versions).await.unwrap();
    conn
}

async fn exchange(conn: &mut Conn, id: u64, meta: &[u8], body: Bytes) -> Response {
    conn.write_frame(frame::Kind::Request, id, meta, &body).await.unwrap();
    let frame = conn.read_frame().await.unwrap();
    assert_eq!(frame.request_id, id);
    message::decode_response(&frame.meta, frame.body).unwrap()
}

#[tokio::test]
async fn a_newer_members_request_is_answered_unavailable_and_the_connection_stays() {
    let server = server_speaking(Arc::new(Memory::default()), SUPPORTED_VERSIONS).await;
    let mut conn = raw_connection(server.local_addr(), SUPPORTED_VERSIONS).await;
    // Request kind 9 and mailbox operation 200 do not exist (yet).
    for (id, meta) in [(1, vec![9, 1, 2, 3]), (2, vec![4, 0xc8, 0x01, 0])] {
        let response = exchange(&mut conn, id, &meta, Bytes::new()).await;
        assert!(matches!(response, Response::Unavailable(ref r) if r.contains("not supported")), "{response:?}");
    }
    let (meta, body) = message::encode_request(&Request::Ping).unwrap();
    assert_eq!(exchange(&mut conn, 3, &meta, body).await, Response::Pong);
}

#[tokio::test]
async fn a_mailbox_request_on_a_version_1_connection_is_refused_not_served() {
    let handler = Arc::new(Memory::default());
    let server = server_speaking(handler.clone(), SUPPORTED_VERSIONS).await;
    let mut conn = raw_connection(server.local_addr(), &[1]).await;
    let request = Request::Mailbox { op: import(&[], 0), body: Bytes::from_static(b"x") };
    let (meta, body) = message::encode_request(&request).unwrap();
    let response = exchange(&mut conn, 1, &meta, body).await;
    assert!(matches!(response, Response::Unavailable(ref r) if r.contains("version 2")), "{response:?}");
    assert!(handler.messages.lock().unwrap().is_empty());
}
