use super::*;
use types::{ModSeq, Uid};

fn meta(uid: u32, date: i64, size: u64, flags: Vec<Flag>) -> MessageMeta {
    MessageMeta { uid: Uid(uid), flags, internal_date: date, size, modseq: ModSeq(1) }
}

fn summarize(meta: &MessageMeta, header: &[u8]) -> Summary {
    Summary::from_meta(meta).with_header(header)
}

fn row(uid: u32, from: &str, subject: &str, date: i64, size: u64) -> Summary {
    let header = format!("From: {from}\r\nTo: Bob <bob@example.com>\r\nSubject: {subject}\r\n\r\n");
    summarize(&meta(uid, date, size, vec![]), header.as_bytes())
}

#[test]
fn summarize_reads_subject_from_and_flags() {
    let header = b"From: \"Ann Example\" <ann@example.com>\r\nCc: carl@example.org\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\n";
    let row = summarize(&meta(7, 100, 42, vec![Flag::Seen]), header);
    assert_eq!((row.uid, row.subject.as_str(), row.from.as_str()), (7, "Grüße", "Ann Example"));
    assert!(row.seen && !row.flagged);
    assert!(row.addresses.contains("ann@example.com") && row.addresses.contains("carl@example.org"));
    let empty = summarize(&meta(8, 0, 0, vec![]), b"garbage without colon");
    assert_eq!((empty.subject.as_str(), empty.from.as_str()), ("", ""));
}

#[test]
fn sorts_by_each_key_both_ways() {
    let mut rows = vec![
        row(1, "carol@x.org", "beta", 300, 10),
        row(2, "alice@x.org", "Gamma", 100, 30),
        row(3, "Bob <bob@x.org>", "alpha", 200, 20),
    ];
    let uids = |rows: &[Summary]| rows.iter().map(|r| r.uid).collect::<Vec<_>>();
    sort(&mut rows, SortKey::Date, true);
    assert_eq!(uids(&rows), [1, 3, 2]);
    sort(&mut rows, SortKey::From, false);
    assert_eq!(uids(&rows), [2, 3, 1]);
    sort(&mut rows, SortKey::Subject, false);
    assert_eq!(uids(&rows), [3, 1, 2]);
    sort(&mut rows, SortKey::Size, true);
    assert_eq!(uids(&rows), [2, 3, 1]);
    assert_eq!(SortKey::parse(Some("nonsense")), SortKey::Date);
}

#[test]
fn search_matches_subject_addresses_and_body() {
    let r = row(1, "Ann <ann@example.com>", "Quarterly report", 0, 0);
    assert!(header_matches(&r, "quarterly"));
    assert!(header_matches(&r, "bob@example.com"));
    assert!(!header_matches(&r, "zebra"));
    let message = b"Subject: x\r\nContent-Type: text/html\r\n\r\n<p>The <b>zebra</b> code</p>\r\n";
    assert!(body_matches(message, "zebra code"));
    assert!(!body_matches(message, "giraffe"));
}

#[test]
fn pages_are_clamped() {
    assert_eq!(page_bounds(0, 1), (0, 0, 1));
    assert_eq!(page_bounds(120, 2), (50, 100, 3));
    assert_eq!(page_bounds(120, 9), (100, 120, 3));
    assert_eq!(page_bounds(120, 0), (0, 50, 3));
    assert_eq!(human_size(999), "999 B");
    assert_eq!(human_size(1_500), "2 kB");
    assert_eq!(display_date(0), "1970-01-01 00:00");
}
