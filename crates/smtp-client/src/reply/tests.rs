use super::*;
use proptest::prelude::*;

/// Parses `input` (possibly several replies) to the end.
fn parse_all(input: &[u8]) -> Vec<Result<Reply, ReplyError>> {
    let mut buf = BytesMut::from(input);
    let mut parser = ReplyParser::default();
    let mut out = Vec::new();
    loop {
        match parser.parse(&mut buf) {
            Ok(Some(reply)) => out.push(Ok(reply)),
            Ok(None) => return out,
            Err(error) => {
                out.push(Err(error));
                return out;
            }
        }
    }
}

fn reply(code: u16, enhanced: Option<(u8, u8, u8)>, lines: &[&str]) -> Result<Reply, ReplyError> {
    Ok(Reply {
        code,
        enhanced: enhanced.map(|(class, subject, detail)| EnhancedStatus { class, subject, detail }),
        lines: lines.iter().map(|line| line.to_string()).collect(),
    })
}

fn check(input: &str, expected: Vec<Result<Reply, ReplyError>>) {
    assert_eq!(parse_all(input.as_bytes()), expected, "input {input:?}");
}

#[test]
fn replies() {
    check("220 mx.example.com ESMTP\r\n", vec![reply(220, None, &["mx.example.com ESMTP"])]);
    check("250 2.1.0 sender ok\r\n", vec![reply(250, Some((2, 1, 0)), &["sender ok"])]);
    check("550 5.1.1 no such user\r\n", vec![reply(550, Some((5, 1, 1)), &["no such user"])]);
    check("250\r\n", vec![reply(250, None, &[""])]);
    check("250 \r\n", vec![reply(250, None, &[""])]);
    // A bare LF ends a line too.
    check("354 go ahead\n", vec![reply(354, None, &["go ahead"])]);
    // An enhanced code whose class disagrees with the code is ignored.
    check("250 5.1.1 odd\r\n", vec![reply(250, None, &["odd"])]);
    check(
        "250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
        vec![reply(250, None, &["mx.example.com", "PIPELINING", "SIZE 1000"])],
    );
    check("550-5.1.1 first\r\n550 5.1.1 second\r\n", vec![reply(550, Some((5, 1, 1)), &["first", "second"])]);
    // Pipelined replies come one at a time, in order.
    check(
        "250 ok\r\n451 4.3.0 later\r\n354 go\r\n",
        vec![reply(250, None, &["ok"]), reply(451, Some((4, 3, 0)), &["later"]), reply(354, None, &["go"])],
    );
    // Incomplete: nothing yet.
    check("250-first\r\n250 sec", vec![]);
}

#[test]
fn malformed_replies() {
    check("hello\r\n", vec![Err(ReplyError::NoCode("hello".into()))]);
    check("25\r\n", vec![Err(ReplyError::NoCode("25".into()))]);
    check("2500 ok\r\n", vec![Err(ReplyError::NoCode("2500 ok".into()))]);
    check("\r\n", vec![Err(ReplyError::NoCode("".into()))]);
    assert_eq!(parse_all(b"\x00\x01\xff\r\n"), vec![Err(ReplyError::NoCode("\\x00\\x01\\xff".into()))]);
    check("199 too low\r\n", vec![Err(ReplyError::BadCode(199))]);
    check("600 too high\r\n", vec![Err(ReplyError::BadCode(600))]);
    check("250-first\r\n550 second\r\n", vec![Err(ReplyError::InconsistentCode { first: 250, then: 550 })]);
}

#[test]
fn limits() {
    let long_line = format!("250 {}\r\n", "a".repeat(MAX_LINE_BYTES));
    check(&long_line, vec![Err(ReplyError::LineTooLong)]);
    // A line that never ends is refused once it passes the limit.
    let endless = format!("250 {}", "a".repeat(MAX_LINE_BYTES + 1));
    let mut buf = BytesMut::from(endless.as_bytes());
    assert_eq!(ReplyParser::default().parse(&mut buf), Err(ReplyError::LineTooLong));
    assert!(buf.is_empty());
    let many_lines = "250-x\r\n".repeat(MAX_REPLY_LINES) + "250 x\r\n";
    check(&many_lines, vec![Err(ReplyError::ReplyTooLong)]);
    let line = format!("250-{}\r\n", "a".repeat(1000));
    let big = line.repeat(MAX_REPLY_BYTES / line.len() + 1) + "250 end\r\n";
    check(&big, vec![Err(ReplyError::ReplyTooLong)]);
    // Right at the line limit is fine.
    let at_limit = format!("250 {}\r\n", "a".repeat(MAX_LINE_BYTES - 4));
    assert!(matches!(parse_all(at_limit.as_bytes()).as_slice(), [Ok(_)]));
}

#[test]
fn display_joins_lines() {
    let reply = Reply {
        code: 550,
        enhanced: Some(EnhancedStatus::new(5, 1, 1)),
        lines: vec!["no such".into(), " user ".into()],
    };
    assert_eq!(reply.to_string(), "550 5.1.1 no such user");
    let reply = Reply { code: 250, enhanced: None, lines: vec!["".into()] };
    assert_eq!(reply.to_string(), "250");
}

proptest! {
    /// Whatever a server sends, the parser ends in replies, an error or a
    /// wish for more, and keeps its buffer bounded.
    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..3000), split in 0usize..3000) {
        let split = split.min(input.len());
        let mut parser = ReplyParser::default();
        let mut buf = BytesMut::new();
        for piece in [&input[..split], &input[split..]] {
            buf.extend_from_slice(piece);
            loop {
                match parser.parse(&mut buf) {
                    Ok(Some(reply)) => prop_assert!((200..600).contains(&reply.code)),
                    Ok(None) => break,
                    Err(_) => return Ok(()),
                }
            }
            prop_assert!(buf.len() <= MAX_LINE_BYTES);
        }
    }

    /// Reply-shaped input (codes, separators, enhanced codes, junk) too.
    #[test]
    fn reply_like_lines_never_panic(lines in proptest::collection::vec("[0-9]{0,4}[ -]?([0-9]\\.[0-9]{1,3}\\.[0-9]{1,3} )?[ -~]{0,20}(\r\n|\n|\r)", 0..20)) {
        let input = lines.concat();
        let _ = parse_all(input.as_bytes());
    }
}
