//! LMTP (RFC 2033): one reply per recipient after the data.
mod common;

use testkit::SmtpClient;

#[test]
fn per_recipient_replies() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    server.admin(&["account", "add", "tiny@test.example", "--password", "pw", "--quota", "10"]).unwrap();
    let mut c = SmtpClient::connect(server.ports.lmtp()).unwrap();
    assert!(c.reply().unwrap().starts_with("220 "));
    assert!(c.command("EHLO x").unwrap().starts_with("500"), "LMTP wants LHLO");
    assert!(c.command("LHLO client.example").unwrap().starts_with("250"));
    assert!(c.command("MAIL FROM:<sender@remote.example>").unwrap().starts_with("250"));
    assert!(c.command(&format!("RCPT TO:<{alice}>")).unwrap().starts_with("250"));
    assert!(c.command("RCPT TO:<nobody@test.example>").unwrap().starts_with("550 5.1.1"));
    assert!(c.command("RCPT TO:<tiny@test.example>").unwrap().starts_with("250"), "size unknown at RCPT");
    assert!(c.command("RCPT TO:<postmaster>").unwrap().starts_with("250"));
    assert!(c.command("DATA").unwrap().starts_with("354"));
    c.send(b"Subject: lmtp\r\n\r\nA body that is longer than ten bytes.\r\n.\r\n").unwrap();
    let first = c.reply().unwrap();
    let second = c.reply().unwrap();
    let third = c.reply().unwrap();
    assert!(first.starts_with("250"), "{first}");
    assert!(second.starts_with("552") || second.starts_with("452"), "tiny is over quota: {second}");
    assert!(third.starts_with("250"), "{third}");
    assert!(c.command("QUIT").unwrap().starts_with("221"));
    let show = server.admin(&["account", "show", &alice]).unwrap();
    assert!(show.contains("in 1 messages"), "{show}");
}
