use super::*;
use bytes::BytesMut;
use proptest::prelude::*;

/// Decodes every line of `input` with one decoder and compares the
/// outcomes, in order, with `expected`; nothing may be left over.
#[track_caller]
fn check(input: &str, expected: &[Result<Command, DecodeError>]) {
    check_bytes(input.as_bytes(), expected);
}

#[track_caller]
fn check_bytes(input: &[u8], expected: &[Result<Command, DecodeError>]) {
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::from(input);
    let mut got = Vec::new();
    loop {
        match decoder.decode(&mut buf) {
            Ok(None) => break,
            Ok(Some(command)) => got.push(Ok(command)),
            Err(e) => got.push(Err(e)),
        }
    }
    assert_eq!(got, expected, "input {:?}", String::from_utf8_lossy(input));
    assert!(buf.is_empty(), "left over: {buf:?}");
}

fn syntax(why: &'static str) -> Result<Command, DecodeError> {
    Err(DecodeError::Syntax(why))
}

fn pass(password: &str) -> Command {
    Command::Pass { password: Secret::new(password) }
}

fn auth(mechanism: &str, initial_response: Option<&str>) -> Command {
    Command::Auth { mechanism: Some(mechanism.into()), initial_response: initial_response.map(Secret::new) }
}

#[test]
fn commands() {
    use Command::*;
    check("USER alice\r\n", &[Ok(User { name: "alice".into() })]);
    check("user alice@example.com\r\n", &[Ok(User { name: "alice@example.com".into() })]);
    check("PASS secret\r\n", &[Ok(pass("secret"))]);
    check("PASS two words \r\n", &[Ok(pass("two words "))]);
    check("PASS  lead\r\n", &[Ok(pass(" lead"))]);
    check("pass pässwörd\r\n", &[Ok(pass("pässwörd"))]);
    check(
        "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
        &[Ok(Apop { name: "mrose".into(), digest: "c4c9334bac560ecc979e58001b3e22fb".into() })],
    );
    check("AUTH\r\n", &[Ok(Auth { mechanism: None, initial_response: None })]);
    check("AUTH PLAIN\r\n", &[Ok(auth("PLAIN", None))]);
    check("auth plain AGFsaWNlAHNlY3JldA==\r\n", &[Ok(auth("plain", Some("AGFsaWNlAHNlY3JldA==")))]);
    check("AUTH PLAIN =\r\n", &[Ok(auth("PLAIN", Some("=")))]);
    check("AUTH LOGIN\r\n", &[Ok(auth("LOGIN", None))]);
    check("STAT\r\n", &[Ok(Stat)]);
    check("stat\r\n", &[Ok(Stat)]);
    check("LIST\r\n", &[Ok(List { msg: None })]);
    check("LIST 2\r\n", &[Ok(List { msg: Some(2) })]);
    check("UIDL\r\n", &[Ok(Uidl { msg: None })]);
    check("uidl 1\r\n", &[Ok(Uidl { msg: Some(1) })]);
    check("RETR 1\r\n", &[Ok(Retr { msg: 1 })]);
    check("RETR 007\r\n", &[Ok(Retr { msg: 7 })]);
    check("RETR 4294967295\r\n", &[Ok(Retr { msg: u32::MAX })]);
    check("TOP 1 10\r\n", &[Ok(Top { msg: 1, lines: 10 })]);
    check("TOP 3 0\r\n", &[Ok(Top { msg: 3, lines: 0 })]);
    check("DELE 1\r\n", &[Ok(Dele { msg: 1 })]);
    check("RSET\r\n", &[Ok(Rset)]);
    check("NOOP\r\n", &[Ok(Noop)]);
    check("QUIT\r\n", &[Ok(Quit)]);
    check("QuIt\r\n", &[Ok(Quit)]);
    check("CAPA\r\n", &[Ok(Capa)]);
    check("STLS\r\n", &[Ok(Stls)]);
}

#[test]
fn lenient_framing_and_spacing() {
    use Command::*;
    // A bare LF ends a line as well.
    check("NOOP\n", &[Ok(Noop)]);
    check("LIST  2\r\n", &[Ok(List { msg: Some(2) })]);
    check("STAT \r\n", &[Ok(Stat)]);
    check("TOP 1  2 \r\n", &[Ok(Top { msg: 1, lines: 2 })]);
}

