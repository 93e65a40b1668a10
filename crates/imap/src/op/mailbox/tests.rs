//! SPECIAL-USE, CHILDREN, NAMESPACE, QUOTA, APPENDLIMIT, LITERAL+/-,
//! AUTHENTICATE LOGIN, ENABLE and the wire forms of mailbox names
//! (modified UTF-7, UTF-8), through the session.

use crate::tests::{ALICE, Harness, MESSAGE, PASSWORD};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use net::Step;

#[tokio::test]
async fn new_accounts_get_special_use_mailboxes() {
    let h = Harness::new().await;
    let mut c = h.logged_in().await;
    let reply = c.ok("1 LIST \"\" *").await;
    for (name, attribute) in
        [("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash"), ("Junk", "\\Junk"), ("Archive", "\\Archive")]
    {
        let line = format!("* LIST (\\HasNoChildren {attribute}) \"/\" \"{name}\"\r\n");
        assert!(reply.contains(&line), "{name}: {reply}");
    }
    assert!(reply.contains("* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"), "{reply}");
    // They are subscribed, and have children like any other mailbox.
    let reply = c.ok("2 LSUB \"\" *").await;
    assert!(reply.contains("\"Sent\"") && reply.contains("\"INBOX\""), "{reply}");
    c.ok("3 CREATE Archive/2025").await;
    let reply = c.ok("4 LIST \"\" Archive*").await;
    assert!(reply.contains("* LIST (\\HasChildren \\Archive) \"/\" \"Archive\"\r\n"), "{reply}");
    assert!(reply.contains("* LIST (\\HasNoChildren) \"/\" \"Archive/2025\"\r\n"), "{reply}");
    // A deleted special-use mailbox is not brought back at the next login.
    c.ok("5 DELETE Junk").await;
    let mut c = h.logged_in().await;
    let reply = c.ok("6 LIST \"\" *").await;
    assert!(!reply.contains("Junk"), "{reply}");
    let reply = c.ok("7 CAPABILITY").await;
    assert!(reply.contains(" CHILDREN SPECIAL-USE "), "{reply}");
}

#[tokio::test]
async fn namespace_is_personal_only() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    c.expect("1 NAMESPACE", "NO").await;
    let mut c = h.logged_in().await;
    let reply = c.ok("2 NAMESPACE").await;
    assert_eq!(reply, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n2 OK NAMESPACE completed\r\n");
    assert!(c.ok("3 CAPABILITY").await.contains(" NAMESPACE "));
}

#[tokio::test]
async fn quota_roots_and_over_quota_append() {
    let h = Harness::with_quota(Some(10 * 1024)).await;
    let mut c = h.logged_in().await;
    let reply = c.ok("1 CAPABILITY").await;
    assert!(reply.contains(" QUOTA QUOTA=RES-STORAGE "), "{reply}");
    let reply = c.ok("2 GETQUOTAROOT INBOX").await;
    assert_eq!(reply, "* QUOTAROOT \"INBOX\" \"\"\r\n* QUOTA \"\" (STORAGE 0 10)\r\n2 OK GETQUOTAROOT completed\r\n");
    c.append("INBOX", "", MESSAGE).await;
    let reply = c.ok("3 GETQUOTA \"\"").await;
    assert_eq!(reply, "* QUOTA \"\" (STORAGE 1 10)\r\n3 OK GETQUOTA completed\r\n");
    c.expect("4 GETQUOTA \"#user/bob\"", "NO [NONEXISTENT]").await;
    c.expect("5 SETQUOTA \"\" (STORAGE 99999)", "NO").await;
    // Over the limit: refused, nothing stored.
    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(12 * 1024));
    let (reply, _) = c.send(&format!("6 APPEND INBOX {{{}+}}\r\n{big}\r\n", big.len())).await;
    assert_eq!(reply, "6 NO [OVERQUOTA] quota exceeded\r\n");
    let reply = c.ok("7 STATUS INBOX (MESSAGES)").await;
    assert!(reply.starts_with("* STATUS \"INBOX\" (MESSAGES 1)"), "{reply}");
}

#[tokio::test]
async fn no_quota_root_without_a_limit() {
    let h = Harness::new().await;
    let mut c = h.logged_in().await;
    let reply = c.ok("1 GETQUOTAROOT Sent").await;
    assert_eq!(reply, "* QUOTAROOT \"Sent\"\r\n1 OK GETQUOTAROOT completed\r\n");
    c.expect("2 GETQUOTA \"\"", "NO [NONEXISTENT]").await;
}

