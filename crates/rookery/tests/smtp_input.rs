//! SMTP under bad and hostile input, over a raw socket: each case gets the
//! protocol's error or a clean close, the server keeps serving, and no
//! partial message reaches a mailbox.
mod common;

use std::time::Duration;
use testkit::{SmtpClient, TestServer, TestServerOptions, wait_for};

fn connect(server: &TestServer) -> SmtpClient {
    let mut c = SmtpClient::connect(server.ports.smtp()).unwrap();
    assert!(c.reply().unwrap().starts_with("220 "));
    assert!(c.command("EHLO client.example").unwrap().starts_with("250-"));
    c
}

fn messages_of(server: &TestServer, account: &str) -> u64 {
    let show = server.admin(&["account", "show", account]).unwrap();
    let used = show.lines().find(|l| l.starts_with("used:")).unwrap().to_owned();
    used.split_whitespace().nth(4).unwrap().parse().unwrap()
}

fn assert_still_serving(server: &TestServer) {
    let mut c = connect(server);
    assert!(c.command("NOOP").unwrap().starts_with("250"));
    c.command("QUIT").unwrap();
}

#[test]
fn recipients_are_classified_at_rcpt() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    let mut c = connect(&server);
    assert!(c.command("MAIL FROM:<x@remote.example>").unwrap().starts_with("250"));
    let unknown = c.command("RCPT TO:<nobody@test.example>").unwrap();
    assert!(unknown.starts_with("550 5.1.1"), "{unknown}");
    let relay = c.command("RCPT TO:<someone@elsewhere.example>").unwrap();
    assert!(relay.starts_with("554 5.7.1"), "{relay}");
    let postmaster = c.command("RCPT TO:<postmaster>").unwrap();
    assert!(postmaster.starts_with("250"), "{postmaster}");
    assert!(c.command(&format!("RCPT TO:<{alice}>")).unwrap().starts_with("250"));
    assert!(c.command("DATA").unwrap().starts_with("354"));
    c.send(b"Subject: hi\r\n\r\nhello\r\n.\r\n").unwrap();
    let queued = c.reply().unwrap();
    assert!(queued.starts_with("250 2.0.0"), "{queued}");
    wait_for(Duration::from_secs(10), "delivery", || (messages_of(&server, &alice) == 1).then_some(()));
    wait_for(Duration::from_secs(10), "postmaster delivery", || {
        (messages_of(&server, "postmaster@test.example") == 1).then_some(())
    });
}

#[test]
fn size_limits_at_mail_and_after_data() {
    let server = common::server_with(TestServerOptions { extra_config: String::new(), ..TestServerOptions::default() });
    let alice = common::account(&server, "alice");
    let mut c = connect(&server);
    let too_big = c.command("MAIL FROM:<x@remote.example> SIZE=999999999999").unwrap();
    assert!(too_big.starts_with("552 5.3.4"), "{too_big}");
    c.command("RSET").unwrap();
    // A quota-limited account refuses what does not fit.
    server.admin(&["account", "add", "small@test.example", "--password", "pw", "--quota", "100"]).unwrap();
    assert!(c.command("MAIL FROM:<x@remote.example> SIZE=5000").unwrap().starts_with("250"));
    let full = c.command("RCPT TO:<small@test.example>").unwrap();
    assert!(full.starts_with("552 5.2.2") || full.starts_with("452 4.2.2"), "{full}");
    assert!(c.command(&format!("RCPT TO:<{alice}>")).unwrap().starts_with("250"));
    c.command("RSET").unwrap();
    // Without SIZE the quota is checked against the real size after DATA.
    assert!(c.command("MAIL FROM:<x@remote.example>").unwrap().starts_with("250"));
    assert!(c.command("RCPT TO:<small@test.example>").unwrap().starts_with("250"));
    assert!(c.command("DATA").unwrap().starts_with("354"));
    c.send(format!("Subject: big\r\n\r\n{}\r\n.\r\n", "z".repeat(500)).as_bytes()).unwrap();
    let full = c.reply().unwrap();
    assert!(full.starts_with("552 5.2.2"), "{full}");
    assert_eq!(messages_of(&server, "small@test.example"), 0);
    c.command("QUIT").unwrap();
}

#[test]
fn over_long_command_line_is_refused_and_the_session_goes_on() {
    let server = common::server();
    let mut c = connect(&server);
    c.line(&format!("NOOP {}", "x".repeat(5000))).unwrap();
    let reply = c.reply().unwrap();
    assert!(reply.starts_with("500 5.5.2"), "{reply}");
    assert!(c.command("NOOP").unwrap().starts_with("250"));
}

#[test]
fn header_line_over_998_octets_rejects_the_message() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    let mut c = connect(&server);
    c.command("MAIL FROM:<x@remote.example>").unwrap();
    c.command(&format!("RCPT TO:<{alice}>")).unwrap();
    assert!(c.command("DATA").unwrap().starts_with("354"));
    c.send(format!("Subject: {}\r\n\r\nbody\r\n.\r\n", "y".repeat(1200)).as_bytes()).unwrap();
    let reply = c.reply().unwrap();
    assert!(reply.starts_with("554 5.6.0"), "{reply}");
    assert!(c.command("NOOP").unwrap().starts_with("250"));
    assert_eq!(messages_of(&server, &alice), 0);
}

