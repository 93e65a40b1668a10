//! ENVELOPE, BODYSTRUCTURE, part sections and BINARY on a set of
//! messages, well-formed and not, through a whole session.

use crate::tests::Harness;

const SIMPLE: &str = "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nFrom: Fred Foobar <foobar@Blurdybloop.example>\r\nSubject: afternoon meeting\r\nTo: mooch@owatagu.example\r\nMessage-Id: <B27397-0100000@Blurdybloop.example>\r\nMIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

const ALTERNATIVE: &str = "From: a@example.com\r\nTo: b@example.com, \"Carol \\\"C\\\"\" <c@example.com>\r\nCc: Friends: d@example.com, e@example.com;\r\nReply-To: r@example.com\r\nSubject: alt\r\nContent-Type: multipart/alternative; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n--XX\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>caf\u{e9}</p>\r\n--XX--\r\nepilogue\r\n";

const MIXED: &str = "From: a@example.com\r\nSubject: =?utf-8?q?caf=C3=A9?= report\r\nIn-Reply-To: <x@example.com>\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <part2@example.com>\r\nContent-Description: some data\r\nContent-Language: en\r\nContent-Location: http://example.com/data.bin\r\n\r\nAAECaGVsbG8=\r\n--b1--\r\n";

const NESTED: &str = "From: a@example.com\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\nContent-Type: text/plain\r\n\r\nforwarded:\r\n--outer\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@example.com\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--inner\r\nContent-Type: text/html\r\n\r\n<b>inner</b>\r\n--inner--\r\n\r\n--outer--\r\n";

const NO_END: &str = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\none\r\n--zz\r\n\r\ntwo, never closed\r\n";

const NO_BOUNDARY: &str = "From: a@example.com\r\nContent-Type: multipart/mixed\r\n\r\njust text\r\n";

const NO_COLON: &str = "From: a@example.com\r\nthis line has no colon\r\nSubject: odd\r\n\r\nbody\r\n";

const NO_BODY: &str = "From: a@example.com\r\nSubject: headers only\r\n";

const EIGHT_BIT: &str = "From: J\u{f6}rg <joerg@example.com>\r\nSubject: Gr\u{fc}\u{df}e\r\n\r\nHallo\r\n";

const UNKNOWN_CTE: &str =
    "From: a@example.com\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n";

/// Delivers `message` alone and checks one FETCH reply line for it.
async fn check(message: &str, items: &str, expected: &str) {
    let h = Harness::new().await;
    h.deliver(message).await;
    let mut c = h.selected().await;
    let reply = c.ok(&format!("f FETCH 1 {items}")).await;
    let untagged = reply.strip_suffix("f OK FETCH completed\r\n").unwrap_or(&reply);
    assert_eq!(untagged, expected, "{items} of {message:?}");
}

#[tokio::test]
async fn simple() {
    check(
        SIMPLE,
        "(ENVELOPE BODYSTRUCTURE)",
        "* 1 FETCH (ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"afternoon meeting\" ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((NIL NIL \"mooch\" \"owatagu.example\")) NIL NIL NIL \"<B27397-0100000@Blurdybloop.example>\") BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 55 1 NIL NIL NIL NIL))\r\n",
    )
    .await;
    check(SIMPLE, "BODY", "* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 55 1))\r\n")
        .await;
    check(
        SIMPLE,
        "(BODY.PEEK[1] BODY.PEEK[1.MIME]<0.20> BODY.PEEK[]<1000.10>)",
        "* 1 FETCH (BODY[1] {55}\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n BODY[1.MIME]<0> {20}\r\nDate: Mon, 7 Feb 199 BODY[]<1000> {0}\r\n)\r\n",
    )
    .await;
}

#[tokio::test]
async fn alternative() {
    check(
        ALTERNATIVE,
        "(ENVELOPE BODYSTRUCTURE)",
        "* 1 FETCH (ENVELOPE (NIL \"alt\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"r\" \"example.com\")) ((NIL NIL \"b\" \"example.com\")(\"Carol \\\"C\\\"\" NIL \"c\" \"example.com\")) ((NIL NIL \"Friends\" NIL)(NIL NIL \"d\" \"example.com\")(NIL NIL \"e\" \"example.com\")(NIL NIL NIL NIL)) NIL NIL NIL) BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 9 1 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 12 1 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"XX\") NIL NIL NIL))\r\n",
    )
    .await;
    check(
        ALTERNATIVE,
        "(BODY[1] BINARY[1] BINARY.SIZE[1] BODY[2.MIME])",
        "* 1 FETCH (BODY[1] {9}\r\ncaf=C3=A9 BINARY[1] {5}\r\ncafé BINARY.SIZE[1] 5 BODY[2.MIME] {42}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n FLAGS (\\Seen))\r\n",
    )
    .await;
}