#[test]
fn bad_arguments() {
    check("RETR\r\n", &[syntax("RETR needs a message number")]);
    check("RETR 0\r\n", &[syntax("message numbers start at 1")]);
    check("RETR -1\r\n", &[syntax("argument must be a number")]);
    check("RETR +1\r\n", &[syntax("argument must be a number")]);
    check("RETR 1x\r\n", &[syntax("argument must be a number")]);
    check("RETR 4294967296\r\n", &[syntax("number out of range")]);
    check("RETR 99999999999999999999999\r\n", &[syntax("number out of range")]);
    check("RETR 1 2\r\n", &[syntax("too many arguments")]);
    check("LIST 0\r\n", &[syntax("message numbers start at 1")]);
    check("LIST a\r\n", &[syntax("argument must be a number")]);
    check("UIDL 1 2\r\n", &[syntax("too many arguments")]);
    check("TOP 1\r\n", &[syntax("TOP needs a message number and a line count")]);
    check("TOP 1 -1\r\n", &[syntax("argument must be a number")]);
    check("DELE\r\n", &[syntax("DELE needs a message number")]);
    check("STAT 1\r\n", &[syntax("too many arguments")]);
    check("QUIT now\r\n", &[syntax("too many arguments")]);
    check("USER\r\n", &[syntax("USER needs a name")]);
    check("USER a b\r\n", &[syntax("too many arguments")]);
    check("PASS\r\n", &[syntax("PASS needs a password")]);
    check("PASS \r\n", &[syntax("PASS needs a password")]);
    check("APOP mrose\r\n", &[syntax("APOP needs a name and a digest")]);
    check("APOP mrose 1234\r\n", &[syntax("APOP digest must be 32 hex digits")]);
    check("AUTH PL@IN\r\n", &[syntax("invalid SASL mechanism name")]);
    check("AUTH ABCDEFGHIJKLMNOPQRSTU\r\n", &[syntax("invalid SASL mechanism name")]);
    check("AUTH PLAIN a b\r\n", &[syntax("too many arguments")]);
}

#[test]
fn garbage() {
    check("\r\n", &[syntax("empty command")]);
    check(" STAT\r\n", &[syntax("empty command")]);
    check("HELO x\r\n", &[Err(DecodeError::UnknownCommand)]);
    check("STATUS\r\n", &[Err(DecodeError::UnknownCommand)]);
    check("STA\r\n", &[Err(DecodeError::UnknownCommand)]);
    check("ÄÖÜ\r\n", &[Err(DecodeError::UnknownCommand)]);
    check("NO\0OP\r\n", &[syntax("control character in command")]);
    check("PASS a\tb\r\n", &[syntax("control character in command")]);
    check("STAT\r\r\n", &[syntax("control character in command")]);
    check_bytes(b"\xff\xfe\r\n", &[syntax("invalid UTF-8")]);
    check_bytes(b"PASS \xc3\r\n", &[syntax("invalid UTF-8")]);
}

#[test]
fn pipelined_lines_decode_in_order() {
    use Command::*;
    check(
        "USER a\r\nPASS b\r\nBOGUS\r\nSTAT\r\nLIST 1\r\nQUIT\r\n",
        &[
            Ok(User { name: "a".into() }),
            Ok(pass("b")),
            Err(DecodeError::UnknownCommand),
            Ok(Stat),
            Ok(List { msg: Some(1) }),
            Ok(Quit),
        ],
    );
}

#[test]
fn incomplete_line_waits() {
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::from("RETR 1");
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(&buf[..], b"RETR 1");
    buf.extend_from_slice(b"\r");
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    buf.extend_from_slice(b"\nNO");
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Command::Retr { msg: 1 })));
    assert_eq!(&buf[..], b"NO");
}

#[test]
fn longest_line() {
    let ok = format!("PASS {}\r\n", "x".repeat(MAX_LINE - 7));
    assert_eq!(ok.len(), MAX_LINE);
    check(&ok, &[Ok(pass(&"x".repeat(MAX_LINE - 7)))]);
    let long = format!("PASS {}\r\n", "x".repeat(MAX_LINE - 6));
    check(&long, &[Err(DecodeError::LineTooLong)]);
    // Then the next line decodes.
    check(&format!("{long}NOOP\r\n"), &[Err(DecodeError::LineTooLong), Ok(Command::Noop)]);
}

