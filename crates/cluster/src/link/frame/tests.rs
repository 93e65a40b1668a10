use super::*;
use proptest::prelude::*;

fn encode(kind: Kind, id: u64, meta: &[u8], body: &[u8]) -> BytesMut {
    let mut buf = encode_head(kind, id, meta, body.len()).unwrap();
    buf.extend_from_slice(body);
    buf
}

fn check(input: &[u8], stage: Stage, expected: Result<Option<Frame>, FrameError>) {
    let mut buf = BytesMut::from(input);
    assert_eq!(decode(&mut buf, stage), expected, "input {input:?}");
}

fn frame(kind: Kind, request_id: u64, meta: &'static [u8], body: &'static [u8]) -> Frame {
    Frame { kind, request_id, meta: Bytes::from_static(meta), body: Bytes::from_static(body) }
}

#[test]
fn decodes_and_rejects() {
    let request = encode(Kind::Request, 7, b"meta", b"body");
    check(&request, Stage::Established, Ok(Some(frame(Kind::Request, 7, b"meta", b"body"))));
    check(&request[..request.len() - 1], Stage::Established, Ok(None));
    check(&request[..3], Stage::Established, Ok(None));
    check(&request, Stage::Handshake, Err(FrameError::Unexpected { kind: Kind::Request, stage: Stage::Handshake }));
    let hello = encode(Kind::Hello, 0, b"hi", b"");
    check(&hello, Stage::Handshake, Ok(Some(frame(Kind::Hello, 0, b"hi", b""))));
    check(&hello, Stage::Established, Err(FrameError::Unexpected { kind: Kind::Hello, stage: Stage::Established }));
    check(&[0, 0, 0, 13, 99], Stage::Established, Err(FrameError::UnknownKind(99)));
    check(&[0, 0, 0, 3, 16], Stage::Established, Err(FrameError::TooShort { len: 3 }));
    check(
        &[0xff, 0xff, 0xff, 0xff, 16],
        Stage::Established,
        Err(FrameError::TooLarge { len: u32::MAX as usize, max: MAX_REQUEST_FRAME }),
    );
    check(&[0, 0, 16, 1, 1], Stage::Handshake, Err(FrameError::TooLarge { len: 4097, max: MAX_HANDSHAKE_FRAME }));
    // A meta length pointing past the frame's end.
    check(
        &[0, 0, 0, 13, 16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1],
        Stage::Established,
        Err(FrameError::BadMetaLength { meta: 1, len: 13 }),
    );
}

#[test]
fn two_frames_in_one_buffer() {
    let mut buf = encode(Kind::Response, 1, b"a", b"");
    buf.extend_from_slice(&encode(Kind::Response, 2, b"b", b""));
    assert_eq!(decode(&mut buf, Stage::Established).unwrap().unwrap().request_id, 1);
    assert_eq!(decode(&mut buf, Stage::Established).unwrap().unwrap().request_id, 2);
    assert_eq!(decode(&mut buf, Stage::Established), Ok(None));
}

#[test]
fn encoder_refuses_oversized() {
    assert!(encode_head(Kind::Request, 1, b"", MAX_BODY + MAX_META + 1).is_err());
    assert!(encode_head(Kind::Response, 1, b"", MAX_META + MAX_RESPONSE_BODY + 1).is_err());
    assert!(encode_head(Kind::Response, 1, b"", MAX_RESPONSE_BODY).is_ok(), "a full fetch answer");
    assert!(encode_head(Kind::Hello, 0, &[0; MAX_HANDSHAKE_FRAME], 0).is_err());
}

proptest! {
    /// Arbitrary bytes, fed in arbitrary pieces, never panic the decoder,
    /// and the buffer never grows past the largest frame allowed.
    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..4096), chunk in 1usize..512, established in any::<bool>()) {
        let stage = if established { Stage::Established } else { Stage::Handshake };
        let limit = HEAD_LEN + if established { MAX_REQUEST_FRAME } else { MAX_HANDSHAKE_FRAME };
        let mut buf = BytesMut::new();
        'feed: for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match decode(&mut buf, stage) {
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
            prop_assert!(buf.capacity() <= limit + 4096, "capacity {}", buf.capacity());
        }
    }

    #[test]
    fn round_trips(id in any::<u64>(), meta in proptest::collection::vec(any::<u8>(), 0..256), body in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let mut buf = encode(Kind::Request, id, &meta, &body);
        let frame = decode(&mut buf, Stage::Established).unwrap().unwrap();
        prop_assert_eq!(frame.request_id, id);
        prop_assert_eq!(&frame.meta[..], &meta[..]);
        prop_assert_eq!(&frame.body[..], &body[..]);
        prop_assert!(buf.is_empty());
    }
}
