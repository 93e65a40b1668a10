use super::*;

/// `Ok(name and address)` for a parsed command, `Err((code, status))`.
fn check(line: &[u8], expected: Result<(&str, &str), (u16, &str)>) {
    let actual = parse(line).map(|request| {
        let address = match &request {
            Request::Mail { from } => from.address.to_string(),
            Request::Rcpt { to } => to.address.to_string(),
            Request::Ehlo { host } | Request::Helo { host } | Request::Lhlo { host } => host.to_string(),
            _ => String::new(),
        };
        (request.name(), address)
    });
    match (actual, expected) {
        (Ok((name, address)), Ok((want_name, want_address))) => {
            assert_eq!((name, address.as_str()), (want_name, want_address), "{:?}", String::from_utf8_lossy(line));
        }
        (Err(reply), Err((code, status))) => {
            assert_eq!((reply.code, reply.status), (code, status), "{:?}", String::from_utf8_lossy(line));
        }
        (actual, _) => panic!("{:?}: got {actual:?}", String::from_utf8_lossy(line)),
    }
}

#[test]
fn commands() {
    check(b"EHLO client.example\r\n", Ok(("EHLO", "client.example")));
    check(b"ehlo client.example\n", Ok(("EHLO", "client.example")));
    check(b"HELO x\r\n", Ok(("HELO", "x")));
    check(b"LHLO x\r\n", Ok(("LHLO", "x")));
    check(b"EHLO\r\n", Err((501, "5.5.4")));
    check(b"MAIL FROM:<a@b.example>\r\n", Ok(("MAIL", "a@b.example")));
    check(b"mail from:<a@b.example> SIZE=100 BODY=8BITMIME\r\n", Ok(("MAIL", "a@b.example")));
    check(b"MAIL FROM:<>\r\n", Ok(("MAIL", "")));
    check(b"MAIL FROM:<postmaster>\r\n", Err((501, "5.1.7")));
    check(b"MAIL FROM:<not an address>\r\n", Err((501, "5.1.7")));
    check(b"MAIL FROM:<a@@b>\r\n", Err((501, "5.1.7")));
    check(b"MAIL FROM:<a@b> SIZE=abc\r\n", Err((501, "5.5.4")));
    check(b"MAIL FROM:<a@b> FROBNICATE=1\r\n", Err((555, "5.5.4")));
    check(b"MAIL FROM a@b\r\n", Err((501, "5.5.4")));
    check(b"MAIL FROM:<j\xc3\xb6rg@b.example> SMTPUTF8\r\n", Ok(("MAIL", "jörg@b.example")));
    check(b"MAIL FROM:<j\xf6rg@b.example>\r\n", Err((501, "5.1.7")));
    check(b"RCPT TO:<c@d.example>\r\n", Ok(("RCPT", "c@d.example")));
    check(b"RCPT TO:<Postmaster>\r\n", Ok(("RCPT", "postmaster")));
    check(b"RCPT TO: <postmaster>\r\n", Ok(("RCPT", "postmaster")));
    check(b"RCPT TO:<>\r\n", Err((501, "5.1.3")));
    check(b"RCPT TO:<c\xff@d>\r\n", Err((501, "5.1.3")));
    check(b"RCPT TO:<nodomain>\r\n", Err((501, "5.1.3")));
    check(b"rcpt to:c@d\r\n", Err((501, "5.5.4")));
    check(b"DATA\r\n", Ok(("DATA", "")));
    check(b"QUIT\r\n", Ok(("QUIT", "")));
    check(b"STARTTLS\r\n", Ok(("STARTTLS", "")));
    check(b"AUTH PLAIN AGFAYg==\r\n", Ok(("AUTH", "")));
    check(b"NOOP\r\n", Ok(("NOOP", "")));
    check(b"XYZZY\r\n", Err((500, "5.5.1")));
    check(b"\r\n", Err((500, "5.5.1")));
    check(b"\x00\x01\x02\xff\xfe\r\n", Err((500, "5.5.2")));
    check(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", Err((500, "5.5.2")));
}
