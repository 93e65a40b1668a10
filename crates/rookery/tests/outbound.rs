//! Outbound mail over real sockets: a second Rookery and an aiosmtpd sink
//! on the remote side, the test kit's DNS server standing in for the
//! Internet's. Relaying by MX, per-recipient refusals and bounces (RFC 3464
//! DSNs back to the local sender), retries, and the queue commands.
mod common;

use std::net::Ipv4Addr;
use std::time::Duration;
use testkit::dns::{DnsServer, Zone};
use testkit::{SmtpClient, SmtpSink, TestServer, TestServerOptions};

/// A server whose outbound mail goes by the test DNS server's MX records
/// to port `smtp_port`, retrying every second.
fn sender(dns: &DnsServer, smtp_port: u16) -> TestServer {
    common::server_with(TestServerOptions {
        outbound: format!(
            "smtp_port = {smtp_port}\ndns_servers = [\"{}\"]\nresolve_timeout = \"5s\"\ncommand_timeout = \"10s\"",
            dns.addr()
        ),
        extra_config: "[queue]\nretry_schedule = [\"1s\"]\n".to_owned(),
        ..TestServerOptions::default()
    })
}

/// Submits one message over the submission port as `user`, with AUTH
/// PLAIN (allowed on loopback); returns the final reply.
fn submit(server: &TestServer, user: &str, recipients: &[&str], subject: &str) -> String {
    let mut c = SmtpClient::connect(server.ports.submission()).unwrap();
    c.reply().unwrap();
    c.command("EHLO client.example").unwrap();
    let password = format!("pw-{}", user.split('@').next().unwrap());
    let plain = common::sasl_plain(user, &password);
    assert!(c.command(&format!("AUTH PLAIN {plain}")).unwrap().starts_with("235"));
    assert!(c.command(&format!("MAIL FROM:<{user}>")).unwrap().starts_with("250"));
    for rcpt in recipients {
        let reply = c.command(&format!("RCPT TO:<{rcpt}>")).unwrap();
        assert!(reply.starts_with("250"), "{rcpt}: {reply}");
    }
    assert!(c.command("DATA").unwrap().starts_with("354"));
    c.send(
        format!("From: {user}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@test>\r\n\r\nbody\r\n.\r\n").as_bytes(),
    )
    .unwrap();
    c.reply().unwrap()
}

