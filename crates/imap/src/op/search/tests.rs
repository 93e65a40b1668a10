//! SEARCH keys, ESEARCH result options and the saved result `$`, through
//! a whole session on a mailbox of varied messages.

use crate::tests::{Client, Harness};

/// Sent on 7 Feb in its own zone, 8 Feb in UTC.
const PLAIN: &str = "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nFrom: Fred Foobar <foobar@example.org>\r\nTo: mooch@example.net\r\nCc: carol@example.com\r\nBcc: secret@example.com\r\nSubject: afternoon meeting\r\nX-Priority: high\r\n\r\nHello Joe, meet at 3:30?\r\n";

/// Encoded words in From and Subject, a quoted-printable UTF-8 body;
/// sent on 8 Feb in its own zone, 7 Feb in UTC.
const ENCODED: &str = "Date: Tue, 8 Feb 1994 00:30:00 +0900\r\nFrom: =?utf-8?q?J=C3=B6rg?= <joerg@example.de>\r\nTo: alice@example.com\r\nSubject: =?utf-8?b?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nDie Stra=C3=9Fe ist lang.\r\n";

/// A Latin-1 encoded word and a base64 Latin-1 body; a Date that does
/// not parse.
const LATIN1: &str = "Date: sometime last week\r\nFrom: bob@example.com\r\nSubject: =?iso-8859-1?q?caf=E9?= order\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\nQ3LobWUgYnL7bOllLCBzJ2lsIHZvdXMgcGxh7nQ=\r\n";

/// A forwarded message inside a multipart; no Date.
const NESTED: &str = "From: a@example.com\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\nContent-Type: text/plain\r\n\r\nforwarded:\r\n--outer\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@example.com\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--inner\r\nContent-Type: text/html\r\n\r\n<b>inner</b>\r\n--inner--\r\n\r\n--outer--\r\n";

/// Appended with an internal date of 1 Jan 2020; the smallest.
const OLD: &str = "From: a@b.example\r\nSubject: old one\r\nDate: Wed, 1 Jan 2020 00:00:00 +0000\r\n\r\nold\r\n";

/// Messages 1 to 5 (UIDs 1 to 5): PLAIN \Answered \Seen, ENCODED
/// \Flagged $Work, LATIN1 \Draft \Deleted, NESTED, OLD \Seen. The first
/// four have the internal date 14-Nov-2023 (UTC).
async fn mailbox(h: &Harness) -> Client {
    for message in [PLAIN, ENCODED, LATIN1, NESTED] {
        h.deliver(message).await;
    }
    let mut c = h.selected().await;
    let (reply, _) = c
        .send(&format!("p APPEND INBOX (\\Seen) \"01-Jan-2020 00:00:00 +0000\" {{{}+}}\r\n{OLD}\r\n", OLD.len()))
        .await;
    assert!(reply.contains("p OK [APPENDUID"), "{reply}");
    c.ok("f1 STORE 1 +FLAGS (\\Answered \\Seen)").await;
    c.ok("f2 STORE 2 +FLAGS (\\Flagged $Work)").await;
    c.ok("f3 STORE 3 +FLAGS (\\Draft \\Deleted)").await;
    c.ok("f4 NOOP").await;
    c
}

/// `t SEARCH criteria` answers exactly `expected` (the untagged line).
async fn check(c: &mut Client, criteria: &str, expected: &str) {
    let reply = c.cmd(&format!("t SEARCH {criteria}")).await;
    assert_eq!(reply, format!("{expected}\r\nt OK SEARCH completed\r\n"), "SEARCH {criteria}");
}

