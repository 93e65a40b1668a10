use super::*;
use mail_parser::{MessageParser, MimeHeaders};

fn envelope() -> Envelope {
    Envelope {
        mail_from: "alice@example.com".into(),
        recipients: vec!["bob@remote.example".into(), "carol@remote.example".into()],
        received_at: 1_700_000_000,
        authenticated_as: Some("alice@example.com".into()),
        smtputf8: false,
    }
}

const ORIGINAL: &[u8] = b"From: alice@example.com\r\nSubject: quarterly figures\r\n\r\nsecret body\r\n";

fn report(envelope: &Envelope, action: Action) -> Report<'_> {
    Report {
        reporting_mta: "mx.example.com",
        from: "MAILER-DAEMON@example.com",
        id: QueueId(0xabc),
        envelope,
        action,
        recipients: vec![
            RecipientReport {
                address: "bob@remote.example".into(),
                reason: "mx.remote.example[127.0.0.3] said: 550 5.1.1 no such user (in reply to RCPT TO)".into(),
            },
            RecipientReport { address: "carol@remote.example".into(), reason: "4.4.1 connection refused".into() },
        ],
        retry_until: Some(1_700_432_000),
        original: ORIGINAL,
        now: 1_700_000_100,
    }
}

#[test]
fn a_failure_report_is_a_multipart_report_to_the_sender_from_the_null_path() {
    let original = envelope();
    let (envelope, bytes) = build(&report(&original, Action::Failed));
    assert_eq!(envelope.mail_from, "", "notifications come from <>");
    assert_eq!(envelope.recipients, vec!["alice@example.com".to_owned()]);

    let message = MessageParser::default().parse(&bytes).unwrap();
    assert_eq!(message.subject(), Some("Undelivered Mail Returned to Sender"));
    assert_eq!(message.header_raw("Auto-Submitted").map(str::trim), Some("auto-replied"));
    let content_type = message.content_type().unwrap();
    assert_eq!((content_type.ctype(), content_type.subtype()), ("multipart", Some("report")));
    assert_eq!(content_type.attribute("report-type"), Some("delivery-status"));

    let text = message.body_text(0).unwrap();
    assert!(text.contains("<bob@remote.example>: mx.remote.example[127.0.0.3] said: 550 5.1.1"), "{text}");
    let status = String::from_utf8_lossy(message.parts[2].contents()).into_owned();
    assert_eq!(message.parts[2].content_type().unwrap().subtype(), Some("delivery-status"));
    for field in [
        "Reporting-MTA: dns; mx.example.com",
        "Final-Recipient: rfc822; bob@remote.example",
        "Action: failed",
        "Status: 5.1.1",
        "Remote-MTA: dns; mx.remote.example",
        "Diagnostic-Code: smtp; 550 5.1.1 no such user (in reply to RCPT TO)",
        "Final-Recipient: rfc822; carol@remote.example",
        "Diagnostic-Code: X-Rookery; 4.4.1 connection refused",
    ] {
        assert!(status.contains(field), "{field} in {status}");
    }
    let headers = String::from_utf8_lossy(message.parts[3].contents()).into_owned();
    assert!(headers.contains("Subject: quarterly figures"), "{headers}");
    assert!(!String::from_utf8_lossy(&bytes).contains("secret body"), "the body is not returned");
}

#[test]
fn a_delay_report_says_until_when_it_is_retried() {
    let original = envelope();
    let (_, bytes) = build(&report(&original, Action::Delayed));
    let message = MessageParser::default().parse(&bytes).unwrap();
    assert_eq!(message.subject(), Some("Delayed Mail (still being retried)"));
    let status = String::from_utf8_lossy(message.parts[2].contents()).into_owned();
    assert!(status.contains("Action: delayed"), "{status}");
    assert!(status.contains("Will-Retry-Until: "), "{status}");
    assert!(message.body_text(0).unwrap().contains("keep trying until"));
}

#[test]
fn diagnoses_read_status_codes_from_reasons() {
    let failed = |reason| Diagnosis::of(reason, Action::Failed);
    assert_eq!(failed("5.1.1 unknown user x@y").status, "5.1.1");
    assert_eq!(failed("h[1.2.3.4] said: 552 5.2.2 mailbox full").status, "5.2.2");
    assert_eq!(failed("h[1.2.3.4] said: 554 transaction failed").status, "5.0.0");
    assert_eq!(failed("h[1.2.3.4] said: 554 transaction failed").remote_mta.as_deref(), Some("h"));
    assert_eq!(failed("message damaged in the queue").status, "5.0.0");
    assert_eq!(Diagnosis::of("timeout", Action::Delayed).status, "4.0.0");
    assert_eq!(failed("5.1.1x nonsense").status, "5.0.0");
    assert_eq!(failed("line\r\nbreak").code, "X-Rookery; line  break", "no header injection");
}

#[test]
fn the_original_header_is_cut_at_the_body_and_bounded() {
    assert_eq!(original_header(b"A: b\r\n\r\nbody"), "A: b\r\n");
    assert_eq!(original_header(b"A: b\n\nbody"), "A: b\n");
    assert_eq!(original_header(b"no body"), "no body");
    assert_eq!(original_header(&vec![b'x'; 100 << 10]).len(), 64 << 10);
}