#[tokio::test]
async fn mixed() {
    check(
        MIXED,
        "(ENVELOPE BODYSTRUCTURE)",
        "* 1 FETCH (ENVELOPE (NIL \"=?utf-8?q?caf=C3=A9?= report\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL \"<x@example.com>\" NIL) BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 12 1 NIL NIL NIL NIL)(\"APPLICATION\" \"OCTET-STREAM\" (\"NAME\" \"data.bin\") \"<part2@example.com>\" \"some data\" \"BASE64\" 12 NIL (\"attachment\" (\"FILENAME\" \"data.bin\")) \"en\" \"http://example.com/data.bin\") \"MIXED\" (\"BOUNDARY\" \"b1\") NIL NIL NIL))\r\n",
    )
    .await;
    check(
        MIXED,
        "(BODY.PEEK[2] BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[2]<2.3>)",
        "* 1 FETCH (BODY[2] {12}\r\nAAECaGVsbG8= BINARY[2] ~{8}\r\n\0\u{1}\u{2}hello BINARY.SIZE[2] 8 BINARY[2]<2> {3}\r\n\u{2}he)\r\n",
    )
    .await;
    check(
        MIXED,
        "(BODY.PEEK[1]<4.100> BODY.PEEK[1]<50.10> BODY.PEEK[3] BODY.PEEK[1.1] BODY.PEEK[2.HEADER])",
        "* 1 FETCH (BODY[1]<4> {8}\r\nattached BODY[1]<50> {0}\r\n BODY[3] NIL BODY[1.1] {12}\r\nsee attached BODY[2.HEADER] NIL)\r\n",
    )
    .await;
}

#[tokio::test]
async fn nested() {
    check(
        NESTED,
        "BODYSTRUCTURE",
        "* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 206 (NIL \"inner\" ((NIL NIL \"inner\" \"example.com\")) ((NIL NIL \"inner\" \"example.com\")) ((NIL NIL \"inner\" \"example.com\")) NIL NIL NIL NIL NIL) ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 12 1 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL) 13 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL))\r\n",
    )
    .await;
    check(
        NESTED,
        "(BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT]<0.9> BODY.PEEK[2.1] BODY.PEEK[2.2.MIME] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)])",
        "* 1 FETCH (BODY[2.HEADER] {96}\r\nFrom: inner@example.com\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n BODY[2.TEXT]<0> {9}\r\n--inner\r\n BODY[2.1] {10}\r\ninner text BODY[2.2.MIME] {27}\r\nContent-Type: text/html\r\n\r\n BODY[2.HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: inner\r\n\r\n)\r\n",
    )
    .await;
    check(
        NESTED,
        "(BODY.PEEK[HEADER.FIELDS.NOT (FROM CONTENT-TYPE)] BODY.PEEK[1.MIME])",
        "* 1 FETCH (BODY[HEADER.FIELDS.NOT (FROM CONTENT-TYPE)] {16}\r\nSubject: fwd\r\n\r\n BODY[1.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n)\r\n",
    )
    .await;
}

#[tokio::test]
async fn no_end() {
    check(
        NO_END,
        "(BODYSTRUCTURE BODY.PEEK[2])",
        "* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 3 1 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 19 1 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"zz\") NIL NIL NIL) BODY[2] {19}\r\ntwo, never closed\r\n)\r\n",
    )
    .await;
}

#[tokio::test]
async fn no_boundary() {
    check(
        NO_BOUNDARY,
        "BODYSTRUCTURE",
        "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 11 1 NIL NIL NIL NIL))\r\n",
    )
    .await;
}

#[tokio::test]
async fn no_colon() {
    check(
        NO_COLON,
        "(ENVELOPE BODYSTRUCTURE)",
        "* 1 FETCH (ENVELOPE (NIL \"odd\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 6 1 NIL NIL NIL NIL))\r\n",
    )
    .await;
}

#[tokio::test]
async fn no_body() {
    check(
        NO_BODY,
        "(ENVELOPE BODYSTRUCTURE BODY.PEEK[TEXT] BODY.PEEK[1] BINARY.SIZE[1])",
        "* 1 FETCH (ENVELOPE (NIL \"headers only\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) BODY[TEXT] {0}\r\n BODY[1] {0}\r\n BINARY.SIZE[1] 0)\r\n",
    )
    .await;
}

#[tokio::test]
async fn eight_bit() {
    check(
        EIGHT_BIT,
        "ENVELOPE",
        "* 1 FETCH (ENVELOPE (NIL {7}\r\nGrüße (({5}\r\nJörg NIL \"joerg\" \"example.com\")) (({5}\r\nJörg NIL \"joerg\" \"example.com\")) (({5}\r\nJörg NIL \"joerg\" \"example.com\")) NIL NIL NIL NIL NIL))\r\n",
    )
    .await;
}

