use super::*;
use proptest::prelude::*;

fn envelope(recipients: &[&str]) -> Envelope {
    Envelope {
        mail_from: "sender@example.test".into(),
        recipients: recipients.iter().map(|r| r.to_string()).collect(),
        received_at: 1_700_000_000,
        authenticated_as: None,
        smtputf8: false,
    }
}

/// Checks the frame's length and CRC and decodes its payload.
fn unframe(frame: &[u8]) -> Result<Record, DecodeError> {
    let header: [u8; FRAME_HEADER_LEN] = frame[..FRAME_HEADER_LEN].try_into().unwrap();
    let (len, crc) = parse_frame_header(header);
    let payload = &frame[FRAME_HEADER_LEN..];
    assert_eq!(len as usize, payload.len(), "frame length");
    assert_eq!(frame_crc(len, &[payload]), crc, "frame crc");
    decode(payload)
}

fn message_frame(id: u64, envelope: &Envelope, states: &[State], body: &[u8]) -> Vec<u8> {
    let encoded = encode_message(QueueId(id), 1234, envelope, states, Bytes::copy_from_slice(body)).unwrap();
    [encoded.head.as_slice(), &encoded.body].concat()
}

/// Encodes a Message, decodes it and compares every field and the body.
fn check_message(envelope: Envelope, states: Vec<State>, body: &[u8]) {
    let frame = message_frame(7, &envelope, &states, body);
    let Record::Message(decoded) = unframe(&frame).unwrap() else { panic!("not a message") };
    assert_eq!(decoded.id, QueueId(7));
    assert_eq!(decoded.queued_at_ms, 1234);
    assert_eq!(decoded.envelope, envelope);
    assert_eq!(decoded.states, states);
    assert_eq!(&frame[FRAME_HEADER_LEN..][decoded.body], body);
}

fn deferred() -> State {
    State::Deferred { attempts: 3, next_attempt_ms: -5, last_error: "4.2.2 full".into(), warned: true }
}

#[test]
fn messages_round_trip() {
    check_message(envelope(&["a@example.test"]), vec![State::Pending], b"Subject: hi\r\n\r\nbody\r\n");
    check_message(envelope(&[]), vec![], b"");
    let mut full = envelope(&["a@x", "b@x", "c@x", "d@x", "e@x"]);
    full.mail_from = String::new();
    full.authenticated_as = Some("éloïse@exämple.test".into());
    full.smtputf8 = true;
    let states = vec![
        State::Pending,
        deferred(),
        State::Held { reason: "no outbound".into() },
        State::Delivered,
        State::Failed { reason: "5.1.1 unknown".into() },
    ];
    check_message(full, states, &[0, 255, 13, 10, 0]);
}

#[test]
fn outcomes_and_removals_round_trip() {
    let states = [
        State::Pending,
        deferred(),
        State::Held { reason: "h".into() },
        State::Delivered,
        State::Failed { reason: String::new() },
    ];
    for state in states {
        let frame = encode_outcome(QueueId(u64::MAX), 9, &state);
        assert_eq!(unframe(&frame).unwrap(), Record::Outcome { id: QueueId(u64::MAX), index: 9, state });
    }
    assert_eq!(unframe(&encode_removed(QueueId(3))).unwrap(), Record::Removed { id: QueueId(3) });
}

#[test]
fn every_truncated_payload_is_an_error() {
    let frames = [
        encode_outcome(QueueId(1), 2, &deferred()),
        encode_removed(QueueId(1)),
        // A message without body: any cut lands in its header fields.
        message_frame(1, &envelope(&["a@x", "b@x"]), &[State::Pending, deferred()], b""),
    ];
    for frame in frames {
        let payload = &frame[FRAME_HEADER_LEN..];
        for cut in 0..payload.len() {
            assert!(decode(&payload[..cut]).is_err(), "cut at {cut} decoded");
        }
    }
}

#[test]
fn bad_fields_are_errors() {
    let cases: &[(&[u8], &str)] = &[
        (&[], "record ends early"),
        (&[9], "unknown record kind"),
        (&[KIND_REMOVED, 1, 0, 0, 0, 0, 0, 0, 0, 0], "trailing bytes in record"),
        (&[KIND_OUTCOME, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7], "unknown recipient state"),
        (&[KIND_OUTCOME, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0xff], "text is not utf-8"),
    ];
    for (payload, expected) in cases {
        assert_eq!(decode(payload), Err(DecodeError(expected)), "{payload:?}");
    }
    // A huge recipient count must not allocate: it is checked against the
    // bytes left.
    let mut payload = vec![KIND_MESSAGE];
    payload.extend_from_slice(&[0; 16]);
    payload.extend_from_slice(&0u32.to_le_bytes());
    payload.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(decode(&payload), Err(DecodeError("count larger than the record")));
}

#[test]
fn crc_covers_the_length() {
    let frame = encode_removed(QueueId(1));
    let (len, crc) = parse_frame_header(frame[..8].try_into().unwrap());
    assert_eq!(frame_crc(len, &[&frame[8..]]), crc);
    assert_ne!(frame_crc(len + 1, &[&frame[8..]]), crc);
    // Zeros, as a crash may leave, never make a valid empty frame.
    assert_ne!(frame_crc(0, &[]), 0);
}

#[test]
fn long_texts_are_clipped_on_a_char_boundary() {
    let text = "é".repeat(MAX_TEXT_LEN);
    let clipped = clip(&text);
    assert!(clipped.len() <= MAX_TEXT_LEN && clipped.len() >= MAX_TEXT_LEN - 1);
    assert_eq!(clip("short"), "short");
}

fn state_strategy() -> impl Strategy<Value = State> {
    prop_oneof![
        Just(State::Pending),
        (any::<u32>(), any::<i64>(), ".{0,20}", any::<bool>()).prop_map(
            |(attempts, next_attempt_ms, last_error, warned)| State::Deferred {
                attempts,
                next_attempt_ms,
                last_error,
                warned
            }
        ),
        ".{0,20}".prop_map(|reason| State::Held { reason }),
        Just(State::Delivered),
        ".{0,20}".prop_map(|reason| State::Failed { reason }),
    ]
}

proptest! {
    #[test]
    fn any_message_round_trips(
        mail_from in ".{0,30}",
        recipients in proptest::collection::vec((".{0,30}", state_strategy()), 0..6),
        received_at in any::<i64>(),
        authenticated_as in proptest::option::of(".{0,20}"),
        smtputf8 in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let (recipients, states): (Vec<String>, Vec<State>) = recipients.into_iter().unzip();
        let envelope = Envelope { mail_from, recipients, received_at, authenticated_as, smtputf8 };
        check_message(envelope, states, &body);
    }

    #[test]
    fn any_bytes_decode_without_panic(payload in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&payload);
    }
}
