use super::*;

fn lines(max: usize, chunks: &[&[u8]]) -> Vec<Line> {
    let mut reader = LineReader::new(max);
    let mut buf = BytesMut::new();
    let mut found = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(line) = reader.next(&mut buf) {
            found.push(line);
        }
    }
    found
}

fn complete(s: &str) -> Line {
    Line::Complete(BytesMut::from(s))
}

#[test]
fn lines_split_over_reads_and_either_ending() {
    assert_eq!(lines(10, &[b"a1 NO", b"OP\r\nb\n", b"c\r"]), [complete("a1 NOOP"), complete("b")]);
}

#[test]
fn an_over_long_line_is_reported_once_and_what_follows_is_read() {
    let long = vec![b'x'; 25];
    assert_eq!(lines(10, &[&long, &long, b"\r\nok\r\n"]), [Line::TooLong, complete("ok")]);
    assert_eq!(lines(10, &[b"0123456789abc\r\nok\r\n"]), [Line::TooLong, complete("ok")]);
    assert_eq!(lines(10, &[b"0123456789\r\n"]), [complete("0123456789")]);
}