#[tokio::test]
async fn flag_keys() {
    let h = Harness::new().await;
    let mut c = mailbox(&h).await;
    for (criteria, expected) in [
        ("ALL", "* SEARCH 1 2 3 4 5"),
        ("ANSWERED", "* SEARCH 1"),
        ("UNANSWERED", "* SEARCH 2 3 4 5"),
        ("DELETED", "* SEARCH 3"),
        ("UNDELETED", "* SEARCH 1 2 4 5"),
        ("DRAFT", "* SEARCH 3"),
        ("UNDRAFT", "* SEARCH 1 2 4 5"),
        ("FLAGGED", "* SEARCH 2"),
        ("UNFLAGGED", "* SEARCH 1 3 4 5"),
        ("SEEN", "* SEARCH 1 5"),
        ("UNSEEN", "* SEARCH 2 3 4"),
        ("KEYWORD $work", "* SEARCH 2"),
        ("UNKEYWORD $Work", "* SEARCH 1 3 4 5"),
        ("KEYWORD $Other", "* SEARCH"),
        // No \Recent: RECENT and NEW match nothing, OLD everything.
        ("RECENT", "* SEARCH"),
        ("NEW", "* SEARCH"),
        ("OLD", "* SEARCH 1 2 3 4 5"),
    ] {
        check(&mut c, criteria, expected).await;
    }
}

#[tokio::test]
async fn dates_sizes_and_sets() {
    let h = Harness::new().await;
    let mut c = mailbox(&h).await;
    let old = OLD.len();
    for (criteria, expected) in [
        ("BEFORE 1-Jan-2021".to_owned(), "* SEARCH 5"),
        ("ON 1-Jan-2020".into(), "* SEARCH 5"),
        ("ON 14-Nov-2023".into(), "* SEARCH 1 2 3 4"),
        ("SINCE 14-Nov-2023".into(), "* SEARCH 1 2 3 4"),
        ("SINCE 15-Nov-2023".into(), "* SEARCH"),
        ("BEFORE 1-Jan-2020".into(), "* SEARCH"),
        // The Date field's day in its own zone, not in UTC.
        ("SENTON 7-Feb-1994".into(), "* SEARCH 1"),
        ("SENTON 8-Feb-1994".into(), "* SEARCH 2"),
        ("SENTBEFORE 8-Feb-1994".into(), "* SEARCH 1"),
        ("SENTSINCE 8-Feb-1994".into(), "* SEARCH 2 5"),
        ("SENTSINCE 1-Jan-2020".into(), "* SEARCH 5"),
        // No Date (4) or one that does not parse (3): no SENT* match.
        ("NOT SENTON 7-Feb-1994".into(), "* SEARCH 2 3 4 5"),
        ("OR SENTBEFORE 1-Jan-3000 SENTSINCE 1-Jan-1900".into(), "* SEARCH 1 2 5"),
        (format!("LARGER {old}"), "* SEARCH 1 2 3 4"),
        (format!("LARGER {}", old - 1), "* SEARCH 1 2 3 4 5"),
        (format!("SMALLER {old}"), "* SEARCH"),
        (format!("SMALLER {}", old + 1), "* SEARCH 5"),
        ("2:3".into(), "* SEARCH 2 3"),
        ("4:*".into(), "* SEARCH 4 5"),
        ("2,4".into(), "* SEARCH 2 4"),
        ("UID 2:3".into(), "* SEARCH 2 3"),
        ("UID *".into(), "* SEARCH 5"),
        ("NOT 1:4".into(), "* SEARCH 5"),
        ("OR FLAGGED DRAFT".into(), "* SEARCH 2 3"),
        ("(SEEN UNANSWERED)".into(), "* SEARCH 5"),
        ("NOT (SEEN UNANSWERED)".into(), "* SEARCH 1 2 3 4"),
        ("OR (SEEN ANSWERED) (OR DRAFT 4)".into(), "* SEARCH 1 3 4"),
        ("((SEEN) (1:2))".into(), "* SEARCH 1"),
    ] {
        check(&mut c, &criteria, expected).await;
    }
    let reply = c.ok("u UID SEARCH 2:3 NOT DELETED").await;
    assert!(reply.starts_with("* SEARCH 2\r\n"), "{reply}");
}

