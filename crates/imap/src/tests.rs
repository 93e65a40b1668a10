//! The session's state machine driven through `net::Session`, with a real
//! store and embedded directory in a temporary directory.

mod condstore;

use super::*;
use crate::op::matches;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use cluster::SingleServer;
use directory::{Directory, EmbeddedDirectory};
use net::{ConnInfo, Session, Step};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use store::{Delivery, DeliveryId, Durability, Store, StoreConfig};
use types::{AccountName, DomainName};

pub(crate) const ALICE: &str = "alice@example.com";
pub(crate) const PASSWORD: &str = "correct horse";
pub(crate) const MESSAGE: &str = "From: Bob <bob@example.com>\r\nSubject: Hello there\r\nTo: alice@example.com\r\n\r\nHello Alice,\r\nhow are you?\r\n";

pub(crate) struct Harness {
    _dir: tempfile::TempDir,
    pub(crate) store: Arc<Store>,
    services: Arc<ImapServices>,
    pub(crate) config: ImapConfig,
    next_delivery: AtomicU64,
}

impl Harness {
    pub(crate) async fn new() -> Self {
        Self::with_quota(None).await
    }

    /// Alice's quota in bytes, as the directory gives it.
    pub(crate) async fn with_quota(quota_bytes: Option<u64>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store"), StoreConfig { durability: Durability::Buffered }).unwrap();
        let store = Arc::new(store.with_initial_mailboxes(&crate::SPECIAL_USE_MAILBOXES));
        let directory = EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap();
        let domain = DomainName::parse("example.com").unwrap();
        directory.add_domain(&domain).await.unwrap();
        directory.add_account(&account(ALICE), PASSWORD, quota_bytes).await.unwrap();
        let directory: Arc<dyn Directory> = Arc::new(directory);
        let services = Arc::new(ImapServices { directory, store: store.clone(), locator: Arc::new(SingleServer) });
        let config = ImapConfig { main_domain: domain, auth_failure_delay: Duration::ZERO, ..ImapConfig::default() };
        Self { _dir: dir, store, services, config, next_delivery: AtomicU64::new(1) }
    }

    pub(crate) async fn deliver(&self, body: &str) {
        let id = DeliveryId(self.next_delivery.fetch_add(1, Ordering::Relaxed).into());
        let delivery = Delivery {
            id,
            mailbox: "INBOX".into(),
            body: Bytes::copy_from_slice(body.as_bytes()),
            flags: Vec::new(),
            internal_date: 1_700_000_000,
            quota_bytes: None,
        };
        self.store.account(&account(ALICE)).await.unwrap().deliver(delivery).await.unwrap();
    }

    pub(crate) async fn client_with(&self, conn: ConnInfo, config: ImapConfig) -> Client {
        let mut session = ImapSession::new(Arc::new(config), self.services.clone(), conn);
        let mut out = Vec::new();
        assert_eq!(session.greeting(&mut out).await, Step::Continue);
        assert!(String::from_utf8(out).unwrap().starts_with("* OK [CAPABILITY IMAP4rev1"));
        Client { session, input: BytesMut::new() }
    }

    pub(crate) async fn client(&self) -> Client {
        self.client_with(conn("127.0.0.1:40000", false), self.config.clone()).await
    }

    pub(crate) async fn logged_in(&self) -> Client {
        let mut client = self.client().await;
        client.ok(&format!("a LOGIN {ALICE} \"{PASSWORD}\"")).await;
        client
    }

    pub(crate) async fn selected(&self) -> Client {
        let mut client = self.logged_in().await;
        client.ok("s SELECT INBOX").await;
        client
    }
}

fn account(name: &str) -> AccountName {
    AccountName::parse(name, None).unwrap()
}

pub(crate) fn conn(peer: &str, tls_available: bool) -> ConnInfo {
    ConnInfo {
        peer: peer.parse().unwrap(),
        local: "127.0.0.1:2143".parse().unwrap(),
        tls: false,
        tls_available,
        proxied_by: None,
    }
}

pub(crate) struct Client {
    pub(crate) session: ImapSession,
    pub(crate) input: BytesMut,
}

impl Client {
    pub(crate) async fn send_bytes(&mut self, bytes: &[u8]) -> (String, Step) {
        self.input.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut step = self.session.input(&mut self.input, &mut out).await;
        while step == Step::Flush {
            step = self.session.input(&mut self.input, &mut out).await;
        }
        (String::from_utf8_lossy(&out).into_owned(), step)
    }