#[tokio::test]
async fn appendlimit_and_literal_plus_minus() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    let reply = c.ok("1 CAPABILITY").await;
    assert!(reply.contains(" LITERAL- ") && !reply.contains("LITERAL+"), "{reply}");
    assert!(reply.contains(&format!(" APPENDLIMIT={}\r\n", h.config.max_literal)), "{reply}");
    // Before login a non-synchronising literal may have up to 4096 bytes.
    let password = format!("{{{}+}}\r\n{PASSWORD}", PASSWORD.len());
    let (reply, _) = c.send(&format!("2 LOGIN {ALICE} {password}\r\n")).await;
    assert!(reply.starts_with("2 OK [CAPABILITY ") && reply.contains(" LITERAL+ "), "{reply}");
    // After it, up to the literal limit, with no continuation.
    let body = format!("Subject: x\r\n\r\n{}\r\n", "y".repeat(8000));
    let (reply, _) = c.send(&format!("3 APPEND INBOX {{{}+}}\r\n{body}\r\n", body.len())).await;
    assert!(reply.starts_with("3 OK [APPENDUID "), "{reply}");
    // Before login a larger one is refused; its bytes are on their way,
    // so the connection closes.
    let mut c = h.client().await;
    let (reply, step) = c.send(&format!("4 LOGIN {ALICE} {{4097+}}\r\n")).await;
    assert_eq!(step, Step::Close);
    assert_eq!(reply, "4 BAD [TOOBIG] literal too large\r\n* BYE literal too large\r\n");
    // A synchronising one of that size is still fine before login.
    let mut c = h.client().await;
    let (reply, _) = c.send("5 LOGIN {4097}\r\n").await;
    assert_eq!(reply, "+ Ready for literal data\r\n");
}