#[tokio::test]
async fn header_body_and_text_are_decoded() {
    let h = Harness::new().await;
    let mut c = mailbox(&h).await;
    for (criteria, expected) in [
        ("SUBJECT meeting", "* SEARCH 1"),
        ("SUBJECT \"AFTERNOON MEETING\"", "* SEARCH 1"),
        // Encoded words are decoded (base64 UTF-8, Q Latin-1), and the
        // raw form is not what is searched.
        ("CHARSET UTF-8 SUBJECT {5+}\r\nKÖLN", "* SEARCH 2"),
        ("CHARSET UTF-8 SUBJECT {5+}\r\ncafÉ", "* SEARCH 3"),
        ("SUBJECT \"=?utf-8?\"", "* SEARCH"),
        ("FROM {5+}\r\nJörg", "* SEARCH 2"),
        ("FROM joerg@example.de", "* SEARCH 2"),
        ("FROM \"Fred Foobar\"", "* SEARCH 1"),
        ("FROM example", "* SEARCH 1 2 3 4 5"),
        ("TO mooch", "* SEARCH 1"),
        ("TO alice", "* SEARCH 2"),
        ("CC carol", "* SEARCH 1"),
        ("BCC secret", "* SEARCH 1"),
        ("BCC carol", "* SEARCH"),
        ("HEADER X-Priority HIGH", "* SEARCH 1"),
        ("HEADER x-priority \"\"", "* SEARCH 1"),
        ("HEADER Date \"\"", "* SEARCH 1 2 3 5"),
        ("HEADER Date \"-0800\"", "* SEARCH 1"),
        ("HEADER Content-Transfer-Encoding base64", "* SEARCH 3"),
        ("HEADER X-Missing \"\"", "* SEARCH"),
        // Quoted-printable and base64 bodies, in UTF-8 and Latin-1.
        ("CHARSET UTF-8 BODY {7+}\r\nSTRAßE", "* SEARCH 2"),
        ("BODY \"Stra=C3\"", "* SEARCH"),
        ("CHARSET UTF-8 BODY {8+}\r\nbrûlée", "* SEARCH 3"),
        ("CHARSET US-ASCII BODY \"vous\"", "* SEARCH 3"),
        ("BODY \"inner text\"", "* SEARCH 4"),
        ("BODY meeting", "* SEARCH"),
        ("TEXT meeting", "* SEARCH 1"),
        ("TEXT \"hello JOE\"", "* SEARCH 1"),
        // The header of a forwarded message is text of the outer one.
        ("TEXT inner@example.com", "* SEARCH 4"),
        ("BODY \"subject: inner\"", "* SEARCH 4"),
        ("TEXT {5+}\r\nköln", "* SEARCH 2"),
        ("TEXT \"\"", "* SEARCH 1 2 3 4 5"),
        ("OR BODY lang SUBJECT fwd", "* SEARCH 2 4"),
        ("NOT TEXT example", "* SEARCH"),
    ] {
        check(&mut c, criteria, expected).await;
    }
}

#[tokio::test]
async fn modseq_key() {
    let h = Harness::new().await;
    let mut c = mailbox(&h).await;
    let reply = c.ok("m1 SEARCH MODSEQ 1").await;
    let line = reply.lines().next().unwrap();
    let (numbers, modseq) = line.split_once(" (MODSEQ ").unwrap();
    assert_eq!(numbers, "* SEARCH 1 2 3 4 5", "{reply}");
    let highest: u64 = modseq.trim_end_matches(')').parse().unwrap();
    let reply = c.ok(&format!("m2 UID SEARCH MODSEQ {highest}")).await;
    assert!(reply.starts_with("* SEARCH ") && reply.contains(&format!("(MODSEQ {highest})")), "{reply}");
    let reply = c.ok(&format!("m3 SEARCH MODSEQ {}", highest + 1)).await;
    assert!(reply.starts_with("* SEARCH\r\nm3 OK"), "{reply}");
    // An entry name and type are accepted (and not told apart).
    let reply = c.ok("m4 SEARCH MODSEQ \"/flags/\\\\draft\" all 1 DRAFT").await;
    assert!(reply.starts_with("* SEARCH 3 (MODSEQ "), "{reply}");
    let reply = c.ok("m5 SEARCH RETURN (MIN COUNT) MODSEQ 1").await;
    assert!(reply.starts_with(&format!("* ESEARCH (TAG \"m5\") MIN 1 COUNT 5 MODSEQ {highest}\r\n")), "{reply}");
    // Without MODSEQ in the criteria, no MODSEQ in the answer.
    check(&mut c, "DRAFT", "* SEARCH 3").await;
    assert!(c.session.enabled.condstore);
}

