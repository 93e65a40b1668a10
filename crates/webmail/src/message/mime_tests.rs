use super::*;
use mail_parser::MessageParser;

/// mixed( alternative(text, related(html, image)), pdf, message/rfc822 )
const NESTED: &str = "From: Ann <ann@example.org>\r\n\
To: bob@example.org, Carol <carol@example.org>\r\n\
Subject: nested\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=outer\r\n\
\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=alt\r\n\
\r\n\
--alt\r\n\
Content-Type: text/plain\r\n\
\r\n\
plain body\r\n\
--alt\r\n\
Content-Type: multipart/related; boundary=rel\r\n\
\r\n\
--rel\r\n\
Content-Type: text/html\r\n\
\r\n\
<p>html body <img src=\"cid:logo@x\"></p>\r\n\
--rel\r\n\
Content-Type: image/png\r\n\
Content-ID: <logo@x>\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--rel--\r\n\
--alt--\r\n\
--outer\r\n\
Content-Type: application/pdf; name=\"report.pdf\"\r\n\
Content-Disposition: attachment; filename=\"report.pdf\"\r\n\
\r\n\
%PDF-1.4\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner\r\n\
Content-Type: multipart/mixed; boundary=inner\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain\r\n\
\r\n\
inner text\r\n\
--inner\r\n\
Content-Type: text/plain; name=notes.txt\r\n\
\r\n\
inner notes\r\n\
--inner--\r\n\
--outer--\r\n";

fn parse(raw: &str) -> Message<'_> {
    MessageParser::default().parse(raw.as_bytes()).expect("test message parses")
}

#[test]
fn part_paths_are_digits_and_dots_only() {
    assert_eq!(PartPath::parse("1.2"), Some(PartPath(vec![1, 2])));
    for bad in ["", ".", "1.", ".1", "0", "1..2", "../1", "1/2", "%2e", "1.a", "-1", "99999999999"] {
        assert_eq!(PartPath::parse(bad), None, "{bad:?}");
    }
    let deep = vec!["1"; MAX_DEPTH + 1].join(".");
    assert_eq!(PartPath::parse(&deep), None);
}

#[test]
fn finds_parts_by_imap_path() {
    let message = parse(NESTED);
    let at = |path: &str| find_part(&message, &PartPath::parse(path).expect("valid path")).map(content_type);
    assert_eq!(at("1").as_deref(), Some("multipart/alternative"));
    assert_eq!(at("1.1").as_deref(), Some("text/plain"));
    assert_eq!(at("1.2.1").as_deref(), Some("text/html"));
    assert_eq!(at("1.2.2").as_deref(), Some("image/png"));
    assert_eq!(at("2").as_deref(), Some("application/pdf"));
    assert_eq!(at("3").as_deref(), Some("message/rfc822"));
    // Inside the nested message the numbering starts again.
    assert_eq!(at("3.2").map(|_| ()), Some(()));
    assert_eq!(at("4"), None);
    assert_eq!(at("2.1"), None);
    assert_eq!(at("1.2.3"), None);
}

#[test]
fn single_part_message_body_is_part_one() {
    let message = parse("Subject: x\r\n\r\nhello\r\n");
    assert!(find_part(&message, &PartPath(vec![1])).is_some());
    assert!(find_part(&message, &PartPath(vec![2])).is_none());
    assert_eq!(body(&message), Body::Plain("hello\r\n".to_owned()));
    assert!(attachments(&message).is_empty());
}

#[test]
fn lists_attachments_with_paths_names_types_sizes() {
    let message = parse(NESTED);
    let listed = attachments(&message);
    let summary: Vec<_> = listed.iter().map(|a| (a.path.as_str(), a.name.as_str(), a.content_type.as_str())).collect();
    assert!(summary.contains(&("2", "report.pdf", "application/pdf")), "{summary:?}");
    assert!(summary.contains(&("3", "message-3.eml", "message/rfc822")), "{summary:?}");
    let pdf = listed.iter().find(|a| a.path == "2").expect("pdf listed");
    assert_eq!(pdf.size, "%PDF-1.4".len());
}

#[test]
fn prefers_html_and_maps_content_ids() {
    let message = parse(NESTED);
    match body(&message) {
        Body::Html(html) => assert!(html.contains("cid:logo@x"), "{html}"),
        other => panic!("expected html, got {other:?}"),
    }
    assert_eq!(content_ids(&message).get("logo@x").map(String::as_str), Some("1.2.2"));
}

#[test]
fn formats_address_lists() {
    let message = parse(NESTED);
    assert_eq!(format_addresses(message.from()), "Ann <ann@example.org>");
    assert_eq!(format_addresses(message.to()), "bob@example.org, Carol <carol@example.org>");
    assert_eq!(format_addresses(message.cc()), "");
}

#[test]
fn any_path_is_answered_without_panicking() {
    let message = parse(NESTED);
    let mut found = 0;
    for a in 1..6 {
        for b in 0..6 {
            for c in 0..4 {
                let path = match (b, c) {
                    (0, _) => format!("{a}"),
                    (_, 0) => format!("{a}.{b}"),
                    _ => format!("{a}.{b}.{c}"),
                };
                let parsed = PartPath::parse(&path).expect("well-formed");
                found += usize::from(find_part(&message, &parsed).is_some());
            }
        }
    }
    // 1, 1.1, 1.2, 1.2.1, 1.2.2, 2, 3, 3.1, 3.2 (each counted once per loop shape).
    assert!(found >= 9, "{found}");
}
