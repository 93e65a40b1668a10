//! SPECIAL-USE, CHILDREN, NAMESPACE, QUOTA, APPENDLIMIT, LITERAL+/-,
//! AUTHENTICATE LOGIN and ENABLE, through the session.

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
async fn enable_enables_nothing_yet() {
    let h = Harness::new().await;
    let mut c = h.logged_in().await;
    let reply = c.ok("1 ENABLE CONDSTORE UTF8=ACCEPT").await;
    assert_eq!(reply, "* ENABLED\r\n1 OK ENABLE completed\r\n");
}