#[tokio::test]
async fn unknown_transfer_encoding_is_refused_for_binary_only() {
    let h = Harness::new().await;
    h.deliver(UNKNOWN_CTE).await;
    let mut c = h.selected().await;
    c.expect("1 FETCH 1 BINARY.PEEK[1]", "NO [UNKNOWN-CTE]").await;
    c.expect("2 FETCH 1 BINARY.SIZE[1]", "NO [UNKNOWN-CTE]").await;
    let reply = c.ok("3 FETCH 1 BODY.PEEK[1]").await;
    assert!(reply.contains("BODY[1] {7}\r\nbegin\r\n)"), "{reply}");
    // A refused FETCH that would have set \Seen changes nothing.
    c.expect("4 FETCH 1 BINARY[1]", "NO [UNKNOWN-CTE]").await;
    let reply = c.ok("5 FETCH 1 FLAGS").await;
    assert!(reply.contains("FLAGS ()"), "{reply}");
}

#[tokio::test]
async fn macros_and_seen() {
    let h = Harness::new().await;
    h.deliver(SIMPLE).await;
    let mut c = h.selected().await;
    let reply = c.ok("1 FETCH 1 ALL").await;
    assert!(reply.starts_with("* 1 FETCH (FLAGS () INTERNALDATE "), "{reply}");
    assert!(reply.contains(" RFC822.SIZE 311 ENVELOPE (\"Mon, 7 Feb 1994"), "{reply}");
    let reply = c.ok("2 FETCH 1 FULL").await;
    assert!(reply.contains(") BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 55 1))"), "{reply}");
    let reply = c.ok("3 FETCH 1 BINARY[1]").await;
    assert!(reply.contains("FLAGS (\\Seen)"), "{reply}");
}

#[tokio::test]
async fn many_messages_in_one_fetch() {
    let h = Harness::new().await;
    for message in [SIMPLE, ALTERNATIVE, MIXED, NESTED, NO_END, NO_BOUNDARY, NO_COLON, NO_BODY, EIGHT_BIT, UNKNOWN_CTE]
    {
        h.deliver(message).await;
    }
    let mut c = h.selected().await;
    let reply = c.ok("1 UID FETCH 1:* (BODYSTRUCTURE ENVELOPE BODY.PEEK[1.MIME] BODY.PEEK[2.2])").await;
    assert_eq!(reply.matches("* ").count(), 10, "{reply}");
}

#[tokio::test]
async fn binary_is_advertised_and_append_takes_a_literal8() {
    let h = Harness::new().await;
    let mut c = h.selected().await;
    assert!(c.ok("1 CAPABILITY").await.contains(" BINARY"));
    let message = "Subject: nul\r\n\r\na\0b\r\n";
    let (reply, _) = c.send(&format!("2 APPEND INBOX ~{{{}}}\r\n", message.len())).await;
    assert_eq!(reply, "+ Ready for literal data\r\n");
    let (reply, _) = c.send(&format!("{message}\r\n")).await;
    assert!(reply.contains("2 OK"), "{reply}");
    let reply = c.ok("3 FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])").await;
    assert!(reply.starts_with("* 1 FETCH (BINARY[1] ~{5}\r\na\0b\r\n BINARY.SIZE[1] 5)"), "{reply}");
}

#[tokio::test]
async fn encoded_and_too_deep_parts_keep_the_grammar() {
    let encoded = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5DQo=\r\n--b--\r\n";
    check(
        encoded,
        "BODY",
        "* 1 FETCH (BODY ((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"BASE64\" 24 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0) 1) \"MIXED\"))\r\n",
    )
    .await;
    let mut deep = String::new();
    for level in 0..30 {
        deep.push_str(&format!("Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n"));
    }
    deep.push_str("\r\nleaf\r\n");
    let h = Harness::new().await;
    h.deliver(&deep).await;
    let mut c = h.selected().await;
    let reply = c.ok("1 FETCH 1 (BODYSTRUCTURE BODY.PEEK[1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1])").await;
    assert!(!reply.contains("\"MULTIPART\""), "{reply}");
}

/// Every ENVELOPE, BODY and BODYSTRUCTURE we write parses with
/// imap-codec's response decoder (a client's view of the grammar).
#[tokio::test]
async fn responses_parse_as_imap() {
    use imap_codec::ResponseCodec;
    use imap_codec::decode::Decoder;
    let h = Harness::new().await;
    let encoded = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5DQo=\r\n--b--\r\n";
    let messages =
        [SIMPLE, ALTERNATIVE, MIXED, NESTED, NO_END, NO_BOUNDARY, NO_COLON, NO_BODY, EIGHT_BIT, UNKNOWN_CTE, encoded];
    for message in messages {
        h.deliver(message).await;
    }
    let mut c = h.selected().await;
    for n in 1..=messages.len() {
        let reply = c.ok(&format!("f FETCH {n} (ENVELOPE BODYSTRUCTURE BODY)")).await;
        let untagged = reply.strip_suffix("f OK FETCH completed\r\n").unwrap();
        let decoded = ResponseCodec::default().decode(untagged.as_bytes());
        assert!(matches!(decoded, Ok((rest, _)) if rest.is_empty()), "{untagged}: {decoded:?}");
    }
}

