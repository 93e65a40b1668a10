//! LIST-EXTENDED and LIST-STATUS: the parser, then through the session.

use super::ListExtended;
use crate::tests::{Harness, MESSAGE};
use imap_types::status::StatusDataItemName;

fn check(command: &str, expected: Option<Result<ListExtended, &str>>) {
    assert_eq!(ListExtended::parse(command.as_bytes()), expected, "{command}");
}

fn list(reference: &str, patterns: &[&str]) -> ListExtended {
    ListExtended {
        reference: reference.to_owned(),
        patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
        ..ListExtended::default()
    }
}

#[test]
fn parses_rfc_5258_forms() {
    check("a NOOP\r\n", None);
    check("a LIST \"\" (\"a\" b*)\r\n", Some(Ok(list("", &["a", "b*"]))));
    check("a list () \"\" %\r\n", Some(Ok(list("", &["%"]))));
    check("a LIST \"\" {3}\r\nx/%\r\n", Some(Ok(list("", &["x/%"]))));
    check("a LIST \"\" inbox RETURN ()\r\n", Some(Ok(list("", &["INBOX"]))));
    check(
        "a LIST (SUBSCRIBED RECURSIVEMATCH REMOTE) \"Lists/\" % RETURN (CHILDREN)\r\n",
        Some(Ok(ListExtended {
            select_subscribed: true,
            recursive_match: true,
            return_subscribed: true,
            ..list("Lists/", &["%"])
        })),
    );
    check(
        "a LIST \"\" * RETURN (SUBSCRIBED SPECIAL-USE STATUS (MESSAGES unseen))\r\n",
        Some(Ok(ListExtended {
            return_subscribed: true,
            status: Some(vec![StatusDataItemName::Messages, StatusDataItemName::Unseen]),
            ..list("", &["*"])
        })),
    );
    check("a LIST (RECURSIVEMATCH) \"\" *\r\n", Some(Err("RECURSIVEMATCH needs another selection option")));
    check("a LIST (FROB) \"\" *\r\n", Some(Err("unknown selection option")));
    check("a LIST \"\" * RETURN (FROB)\r\n", Some(Err("unknown return option")));
    check("a LIST \"\" * RETURN (STATUS (FROB))\r\n", Some(Err("unknown status item")));
    check("a LIST \"\" (*\r\n", Some(Err("unbalanced parentheses")));
    check("a LIST \"\" ()\r\n", Some(Err("no pattern")));
    check("a LIST \"\" * EXTRA\r\n", Some(Err("unexpected arguments")));
    check("a LIST\r\n", Some(Err("missing reference")));
    check("a LIST \"unterminated\r\n", None);
    check("a LIST \"\" {99}\r\nshort\r\n", None);
}

#[tokio::test]
async fn selection_and_return_options() {
    let h = Harness::new().await;
    let mut c = h.logged_in().await;
    c.ok("1 CREATE Lists/Rust").await;
    c.ok("2 CREATE Lists/Go").await;
    c.ok("3 SUBSCRIBE Lists/Rust").await;
    c.ok("4 CREATE Gone").await;
    c.ok("5 SUBSCRIBE Gone").await;
    c.ok("6 DELETE Gone").await;
    let reply = c.ok("7 LIST (SUBSCRIBED) \"\" (Lists* Gone)").await;
    assert_eq!(
        reply,
        "* LIST (\\NonExistent \\Subscribed) \"/\" \"Gone\"\r\n\
         * LIST (\\HasNoChildren \\Subscribed) \"/\" \"Lists/Rust\"\r\n\
         7 OK LIST completed\r\n"
    );
    let reply = c.ok("8 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %").await;
    assert!(reply.contains("* LIST (\\HasChildren) \"/\" \"Lists\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"), "{reply}");
    assert!(reply.contains("* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\r\n"), "{reply}");
    assert!(!reply.contains("Lists/Rust"), "{reply}");
    let reply = c.ok("9 LIST \"\" (INBOX Lists/%) RETURN (SUBSCRIBED CHILDREN)").await;
    assert_eq!(
        reply,
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\r\n\
         * LIST (\\HasNoChildren) \"/\" \"Lists/Go\"\r\n\
         * LIST (\\HasNoChildren \\Subscribed) \"/\" \"Lists/Rust\"\r\n\
         9 OK LIST completed\r\n"
    );
    let reply = c.ok("10 LIST (SPECIAL-USE) \"\" *").await;
    assert_eq!(reply.lines().count(), 6, "{reply}");
    assert!(reply.contains("* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"\r\n"), "{reply}");
    c.expect("11 LIST (RECURSIVEMATCH) \"\" *", "BAD").await;
    let reply = c.ok("12 CAPABILITY").await;
    assert!(reply.contains(" LIST-EXTENDED LIST-STATUS "), "{reply}");
}

#[tokio::test]
async fn list_status() {
    let h = Harness::new().await;
    h.deliver(MESSAGE).await;
    let mut c = h.logged_in().await;
    let reply = c.ok("1 LIST \"\" (INBOX Sent) RETURN (STATUS (MESSAGES UNSEEN SIZE))").await;
    assert_eq!(
        reply,
        format!(
            "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n\
             * STATUS \"INBOX\" (MESSAGES 1 UNSEEN 1 SIZE {})\r\n\
             * LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n\
             * STATUS \"Sent\" (MESSAGES 0 UNSEEN 0 SIZE 0)\r\n\
             1 OK LIST completed\r\n",
            MESSAGE.len()
        )
    );
    // Not logged in: NO, as for any LIST.
    let mut c = h.client().await;
    c.expect("2 LIST \"\" * RETURN (CHILDREN)", "NO").await;
}

#[test]
fn arbitrary_input_never_panics() {
    let pieces: [&[u8]; 14] = [
        b"a LIST ",
        b"(",
        b")",
        b"\"",
        b"\\",
        b"{",
        b"}",
        b"{3}\r\n",
        b"{9+}\r\n",
        b" ",
        b"RETURN",
        b"STATUS",
        b"*",
        b"\r\n",
    ];
    // A small linear congruential generator: the same cases every run.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        let mut command = Vec::new();
        for _ in 0..12 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            command.extend_from_slice(pieces[(seed >> 33) as usize % pieces.len()]);
        }
        let _ = ListExtended::parse(&command);
    }
}
