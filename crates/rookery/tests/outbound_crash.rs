//! `kill -9` of a server in the middle of a relay storm: after a restart
//! every message it acknowledged reaches the remote sink. Delivery to a
//! remote server is at least once: a message the sink took in the moment
//! before the queue recorded it is sent again after the restart (see
//! ARCHITECTURE.md, crates/queue). The test counts those duplicates and
//! holds them to that window: at most one per delivery in flight.
mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::{SmtpClient, SmtpSink, TestServerOptions};

const SENDERS: usize = 3;
const PER_SENDER: usize = 60;
const CONNECTIONS_TO_SINK: usize = 4;
/// The queue's runner slots: a job holds one until its outcome is durable.
const DELIVERIES_IN_FLIGHT: usize = 8;

/// Submits messages `first..first + count` as alice until one fails (the
/// server was killed); returns the numbers acknowledged with 250.
fn storm(addr: std::net::SocketAddr, alice: &str, first: usize, count: usize) -> Vec<usize> {
    let mut acked = Vec::new();
    let Ok(mut c) = SmtpClient::connect(addr) else { return acked };
    let mut step = || -> std::io::Result<bool> {
        c.reply()?;
        c.command("EHLO storm.example")?;
        c.command(&format!("AUTH PLAIN {}", common::sasl_plain(alice, "pw-alice")))?;
        Ok(true)
    };
    if step().is_err() {
        return acked;
    }
    for n in first..first + count {
        let sent = (|| -> std::io::Result<bool> {
            if !c.command(&format!("MAIL FROM:<{alice}>"))?.starts_with("250") {
                return Ok(false);
            }
            c.command("RCPT TO:<rcpt@sink.test>")?;
            c.command("DATA")?;
            c.send(
                format!(
                    "Message-ID: <storm-{n}@test>\r\nSubject: storm {n}\r\n\r\n{}.\r\n",
                    "storm body line\r\n".repeat(120)
                )
                .as_bytes(),
            )?;
            Ok(c.reply()?.starts_with("250"))
        })();
        match sent {
            Ok(true) => acked.push(n),
            _ => break,
        }
    }
    acked
}

#[test]
fn acknowledged_mail_reaches_the_sink_after_kill_9() {
    let sink = SmtpSink::start("127.0.0.4").unwrap();
    let mut server = common::server_with(TestServerOptions {
        outbound: format!(
            "relay = [\"{}\"]\ntls = \"disabled\"\nconnections_per_destination = {CONNECTIONS_TO_SINK}",
            sink.addr
        ),
        extra_config: format!("[queue]\nretry_schedule = [\"1s\"]\ndelivery_concurrency = {DELIVERIES_IN_FLIGHT}\n"),
        ..TestServerOptions::default()
    });
    let alice = common::account(&server, "alice");
    let addr = server.ports.submission();
    // The sink refuses (421) while the mail arrives, so that a backlog
    // builds up in the queue; then it comes back and the queue delivers
    // the backlog as fast as it can: the storm the kill falls into.
    sink.down();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (alice, acked) = (alice.clone(), acked.clone());
            std::thread::spawn(move || acked.lock().unwrap().extend(storm(addr, &alice, s * PER_SENDER, PER_SENDER)))
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), SENDERS * PER_SENDER, "every message acknowledged");
    sink.up();
    testkit::wait_for(Duration::from_secs(60), "the backlog draining", || (sink.messages().len() >= 40).then_some(()));
    server.kill();
    let before_kill = sink.messages().len();
    assert!(before_kill < acked.len(), "killed in the middle of the storm ({before_kill} delivered)");

    server.restart().unwrap();
    let counts = testkit::wait_for(Duration::from_secs(120), "every acknowledged message at the sink", || {
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for message in sink.messages() {
            let number = message.content.split("Subject: storm ").nth(1).and_then(|s| s.lines().next());
            if let Some(n) = number.and_then(|n| n.trim().parse().ok()) {
                *counts.entry(n).or_default() += 1;
            }
        }
        acked.iter().all(|n| counts.contains_key(n)).then_some(counts)
    });
    testkit::wait_for(Duration::from_secs(60), "an empty queue", || {
        server.admin(&["queue", "list"]).unwrap().trim().is_empty().then_some(())
    });
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    println!(
        "acknowledged {}, {before_kill} at the sink before the kill, {} distinct after, {duplicates} duplicates",
        acked.len(),
        counts.len()
    );
    assert!(duplicates <= DELIVERIES_IN_FLIGHT, "{duplicates} duplicates: more than the deliveries in flight");
}

#[test]
fn another_server_takes_over_the_queue_of_a_failed_one() {
    let sink = SmtpSink::start("127.0.0.5").unwrap();
    let relay = format!("relay = [\"{}\"]\ntls = \"disabled\"", sink.addr);
    let options = || TestServerOptions {
        outbound: relay.clone(),
        extra_config: "[queue]\nretry_schedule = [\"1s\"]\n".to_owned(),
        ..TestServerOptions::default()
    };
    let mut failed = common::server_with(options());
    let alice = common::account(&failed, "alice");
    sink.down();
    let acked = storm(failed.ports.submission(), &alice, 0, 20);
    assert_eq!(acked.len(), 20);
    testkit::wait_for(Duration::from_secs(30), "every message deferred", || {
        let list = failed.admin(&["queue", "list"]).unwrap();
        (list.lines().count() == 20).then_some(())
    });
    failed.kill();
    sink.up();

    // The spool of the dead server, as the other server sees it (CM-17).
    let takeover = common::server_with(options());
    let spool = failed.data_dir().join("queue");
    let out = takeover.admin(&["queue", "import", spool.to_str().unwrap()]).unwrap();
    assert!(out.contains("imported 20 messages for 20 recipients"), "{out}");
    testkit::wait_for(Duration::from_secs(60), "the imported mail at the sink", || {
        (sink.messages().len() >= 20).then_some(())
    });
    let again = takeover.admin(&["queue", "import", spool.to_str().unwrap()]).unwrap();
    assert!(again.contains("imported 0 messages"), "nothing is imported twice: {again}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.messages().len(), 20, "each message once");
    let refused = takeover.admin_command(&["queue", "import", "/nonexistent/spool"]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a directory"));
}
