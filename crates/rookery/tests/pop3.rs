//! POP3 over a raw socket: IN-USE, deletion only at QUIT, wrong-state
//! commands, over-long lines.
mod common;

use testkit::{SmtpClient, TestServer};

fn login(server: &TestServer, user: &str, password: &str) -> SmtpClient {
    let mut c = SmtpClient::connect(server.ports.pop3()).unwrap();
    assert!(c.read_line().unwrap().starts_with("+OK"));
    c.line(&format!("USER {user}")).unwrap();
    assert!(c.read_line().unwrap().starts_with("+OK"));
    c.line(&format!("PASS {password}")).unwrap();
    let reply = c.read_line().unwrap();
    assert!(reply.starts_with("+OK"), "{reply}");
    c
}

fn cmd(c: &mut SmtpClient, line: &str) -> String {
    c.line(line).unwrap();
    c.read_line().unwrap()
}

fn deliver(server: &TestServer, to: &str, subject: &str) {
    let mut c = SmtpClient::connect(server.ports.lmtp()).unwrap();
    c.reply().unwrap();
    c.command("LHLO t").unwrap();
    c.command("MAIL FROM:<a@remote.example>").unwrap();
    c.command(&format!("RCPT TO:<{to}>")).unwrap();
    c.command("DATA").unwrap();
    c.send(format!("Subject: {subject}\r\n\r\nbody\r\n.\r\n").as_bytes()).unwrap();
    assert!(c.reply().unwrap().starts_with("250"));
}

#[test]
fn second_session_gets_in_use() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    let _first = login(&server, &alice, "pw-alice");
    let mut second = SmtpClient::connect(server.ports.pop3()).unwrap();
    second.read_line().unwrap();
    cmd(&mut second, &format!("USER {alice}"));
    let reply = cmd(&mut second, "PASS pw-alice");
    assert!(reply.starts_with("-ERR [IN-USE]"), "{reply}");
}

#[test]
fn deletions_happen_at_quit_only() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    deliver(&server, &alice, "one");
    deliver(&server, &alice, "two");
    {
        let mut c = login(&server, &alice, "pw-alice");
        assert!(cmd(&mut c, "DELE 1").starts_with("+OK"));
        assert!(cmd(&mut c, "RETR 1").starts_with("-ERR"));
        assert!(cmd(&mut c, "STAT").starts_with("+OK 1 "));
        // The connection drops without QUIT: nothing is deleted.
    }
    let mut c = testkit::wait_for(std::time::Duration::from_secs(10), "the lock to be released", || {
        let mut c = SmtpClient::connect(server.ports.pop3()).unwrap();
        c.read_line().unwrap();
        cmd(&mut c, &format!("USER {alice}"));
        cmd(&mut c, "PASS pw-alice").starts_with("+OK").then_some(c)
    });
    assert!(cmd(&mut c, "STAT").starts_with("+OK 2 "));
    assert!(cmd(&mut c, "DELE 2").starts_with("+OK"));
    assert!(cmd(&mut c, "RSET").starts_with("+OK"));
    assert!(cmd(&mut c, "DELE 1").starts_with("+OK"));
    assert!(cmd(&mut c, "QUIT").starts_with("+OK"));
    let mut c = login(&server, &alice, "pw-alice");
    assert!(cmd(&mut c, "STAT").starts_with("+OK 1 "));
}

#[test]
fn wrong_state_and_bad_lines() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    let mut c = SmtpClient::connect(server.ports.pop3()).unwrap();
    c.read_line().unwrap();
    assert!(cmd(&mut c, "STAT").starts_with("-ERR"));
    assert!(cmd(&mut c, "RETR 1").starts_with("-ERR"));
    assert!(cmd(&mut c, "PASS x").starts_with("-ERR"), "PASS before USER");
    assert!(cmd(&mut c, &"A".repeat(5000)).starts_with("-ERR"));
    c.send(b"\xff\xfe\x00garbage\r\n").unwrap();
    assert!(c.read_line().unwrap().starts_with("-ERR"));
    assert!(cmd(&mut c, "AUTH PLAIN !!!").starts_with("-ERR"));
    cmd(&mut c, &format!("USER {alice}"));
    assert!(cmd(&mut c, "PASS wrong").starts_with("-ERR [AUTH]"));
    cmd(&mut c, &format!("USER {alice}"));
    assert!(cmd(&mut c, "PASS pw-alice").starts_with("+OK"));
    assert!(cmd(&mut c, "USER x").starts_with("-ERR"), "USER in TRANSACTION");
    assert!(cmd(&mut c, "RETR 99").starts_with("-ERR"));
    assert!(cmd(&mut c, "RETR x").starts_with("-ERR"));
    assert!(cmd(&mut c, "NOOP").starts_with("+OK"));
}