#[test]
fn too_long_line_is_discarded_across_reads_without_buffering() {
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::from(&[b'A'; MAX_LINE][..]);
    assert_eq!(decoder.decode(&mut buf), Err(DecodeError::LineTooLong));
    assert!(buf.is_empty());
    // More of the same line: dropped silently, reported once.
    for _ in 0..100 {
        buf.extend_from_slice(&[b'A'; 4000]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert!(buf.is_empty());
    }
    buf.extend_from_slice(b"AAA\r\nSTAT\r\nNO");
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Command::Stat)));
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(&buf[..], b"NO");
}

#[test]
fn too_long_line_ending_in_the_same_read() {
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[b'A'; 3000]);
    buf.extend_from_slice(b"\r\nNOOP\r\n");
    assert_eq!(decoder.decode(&mut buf), Err(DecodeError::LineTooLong));
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Command::Noop)));
}

#[test]
fn sasl_response_lines() {
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::from("AGFsaWNlAHNlY3JldA==\r\n*\nSTAT\r\n");
    assert_eq!(decoder.decode_line(&mut buf).unwrap().as_deref(), Some(&b"AGFsaWNlAHNlY3JldA=="[..]));
    assert_eq!(decoder.decode_line(&mut buf).unwrap().as_deref(), Some(&b"*"[..]));
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Command::Stat)));
    assert_eq!(decoder.decode_line(&mut buf), Ok(None));
    let mut buf = BytesMut::from(&[b'A'; MAX_LINE + 1][..]);
    assert_eq!(decoder.decode_line(&mut buf), Err(DecodeError::LineTooLong));
    buf.extend_from_slice(b"AAAA\r\n\r\n");
    assert_eq!(decoder.decode_line(&mut buf).unwrap().as_deref(), Some(&b""[..]));
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let command = pass("hunter2");
    assert!(!format!("{command:?}").contains("hunter2"));
    let command = auth("PLAIN", Some("aHVudGVyMg=="));
    assert!(!format!("{command:?}").contains("aHVudGVyMg"));
}