#[tokio::test]
async fn authenticate_login() {
    let h = Harness::new().await;
    let user = BASE64.encode(ALICE);
    let password = BASE64.encode(PASSWORD);
    let mut c = h.client().await;
    assert!(c.ok("1 CAPABILITY").await.contains(" AUTH=LOGIN "));
    let (reply, _) = c.send("2 AUTHENTICATE LOGIN\r\n").await;
    assert_eq!(reply, "+ VXNlcm5hbWU6\r\n");
    let (reply, _) = c.send(&format!("{user}\r\n")).await;
    assert_eq!(reply, "+ UGFzc3dvcmQ6\r\n");
    let (reply, _) = c.send(&format!("{password}\r\n")).await;
    assert!(reply.starts_with("2 OK [CAPABILITY "), "{reply}");
    // With SASL-IR the user name comes with the command.
    let mut c = h.client().await;
    let (reply, _) = c.send(&format!("3 AUTHENTICATE LOGIN {user}\r\n")).await;
    assert_eq!(reply, "+ UGFzc3dvcmQ6\r\n");
    let (reply, _) = c.send(&format!("{}\r\n", BASE64.encode("wrong"))).await;
    assert_eq!(reply, "3 NO [AUTHENTICATIONFAILED] invalid credentials\r\n");
    // Cancelled at the password.
    let (reply, _) = c.send(&format!("4 AUTHENTICATE LOGIN {user}\r\n")).await;
    assert_eq!(reply, "+ UGFzc3dvcmQ6\r\n");
    let (reply, _) = c.send("*\r\n").await;
    assert_eq!(reply, "4 BAD authentication cancelled\r\n");
    // PLAIN afterwards is not confused by the LOGIN exchange.
    let token = BASE64.encode(format!("\0{ALICE}\0{PASSWORD}"));
    let (reply, _) = c.send("5 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(reply, "+ \r\n");
    let (reply, _) = c.send(&format!("{token}\r\n")).await;
    assert!(reply.starts_with("5 OK [CAPABILITY "), "{reply}");
}

#[tokio::test]
async fn enable_reports_only_what_it_turned_on() {
    let h = Harness::new().await;
    let mut c = h.logged_in().await;
    let reply = c.ok("1 ENABLE CONDSTORE UTF8=ACCEPT").await;
    assert_eq!(reply, "* ENABLED CONDSTORE\r\n1 OK ENABLE completed\r\n");
}

/// A command whose last argument is sent as a non-synchronising literal,
/// for names with 8-bit bytes.
async fn with_literal(c: &mut crate::tests::Client, command: &str, literal: &[u8]) -> String {
    let mut bytes = format!("{command} {{{}+}}\r\n", literal.len()).into_bytes();
    bytes.extend_from_slice(literal);
    bytes.extend_from_slice(b"\r\n");
    c.send_bytes(&bytes).await.0
}

#[tokio::test]
async fn names_are_modified_utf7_before_imap4rev2() {
    let h = Harness::new().await;
    h.deliver(MESSAGE).await;
    let mut c = h.logged_in().await;
    c.ok("1 CREATE R&AOk-pertoire").await;
    c.ok("2 CREATE \"Tom &- Jerry\"").await;
    c.ok("3 CREATE \"Tom &- Jerry/&2D3eAA-\"").await;
    let reply = c.ok("4 LIST \"\" *").await;
    assert!(reply.contains("* LIST (\\HasNoChildren) \"/\" \"R&AOk-pertoire\"\r\n"), "{reply}");
    assert!(reply.contains("* LIST (\\HasChildren) \"/\" \"Tom &- Jerry\"\r\n"), "{reply}");
    assert!(reply.contains("* LIST (\\HasNoChildren) \"/\" \"Tom &- Jerry/&2D3eAA-\"\r\n"), "{reply}");
    // Wildcards work on the encoded form, inside a shift too.
    for pattern in ["R&AOk*", "*&AOk-*", "R%", "\"R&AOk-pertoir%\""] {
        let reply = c.ok(&format!("5 LIST \"\" {pattern}")).await;
        assert_eq!(reply, "* LIST (\\HasNoChildren) \"/\" \"R&AOk-pertoire\"\r\n5 OK LIST completed\r\n", "{pattern}");
    }
    let reply = c.ok("6 LIST \"Tom &- Jerry/\" %").await;
    assert_eq!(reply, "* LIST (\\HasNoChildren) \"/\" \"Tom &- Jerry/&2D3eAA-\"\r\n6 OK LIST completed\r\n");
    // A UTF-8 pattern from a rev1 client matches the UTF-8 names.
    let reply = with_literal(&mut c, "7 LIST \"\"", "Ré*".as_bytes()).await;
    assert_eq!(reply, "* LIST (\\HasNoChildren) \"/\" \"R&AOk-pertoire\"\r\n7 OK LIST completed\r\n");
    // Every command that takes a name decodes it; every reply that
    // carries one encodes it.
    c.ok("8 SUBSCRIBE R&AOk-pertoire").await;
    let reply = c.ok("9 LSUB \"\" R*").await;
    assert!(reply.contains("* LSUB (\\HasNoChildren) \"/\" \"R&AOk-pertoire\"\r\n"), "{reply}");
    c.append("R&AOk-pertoire", "\\Seen", MESSAGE).await;
    let reply = c.ok("10 STATUS R&AOk-pertoire (MESSAGES UNSEEN)").await;
    assert!(reply.starts_with("* STATUS \"R&AOk-pertoire\" (MESSAGES 1 UNSEEN 0)\r\n"), "{reply}");
    let reply = c.ok("11 LIST \"\" R* RETURN (STATUS (MESSAGES))").await;
    assert!(reply.contains("* STATUS \"R&AOk-pertoire\" (MESSAGES 1)\r\n"), "{reply}");
    let reply = c.ok("12 GETQUOTAROOT R&AOk-pertoire").await;
    assert!(reply.starts_with("* QUOTAROOT \"R&AOk-pertoire\""), "{reply}");
    c.ok("13 SELECT INBOX").await;
    c.ok("14 COPY 1 R&AOk-pertoire").await;
    c.ok("15 EXAMINE R&AOk-pertoire").await;
    c.ok("16 RENAME R&AOk-pertoire &BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-").await;
    let reply = c.ok("17 STATUS &BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1- (MESSAGES)").await;
    assert!(reply.contains("* STATUS \"&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-\" (MESSAGES 2)\r\n"), "{reply}");
    c.ok("18 DELETE &BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-").await;
    // The store holds UTF-8: an IMAP4rev2 session sees it as such.
    let mut rev2 = h.logged_in().await;
    rev2.ok("19 ENABLE IMAP4rev2").await;
    let reply = rev2.ok("20 LIST \"\" Tom*").await;
    assert!(reply.contains("* LIST (\\HasChildren) \"/\" \"Tom & Jerry\"\r\n"), "{reply}");
    assert!(reply.contains("* LIST (\\HasNoChildren) \"/\" {16}\r\nTom & Jerry/😀\r\n"), "{reply}");
}

#[tokio::test]
async fn raw_utf8_names_from_rev1_clients_are_accepted() {
    let h = Harness::new().await;
    let mut c = h.logged_in().await;
    // Taken as UTF-8 as it stands, `&` included, and listed encoded.
    let reply = with_literal(&mut c, "1 CREATE", "Café & Co".as_bytes()).await;
    assert_eq!(reply, "1 OK CREATE completed\r\n");
    let reply = c.ok("2 LIST \"\" Caf*").await;
    assert_eq!(reply, "* LIST (\\HasNoChildren) \"/\" \"Caf&AOk- &- Co\"\r\n2 OK LIST completed\r\n");
    let reply = with_literal(&mut c, "3 SELECT", "Café & Co".as_bytes()).await;
    assert!(reply.ends_with("3 OK [READ-WRITE] SELECT completed\r\n"), "{reply}");
    // Not UTF-8: refused, saying why.
    let reply = with_literal(&mut c, "4 CREATE", b"Caf\xe9").await;
    assert_eq!(reply, "4 NO [CANNOT] invalid mailbox name: mailbox name is not UTF-8\r\n");
}

#[tokio::test]
async fn invalid_modified_utf7_is_refused() {
    let h = Harness::new().await;
    h.deliver(MESSAGE).await;
    let mut c = h.logged_in().await;
    for (name, problem) in [
        ("&AOk", "modified UTF-7 shift not terminated by '-'"),
        ("&AO.k-", "invalid modified base64 in modified UTF-7"),
        ("&AGE-", "printable US-ASCII encoded in modified UTF-7"),
        ("&AOl-", "non-canonical modified UTF-7"),
        ("&AOk-&AOk-", "non-canonical modified UTF-7"),
        ("&2D0-", "unpaired UTF-16 surrogate in modified UTF-7"),
    ] {
        for command in ["CREATE", "SELECT", "STATUS", "DELETE", "SUBSCRIBE", "GETQUOTAROOT"] {
            let line = match command {
                "STATUS" => format!("1 STATUS \"{name}\" (MESSAGES)"),
                _ => format!("1 {command} \"{name}\""),
            };
            let reply = c.cmd(&line).await;
            assert_eq!(reply, format!("1 NO [CANNOT] invalid mailbox name: {problem}\r\n"), "{line}");
        }
        let reply = c.cmd(&format!("2 RENAME INBOX \"{name}\"")).await;
        assert_eq!(reply, format!("2 NO [CANNOT] invalid mailbox name: {problem}\r\n"));
    }
    c.ok("3 SELECT INBOX").await;
    c.expect("4 COPY 1:* &AOk", "NO [CANNOT] invalid mailbox name").await;
    c.expect("5 MOVE 1:* &AOk", "NO [CANNOT] invalid mailbox name").await;
    let (reply, _) = c.send("6 APPEND &AOk {1+}\r\nx\r\n").await;
    assert_eq!(reply, "6 NO [CANNOT] invalid mailbox name: modified UTF-7 shift not terminated by '-'\r\n");
    // None of them was created.
    let reply = c.ok("7 LIST \"\" *").await;
    assert!(!reply.contains('&'), "{reply}");
}

#[tokio::test]
async fn names_are_utf8_with_imap4rev2() {
    let h = Harness::new().await;
    let mut c = h.logged_in().await;
    c.ok("1 ENABLE IMAP4rev2").await;
    // `&` is just a character: no shift, nothing refused.
    c.ok("2 CREATE \"&AOk-\"").await;
    let reply = with_literal(&mut c, "3 CREATE", "Répertoire".as_bytes()).await;
    assert_eq!(reply, "3 OK CREATE completed\r\n");
    let reply = with_literal(&mut c, "4 LIST \"\"", "R*".as_bytes()).await;
    assert_eq!(reply, "* LIST (\\HasNoChildren) \"/\" {11}\r\nRépertoire\r\n4 OK LIST completed\r\n");
    let (reply, _) = c.send("5 STATUS {11+}\r\nRépertoire (MESSAGES)\r\n").await;
    assert_eq!(reply, "* STATUS {11}\r\nRépertoire (MESSAGES 0)\r\n5 OK STATUS completed\r\n");
    let reply = c.ok("6 LIST \"\" &*").await;
    assert_eq!(reply, "* LIST (\\HasNoChildren) \"/\" \"&AOk-\"\r\n6 OK LIST completed\r\n");
    let reply = with_literal(&mut c, "7 CREATE", b"Caf\xe9").await;
    assert_eq!(reply, "7 NO [CANNOT] invalid mailbox name: mailbox name is not UTF-8\r\n");
    // A rev1 session sees the same mailboxes in modified UTF-7.
    let mut rev1 = h.logged_in().await;
    let reply = rev1.ok("8 LIST \"\" *").await;
    assert!(reply.contains("\"/\" \"&-AOk-\"\r\n"), "{reply}");
    assert!(reply.contains("\"/\" \"R&AOk-pertoire\"\r\n"), "{reply}");
    // UTF-8 in a quoted string (RFC 9051 §4.3), which imap-codec alone
    // would refuse, from either kind of client.
    c.ok("9 CREATE \"Entw\u{fc}rfe \\\"alt\\\"\"").await;
    rev1.ok("10 SELECT \"Entw\u{fc}rfe \\\"alt\\\"\"").await;
    let reply = rev1.ok("11 LIST \"\" Entw*").await;
    assert!(reply.contains("\"/\" \"Entw&APw-rfe \\\"alt\\\"\"\r\n"), "{reply}");
}
