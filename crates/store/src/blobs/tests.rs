use super::*;
use tempfile::TempDir;

/// A segment holding `before`, the blob `message`, then `after` (the
/// bytes of other messages, which a read must not run into).
struct Segment {
    _dir: TempDir,
    file: File,
    loc: BlobLoc,
}

fn segment(before: &[u8], message: &[u8], after: &[u8]) -> Segment {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(layout::segment_name(1));
    std::fs::write(&path, [before, message, after].concat()).unwrap();
    let loc =
        BlobLoc { segment: 1, offset: before.len() as u64, len: message.len() as u64, crc: crc32fast::hash(message) };
    Segment { _dir: dir, file: File::open(&path).unwrap(), loc }
}

fn check_header_end(input: &str, expected: Result<usize, usize>) {
    assert_eq!(header_end(input.as_bytes(), 0), expected, "{input:?}");
}

#[test]
fn header_end_is_the_first_empty_line() {
    check_header_end("", Err(0));
    check_header_end("\r\n", Ok(2));
    check_header_end("\n", Ok(1));
    check_header_end("\r\nbody", Ok(2));
    check_header_end("A: b\r\n\r\nbody\r\n\r\nmore", Ok(8));
    check_header_end("A: b\n\nbody\r\n\r\n", Ok(6));
    check_header_end("A: b\r\n continued\r\n\r\n", Ok(20));
    check_header_end("A: b\r\nC: d\r\n", Err(12));
    check_header_end("A: b\r\nno line end", Err(6));
    // A lone CR is not a line end, and a line of spaces is not empty.
    check_header_end("A: b\r\n\r \r\n\t\r\nC", Err(13));
}

/// Every way of reading the header gives exactly the bytes
/// `header_length` names, however the reads cut the lines.
#[test]
fn header_reads_agree_with_header_length_for_any_chunk_size() {
    let messages: [&[u8]; 8] = [
        b"From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n",
        b"From: a@example.com\r\nSubject: s\r\n\r\n",
        b"From: a@example.com\r\nSubject: no empty line\r\n",
        b"From: a@example.com\r\nSubject: no line end",
        b"From: a\n\nLF only\r\n\r\n",
        b"\r\nno header\r\n",
        b"X: 1\r\n folded\r\n\tand again\r\n\r\n\r\nbody",
        b"x",
    ];
    for message in messages {
        let s = segment(b"previous message", message, b"From: next\r\n\r\n");
        let expected = &message[..crate::header_length(message)];
        for chunk in 1..=message.len() + 2 {
            let header = read_header_in_chunks(&s.file, &s.loc, chunk).unwrap();
            assert_eq!(header, expected, "chunk {chunk} of {:?}", String::from_utf8_lossy(message));
        }
        assert_eq!(read_header(&s.file, &s.loc).unwrap(), expected);
    }
}

#[test]
fn header_larger_than_the_read_ahead() {
    let mut message = b"Subject: big\r\n".to_vec();
    while message.len() < 3 * HEADER_READ_AHEAD {
        message.extend_from_slice(b"Received: from somewhere by somewhere else; Mon, 7 Feb 1994 21:52:25\r\n");
    }
    let header_len = message.len() + 2;
    message.extend_from_slice(b"\r\n");
    message.extend(std::iter::repeat_n(b'x', 5 * HEADER_READ_AHEAD));
    let s = segment(b"", &message, b"");
    assert_eq!(read_header(&s.file, &s.loc).unwrap(), &message[..header_len]);
}

#[test]
fn message_without_an_empty_line_is_all_header_and_checked() {
    let message = "Subject: no body\r\n".repeat(3 * HEADER_READ_AHEAD / 18);
    let s = segment(b"", message.as_bytes(), b"\r\n\r\nnext");
    assert_eq!(read_header(&s.file, &s.loc).unwrap(), message.as_bytes());
    // Read to its end, the whole message is checked as a whole read is.
    let damaged = BlobLoc { crc: s.loc.crc ^ 1, ..s.loc };
    assert!(matches!(read_header(&s.file, &damaged), Err(StoreError::Corrupt(_))));
}

#[test]
fn small_message_is_read_whole_and_checked() {
    let message = b"Subject: empty body\r\n\r\n";
    let s = segment(b"", message, b"more");
    assert_eq!(read_header(&s.file, &s.loc).unwrap(), message);
    let damaged = BlobLoc { crc: s.loc.crc ^ 1, ..s.loc };
    assert!(matches!(read_header(&s.file, &damaged), Err(StoreError::Corrupt(_))));
    assert!(matches!(read(&s.file, &damaged), Err(StoreError::Corrupt(_))));
}

#[test]
fn segment_ending_inside_the_header_is_an_error() {
    let message = "Subject: cut\r\n".repeat(2 * HEADER_READ_AHEAD / 14);
    let s = segment(b"", message.as_bytes(), b"");
    let longer = BlobLoc { len: s.loc.len + 10, ..s.loc };
    assert!(matches!(read_header(&s.file, &longer), Err(StoreError::Corrupt(_))));
    assert!(matches!(read(&s.file, &longer), Err(StoreError::Corrupt(_))));
}
