//! `/metrics` of a real `rookery serve`: an IMAP login and an SMTP
//! delivery move the series they should, and the new admin commands
//! (`account quota`, `account list --usage`, `domain show`) answer.
mod common;

use common::metrics::value;
use std::time::{Duration, Instant};
use testkit::{SmtpClient, TestServer};

fn scrape(server: &TestServer) -> String {
    common::metrics::scrape(server.ports.admin())
}

fn wait_for(server: &TestServer, series: &str, at_least: f64) -> String {
    common::metrics::wait_for(server.ports.admin(), series, at_least)
}

#[test]
fn an_imap_login_and_an_smtp_delivery_show_in_the_metrics() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    let before = scrape(&server);
    assert!(before.contains("# HELP rookery_queue_messages"), "{before}");
    assert_eq!(value(&before, r#"rookery_logins_total{protocol="imap"}"#), None, "{before}");

    let mut imap = SmtpClient::connect(server.ports.imap()).unwrap();
    imap.read_line().unwrap();
    imap.line("a LOGIN alice pw-alice").unwrap();
    assert!(imap.read_line().unwrap().starts_with("a OK"));
    let text = wait_for(&server, r#"rookery_sessions_logged_in{protocol="imap"}"#, 1.0);
    assert_eq!(value(&text, r#"rookery_logins_total{protocol="imap"}"#), Some(1.0), "{text}");
    assert!(value(&text, r#"rookery_connections_open{protocol="imap"}"#).is_some_and(|v| v >= 1.0), "{text}");

    let mut smtp = SmtpClient::connect(server.ports.smtp()).unwrap();
    smtp.reply().unwrap();
    for line in ["EHLO metrics.test", "MAIL FROM:<bob@elsewhere.test>", &format!("RCPT TO:<{alice}>"), "DATA"] {
        let reply = smtp.command(line).unwrap();
        assert!(reply.starts_with('2') || reply.starts_with('3'), "{line}: {reply}");
    }
    let reply = smtp.command("Subject: counted\r\n\r\nhello\r\n.").unwrap();
    assert!(reply.starts_with("250"), "{reply}");
    smtp.command("QUIT").unwrap();
    let text = wait_for(&server, r#"rookery_deliveries_total{result="delivered"}"#, 1.0);
    assert!(value(&text, r#"rookery_connections_accepted_total{protocol="smtp"}"#).is_some_and(|v| v >= 1.0), "{text}");

    // The IMAP session's end takes it out of the logged-in count.
    imap.line("b LOGOUT").unwrap();
    drop(imap);
    let deadline = Instant::now() + Duration::from_secs(60);
    while value(&scrape(&server), r#"rookery_sessions_logged_in{protocol="imap"}"#) != Some(0.0) {
        assert!(Instant::now() < deadline, "the logged-in gauge did not fall after LOGOUT");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(value(&scrape(&server), "rookery_queue_messages"), Some(0.0));
}

#[test]
fn quota_usage_and_domain_commands() {
    let server = common::server();
    let alice = common::account(&server, "alice");
    let out = server.admin(&["account", "quota", &alice, "--set", "2M"]).unwrap();
    assert!(out.contains("quota:    2097152 bytes"), "{out}");
    assert!(out.contains("used:     0 bytes in 0 messages"), "{out}");
    let out = server.admin(&["account", "list", "--usage"]).unwrap();
    assert!(out.contains(&format!("{alice}\tquota 2097152 bytes\tused 0 bytes in 0 messages")), "{out}");
    let out = server.admin(&["account", "quota", &alice, "--unlimited"]).unwrap();
    assert!(out.contains("quota:    unlimited"), "{out}");
    let out = server.admin(&["domain", "show", server.main_domain()]).unwrap();
    assert!(out.contains("accounts: 2"), "postmaster and alice: {out}");
    let err = server.admin(&["account", "quota", "nobody", "--set", "1M"]).unwrap_err().to_string();
    assert!(err.contains("unknown account"), "{err}");
}