#[tokio::test]
async fn esearch_result_options() {
    let h = Harness::new().await;
    let mut c = mailbox(&h).await;
    let reply = c.ok("e1 SEARCH RETURN (MIN MAX COUNT ALL) UNDELETED").await;
    assert_eq!(reply, "* ESEARCH (TAG \"e1\") MIN 1 MAX 5 COUNT 4 ALL 1:2,4:5\r\ne1 OK SEARCH completed\r\n");
    let reply = c.ok("e2 UID SEARCH RETURN () SEEN").await;
    assert!(reply.starts_with("* ESEARCH (TAG \"e2\") UID ALL 1,5\r\n"), "{reply}");
    let reply = c.ok("e3 UID SEARCH RETURN (MIN MAX ALL) SUBJECT nothing-like-it").await;
    assert!(reply.starts_with("* ESEARCH (TAG \"e3\") UID\r\ne3 OK"), "{reply}");
    let reply = c.ok("e4 SEARCH RETURN (COUNT) SUBJECT nothing-like-it").await;
    assert!(reply.starts_with("* ESEARCH (TAG \"e4\") COUNT 0\r\n"), "{reply}");
    let reply = c.ok("e5 search return (max) charset utf-8 2:4 not 4").await;
    assert!(reply.starts_with("* ESEARCH (TAG \"e5\") MAX 3\r\n"), "{reply}");
    // Before IMAP4rev2 is enabled a plain SEARCH answers `* SEARCH`;
    // after, ESEARCH ALL (RFC 9051 §7.3.4).
    check(&mut c, "SEEN", "* SEARCH 1 5").await;
    c.ok("en ENABLE IMAP4rev2").await;
    let reply = c.ok("e6 SEARCH SEEN").await;
    assert_eq!(reply, "* ESEARCH (TAG \"e6\") ALL 1,5\r\ne6 OK SEARCH completed\r\n");
    let reply = c.ok("e7 UID SEARCH DRAFT").await;
    assert!(reply.starts_with("* ESEARCH (TAG \"e7\") UID ALL 3\r\n"), "{reply}");
    let reply = c.ok("e8 SEARCH SUBJECT nothing-like-it").await;
    assert!(reply.starts_with("* ESEARCH (TAG \"e8\")\r\n"), "{reply}");
    let reply = c.ok("e9 SEARCH RETURN (COUNT) ALL").await;
    assert!(reply.starts_with("* ESEARCH (TAG \"e9\") COUNT 5\r\n"), "{reply}");
}

