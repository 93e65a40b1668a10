//! `rookery account move` (CM-26): a live account moves between two
//! backends of a static cluster (a private slapd, two backends and a
//! frontend, each a `rookery` process on its own loopback address) while
//! mail keeps arriving through the frontend and an IMAP client is logged
//! in through it. Afterwards that client was disconnected, logs in again
//! through the frontend to the new host, and every message is there
//! exactly once, with its flags, date and folder; the old host no longer
//! serves the account. A move to a backend that is down fails cleanly
//! and leaves the account served where it was.
mod common;

use common::cluster::{Member, Setup, services, start};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use testkit::slapd::Slapd;
use testkit::{SmtpClient, TestServer};

const ALICE: &str = "alice@shared.test";
const PASSWORD: &str = "pw-alice";

/// Every member lists itself on its allow-list too: `rookery account move`
/// run on a member connects to it from its own address.
fn member(slapd: &Slapd, me: &Member, all: &[&Member], extra: &str) -> TestServer {
    start(slapd, me, all, Setup { extra, allow_self: true, ..Setup::default() })
}

fn imap_args(frontend: &TestServer) -> Vec<String> {
    vec![
        "--imap".into(),
        frontend.ports.imap().to_string(),
        "--user".into(),
        ALICE.into(),
        "--password".into(),
        PASSWORD.into(),
    ]
}

fn script(frontend: &TestServer, command: &str) -> Value {
    let args = [vec![command.to_owned()], imap_args(frontend)].concat();
    let out = testkit::python("account_move.py", &args).unwrap();
    serde_json::from_str(&out).unwrap()
}

/// Sends one message with this Message-ID through the frontend; whether
/// it was accepted (the queue took it).
fn send(frontend: &TestServer, message_id: &str) -> bool {
    let Ok(mut c) = SmtpClient::connect(frontend.ports.smtp()) else { return false };
    let accepted = (|| -> std::io::Result<bool> {
        c.reply()?;
        c.command("EHLO client.example")?;
        if !c.command("MAIL FROM:<sender@remote.example>")?.starts_with("250")
            || !c.command(&format!("RCPT TO:<{ALICE}>"))?.starts_with("250")
            || !c.command("DATA")?.starts_with("354")
        {
            return Ok(false);
        }
        c.send(format!("Subject: live\r\nMessage-ID: {message_id}\r\n\r\nsent during the move\r\n.\r\n").as_bytes())?;
        let accepted = c.reply()?.starts_with("250");
        c.command("QUIT")?;
        Ok(accepted)
    })();
    accepted.unwrap_or(false)
}

