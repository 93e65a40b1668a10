use super::*;

fn ehlo(lines: &[&str]) -> Extensions {
    Extensions::from_ehlo(&Reply {
        code: 250,
        enhanced: None,
        lines: lines.iter().map(|line| line.to_string()).collect(),
    })
}

#[test]
fn keywords() {
    let all = ehlo(&[
        "mx.example.com greets you",
        "PIPELINING",
        "SIZE 35882577",
        "8BITMIME",
        "SMTPUTF8",
        "STARTTLS",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "AUTH PLAIN LOGIN CRAM-MD5",
    ]);
    assert_eq!(
        all,
        Extensions {
            esmtp: true,
            pipelining: true,
            size: Some(35_882_577),
            eight_bit_mime: true,
            smtputf8: true,
            starttls: true,
            enhanced_status_codes: true,
            auth_plain: true,
            auth_login: true,
        }
    );
    let login_only = ehlo(&["mx", "AUTH LOGIN"]);
    assert!(login_only.auth_login && !login_only.auth_plain);
    assert!(!ehlo(&["mx", "AUTH CRAM-MD5"]).auth_plain);
    assert_eq!(ehlo(&["mx.example.com"]), Extensions { esmtp: true, ..Extensions::default() });
    assert_eq!(ehlo(&["mx", "SIZE"]).size, Some(0));
    assert!(ehlo(&["mx", "pipelining"]).pipelining);
    assert!(ehlo(&["mx", "X-UNKNOWN foo bar", "STARTTLS"]).starttls);
}

#[test]
fn odd_replies_give_no_extensions_and_no_panic() {
    for lines in [&["mx", ""][..], &["mx", "SIZE huge"], &["mx", "AUTH"], &["mx", "\u{e9}\u{e9}"], &[]] {
        let extensions = ehlo(lines);
        assert!(extensions.esmtp);
    }
}

proptest::proptest! {
    /// Whatever keywords a server announces, reading them does not panic.
    #[test]
    fn arbitrary_keywords_never_panic(lines in proptest::collection::vec(".{0,40}", 0..12)) {
        let reply = Reply { code: 250, enhanced: None, lines };
        let _ = Extensions::from_ehlo(&reply);
    }

    #[test]
    fn keyword_like_lines_never_panic(lines in proptest::collection::vec("(SIZE|AUTH|STARTTLS|PIPELINING|DELIVERBY|FUTURERELEASE|MT-PRIORITY|NO-SOLICITING|ENHANCEDSTATUSCO)[ =]?[ -~]{0,12}", 0..12)) {
        let mut all = vec!["mx.example.com".to_string()];
        all.extend(lines);
        let _ = Extensions::from_ehlo(&Reply { code: 250, enhanced: None, lines: all });
    }
}