#[tokio::test]
async fn saved_result_in_every_command() {
    let h = Harness::new().await;
    let mut c = mailbox(&h).await;
    c.ok("c CREATE Saved").await;
    // SAVE alone writes no ESEARCH (RFC 5182 §2.4).
    let reply = c.ok("s1 SEARCH RETURN (SAVE) FLAGGED").await;
    assert_eq!(reply, "s1 OK SEARCH completed\r\n");
    let reply = c.ok("1 FETCH $ (UID)").await;
    assert_eq!(reply, "* 2 FETCH (UID 2)\r\n1 OK FETCH completed\r\n");
    let reply = c.ok("2 UID FETCH $ (FLAGS)").await;
    assert!(reply.starts_with("* 2 FETCH (UID 2 FLAGS (\\Flagged $Work))\r\n"), "{reply}");
    check(&mut c, "$", "* SEARCH 2").await;
    check(&mut c, "NOT $", "* SEARCH 1 3 4 5").await;
    check(&mut c, "OR $ DRAFT", "* SEARCH 2 3").await;
    check(&mut c, "UID $", "* SEARCH 2").await;
    check(&mut c, "($ FLAGGED)", "* SEARCH 2").await;
    // `$` in a string is a string, and KEYWORD's argument is a keyword.
    check(&mut c, "SUBJECT \"$\"", "* SEARCH").await;
    check(&mut c, "KEYWORD $", "* SEARCH").await;
    check(&mut c, "TEXT {1+}\r\n$", "* SEARCH").await;
    let reply = c.ok("3 STORE $ +FLAGS (\\Answered)").await;
    assert!(reply.starts_with("* 2 FETCH (FLAGS (\\Answered \\Flagged $Work))"), "{reply}");
    let reply = c.ok("4 UID STORE $ -FLAGS.SILENT (\\Answered)").await;
    assert_eq!(reply, "4 OK STORE completed\r\n");
    let reply = c.ok("5 COPY $ Saved").await;
    assert!(reply.contains("[COPYUID ") && reply.contains(" 2 1]"), "{reply}");
    let reply = c.ok("6 UID COPY $ Saved").await;
    assert!(reply.contains(" 2 2]"), "{reply}");
    // SAVE with MIN (or MAX) alone keeps just that message.
    c.ok("s2 SEARCH RETURN (SAVE MIN) SEEN").await;
    let reply = c.ok("7 UID FETCH $ (UID)").await;
    assert_eq!(reply, "* 1 FETCH (UID 1)\r\n7 OK FETCH completed\r\n");
    c.ok("s3 UID SEARCH RETURN (SAVE MAX MIN) SEEN").await;
    let reply = c.ok("8 FETCH $ (UID)").await;
    assert_eq!(reply, "* 1 FETCH (UID 1)\r\n* 5 FETCH (UID 5)\r\n8 OK FETCH completed\r\n");
    // Kept as UIDs: after an expunge, `$` names the same messages by
    // their new numbers.
    let reply = c.ok("s4 SEARCH RETURN (SAVE ALL) 4:5").await;
    assert!(reply.starts_with("* ESEARCH (TAG \"s4\") ALL 4:5\r\n"), "{reply}");
    let reply = c.ok("9 EXPUNGE").await;
    assert!(reply.starts_with("* 3 EXPUNGE\r\n"), "{reply}");
    let reply = c.ok("10 FETCH $ (UID)").await;
    assert_eq!(reply, "* 3 FETCH (UID 4)\r\n* 4 FETCH (UID 5)\r\n10 OK FETCH completed\r\n");
    let reply = c.ok("11 MOVE $ Saved").await;
    assert!(reply.contains("* 4 EXPUNGE\r\n* 3 EXPUNGE\r\n"), "{reply}");
    check(&mut c, "ALL", "* SEARCH 1 2").await;
    // UID EXPUNGE $.
    c.ok("12 STORE 1:2 +FLAGS (\\Deleted)").await;
    c.ok("s5 SEARCH RETURN (SAVE) UID 2").await;
    let reply = c.ok("13 UID EXPUNGE $").await;
    assert_eq!(reply, "* 2 EXPUNGE\r\n13 OK EXPUNGE completed\r\n");
    check(&mut c, "ALL", "* SEARCH 1").await;
    let reply = c.ok("14 UID MOVE $ Saved").await;
    assert_eq!(reply, "14 OK MOVE completed\r\n");
}

#[tokio::test]
async fn empty_saved_result() {
    let h = Harness::new().await;
    let mut c = mailbox(&h).await;
    c.ok("c CREATE Saved").await;
    c.ok("s SEARCH RETURN (SAVE) SUBJECT nothing-like-it").await;
    assert_eq!(c.ok("1 FETCH $ (FLAGS)").await, "1 OK FETCH completed\r\n");
    assert_eq!(c.ok("2 UID FETCH $ (FLAGS)").await, "2 OK FETCH completed\r\n");
    assert_eq!(c.ok("3 STORE $ +FLAGS (\\Seen)").await, "3 OK STORE completed\r\n");
    assert_eq!(c.ok("4 COPY $ Saved").await, "4 OK COPY completed\r\n");
    assert_eq!(c.ok("5 UID MOVE $ Saved").await, "5 OK MOVE completed\r\n");
    assert_eq!(c.ok("6 UID EXPUNGE $").await, "6 OK EXPUNGE completed\r\n");
    check(&mut c, "$", "* SEARCH").await;
    check(&mut c, "OR $ DRAFT", "* SEARCH 3").await;
    check(&mut c, "NOT UID $", "* SEARCH 1 2 3 4 5").await;
    // The rest of the command is still checked.
    c.expect("7 FETCH $ (NOSUCHITEM)", "BAD").await;
    check(&mut c, "UNSEEN", "* SEARCH 2 3 4").await;
    // A SAVE that fails leaves an empty result, not the previous one.
    c.ok("s2 SEARCH RETURN (SAVE) FLAGGED").await;
    c.expect("s3 SEARCH RETURN (SAVE) CHARSET KOI8-R ALL", "NO [BADCHARSET (UTF-8 US-ASCII)]").await;
    assert_eq!(c.ok("8 FETCH $ (FLAGS)").await, "8 OK FETCH completed\r\n");
}