    pub(crate) async fn send(&mut self, text: &str) -> (String, Step) {
        self.send_bytes(text.as_bytes()).await
    }

    pub(crate) async fn cmd(&mut self, line: &str) -> String {
        let (reply, step) = self.send(&format!("{line}\r\n")).await;
        assert_eq!(step, Step::Continue, "{line} -> {reply}");
        reply
    }

    /// A command whose tagged reply has the given status.
    pub(crate) async fn expect(&mut self, line: &str, status: &str) -> String {
        let reply = self.cmd(line).await;
        let tag = line.split(' ').next().unwrap();
        let last = reply.lines().last().unwrap_or_default();
        assert!(last.starts_with(&format!("{tag} {status}")), "{line} -> {reply}");
        reply
    }

    pub(crate) async fn ok(&mut self, line: &str) -> String {
        self.expect(line, "OK").await
    }

    pub(crate) async fn append(&mut self, mailbox: &str, flags: &str, body: &str) -> String {
        let (reply, _) = self.send(&format!("p APPEND {mailbox} ({flags}) {{{}}}\r\n", body.len())).await;
        assert_eq!(reply, "+ Ready for literal data\r\n");
        let (reply, step) = self.send(&format!("{body}\r\n")).await;
        assert_eq!(step, Step::Continue);
        assert!(reply.contains("p OK [APPENDUID "), "{reply}");
        reply
    }
}

#[tokio::test]
async fn capability_and_login() {
    let h = Harness::new().await;
    let mut c = h.client().await;
    let reply = c.ok("1 CAPABILITY").await;
    assert!(
        reply.starts_with(
            "* CAPABILITY IMAP4rev1 IMAP4rev2 ESEARCH SEARCHRES AUTH=PLAIN AUTH=LOGIN SASL-IR ID ENABLE IDLE UIDPLUS \
             MOVE UNSELECT BINARY CONDSTORE QRESYNC"
        ),
        "{reply}"
    );
    c.expect("2 SELECT INBOX", "NO").await;
    c.expect(&format!("3 LOGIN {ALICE} wrong"), "NO [AUTHENTICATIONFAILED]").await;
    let reply = c.ok(&format!("4 LOGIN alice \"{PASSWORD}\"")).await;
    assert!(reply.contains("[CAPABILITY IMAP4rev1"), "{reply}");
    c.expect("5 LOGIN alice x", "BAD").await;
    c.ok("6 NOOP").await;
    let (reply, step) = c.send("7 LOGOUT\r\n").await;
    assert_eq!(step, Step::Close);
    assert_eq!(reply, "* BYE logging out\r\n7 OK LOGOUT completed\r\n");
}

