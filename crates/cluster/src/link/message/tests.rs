use super::*;
use crate::link::{MailboxOp, MailboxReply};

fn account(name: &str) -> AccountName {
    AccountName::parse(name, None).unwrap()
}

fn envelope() -> Envelope {
    Envelope {
        mail_from: "a@example.com".into(),
        recipients: vec!["b@example.com".into(), "c@example.com".into()],
        received_at: 1_700_000_000,
        authenticated_as: None,
        smtputf8: false,
    }
}

fn round_trip(request: Request) {
    let (meta, body) = encode_request(&request).unwrap();
    assert_eq!(decode_request(&meta, body).unwrap(), request);
}

#[test]
fn requests_round_trip() {
    round_trip(Request::Ping);
    let deliver = DeliverRequest {
        account: account("b@example.com"),
        delivery_id: 7,
        envelope: envelope(),
        body: Bytes::from_static(b"body"),
    };
    round_trip(Request::Deliver(deliver.clone()));
    round_trip(Request::Submit(deliver));
    round_trip(Request::Admin(AdminOperation::SetPassword {
        account: account("b@example.com"),
        password: Password("secret".into()),
    }));
    round_trip(Request::Admin(AdminOperation::Api { method: "GET".into(), path: "/domains".into(), json: None }));
}

#[test]
fn responses_round_trip() {
    for response in [
        Response::Pong,
        Response::Outcomes(vec![Outcome::Delivered, Outcome::Deferred("later".into())]),
        Response::Admin(Ok(AdminReply::Json("{}".into()))),
        Response::Admin(Err(AdminError::NoSuchAccount("x@example.com".into()))),
        Response::Unavailable("no".into()),
    ] {
        let meta = encode_response(&response).unwrap();
        assert_eq!(decode_response(&meta, response.body()).unwrap(), response);
    }
}

/// Version 1 of the protocol, byte for byte: if this fails, a type on the
/// wire changed and the change needs a new protocol version.
#[test]
fn wire_format_is_stable() {
    let meta = RequestMeta::Deliver { account: account("b@example.com"), delivery_id: 300, envelope: envelope() };
    let bytes = postcard::to_stdvec(&meta).unwrap();
    let mut expected = vec![1, 13];
    expected.extend_from_slice(b"b@example.com");
    // delivery_id: varint of 300.
    expected.extend_from_slice(&[0xac, 0x02]);
    expected.push(13);
    expected.extend_from_slice(b"a@example.com");
    expected.push(2);
    expected.push(13);
    expected.extend_from_slice(b"b@example.com");
    expected.push(13);
    expected.extend_from_slice(b"c@example.com");
    // received_at: zigzag varint of 1_700_000_000.
    expected.extend_from_slice(&[0x80, 0xc4, 0x9f, 0xd5, 0x0c]);
    expected.extend_from_slice(&[0, 0]);
    assert_eq!(bytes, expected);
    assert_eq!(postcard::to_stdvec(&Response::Outcomes(vec![Outcome::Delivered])).unwrap(), vec![1, 1, 0]);
}

#[test]
fn bodies_only_where_they_belong() {
    let (meta, _) = encode_request(&Request::Ping).unwrap();
    assert!(decode_request(&meta, Bytes::from_static(b"x")).is_err());
    assert!(decode_request(b"\xff\xff", Bytes::new()).is_err());
}

#[test]
fn passwords_stay_out_of_debug() {
    let op = AdminOperation::SetPassword { account: account("b@example.com"), password: Password("hunter2".into()) };
    assert!(!format!("{op:?}").contains("hunter2"));
}

#[test]
fn idempotence() {
    assert!(Request::Ping.is_idempotent());
    assert!(Request::Admin(AdminOperation::AccountInfo { account: account("b@example.com") }).is_idempotent());
    assert!(!Request::Admin(AdminOperation::DeleteAccount { account: account("b@example.com") }).is_idempotent());
}

#[test]
fn mailbox_requests_and_answers_round_trip_with_their_bodies() {
    let import = MailboxOp::Import {
        account: account("b@example.com"),
        mailbox: "Archive/2024".into(),
        flags: vec!["\\Seen".into(), "$Label1".into()],
        internal_date: 1_600_000_000,
        upload: Some(crate::link::Upload { id: 9, offset: 0, total: 100 }),
    };
    round_trip(Request::Mailbox { op: import, body: Bytes::from_static(b"part of a message") });
    round_trip(Request::Mailbox {
        op: MailboxOp::Fetch {
            account: account("b@example.com"),
            mailbox: 3,
            after_uid: 7,
            max_messages: 10,
            max_bytes: 1 << 20,
        },
        body: Bytes::new(),
    });
    let answer = Response::Mailbox {
        result: Ok(MailboxReply::Messages { uid_validity: 5, messages: Vec::new(), more: false }),
        body: Bytes::from_static(b"bytes"),
    };
    let meta = encode_response(&answer).unwrap();
    assert_eq!(decode_response(&meta, answer.body()).unwrap(), answer);
    // Only mailbox answers carry bytes.
    let meta = encode_response(&Response::Pong).unwrap();
    assert!(decode_response(&meta, Bytes::from_static(b"x")).is_err());
    // Only imports carry bytes.
    let (meta, _) = encode_request(&Request::Mailbox {
        op: MailboxOp::ListMailboxes { account: account("b@example.com") },
        body: Bytes::new(),
    })
    .unwrap();
    assert!(decode_request(&meta, Bytes::from_static(b"x")).is_err());
}

/// Version 2 appended its variants: the indexes pinned here are what a
/// version 1 member sees (and refuses as unknown) and must not move.
#[test]
fn version_2_variants_are_appended() {
    let op = MailboxOp::ListMailboxes { account: account("b@example.com") };
    let bytes = postcard::to_stdvec(&RequestMeta::Mailbox(op)).unwrap();
    let mut expected = vec![4, 0, 13];
    expected.extend_from_slice(b"b@example.com");
    assert_eq!(bytes, expected);
    let answer = Response::Mailbox { result: Ok(MailboxReply::Done), body: Bytes::new() };
    assert_eq!(postcard::to_stdvec(&answer).unwrap(), vec![4, 0, 0]);
    assert_eq!(
        Request::Mailbox { op: MailboxOp::ListMailboxes { account: account("b@example.com") }, body: Bytes::new() }
            .min_version(),
        2
    );
    assert_eq!(Request::Ping.min_version(), 1);
    // The last operation's index is what `unknown_request` counts up to.
    let last = MailboxOp::CompleteMoveIn { account: account("b@example.com") };
    let bytes = postcard::to_stdvec(&RequestMeta::Mailbox(last)).unwrap();
    assert_eq!(bytes[..2], [KNOWN_REQUESTS as u8 - 1, KNOWN_MAILBOX_OPS as u8 - 1]);
}

#[test]
fn requests_from_newer_members_are_recognised_as_unknown() {
    // Known kinds, even malformed, are not "unknown".
    assert_eq!(unknown_request(&[0]), None);
    assert_eq!(unknown_request(&[4, 16]), None);
    assert_eq!(unknown_request(&[]), None);
    assert!(unknown_request(&[5]).unwrap().contains("request kind 5"));
    assert!(unknown_request(&[0x80, 0x01]).unwrap().contains("request kind 128"));
    assert!(unknown_request(&[4, 17, 1, 2]).unwrap().contains("mailbox operation 17"));
    // A varint that never ends is malformed, not unknown.
    assert_eq!(unknown_request(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), None);
}