#[tokio::test]
async fn saved_result_belongs_to_one_selection() {
    let h = Harness::new().await;
    let mut c = mailbox(&h).await;
    // A new selection starts with the empty result (RFC 9051 §6.4.4.1):
    // `$` names no message, and the command succeeds with no data.
    let empty = |reply: &str| !reply.contains(" FETCH (") && !reply.contains("* SEARCH 1");
    assert!(empty(&c.ok("1 FETCH $ (UID)").await));
    assert!(empty(&c.ok("2 SEARCH $").await));
    c.ok("s1 SEARCH RETURN (SAVE) 1").await;
    assert!(c.ok("3 FETCH $ (UID)").await.contains("* 1 FETCH (UID 1)"));
    for (reset, check) in
        [("4 SELECT INBOX", "5 FETCH $ (UID)"), ("6 EXAMINE INBOX", "7 FETCH $ (UID)"), ("8 CLOSE", "9 SELECT INBOX")]
    {
        c.ok("s SEARCH RETURN (SAVE) 1").await;
        c.ok(reset).await;
        if check.contains('$') {
            assert!(empty(&c.ok(check).await), "{reset} forgets the saved result");
        } else {
            c.ok(check).await;
            assert!(empty(&c.ok("10 FETCH $ (UID)").await), "{reset} forgets the saved result");
        }
    }
    c.ok("s4 SEARCH RETURN (SAVE) 1").await;
    c.ok("11 UNSELECT").await;
    c.expect("12 FETCH $ (UID)", "NO").await;
    c.ok("13 SELECT INBOX").await;
    c.ok("14 UID COPY $ INBOX").await;
    c.ok("15 NOOP").await;
}

#[tokio::test]
async fn bad_searches_are_answered_and_the_session_goes_on() {
    let h = Harness::new().await;
    let mut c = mailbox(&h).await;
    for (command, status) in [
        ("1 SEARCH NOSUCHKEY", "BAD"),
        ("2 SEARCH BEFORE 32-Jan-2020", "BAD"),
        ("3 SEARCH SINCE yesterday", "BAD"),
        ("4 SEARCH (SEEN", "BAD"),
        ("5 SEARCH SEEN)", "BAD"),
        ("6 SEARCH", "BAD"),
        ("7 SEARCH CHARSET KOI8-R ALL", "NO [BADCHARSET (UTF-8 US-ASCII)]"),
        ("8 SEARCH RETURN (NOSUCHOPTION) ALL", "BAD"),
        ("9 SEARCH RETURN (MIN ALL", "BAD"),
        ("10 SEARCH RETURN MIN ALL", "BAD"),
        ("11 SEARCH RETURN (MIN) NOSUCHKEY", "BAD"),
        ("12 SEARCH RETURN (MIN)", "BAD"),
        ("13 UID SEARCH RETURN (ALL) CHARSET X-UNKNOWN ALL", "NO [BADCHARSET (UTF-8 US-ASCII)]"),
        ("14 SEARCH LARGER x", "BAD"),
        ("15 SEARCH OR SEEN", "BAD"),
    ] {
        c.expect(command, status).await;
        c.ok("n NOOP").await;
    }
    check(&mut c, "SEEN", "* SEARCH 1 5").await;
    // Not before a mailbox is selected.
    let mut c = h.logged_in().await;
    c.expect("1 SEARCH ALL", "NO").await;
    c.expect("2 SEARCH RETURN (ALL) ALL", "NO").await;
    let mut c = h.client().await;
    c.expect("1 SEARCH RETURN (ALL) ALL", "NO").await;
}
