//! IMAP over real sockets: Python's imaplib through a whole scenario, and
//! bad input on a raw socket.
mod common;

use testkit::{SmtpClient, TestServer};

fn login(server: &TestServer, user: &str) -> SmtpClient {
    let mut c = SmtpClient::connect(server.ports.imap()).unwrap();
    let greeting = c.read_line().unwrap();
    assert!(greeting.starts_with("* OK [CAPABILITY IMAP4rev1"), "{greeting}");
    let reply = cmd(&mut c, &format!("a LOGIN {user} pw-alice"));
    assert!(reply.starts_with("a OK"), "{reply}");
    c
}

/// Sends a command and reads up to and including its tagged reply.
fn cmd(c: &mut SmtpClient, line: &str) -> String {
    c.line(line).unwrap();
    tagged(c, line.split(' ').next().unwrap())
}

fn tagged(c: &mut SmtpClient, tag: &str) -> String {
    let mut all = String::new();
    loop {
        let reply = c.read_line().unwrap();
        all.push_str(&reply);
        all.push('\n');
        if reply.starts_with(&format!("{tag} ")) {
            return all;
        }
    }
}

#[test]
fn imaplib_scenario() {
    let server = common::server();
    let out = common::imap_script_as_alice(&server, "imap_basic.py");
    assert!(out.contains("imap scenario passed"), "{out}");
}

#[test]
fn bad_input_gets_bad_or_no_and_the_session_goes_on() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    let mut c = SmtpClient::connect(server.ports.imap()).unwrap();
    c.read_line().unwrap();
    assert!(cmd(&mut c, "1 SELECT INBOX").starts_with("1 NO"), "wrong state");
    assert!(cmd(&mut c, "2 FETCH 1 FLAGS").starts_with("2 NO"), "wrong state");
    let mut c = login(&server, &alice);
    assert!(cmd(&mut c, "3 FETCH 1 FLAGS").starts_with("3 NO"), "no mailbox selected");
    assert!(cmd(&mut c, "4 SELECT INBOX").contains("4 OK [READ-WRITE]"));
    assert!(cmd(&mut c, "5 FETCH 1 (FLAGS").starts_with("5 BAD"), "unbalanced parenthesis");
    assert!(cmd(&mut c, "6 FETCH 1:x FLAGS").starts_with("6 BAD"), "invalid sequence set");
    assert!(cmd(&mut c, "7 FETCH 1 FLAGS").starts_with("7 BAD"), "message 1 does not exist");
    // A literal over the limit is refused before it is read.
    assert_eq!(cmd(&mut c, "8 APPEND INBOX {4000000000}"), "8 NO [TOOBIG] literal too large\n");
    // A 1 MB command line.
    let long = format!("9 NOOP {}\r\n", "x".repeat(1 << 20));
    c.send(long.as_bytes()).unwrap();
    assert_eq!(tagged(&mut c, "9"), "9 BAD command line too long\n");
    // A 0-byte APPEND.
    c.line("10 APPEND INBOX {0}").unwrap();
    assert_eq!(c.read_line().unwrap(), "+ Ready for literal data");
    c.line("").unwrap();
    assert!(tagged(&mut c, "10").starts_with("10 NO"));
    assert!(cmd(&mut c, "11 NOOP").starts_with("11 OK"));
    // An empty message (an empty header and no body) is stored as it is,
    // and a partial range past its end is empty.
    c.line("13 APPEND INBOX {2}").unwrap();
    assert_eq!(c.read_line().unwrap(), "+ Ready for literal data");
    c.send(b"\r\n\r\n").unwrap();
    let reply = tagged(&mut c, "13");
    assert!(reply.contains("13 OK"), "{reply}");
    let reply = cmd(&mut c, "14 FETCH 1 (RFC822.SIZE BODY.PEEK[]<100.10> BODY.PEEK[TEXT]<0.5>)");
    assert!(reply.contains("RFC822.SIZE 2 BODY[]<100> {0}\n BODY[TEXT]<0> {0}\n)"), "{reply}");
    assert!(reply.contains("14 OK"), "{reply}");
    // A mailbox name that is not UTF-8.
    c.send(b"15 CREATE \"caf\xe9\"\r\n").unwrap();
    let reply = tagged(&mut c, "15");
    assert!(reply.starts_with("15 BAD") || reply.starts_with("15 NO"), "{reply}");
    assert!(!cmd(&mut c, "16 LIST \"\" *").contains("caf"), "nothing was created");
    let reply = cmd(&mut c, "12 LOGOUT");
    assert!(reply.starts_with("* BYE") && reply.contains("12 OK"), "{reply}");
}

#[test]
fn idle_sees_mail_delivered_over_lmtp_within_a_second() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    let mut c = login(&server, &alice);
    assert!(cmd(&mut c, "1 SELECT INBOX").contains("* 0 EXISTS"));
    c.line("2 IDLE").unwrap();
    assert_eq!(c.read_line().unwrap(), "+ idling");
    let mut lmtp = SmtpClient::connect(server.ports.lmtp()).unwrap();
    lmtp.reply().unwrap();
    lmtp.command("LHLO t").unwrap();
    lmtp.command("MAIL FROM:<a@remote.example>").unwrap();
    lmtp.command(&format!("RCPT TO:<{alice}>")).unwrap();
    lmtp.command("DATA").unwrap();
    lmtp.send(b"Subject: idle\r\n\r\nbody\r\n.\r\n").unwrap();
    assert!(lmtp.reply().unwrap().starts_with("250"));
    let delivered = std::time::Instant::now();
    assert_eq!(c.read_line().unwrap(), "* 1 EXISTS");
    assert!(delivered.elapsed() < std::time::Duration::from_secs(1));
    c.line("DONE").unwrap();
    assert_eq!(c.read_line().unwrap(), "2 OK IDLE terminated");
}
