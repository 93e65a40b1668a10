use super::*;

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
        assert_eq!(decode_response(&meta).unwrap(), response);
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
