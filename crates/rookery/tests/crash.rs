//! DESIGN §8: an acknowledged message survives kill -9. Several clients
//! deliver concurrently while the server is killed with SIGKILL again and
//! again; afterwards every message that got `250` is in the mailbox
//! exactly once and complete, nothing is there twice, and the server
//! started each time without repair.
mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::{SmtpClient, wait_for};

const SENDERS: usize = 8;
const ROUNDS: usize = 8;

fn body(id: u64) -> String {
    let filler: String = (0..100).map(|i| format!("line {i:03} of message {id:08} ........................................................................................\r\n")).collect();
    format!("Subject: storm {id}\r\nX-Storm-Id: {id}\r\n\r\n{filler}END {id}\r\n")
}

/// Sends messages until the connection breaks; returns the acknowledged ids.
fn storm(addr: SocketAddr, to: String, next_id: Arc<Mutex<u64>>, acked: Arc<Mutex<Vec<u64>>>) {
    let Ok(mut c) = SmtpClient::connect(addr) else { return };
    if c.reply().map(|r| !r.starts_with("220")).unwrap_or(true) {
        return;
    }
    if c.command("EHLO storm.example").is_err() {
        return;
    }
    loop {
        let id = {
            let mut n = next_id.lock().unwrap();
            *n += 1;
            *n
        };
        let ok = (|| -> std::io::Result<bool> {
            c.send(format!("MAIL FROM:<storm@remote.example>\r\nRCPT TO:<{to}>\r\nDATA\r\n").as_bytes())?;
            for _ in 0..3 {
                if c.reply()?.is_empty() {
                    return Ok(false);
                }
            }
            c.send(body(id).as_bytes())?;
            c.send(b".\r\n")?;
            Ok(c.reply()?.starts_with("250"))
        })();
        match ok {
            Ok(true) => acked.lock().unwrap().push(id),
            _ => return,
        }
    }
}

/// Reads every message over POP3 and counts each storm id; checks that
/// each message is complete.
fn ids_in_mailbox(addr: SocketAddr, user: &str, password: &str) -> HashMap<u64, usize> {
    let mut c = SmtpClient::connect(addr).unwrap();
    assert!(c.read_line().unwrap().starts_with("+OK"));
    assert!(c.command_line(&format!("USER {user}")).starts_with("+OK"));
    assert!(c.command_line(&format!("PASS {password}")).starts_with("+OK"));
    let stat = c.command_line("STAT");
    let count: usize = stat.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut ids = HashMap::new();
    for n in 1..=count {
        c.line(&format!("RETR {n}")).unwrap();
        assert!(c.read_line().unwrap().starts_with("+OK"));
        let mut lines = Vec::new();
        loop {
            let line = c.read_line().unwrap();
            if line == "." {
                break;
            }
            lines.push(line);
        }
        let id: u64 = lines
            .iter()
            .find_map(|l| l.strip_prefix("X-Storm-Id: "))
            .unwrap_or_else(|| panic!("message {n} has no id: {lines:?}"))
            .parse()
            .unwrap();
        let text = lines.join("\r\n") + "\r\n";
        assert!(text.ends_with(&body(id)), "message {id} is not complete");
        *ids.entry(id).or_default() += 1;
    }
    c.line("QUIT").unwrap();
    ids
}

trait LineCommand {
    fn command_line(&mut self, line: &str) -> String;
}

impl LineCommand for SmtpClient {
    fn command_line(&mut self, line: &str) -> String {
        self.line(line).unwrap();
        self.read_line().unwrap()
    }
}

#[test]
fn acknowledged_mail_survives_repeated_kill_9() {
    let mut server = common::server();
    let alice = common::account(&server, "alice");
    let next_id = Arc::new(Mutex::new(0u64));
    let acked = Arc::new(Mutex::new(Vec::new()));
    for round in 0..ROUNDS {
        let addr = server.ports.smtp();
        let senders: Vec<_> = (0..SENDERS)
            .map(|_| {
                let (to, next_id, acked) = (alice.clone(), next_id.clone(), acked.clone());
                std::thread::spawn(move || storm(addr, to, next_id, acked))
            })
            .collect();
        // Let mail flow, then kill at a moment that varies per round.
        let before = acked.lock().unwrap().len();
        let started = Instant::now();
        wait_for(Duration::from_secs(30), "some acknowledgements", || {
            (acked.lock().unwrap().len() >= before + 50 + 40 * round).then_some(())
        });
        std::thread::sleep(Duration::from_millis(37 * round as u64 % 150));
        server.kill();
        for s in senders {
            s.join().unwrap();
        }
        eprintln!("round {round}: {} acknowledged so far ({:?})", acked.lock().unwrap().len(), started.elapsed());
        server.restart().expect("the server starts again after kill -9 without repair");
    }
    let acked = acked.lock().unwrap().clone();
    wait_for(Duration::from_secs(60), "the queue to drain", || {
        server.admin(&["queue", "list"]).unwrap().trim().is_empty().then_some(())
    });
    let ids = ids_in_mailbox(server.ports.pop3(), &alice, "pw-alice");
    for id in &acked {
        let n = ids.get(id).copied().unwrap_or(0);
        assert_eq!(n, 1, "acknowledged message {id} is in the mailbox {n} times");
    }
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "messages stored twice: {twice:?}");
    eprintln!("{} acknowledged, {} in the mailbox", acked.len(), ids.len());
}
