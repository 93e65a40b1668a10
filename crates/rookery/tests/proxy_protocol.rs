//! A server behind a load balancer (`[limits] proxy_protocol_from`): the
//! PROXY header's client address is the one the server records, and a
//! connection from the balancer without a header gets nothing.
mod common;

use std::io::Read;
use testkit::{SmtpClient, TestServerOptions};

#[test]
fn the_real_client_address_reaches_the_received_header() {
    let server = common::server_with(TestServerOptions {
        extra_config: "[limits]\nproxy_protocol_from = [\"127.0.0.1\"]\n".to_owned(),
        ..TestServerOptions::default()
    });
    let alice = common::account(&server, "alice");
    let smtp = server.ports.smtp();

    let mut c = SmtpClient::connect(smtp).unwrap();
    c.send(format!("PROXY TCP4 203.0.113.7 127.0.0.1 40000 {}\r\n", smtp.port()).as_bytes()).unwrap();
    assert!(c.reply().unwrap().starts_with("220"));
    c.command("EHLO balanced.example").unwrap();
    assert!(c.command("MAIL FROM:<someone@remote.example>").unwrap().starts_with("250"));
    assert!(c.command(&format!("RCPT TO:<{alice}>")).unwrap().starts_with("250"));
    assert!(c.command("DATA").unwrap().starts_with("354"));
    c.send(b"Subject: through the balancer\r\n\r\nhi\r\n.\r\n").unwrap();
    assert!(c.reply().unwrap().starts_with("250"));

    // POP3 is behind the same balancer.
    let pop3 = server.ports.pop3();
    let message = testkit::wait_for(std::time::Duration::from_secs(10), "the message", || {
        let mut p = SmtpClient::connect(pop3).ok()?;
        // A loopback client address: plaintext login is allowed there.
        p.send(format!("PROXY TCP4 127.0.0.9 127.0.0.1 40001 {}\r\n", pop3.port()).as_bytes()).ok()?;
        p.read_line().ok()?;
        p.command(&format!("USER {alice}")).ok()?;
        p.command("PASS pw-alice").ok()?;
        if !p.command("RETR 1").ok()?.starts_with("+OK") {
            return None;
        }
        let mut text = String::new();
        loop {
            let line = p.read_line().ok()?;
            if line == "." {
                break Some(text);
            }
            text.push_str(&line);
            text.push('\n');
        }
    });
    assert!(message.contains("203.0.113.7"), "the client's address, not the balancer's: {message}");

    // Without a header the balancer's connection is closed unanswered.
    let mut raw = std::net::TcpStream::connect(smtp).unwrap();
    std::io::Write::write_all(&mut raw, b"EHLO no-header\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = raw.read_to_end(&mut buf);
    assert!(buf.is_empty(), "nothing sent: {:?}", String::from_utf8_lossy(&buf));
}