#[tokio::test]
async fn bare_line_feeds() {
    let message = "From: a@example.com\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\none\ntwo\n--q--\n";
    check(
        message,
        "(BODYSTRUCTURE BODY.PEEK[1] BODY.PEEK[1.MIME])",
        "* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 7 2 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"q\") NIL NIL NIL) BODY[1] {7}\r\none\ntwo BODY[1.MIME] {26}\r\nContent-Type: text/plain\n\n)\r\n",
    )
    .await;
}

/// A string as an IMAP literal.
fn literal(s: &str) -> String {
    format!("{{{}}}\r\n{s}", s.len())
}

/// Header items alone are served from a header-only read of the store;
/// with TEXT beside them, from the whole message. Both give the same.
async fn check_header_items(message: &str, header: &str, subject: &str) {
    let text = &message[header.len()..];
    check(
        message,
        "(BODY.PEEK[HEADER.FIELDS (Subject)] RFC822.HEADER)",
        &format!(
            "* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {} RFC822.HEADER {})\r\n",
            literal(subject),
            literal(header)
        ),
    )
    .await;
    check(
        message,
        "(BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[HEADER] BODY.PEEK[TEXT])",
        &format!(
            "* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {} BODY[HEADER] {} BODY[TEXT] {})\r\n",
            literal(subject),
            literal(header),
            literal(text)
        ),
    )
    .await;
}

#[tokio::test]
async fn header_larger_than_the_stores_read_ahead() {
    let mut header = String::new();
    while header.len() < 20_000 {
        header.push_str("Received: from a.example by b.example; Mon, 7 Feb 1994 21:52:25 -0800\r\n");
    }
    header.push_str("Subject: at the end\r\n\r\n");
    let message = format!("{header}{}", "body line\r\n".repeat(5000));
    check_header_items(&message, &header, "Subject: at the end\r\n\r\n").await;
}

#[tokio::test]
async fn header_items_of_odd_messages() {
    // No empty line: all of it is header, the text is empty.
    check_header_items(NO_BODY, NO_BODY, "Subject: headers only\r\n\r\n").await;
    // A header and an empty line, and nothing after it.
    let empty_body = "From: a@example.com\r\nSubject: empty body\r\n\r\n";
    check_header_items(empty_body, empty_body, "Subject: empty body\r\n\r\n").await;
    // The header ends at the first empty line, bare LF or not.
    let lf = "From: a@example.com\nSubject: lf\n\nbody\r\n\r\nmore\r\n";
    check_header_items(lf, "From: a@example.com\nSubject: lf\n\n", "Subject: lf\n\r\n").await;
    // An empty line first: an empty header.
    check_header_items("\r\nSubject: in the text\r\n", "\r\n", "\r\n").await;
    check_header_items("", "", "\r\n").await;
}

#[tokio::test]
async fn batches_of_reads_skip_messages_expunged_elsewhere() {
    let h = Harness::new().await;
    for n in 1..=300 {
        h.deliver(&format!("Subject: n{n}\r\n\r\nbody {n}\r\n")).await;
    }
    let mut a = h.selected().await;
    let mut b = h.selected().await;
    b.ok("1 STORE 1:150 +FLAGS.SILENT (\\Deleted)").await;
    b.ok("2 EXPUNGE").await;
    // `a` still sees 300 messages: the first 150 are gone from the store.
    let headers: String = (151..=300)
        .map(|n| {
            format!(
                "* {n} FETCH (UID {n} BODY[HEADER.FIELDS (Subject)] {})\r\n",
                literal(&format!("Subject: n{n}\r\n\r\n"))
            )
        })
        .collect();
    let reply = a.ok("3 FETCH 1:300 (UID BODY.PEEK[HEADER.FIELDS (Subject)])").await;
    assert!(reply.starts_with(&headers), "{reply}");
    let texts: String = (151..=300)
        .map(|n| format!("* {n} FETCH (UID {n} BODY[TEXT] {})\r\n", literal(&format!("body {n}\r\n"))))
        .collect();
    let reply = a.ok("4 FETCH 1:300 (UID BODY.PEEK[TEXT])").await;
    assert!(reply.starts_with(&texts), "{reply}");
}