/// Messages in alice's INBOX on `backend`, as its admin API counts them.
fn stored(backend: &TestServer) -> usize {
    let Ok(show) = backend.admin(&["account", "show", ALICE]) else { return 0 };
    let line = show.lines().find(|l| l.starts_with("used:")).unwrap_or_default();
    line.split(" in ").nth(1).and_then(|m| m.split_whitespace().next()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Lines of the watcher script's output, read on a thread.
fn lines_of(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn next_line(lines: &std::sync::mpsc::Receiver<String>, what: &str) -> String {
    lines.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| panic!("the IMAP watcher did not say {what}"))
}

fn queue_empty(frontend: &TestServer, backend: &TestServer) -> bool {
    let (user, password) = (format!("postmaster@{}", backend.main_domain()), backend.postmaster_password());
    let args = ["--admin-user", user.as_str(), "--admin-password", password.as_str(), "queue", "list"];
    frontend.admin(&args).is_ok_and(|list| list.trim().is_empty())
}

#[test]
fn a_live_account_moves_to_another_backend_with_every_message_once() {
    let slapd = Slapd::start().unwrap();
    let sv1 = Member::new("sv1.test", "backend", "127.0.0.2");
    let sv2 = Member::new("sv2.test", "backend", "127.0.0.3");
    let fe = Member::new("fe.test", "frontend", "127.0.0.4");
    // A backend that is configured but down.
    let sv3 = Member::new("sv3.test", "backend", "127.0.0.5");
    let all = [&sv1, &sv2, &fe, &sv3];
    let old_host = member(&slapd, &sv1, &all, "");
    let new_host = member(&slapd, &sv2, &all, "");
    let extra = services(&old_host, "sv1.test") + &services(&new_host, "sv2.test");
    let frontend = member(&slapd, &fe, &all, &extra);
    old_host.admin(&["domain", "add", "shared.test", "--shared"]).unwrap();
    old_host.admin(&["account", "add", ALICE, "--password", PASSWORD]).unwrap();

    // Several folders, flags, dates, 296 messages (one of 20 MiB), some
    // expunged.
    let expected = script(&frontend, "populate");

    // A move to a backend that is down fails and leaves alice where she was,
    // not frozen: mail still arrives on sv1.
    let failed = new_host.admin_command(&["account", "move", ALICE, "--to", "sv3.test"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "the move to a dead backend succeeded");
    assert!(
        stderr.contains("cannot connect to cluster member") && stderr.contains("still served by sv1.test"),
        "{stderr}"
    );
    let before = stored(&old_host);
    assert!(send(&frontend, "<after-failed-move@move.test>"));
    testkit::wait_for(Duration::from_secs(30), "mail on sv1 after the failed move", || {
        (stored(&old_host) == before + 1).then_some(())
    });

    // An IMAP client logged in through the frontend, idling on INBOX, and
    // one changing flags and expunging in INBOX until it is cut off: the
    // changes made after INBOX's bulk copy reach the new host in the final
    // sync.
    let client = |command: &str| {
        Command::new("python3")
            .arg(testkit::repo_root().join("tests/clients/account_move.py"))
            .arg(command)
            .args(imap_args(&frontend))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut watcher = client("watch");
    let watch = lines_of(&mut watcher);
    assert_eq!(next_line(&watch, "ready"), "ready");
    let mut churner = client("churn");
    let churn = lines_of(&mut churner);
    assert_eq!(next_line(&churn, "ready"), "ready");

    // Mail keeps coming through the frontend during the move.
    let stop = AtomicBool::new(false);
    let mut sent = vec!["<after-failed-move@move.test>".to_owned()];
    let move_output = std::thread::scope(|scope| {
        let sending = scope.spawn(|| {
            let mut accepted = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) || i < 20 {
                let id = format!("<live-{i}@move.test>");
                if send(&frontend, &id) {
                    accepted.push(id);
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(25));
            }
            accepted
        });
        let output = new_host.admin_command(&["account", "move", ALICE, "--to", "sv2.test"]).output().unwrap();
        // Some more after the switch, then stop.
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::SeqCst);
        sent.extend(sending.join().unwrap());
        output
    });
    let stdout = String::from_utf8_lossy(&move_output.stdout);
    let stderr = String::from_utf8_lossy(&move_output.stderr);
    assert!(move_output.status.success(), "move failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("moved alice@shared.test from sv1.test to sv2.test"), "{stdout}");
    assert!(stdout.contains("frozen for"), "{stdout}");
    assert!(stdout.contains("parked at"), "{stdout}");
    println!("{stdout}");

    // The IMAP session on the old host was closed with a reason, and the
    // client got in again through the frontend, now to sv2.
    let disconnected = next_line(&watch, "disconnected");
    assert!(disconnected.contains("BYE") && disconnected.contains("moving"), "{disconnected}");
    let reconnected = next_line(&watch, "reconnected");
    assert!(reconnected.starts_with("reconnected: "), "{reconnected}");
    assert!(watcher.wait().unwrap().success());
    let churned: Value = serde_json::from_str(&next_line(&churn, "what it changed")).unwrap();
    assert!(churner.wait().unwrap().success());
    let ids_of = |key: &str| -> BTreeSet<String> {
        churned[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    };
    let (flagged, expunged) = (ids_of("flagged"), ids_of("expunged"));
    let uncertain = churned["uncertain"].as_str().map(str::to_owned);
    println!("the churning client flagged {} and expunged {} messages", flagged.len(), expunged.len());

    // Every message accepted meanwhile arrives (the queue retried those
    // deferred during the freeze), exactly once, on the new host.
    testkit::wait_for(Duration::from_secs(60), "the frontend's queue to empty", || {
        queue_empty(&frontend, &new_host).then_some(())
    });
    let state = script(&frontend, "verify");
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for messages in state["messages"].as_object().unwrap().values() {
        for m in messages.as_array().unwrap() {
            *ids.entry(m["id"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    let duplicates: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicates.is_empty(), "messages present more than once: {duplicates:?}");
    for id in &sent {
        assert_eq!(ids.get(id), Some(&1), "live message {id} missing");
    }
    // The populated folders, flags and dates, as they were.
    let mut expected = expected;
    let inbox = expected["INBOX"].as_object_mut().unwrap();
    for id in &expunged {
        inbox.remove(id);
    }
    for id in &flagged {
        let flags = inbox[id]["flags"].as_array_mut().unwrap();
        flags.push("$Moved".into());
        flags.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    if let Some(id) = &uncertain {
        // Cut off before its answer: either outcome is right, once.
        inbox.remove(id);
    }
    for id in &expunged {
        assert!(!ids.contains_key(id), "{id} was expunged before the move, yet it is there");
    }
    for (folder, messages) in expected.as_object().unwrap() {
        let got: BTreeMap<String, (Value, i64, i64)> = state["messages"][folder]
            .as_array()
            .unwrap_or_else(|| panic!("folder {folder} missing"))
            .iter()
            .filter(|m| m["id"].as_str().is_some_and(|id| id.starts_with("<pop-") || id == "<big@move.test>"))
            .filter(|m| m["id"].as_str() != uncertain.as_deref())
            .map(|m| {
                (
                    m["id"].as_str().unwrap().to_owned(),
                    (m["flags"].clone(), m["date"].as_i64().unwrap(), m["size"].as_i64().unwrap()),
                )
            })
            .collect();
        assert_eq!(got.len(), messages.as_object().unwrap().len(), "{folder}");
        for (id, want) in messages.as_object().unwrap() {
            let (flags, date, size) = got.get(id).unwrap_or_else(|| panic!("{id} missing in {folder}"));
            assert_eq!(flags, &want["flags"], "{id} flags");
            assert_eq!(*date, want["date"].as_i64().unwrap(), "{id} date");
            if let Some(want_size) = want.get("size") {
                assert_eq!(*size, want_size.as_i64().unwrap(), "{id} size");
            }
        }
    }
    let folders: BTreeSet<&str> = state["folders"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    let want: BTreeSet<&str> =
        ["INBOX", "Drafts", "Sent", "Trash", "Archive", "Work", "Archive/2024", "Lists", "Lists/rust"].into();
    assert_eq!(folders, want);
    let subscribed: Vec<&str> = state["subscribed"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(subscribed.contains(&"Work") && subscribed.contains(&"Archive/2024"), "{subscribed:?}");
    assert!(!subscribed.contains(&"Lists/rust") && !subscribed.contains(&"Junk"), "{subscribed:?}");

    // The old host serves alice no more: her directory there is parked.
    let domain_dir = old_host.data_dir().join("accounts/shared.test");
    let names: Vec<String> = std::fs::read_dir(&domain_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("alice~moved-to-sv2.test-")), "{names:?}");
    assert!(!names.iter().any(|n| n == "alice"), "{names:?}");
    assert!(stored(&new_host) > 0);
}