#[test]
fn binary_garbage_gets_errors_then_421() {
    let server = common::server();
    let mut c = connect(&server);
    // Twenty lines of high-bit garbage, pipelined; then read until close.
    let mut garbage = Vec::new();
    for i in 0..20u8 {
        garbage.extend((0..200u32).map(|j| (j as u8).wrapping_mul(31).wrapping_add(i) | 0x80));
        garbage.extend_from_slice(b"\r\n");
    }
    let _ = c.send(&garbage);
    let mut replies = String::new();
    loop {
        let reply = c.reply().unwrap_or_default();
        if reply.is_empty() {
            break;
        }
        replies.push_str(&reply);
    }
    assert!(replies.lines().next().unwrap().starts_with("500"), "{replies}");
    assert_eq!(replies.lines().filter(|l| l.starts_with("500")).count(), 10, "{replies}");
    assert!(replies.trim_end().ends_with("421 4.7.0 too many errors"), "{replies}");
    assert_still_serving(&server);
}

#[test]
fn data_never_terminated_times_out_with_421_and_delivers_nothing() {
    let server =
        common::server_with(TestServerOptions { smtp_idle_timeout: "1s".into(), ..TestServerOptions::default() });
    let alice = common::account(&server, "alice");
    let mut c = connect(&server);
    c.command("MAIL FROM:<x@remote.example>").unwrap();
    c.command(&format!("RCPT TO:<{alice}>")).unwrap();
    c.command("DATA").unwrap();
    c.send(b"Subject: never ends\r\n\r\npartial body\r\n").unwrap();
    let reply = c.reply().unwrap();
    assert!(reply.starts_with("421 4.4.2"), "{reply}");
    assert!(c.is_closed());
    assert_eq!(messages_of(&server, &alice), 0);
    assert_eq!(server.admin(&["queue", "list"]).unwrap().trim(), "");
}

#[test]
fn disconnect_mid_data_leaves_nothing() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    {
        let mut c = connect(&server);
        c.command("MAIL FROM:<x@remote.example>").unwrap();
        c.command(&format!("RCPT TO:<{alice}>")).unwrap();
        c.command("DATA").unwrap();
        c.send(b"Subject: cut\r\n\r\nhalf a message").unwrap();
    }
    assert_still_serving(&server);
    assert_eq!(messages_of(&server, &alice), 0);
    assert_eq!(server.admin(&["queue", "list"]).unwrap().trim(), "");
}

#[test]
fn ten_thousand_recipients_are_capped_with_452() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    let mut c = connect(&server);
    c.command("MAIL FROM:<x@remote.example>").unwrap();
    // Pipelined in blocks, as a spammer's client would.
    let mut accepted = 0;
    let mut too_many = 0;
    for block in 0..100 {
        let mut batch = String::new();
        for i in 0..100 {
            let n = block * 100 + i;
            if n % 2 == 0 {
                batch.push_str(&format!("RCPT TO:<{alice}>\r\n"));
            } else {
                batch.push_str("RCPT TO:<postmaster>\r\n");
            }
        }
        c.send(batch.as_bytes()).unwrap();
        for _ in 0..100 {
            let reply = c.reply().unwrap();
            if reply.starts_with("250") {
                accepted += 1;
            } else if reply.starts_with("452 4.5.3") {
                too_many += 1;
            } else {
                panic!("unexpected reply {reply}");
            }
        }
    }
    assert_eq!(accepted + too_many, 10_000);
    assert!(too_many >= 9_000, "{too_many}");
    assert!(c.command("DATA").unwrap().starts_with("354"));
    c.send(b"Subject: many\r\n\r\nx\r\n.\r\n").unwrap();
    assert!(c.reply().unwrap().starts_with("250"));
    wait_for(Duration::from_secs(10), "delivery", || (messages_of(&server, &alice) == 1).then_some(()));
}

#[test]
fn invalid_utf8_in_addresses_is_a_syntax_error() {
    let server = common::server();
    let mut c = connect(&server);
    c.send(b"MAIL FROM:<\xff\xfe@remote.example>\r\n").unwrap();
    let reply = c.reply().unwrap();
    assert!(reply.starts_with("501") || reply.starts_with("500") || reply.starts_with("553"), "{reply}");
    assert!(c.command("MAIL FROM:<x@remote.example>").unwrap().starts_with("250"));
    c.send(b"RCPT TO:<\xc3\x28@test.example>\r\n").unwrap();
    let reply = c.reply().unwrap();
    assert!(reply.starts_with("501") || reply.starts_with("500") || reply.starts_with("553"), "{reply}");
    assert!(c.command("NOOP").unwrap().starts_with("250"));
}

#[test]
fn commands_out_of_sequence_get_503() {
    let server = common::server();
    let mut c = connect(&server);
    assert!(c.command("RCPT TO:<postmaster>").unwrap().starts_with("503"));
    assert!(c.command("DATA").unwrap().starts_with("503"));
    assert!(c.command("FROBNICATE").unwrap().starts_with("500"));
    assert!(c.command("QUIT").unwrap().starts_with("221"));
}