fn reply(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn status_lines() {
    assert_eq!(reply(|o| write_ok(o, "")), "+OK\r\n");
    assert_eq!(reply(|o| write_ok(o, format_args!("{} {}", 2, 320))), "+OK 2 320\r\n");
    assert_eq!(reply(|o| write_err(o, None, "unknown command")), "-ERR unknown command\r\n");
    assert_eq!(
        reply(|o| write_err(o, Some(ResponseCode::InUse), "mailbox is locked")),
        "-ERR [IN-USE] mailbox is locked\r\n"
    );
    assert_eq!(reply(|o| write_err(o, Some(ResponseCode::Auth), "")), "-ERR [AUTH]\r\n");
    assert_eq!(reply(|o| write_err(o, Some(ResponseCode::SysTemp), "x")), "-ERR [SYS/TEMP] x\r\n");
    assert_eq!(reply(|o| write_err(o, Some(ResponseCode::SysPerm), "x")), "-ERR [SYS/PERM] x\r\n");
    assert_eq!(reply(|o| write_err(o, Some(ResponseCode::LoginDelay), "x")), "-ERR [LOGIN-DELAY] x\r\n");
    // A text can never smuggle in a second reply.
    assert_eq!(reply(|o| write_ok(o, "a\r\n+OK b")), "+OK a+OK b\r\n");
    assert_eq!(reply(|o| write_continuation(o, "")), "+ \r\n");
    assert_eq!(reply(|o| write_continuation(o, "VXNlcm5hbWU6")), "+ VXNlcm5hbWU6\r\n");
}

#[test]
fn multi_line_lists() {
    let text = reply(|o| {
        write_ok(o, "capability list follows");
        write_line(o, "TOP");
        write_line(o, ".hidden");
        write_line(o, format_args!("{} {}", 1, 120));
        write_end(o);
    });
    assert_eq!(text, "+OK capability list follows\r\nTOP\r\n..hidden\r\n1 120\r\n.\r\n");
}

#[track_caller]
fn check_stuffed(body: &str, expected: &str) {
    assert_eq!(reply(|o| write_dot_stuffed(o, body.as_bytes())), expected, "body {body:?}");
}

#[test]
fn dot_stuffing() {
    check_stuffed("", ".\r\n");
    check_stuffed("a\r\n", "a\r\n.\r\n");
    check_stuffed("a", "a\r\n.\r\n");
    check_stuffed(".", "..\r\n.\r\n");
    check_stuffed(".\r\n", "..\r\n.\r\n");
    check_stuffed("a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n");
    check_stuffed(".a\r\n..b\r\nc.\r\n", "..a\r\n...b\r\nc.\r\n.\r\n");
    check_stuffed("a\nb\n", "a\r\nb\r\n.\r\n");
    check_stuffed("a\n.b", "a\r\n..b\r\n.\r\n");
    check_stuffed("\n\n.", "\r\n\r\n..\r\n.\r\n");
    check_stuffed("Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\r\n\r\nbody\r\n..\r\n.\r\n");
}

/// Undoes [`write_dot_stuffed`] as a client does: up to the terminator,
/// drop one leading dot of each line.
fn unstuff(wire: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut rest = wire;
    loop {
        let end = rest.windows(2).position(|w| w == b"\r\n").expect("every line ends with CRLF");
        let line = &rest[..end];
        rest = &rest[end + 2..];
        if line == b"." {
            assert!(rest.is_empty(), "data after the terminator");
            return body;
        }
        body.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        body.extend_from_slice(b"\r\n");
    }
}

/// The body as a client should see it: bare LF made CRLF, a CRLF ending
/// the last line.
fn normalised(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in body.iter().enumerate() {
        if b == b'\n' && (i == 0 || body[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn command() -> impl Strategy<Value = Command> {
    let name = "[^ \\p{Cc}]{1,30}";
    let msg = 1..=u32::MAX;
    prop_oneof![
        name.prop_map(|name| Command::User { name }),
        "[^\\p{Cc}]{1,60}".prop_map(|p| Command::Pass { password: Secret::new(p) }),
        (name, "[0-9a-fA-F]{32}").prop_map(|(name, digest)| Command::Apop { name, digest }),
        Just(Command::Auth { mechanism: None, initial_response: None }),
        ("[A-Za-z0-9_-]{1,20}", proptest::option::of("[^ \\p{Cc}]{1,200}"))
            .prop_map(|(m, ir)| Command::Auth { mechanism: Some(m), initial_response: ir.map(Secret::new) }),
        Just(Command::Stat),
        proptest::option::of(msg.clone()).prop_map(|msg| Command::List { msg }),
        proptest::option::of(msg.clone()).prop_map(|msg| Command::Uidl { msg }),
        msg.clone().prop_map(|msg| Command::Retr { msg }),
        (msg.clone(), any::<u32>()).prop_map(|(msg, lines)| Command::Top { msg, lines }),
        msg.prop_map(|msg| Command::Dele { msg }),
        Just(Command::Rset),
        Just(Command::Noop),
        Just(Command::Quit),
        Just(Command::Capa),
        Just(Command::Stls),
    ]
}

proptest! {
    #[test]
    fn commands_round_trip(commands in proptest::collection::vec(command(), 1..8), split in any::<prop::sample::Index>()) {
        let mut wire = Vec::new();
        for command in &commands {
            command.encode(&mut wire);
        }
        // Delivered in two reads, cut anywhere.
        let cut = split.index(wire.len() + 1);
        let mut decoder = Decoder::new();
        let mut buf = BytesMut::from(&wire[..cut]);
        let mut decoded = Vec::new();
        while let Some(command) = decoder.decode(&mut buf).unwrap() {
            decoded.push(command);
        }
        buf.extend_from_slice(&wire[cut..]);
        while let Some(command) = decoder.decode(&mut buf).unwrap() {
            decoded.push(command);
        }
        prop_assert_eq!(decoded, commands);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3000), 1..6)) {
        let mut decoder = Decoder::new();
        let mut buf = BytesMut::new();
        for chunk in chunks {
            buf.extend_from_slice(&chunk);
            while decoder.decode(&mut buf).transpose().is_some() {}
            prop_assert!(buf.len() < MAX_LINE);
        }
    }

    #[test]
    fn arbitrary_lines_never_panic(lines in proptest::collection::vec("[ -~]{0,40}|(?s:.{0,40})", 1..10)) {
        let mut decoder = Decoder::new();
        let mut buf = BytesMut::new();
        for line in &lines {
            buf.extend_from_slice(line.as_bytes());
            buf.extend_from_slice(b"\r\n");
        }
        while decoder.decode(&mut buf).transpose().is_some() {}
    }

    #[test]
    fn dot_stuffing_round_trips(body in proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'a')], 0..64)) {
        let mut wire = Vec::new();
        write_dot_stuffed(&mut wire, &body);
        prop_assert_eq!(unstuff(&wire), normalised(&body));
    }
}
