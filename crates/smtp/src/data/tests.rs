use super::*;

const PREFIX: &[u8] = b"Received: x\r\n";

/// Feeds `pieces` one after the other, as reads would deliver them, and
/// returns the outcome and what was left in the buffer after the end.
fn feed(pieces: &[&[u8]], max_size: u64) -> (Option<Result<Vec<u8>, ContentError>>, Vec<u8>) {
    let mut receiver = DataReceiver::new(PREFIX, 0, max_size);
    let mut input = BytesMut::new();
    for (index, piece) in pieces.iter().enumerate() {
        input.extend_from_slice(piece);
        if receiver.ingest(&mut input) {
            let body = receiver.finish().map(|b| b[PREFIX.len()..].to_vec());
            let rest = [&input[..], &pieces[index + 1..].concat()].concat();
            return (Some(body), rest);
        }
        // Nothing but the start of a possible terminator may stay behind.
        assert!(input.len() <= 2, "{input:?} left buffered");
    }
    (None, input.to_vec())
}

fn check(stream: &[u8], expected: Option<&[u8]>) {
    let (outcome, _) = feed(&[stream], 1 << 20);
    assert_eq!(outcome.map(|r| r.unwrap()).as_deref(), expected, "{:?}", String::from_utf8_lossy(stream));
}

#[test]
fn content_cases() {
    check(b".\r\n", Some(b""));
    check(b"a\r\n.\r\n", Some(b"a\r\n"));
    check(b"..\r\n.\r\n", Some(b".\r\n"));
    check(b"..hello\r\n...\r\n.\r\n", Some(b".hello\r\n..\r\n"));
    check(b".hello\r\n.\r\n", Some(b"hello\r\n"));
    check(b"a\r\n\r\nb.\r\nc\r\n.\r\n", Some(b"a\r\n\r\nb.\r\nc\r\n"));
    check(b"a\r\n.x\r\n", None);
    // Bare LF and bare CR never end the data (SMTP smuggling).
    check(b"a\n.\r\nMAIL FROM:<x@y>\r\n", None);
    check(b"a\r.\r\nRSET\r\n", None);
    check(b"a\n.\n", None);
    check(b"a\n.\nb\r\n.\r\n", Some(b"a\n.\nb\r\n"));
    check(b"a\r\n.\r", None);
    check(b"a\r\n.\rb\r\n.\r\n", Some(b"a\r\n\rb\r\n"));
}

#[test]
fn terminator_split_at_every_offset() {
    let stream: &[u8] = b"Subject: hi\r\n\r\n..dot\r\nline\r\n.\r\nQUIT\r\n";
    let expected: &[u8] = b"Subject: hi\r\n\r\n.dot\r\nline\r\n";
    for i in 0..=stream.len() {
        for j in i..=stream.len() {
            let (outcome, rest) = feed(&[&stream[..i], &stream[i..j], &stream[j..]], 1 << 20);
            assert_eq!(outcome.unwrap().unwrap(), expected, "split at {i}, {j}");
            assert_eq!(rest, b"QUIT\r\n", "split at {i}, {j}");
        }
    }
}

#[test]
fn byte_by_byte() {
    let stream: &[u8] = b"a: b\r\n\r\n.\r\n";
    let pieces: Vec<&[u8]> = stream.chunks(1).collect();
    let mut input = BytesMut::new();
    let mut receiver = DataReceiver::new(b"", 0, 100);
    let mut done = false;
    for piece in &pieces {
        input.extend_from_slice(piece);
        assert!(!done);
        done = receiver.ingest(&mut input);
    }
    assert!(done);
    let (outcome, _) = feed(&pieces, 100);
    assert_eq!(outcome.unwrap().unwrap(), b"a: b\r\n\r\n");
}

#[test]
fn over_the_size_limit_is_counted_and_dropped() {
    let line = [b'x'; 98];
    let mut receiver = DataReceiver::new(PREFIX, 0, 1000);
    let mut input = BytesMut::new();
    for _ in 0..100 {
        input.extend_from_slice(&line);
        input.extend_from_slice(b"\r\n");
        assert!(!receiver.ingest(&mut input));
        assert!(input.is_empty());
    }
    assert_eq!(receiver.size(), 10_000);
    // Nothing past the limit is stored.
    assert!(receiver.body.capacity() < 2000, "{}", receiver.body.capacity());
    input.extend_from_slice(b".\r\nNOOP\r\n");
    assert!(receiver.ingest(&mut input));
    assert_eq!(&input[..], b"NOOP\r\n");
    assert_eq!(receiver.finish(), Err(ContentError::TooBig));
    // Exactly at the limit is accepted.
    let (outcome, _) = feed(&[b"12345678\r\n.\r\n"], 10);
    assert_eq!(outcome.unwrap().unwrap(), b"12345678\r\n");
    let (outcome, _) = feed(&[b"123456789\r\n.\r\n"], 10);
    assert_eq!(outcome.unwrap(), Err(ContentError::TooBig));
}

fn header_check(stream: &[u8], split: usize) -> Result<Vec<u8>, ContentError> {
    feed(&[&stream[..split], &stream[split..]], 1 << 20).0.unwrap()
}

#[test]
fn header_line_length() {
    let mut at_limit = b"X: ".to_vec();
    at_limit.resize(MAX_HEADER_LINE, b'a');
    let mut over = at_limit.clone();
    over.push(b'a');
    let message =
        |header: &[u8], body: &[u8]| [b"A: b\r\n".as_slice(), header, b"\r\n\r\n", body, b"\r\n.\r\n"].concat();
    for split in [0, 1, 5, 500, 1000, 1003, 1004, 1005, 1006] {
        assert!(header_check(&message(&at_limit, b"body"), split).is_ok(), "split {split}");
        assert_eq!(header_check(&message(&over, b"body"), split), Err(ContentError::HeaderLineTooLong), "{split}");
        // Long lines in the body are not this check's business.
        assert!(header_check(&message(b"A: b", &over), split).is_ok(), "split {split}");
    }
    // A dot-stuffed header line is measured after unstuffing.
    let mut stuffed = b".".to_vec();
    stuffed.extend_from_slice(&at_limit);
    assert!(header_check(&message(&stuffed, b""), 3).is_ok());
}

/// What a client sends for `content`: dot-stuffed, then the end of data.
fn stuff(content: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(content.len() + 16);
    let mut at_line_start = true;
    for (index, &byte) in content.iter().enumerate() {
        if at_line_start && byte == b'.' {
            wire.push(b'.');
        }
        wire.push(byte);
        at_line_start = byte == b'\n' && index > 0 && content[index - 1] == b'\r';
    }
    wire.extend_from_slice(b".\r\n");
    wire
}

proptest::proptest! {
    /// Stuffing then receiving gives the content back, however the wire
    /// bytes are cut into reads.
    #[test]
    fn stuffed_content_round_trips(
        lines in proptest::collection::vec("[a.\r\n]{0,12}", 0..12),
        cuts in proptest::collection::vec(0usize..200, 0..6),
    ) {
        let mut content = lines.concat().into_bytes();
        content.extend_from_slice(b"\r\n");
        let mut wire = stuff(&content);
        wire.extend_from_slice(b"NEXT\r\n");
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (wire.len() + 1)).collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([wire.len()]) {
            pieces.push(&wire[start..cut]);
            start = cut;
        }
        let (outcome, rest) = feed(&pieces, 1 << 20);
        proptest::prop_assert_eq!(outcome.unwrap().unwrap(), content);
        proptest::prop_assert_eq!(rest, b"NEXT\r\n".to_vec());
    }
}
