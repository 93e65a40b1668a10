use super::*;
use smtp_proto::{MAIL_BODY_8BITMIME, MAIL_SMTPUTF8, Request};

/// Our lines parse back with smtp-proto's server-side parser.
fn parse(line: &str) -> Request<String> {
    Request::parse(&mut line.as_bytes().iter()).map(|request| request.into_owned()).expect("parses")
}

#[test]
fn mail_from_round_trips() {
    let line = mail_from("a@example.com", MailParameters::default());
    assert_eq!(line, "MAIL FROM:<a@example.com>\r\n");
    let line = mail_from("", MailParameters { size: Some(1234), body_8bitmime: true, smtputf8: true });
    assert_eq!(line, "MAIL FROM:<> SIZE=1234 BODY=8BITMIME SMTPUTF8\r\n");
    let Request::Mail { from } = parse(&line) else { panic!("not MAIL: {line}") };
    assert_eq!(from.address, "");
    assert_eq!(from.size, 1234);
    assert_ne!(from.flags & MAIL_BODY_8BITMIME, 0);
    assert_ne!(from.flags & MAIL_SMTPUTF8, 0);
    let line = mail_from("jos\u{e9}@example.com", MailParameters { smtputf8: true, ..Default::default() });
    let Request::Mail { from } = parse(&line) else { panic!("not MAIL: {line}") };
    assert_eq!(from.address, "jos\u{e9}@example.com");
}

#[test]
fn rcpt_to_round_trips() {
    let line = rcpt_to("b@example.org");
    assert_eq!(line, "RCPT TO:<b@example.org>\r\n");
    let Request::Rcpt { to } = parse(&line) else { panic!("not RCPT: {line}") };
    assert_eq!(to.address, "b@example.org");
}

#[test]
fn unsafe_paths() {
    assert!(is_safe_path("a@example.com"));
    assert!(is_safe_path(""));
    assert!(is_safe_path("\"john doe\"@example.com"));
    assert!(!is_safe_path("a@example.com>\r\nRCPT TO:<evil@example.com"));
    assert!(!is_safe_path("a\n@example.com"));
    assert!(!is_safe_path("a>@example.com"));
    assert!(!is_safe_path("a\0@example.com"));
}