#[tokio::test]
async fn authenticate_plain_with_and_without_initial_response() {
    let h = Harness::new().await;
    let token = BASE64.encode(format!("\0{ALICE}\0{PASSWORD}"));
    let mut c = h.client().await;
    c.ok(&format!("1 AUTHENTICATE PLAIN {token}")).await;
    let mut c = h.client().await;
    let (reply, _) = c.send("1 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(reply, "+ \r\n");
    let (reply, _) = c.send(&format!("{token}\r\n")).await;
    assert!(reply.starts_with("1 OK [CAPABILITY"), "{reply}");
    let mut c = h.client().await;
    c.send("1 AUTHENTICATE PLAIN\r\n").await;
    let (reply, _) = c.send("*\r\n").await;
    assert_eq!(reply, "1 BAD authentication cancelled\r\n");
}

#[tokio::test]
async fn plaintext_login_refused_without_tls_from_remote() {
    let h = Harness::new().await;
    let mut c = h.client_with(conn("192.0.2.7:4000", true), h.config.clone()).await;
    let reply = c.ok("1 CAPABILITY").await;
    assert!(reply.contains("STARTTLS") && reply.contains("LOGINDISABLED"), "{reply}");
    c.expect(&format!("2 LOGIN {ALICE} \"{PASSWORD}\""), "NO [PRIVACYREQUIRED]").await;
    let (reply, step) = c.send("3 STARTTLS\r\n").await;
    assert_eq!((reply.as_str(), step), ("3 OK begin TLS negotiation now\r\n", Step::StartTls));
}

#[tokio::test]
async fn mailboxes_create_list_rename_delete_status() {
    let h = Harness::new().await;
    let mut c = h.logged_in().await;
    c.ok("1 CREATE Work/Projects").await;
    c.expect("2 CREATE Work", "NO [ALREADYEXISTS]").await;
    let reply = c.ok("3 LIST \"\" *").await;
    assert!(reply.contains("* LIST (\\HasChildren) \"/\" \"Work\"\r\n"), "{reply}");
    assert!(reply.contains("* LIST (\\HasNoChildren) \"/\" \"Work/Projects\"\r\n"), "{reply}");
    assert!(reply.contains("\"INBOX\""), "{reply}");
    let reply = c.ok("4 LIST \"\" %").await;
    assert!(!reply.contains("Work/Projects"), "{reply}");
    let reply = c.ok("5 LIST \"\" \"\"").await;
    assert!(reply.contains("* LIST (\\Noselect) \"/\" \"\""), "{reply}");
    c.ok("6 RENAME Work Play").await;
    let reply = c.ok("7 LIST \"\" Play/*").await;
    assert!(reply.contains("\"Play/Projects\""), "{reply}");
    c.ok("8 SUBSCRIBE Play").await;
    let reply = c.ok("9 LSUB \"\" *").await;
    assert!(reply.contains("* LSUB (\\HasChildren) \"/\" \"Play\"\r\n"), "{reply}");
    assert!(!reply.contains("Projects"), "{reply}");
    c.ok("10 DELETE Play/Projects").await;
    c.expect("11 DELETE Nothing", "NO [NONEXISTENT]").await;
    c.append("INBOX", "\\Seen", MESSAGE).await;
    let reply = c.ok("12 STATUS INBOX (MESSAGES UIDNEXT UNSEEN SIZE)").await;
    assert!(
        reply.starts_with(&format!("* STATUS \"INBOX\" (MESSAGES 1 UIDNEXT 2 UNSEEN 0 SIZE {})", MESSAGE.len())),
        "{reply}"
    );
}

#[tokio::test]
async fn select_fetch_store_and_seen() {
    let h = Harness::new().await;
    h.deliver(MESSAGE).await;
    h.deliver("Subject: second\r\n\r\nbody two\r\n").await;
    let mut c = h.logged_in().await;
    let reply = c.ok("1 SELECT INBOX").await;
    assert!(reply.contains("* 2 EXISTS\r\n") && reply.contains("* OK [UNSEEN 1]"), "{reply}");
    assert!(reply.ends_with("1 OK [READ-WRITE] SELECT completed\r\n"), "{reply}");
    let reply = c.ok("2 FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)").await;
    assert!(
        reply.starts_with(&format!(
            "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE {} INTERNALDATE \"14-Nov-2023 22:13:20 +0000\")",
            MESSAGE.len()
        )),
        "{reply}"
    );
    let reply = c.ok("3 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]").await;
    assert!(
        reply.starts_with("* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {24}\r\nSubject: Hello there\r\n\r\n)"),
        "{reply}"
    );
    let reply = c.ok("4 FETCH 1 (FLAGS BODY.PEEK[]<0.4>)").await;
    assert!(reply.starts_with("* 1 FETCH (FLAGS () BODY[]<0> {4}\r\nFrom)"), "{reply}");
    let reply = c.ok("5 FETCH 1 BODY[TEXT]<1000.10>").await;
    assert!(reply.contains("BODY[TEXT]<1000> {0}\r\n"), "{reply}");
    assert!(reply.contains("FLAGS (\\Seen)"), "{reply}");
    let reply = c.ok("6 UID FETCH 2 (BODY[])").await;
    assert!(
        reply.starts_with("* 2 FETCH (UID 2 BODY[] {29}\r\nSubject: second\r\n\r\nbody two\r\n FLAGS (\\Seen))"),
        "{reply}"
    );
    let reply = c.ok("7 STORE 1 +FLAGS (\\Flagged $Label)").await;
    assert!(reply.starts_with("* 1 FETCH (FLAGS (\\Seen \\Flagged $Label))"), "{reply}");
    let reply = c.ok("8 UID STORE 1:2 -FLAGS.SILENT (\\Seen)").await;
    assert_eq!(reply, "8 OK STORE completed\r\n");
    let reply = c.ok("9 FETCH 1:2 FLAGS").await;
    assert!(reply.starts_with("* 1 FETCH (FLAGS (\\Flagged $Label))\r\n* 2 FETCH (FLAGS ())"), "{reply}");
    c.expect("10 FETCH 3 FLAGS", "BAD").await;
    assert!(c.ok("11 FETCH 1 ENVELOPE").await.contains("\"Hello there\""));
    let reply = c.ok("12 UID FETCH 5:* FLAGS").await;
    assert!(reply.starts_with("* 2 FETCH (UID 2 FLAGS ())"), "n:* includes the last uid: {reply}");
}

#[tokio::test]
async fn examine_is_read_only() {
    let h = Harness::new().await;
    h.deliver(MESSAGE).await;
    let mut c = h.logged_in().await;
    let reply = c.ok("1 EXAMINE INBOX").await;
    assert!(reply.ends_with("1 OK [READ-ONLY] EXAMINE completed\r\n"), "{reply}");
    c.ok("2 FETCH 1 BODY[]").await;
    c.expect("3 STORE 1 +FLAGS (\\Deleted)", "NO").await;
    c.expect("4 EXPUNGE", "NO").await;
    let reply = c.ok("5 FETCH 1 FLAGS").await;
    assert!(reply.starts_with("* 1 FETCH (FLAGS ())"), "{reply}");
}

#[tokio::test]
async fn expunge_copy_move_with_uidplus() {
    let h = Harness::new().await;
    for _ in 0..4 {
        h.deliver(MESSAGE).await;
    }
    let mut c = h.selected().await;
    c.ok("1 CREATE Saved").await;
    let reply = c.ok("2 COPY 1:2 Saved").await;
    assert!(reply.contains("2 OK [COPYUID "), "{reply}");
    assert!(reply.contains(" 1:2 1:2] COPY completed"), "{reply}");
    c.expect("3 COPY 1 Nowhere", "NO [TRYCREATE]").await;
    let reply = c.ok("4 UID MOVE 3 Saved").await;
    assert!(reply.contains("* OK [COPYUID ") && reply.contains(" 3 3] moved\r\n* 3 EXPUNGE\r\n"), "{reply}");
    // Now uids 1, 2, 4 at sequence numbers 1, 2, 3.
    c.ok("5 STORE 1,3 +FLAGS.SILENT (\\Deleted)").await;
    let reply = c.ok("6 UID EXPUNGE 4").await;
    assert_eq!(reply, "* 3 EXPUNGE\r\n6 OK EXPUNGE completed\r\n");
    let reply = c.ok("7 EXPUNGE").await;
    assert_eq!(reply, "* 1 EXPUNGE\r\n7 OK EXPUNGE completed\r\n");
    let reply = c.ok("8 FETCH 1 UID").await;
    assert!(reply.starts_with("* 1 FETCH (UID 2)"), "{reply}");
    let reply = c.ok("9 STATUS Saved (MESSAGES)").await;
    assert!(reply.starts_with("* STATUS \"Saved\" (MESSAGES 3)"), "{reply}");
    c.ok("10 STORE 1 +FLAGS (\\Deleted)").await;
    c.ok("11 CLOSE").await;
    c.expect("12 FETCH 1 UID", "NO").await;
    let reply = c.ok("13 STATUS INBOX (MESSAGES)").await;
    assert!(reply.starts_with("* STATUS \"INBOX\" (MESSAGES 0)"), "{reply}");
}

#[tokio::test]
async fn search_basic_keys() {
    let h = Harness::new().await;
    h.deliver(MESSAGE).await;
    h.deliver("From: carol@example.net\r\nSubject: Lunch\r\n\r\nnoon?\r\n").await;
    h.deliver(MESSAGE).await;
    let mut c = h.selected().await;
    c.ok("1 STORE 2 +FLAGS (\\Seen \\Flagged)").await;
    assert!(c.ok("2 SEARCH ALL").await.starts_with("* SEARCH 1 2 3\r\n"));
    assert!(c.ok("3 SEARCH UNSEEN").await.starts_with("* SEARCH 1 3\r\n"));
    assert!(c.ok("4 UID SEARCH FLAGGED").await.starts_with("* SEARCH 2\r\n"));
    assert!(c.ok("5 SEARCH SUBJECT lunch").await.starts_with("* SEARCH 2\r\n"));
    assert!(c.ok("6 SEARCH FROM bob NOT 1").await.starts_with("* SEARCH 3\r\n"));
    assert!(c.ok("7 SEARCH OR SEEN UID 3").await.starts_with("* SEARCH 2 3\r\n"));
    assert!(c.ok("8 SEARCH SINCE 1-Jan-2024").await.starts_with("* SEARCH\r\n"));
    assert!(c.ok("9 SEARCH BEFORE 1-Jan-2024 LARGER 60").await.starts_with("* SEARCH 1 3\r\n"));
    assert!(c.ok("10 SEARCH BODY noon").await.starts_with("* SEARCH 2\r\n"));
    c.expect("11 SEARCH CHARSET KOI8-R ALL", "NO [BADCHARSET").await;
}

#[tokio::test]
async fn other_sessions_changes_are_reported() {
    let h = Harness::new().await;
    h.deliver(MESSAGE).await;
    h.deliver(MESSAGE).await;
    let mut a = h.selected().await;
    let mut b = h.selected().await;
    b.ok("1 STORE 1 +FLAGS (\\Deleted)").await;
    b.ok("2 EXPUNGE").await;
    h.deliver(MESSAGE).await;
    b.ok("3 STORE 1 +FLAGS (\\Answered)").await;
    // FETCH by number must not carry EXPUNGE.
    let reply = a.ok("4 FETCH 2 UID").await;
    assert_eq!(
        reply,
        "* 2 FETCH (UID 2)\r\n* 2 FETCH (UID 2 FLAGS (\\Answered))\r\n* 3 EXISTS\r\n4 OK FETCH completed\r\n"
    );
    let reply = a.ok("5 NOOP").await;
    assert_eq!(reply, "* 1 EXPUNGE\r\n5 OK NOOP completed\r\n");
    let reply = a.ok("6 FETCH 2 UID").await;
    assert!(reply.starts_with("* 2 FETCH (UID 3)"), "{reply}");
}

#[tokio::test]
async fn idle_is_woken_by_a_delivery() {
    let h = Harness::new().await;
    let mut c = h.selected().await;
    let (reply, _) = c.send("i IDLE\r\n").await;
    assert_eq!(reply, "+ idling\r\n");
    // Nothing has changed: the session does not wake.
    assert!(tokio::time::timeout(Duration::from_millis(50), c.session.wake()).await.is_err());
    h.deliver(MESSAGE).await;
    tokio::time::timeout(Duration::from_secs(5), c.session.wake()).await.expect("woken by the delivery");
    let mut out = Vec::new();
    assert_eq!(c.session.woken(&mut out).await, Step::Continue);
    assert_eq!(String::from_utf8(out).unwrap(), "* 1 EXISTS\r\n");
    let (reply, _) = c.send("DONE\r\n").await;
    assert_eq!(reply, "i OK IDLE terminated\r\n");
    // Without IDLE the session never wakes.
    h.deliver(MESSAGE).await;
    assert!(tokio::time::timeout(Duration::from_millis(50), c.session.wake()).await.is_err());
    let reply = c.ok("n NOOP").await;
    assert_eq!(reply, "* 2 EXISTS\r\nn OK NOOP completed\r\n");
}

#[tokio::test]
async fn selected_mailbox_renamed_or_deleted() {
    let h = Harness::new().await;
    let mut a = h.logged_in().await;
    a.ok("1 CREATE Box/Inner").await;
    a.append("Box/Inner", "", MESSAGE).await;
    a.ok("2 SELECT Box/Inner").await;
    a.ok("3 RENAME Box Crate").await;
    let reply = a.ok("4 FETCH 1 UID").await;
    assert!(reply.starts_with("* 1 FETCH (UID 1)"), "the selection follows the rename: {reply}");
    a.ok("5 DELETE Crate/Inner").await;
    a.expect("6 FETCH 1 UID", "NO").await;
    a.ok("7 SELECT INBOX").await;
    let mut b = h.logged_in().await;
    b.ok("8 CREATE Other").await;
    b.ok("9 SELECT Other").await;
    a.ok("10 DELETE Other").await;
    let (reply, step) = b.send("11 NOOP\r\n").await;
    assert_eq!(step, Step::Close);
    assert!(reply.starts_with("* BYE selected mailbox was deleted or renamed\r\n"), "{reply}");
}

#[tokio::test]
async fn append_edge_cases() {
    let h = Harness::new().await;
    let mut c = h.logged_in().await;
    let (reply, _) = c.send("1 APPEND INBOX {0}\r\n").await;
    assert_eq!(reply, "+ Ready for literal data\r\n");
    let (reply, _) = c.send("\r\n").await;
    assert_eq!(reply, "1 NO [CANNOT] empty message\r\n");
    let (reply, _) = c.send("2 APPEND Nowhere {3}\r\n").await;
    assert_eq!(reply, "+ Ready for literal data\r\n");
    let (reply, _) = c.send("abc\r\n").await;
    assert_eq!(reply, "2 NO [TRYCREATE] no such mailbox\r\n");
    // A literal over the limit is refused before a byte of it is sent.
    let reply = c.cmd("3 APPEND INBOX {999999999}").await;
    assert_eq!(reply, "3 NO [TOOBIG] literal too large\r\n");
    let reply = c.append("INBOX", "\\Flagged", "Subject: x\r\n\r\ny\r\n").await;
    assert!(reply.ends_with("p OK [APPENDUID 1 1] APPEND completed\r\n") || reply.contains("[APPENDUID "), "{reply}");
    // A non-synchronising literal within the limit needs no continuation.
    let (reply, _) = c.send("4 APPEND INBOX {3+}\r\nabc\r\n").await;
    assert!(reply.starts_with("4 OK [APPENDUID"), "{reply}");
}

#[tokio::test]
async fn bad_input_is_answered_and_the_session_goes_on() {
    let h = Harness::new().await;
    h.deliver(MESSAGE).await;
    let mut c = h.selected().await;
    c.expect("1 FETCH 1 (FLAGS", "BAD").await;
    c.expect("2 FETCH 1 FLAGS)", "BAD").await;
    c.expect("3 FETCH 0 FLAGS", "BAD").await;
    c.expect("4 FETCH x:y FLAGS", "BAD").await;
    c.expect("5 FROB", "BAD").await;
    c.expect("6 STORE 5 +FLAGS (\\Seen)", "BAD").await;
    let long = format!("7 NOOP {}\r\n", "x".repeat(1 << 20));
    let (reply, step) = c.send(&long).await;
    assert_eq!((reply.as_str(), step), ("7 BAD command line too long\r\n", Step::Continue));
    assert!(c.input.is_empty());
    c.ok("8 NOOP").await;
    let (reply, step) = c.send_bytes(b"9 SELECT \xff\xfe\r\n").await;
    assert_eq!(step, Step::Continue);
    assert!(reply.starts_with("9 "), "{reply}");
    c.ok("10 UNSELECT").await;
    c.expect("11 FETCH 1 FLAGS", "NO").await;
}

#[tokio::test]
async fn too_many_errors_close_the_session() {
    let h = Harness::new().await;
    let mut c = h.client_with(conn("127.0.0.1:1", false), ImapConfig { max_errors: 2, ..h.config.clone() }).await;
    c.expect("1 FROB", "BAD").await;
    let (reply, step) = c.send("2 FROB\r\n").await;
    assert_eq!(step, Step::Close);
    assert!(reply.ends_with("* BYE too many errors\r\n"), "{reply}");
}

#[test]
fn list_patterns() {
    for (pattern, name, expected) in [
        ("*", "a/b/c", true),
        ("%", "a/b", false),
        ("%", "a", true),
        ("a/%", "a/b", true),
        ("a/%", "a/b/c", false),
        ("a*c", "a/b/c", true),
        ("inbox", "INBOX", true),
        ("Inbox", "Inbox2", false),
        ("**%%**x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
    ] {
        assert_eq!(matches(pattern, name), expected, "{pattern} {name}");
    }
}

/// An account moving to another server: its sessions, idling or not, say
/// BYE with the reason and close; a new login is refused for now.
#[tokio::test]
async fn sessions_of_an_account_being_moved_say_bye_and_close() {
    let h = Harness::new().await;
    let mut idle = h.selected().await;
    let (reply, _) = idle.send("i1 IDLE\r\n").await;
    assert!(reply.starts_with("+ "), "{reply}");
    let mut plain = h.logged_in().await;
    let account = h.store.account(&account(ALICE)).await.unwrap();
    account.freeze().await;
    account.close_sessions("account is moving to another server; reconnect");
    for client in [&mut idle, &mut plain] {
        tokio::time::timeout(Duration::from_secs(5), client.session.wake()).await.expect("the session is woken");
        let mut out = Vec::new();
        assert_eq!(client.session.woken(&mut out).await, Step::Close);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out, "* BYE [UNAVAILABLE] account is moving to another server; reconnect\r\n");
    }
    let mut again = h.client().await;
    let reply = again.send(&format!("a LOGIN {ALICE} \"{PASSWORD}\"\r\n")).await.0;
    assert!(reply.contains("a NO [UNAVAILABLE] account is being moved"), "{reply}");
}