/// The number of messages in `account` on `server` (admin API).
fn messages(server: &TestServer, account: &str) -> usize {
    let show = server.admin(&["account", "show", account]).unwrap();
    let line = show.lines().find(|l| l.starts_with("used:")).unwrap_or_default();
    line.split(" in ").nth(1).and_then(|m| m.split_whitespace().next()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn wait(what: &str, check: impl FnMut() -> Option<()>) {
    testkit::wait_for(Duration::from_secs(30), what, check);
}

#[test]
fn mail_for_another_domain_reaches_a_second_rookery_by_its_mx() {
    let remote = common::server_with(TestServerOptions { main_domain: "b.test".into(), ..Default::default() });
    let bob = common::account(&remote, "bob");
    let dns = DnsServer::start(Zone::new().mx("b.test", 10, "mx.b.test").a("mx.b.test", Ipv4Addr::LOCALHOST)).unwrap();
    let local = sender(&dns, remote.ports.smtp().port());
    let alice = common::account(&local, "alice");
    let reply = submit(&local, &alice, &[&bob, "nobody@b.test"], "by-mx");
    assert!(reply.starts_with("250"), "{reply}");
    wait("the message is in bob's mailbox on the other server", || (messages(&remote, &bob) == 1).then_some(()));
    // The unknown recipient is refused by the remote server (550 5.1.1)
    // and bounced to alice: a DSN in her mailbox here.
    wait("alice gets the bounce", || (messages(&local, &alice) == 1).then_some(()));
    wait("the queue is empty", || local.admin(&["queue", "list"]).unwrap().trim().is_empty().then_some(()));
}

#[test]
fn refusals_bounce_and_temporary_failures_retry() {
    let sink = SmtpSink::start("127.0.0.2").unwrap();
    let dns = DnsServer::start(
        Zone::new().mx("sink.test", 10, "mx.sink.test").a("mx.sink.test", Ipv4Addr::new(127, 0, 0, 2)),
    )
    .unwrap();
    let local = sender(&dns, sink.addr.port());
    let alice = common::account(&local, "alice");

    // One recipient accepted, one refused for good: the sink gets the
    // message for one, alice a DSN for the other.
    assert!(submit(&local, &alice, &["carol@sink.test", "perm-dave@sink.test"], "mixed").starts_with("250"));
    wait("the sink has the message", || (!sink.messages().is_empty()).then_some(()));
    let kept = sink.messages();
    assert_eq!(kept[0].recipients, vec!["carol@sink.test".to_owned()]);
    assert_eq!(kept[0].mail_from, alice);
    assert!(kept[0].content.contains("Subject: mixed"));
    wait("alice gets the bounce for dave", || (messages(&local, &alice) == 1).then_some(()));

    // The sink is down (421): the message stays queued, deferred, with the
    // sink's answer as the reason, then goes once the sink is back.
    sink.down();
    assert!(submit(&local, &alice, &["erin@sink.test"], "deferred").starts_with("250"));
    let id = testkit::wait_for(Duration::from_secs(30), "a deferral", || {
        let list = local.admin(&["queue", "list"]).unwrap();
        let id = list.lines().find(|l| l.contains("erin@sink.test"))?.split_whitespace().next()?.to_owned();
        let show = local.admin(&["queue", "show", &id]).unwrap();
        show.contains("421 4.3.2 sink is down").then_some(id)
    });
    // While held, nothing is tried; released, it is tried again.
    local.admin(&["queue", "hold", &id]).unwrap();
    assert!(local.admin(&["queue", "show", &id]).unwrap().contains("held by the administrator"));
    sink.up();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sink.messages().len(), 1, "a held message is not delivered");
    local.admin(&["queue", "release", &id]).unwrap();
    wait("delivered after release", || (sink.messages().len() == 2).then_some(()));
    assert!(local.admin(&["queue", "list"]).unwrap().trim().is_empty());
    assert_eq!(messages(&local, &alice), 1, "no bounce for a delay shorter than the warning time");
}

#[test]
fn queue_delete_and_retry_commands() {
    let sink = SmtpSink::start("127.0.0.3").unwrap();
    let dns = DnsServer::start(
        Zone::new().mx("sink.test", 10, "mx.sink.test").a("mx.sink.test", Ipv4Addr::new(127, 0, 0, 3)),
    )
    .unwrap();
    let local = sender(&dns, sink.addr.port());
    let alice = common::account(&local, "alice");
    sink.down();
    assert!(submit(&local, &alice, &["frank@sink.test"], "to-delete").starts_with("250"));
    assert!(submit(&local, &alice, &["grace@sink.test"], "to-retry").starts_with("250"));
    let id_of = |rcpt: &str| {
        let list = local.admin(&["queue", "list"]).unwrap();
        list.lines().find(|l| l.contains(rcpt)).and_then(|l| l.split_whitespace().next()).map(str::to_owned)
    };
    let (delete, retry) =
        testkit::wait_for(Duration::from_secs(30), "both queued", || Some((id_of("frank")?, id_of("grace")?)));
    local.admin(&["queue", "hold", &retry]).unwrap();
    assert!(local.admin(&["queue", "delete", &delete]).unwrap().contains("deleted"));
    assert!(id_of("frank").is_none());
    let missing = local.admin_command(&["queue", "delete", &delete]).output().unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no queued message"));
    sink.up();
    local.admin(&["queue", "retry", &retry]).unwrap();
    wait("retried at once", || (sink.messages().len() == 1).then_some(()));
    assert_eq!(sink.messages()[0].recipients, vec!["grace@sink.test".to_owned()]);
    assert_eq!(messages(&local, &alice), 0, "a deleted message is not bounced");
}
