//! kill -9 while delivering: every acknowledged delivery survives, exactly
//! once and byte for byte; nothing unacknowledged shows up half-done.
//!
//! The test re-runs its own binary as the writer (`CRASH_CHILD` set), kills
//! it with SIGKILL after a random short time, reopens the store and checks.
//! Rounds reuse one store and use tiny thresholds so that snapshots,
//! segment rolls and compaction all happen while being killed.

use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use store::{Delivery, DeliveryId, DeliveryOutcome, Durability, Store, StoreConfig, StoreLimits};
use types::{AccountName, Uid};

const ACCOUNTS: [&str; 3] = ["a@crash.test", "b@crash.test", "c@crash.test"];
const WRITERS: u128 = 6;
const ROUNDS: u32 = 10;

fn limits() -> StoreLimits {
    StoreLimits {
        segment_bytes: 64 << 10,
        journal_min_bytes: 4 << 10,
        journal_snapshot_ratio: 1,
        compaction_step_bytes: 16 << 10,
        ..StoreLimits::default()
    }
}

fn open(root: &Path) -> Store {
    Store::open_with_limits(root, StoreConfig { durability: Durability::Fsync }, limits()).unwrap()
}

/// The body of delivery `id`: its id first, then bytes derived from it.
fn body(id: u128) -> Bytes {
    let len = 50 + (id * 7919 % 6000) as usize;
    let mut out = format!("X-Id: {id}\r\n\r\n").into_bytes();
    out.extend((0..len).map(|i| b'A' + ((i as u128 * 31 + id) % 57) as u8));
    Bytes::from(out)
}

fn id_of(body: &[u8]) -> Option<u128> {
    let text = std::str::from_utf8(body.get(..body.len().min(60))?).ok()?;
    text.strip_prefix("X-Id: ")?.split("\r\n").next()?.parse().ok()
}

#[test]
fn acknowledged_deliveries_survive_kill_9() {
    if let Ok(root) = std::env::var("CRASH_CHILD") {
        let round: u128 = std::env::var("CRASH_ROUND").unwrap().parse().unwrap();
        child(Path::new(&root), round);
        return;
    }
    let root = tempfile::TempDir::new().unwrap();
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    // Delivered and acknowledged, not (yet) asked to be expunged.
    let mut expected: HashMap<u128, usize> = HashMap::new();
    // Acknowledged expunges, and expunges that may or may not have happened.
    let mut gone: HashSet<u128> = HashSet::new();
    let mut maybe_gone: HashSet<u128> = HashSet::new();
    for round in 0..ROUNDS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let run_for = Duration::from_millis(150 + seed % 600);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "acknowledged_deliveries_survive_kill_9", "--nocapture", "--test-threads=1"])
            .env("CRASH_CHILD", root.path())
            .env("CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(run_for);
        child.kill().unwrap();
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let complete = stdout.rfind('\n').map_or("", |end| &stdout[..end]);
        for line in complete.lines() {
            let mut words = line.split(' ');
            let (Some(kind), Some(id)) = (words.next(), words.next().and_then(|w| w.parse::<u128>().ok())) else {
                continue;
            };
            let account = words.next().and_then(|w| w.parse::<usize>().ok());
            match (kind, account) {
                ("DELIVERED", Some(account)) => assert!(expected.insert(id, account).is_none(), "{id} acked twice"),
                ("EXPUNGING", _) => {
                    maybe_gone.insert(id);
                }
                ("EXPUNGED", _) => {
                    gone.insert(id);
                }
                ("WRONG", _) => panic!("child saw a wrong outcome: {line}"),
                _ => {}
            }
        }
        verify(root.path(), round, &expected, &gone, &maybe_gone);
    }
    assert!(expected.len() > 50, "too few deliveries to mean anything: {}", expected.len());
    // The rounds went through snapshots and compaction, not just appends.
    let (mut snapshots, mut removed_segments) = (0, 0);
    for name in ACCOUNTS {
        let (local, domain) = name.split_once('@').unwrap();
        let files: Vec<String> = std::fs::read_dir(root.path().join(domain).join(local))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        snapshots += files.iter().filter(|f| *f == "snapshot").count();
        let segments: Vec<u32> =
            files.iter().filter_map(|f| f.strip_prefix("seg-")?.strip_suffix(".dat")?.parse().ok()).collect();
        removed_segments += segments.iter().max().map_or(0, |max| *max as usize - segments.len());
    }
    eprintln!(
        "{} acknowledged deliveries, {snapshots} snapshots, {removed_segments} segments compacted away",
        expected.len()
    );
    assert!(snapshots > 0 && removed_segments > 0, "snapshots {snapshots}, removed segments {removed_segments}");
}

/// Reopens the store as after a crash and checks every account.
fn verify(root: &Path, round: u32, expected: &HashMap<u128, usize>, gone: &HashSet<u128>, maybe_gone: &HashSet<u128>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = open(root);
        let mut seen = HashSet::new();
        for (index, name) in ACCOUNTS.iter().enumerate() {
            let account = store.account(&name.parse::<AccountName>().unwrap()).await.unwrap();
            let inbox = account.snapshot("INBOX").unwrap();
            for message in &inbox.messages {
                let bytes = account.read(inbox.info.id, message.uid).await.unwrap();
                let id = id_of(&bytes).unwrap_or_else(|| panic!("round {round}: message without id"));
                assert_eq!(bytes, body(id), "round {round}: body of {id} differs");
                assert!(seen.insert(id), "round {round}: {id} stored twice");
                assert!(!gone.contains(&id), "round {round}: expunged {id} is back");
                if let Some(account) = expected.get(&id) {
                    assert_eq!(*account, index, "round {round}: {id} in the wrong account");
                }
            }
        }
        for (id, _) in expected.iter().filter(|(id, _)| !maybe_gone.contains(id)) {
            assert!(seen.contains(id), "round {round}: acknowledged delivery {id} is lost");
        }
        // A retried delivery of an acknowledged id is recognised.
        if let Some((id, index)) = expected.iter().find(|(id, _)| !maybe_gone.contains(id)) {
            let account = store.account(&ACCOUNTS[*index].parse::<AccountName>().unwrap()).await.unwrap();
            let outcome = account.deliver(delivery(*id)).await.unwrap();
            assert!(matches!(outcome, DeliveryOutcome::Duplicate { .. }), "round {round}: {outcome:?}");
        }
    });
}

fn delivery(id: u128) -> Delivery {
    Delivery {
        id: DeliveryId(id),
        mailbox: "INBOX".to_owned(),
        body: body(id),
        flags: Vec::new(),
        internal_date: 1_700_000_000,
        quota_bytes: None,
    }
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

/// Delivers until killed, saying which deliveries and expunges were
/// acknowledged; expunges every other message so compaction has work.
fn child(root: &Path, round: u128) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let store = Arc::new(open(root));
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let index = (writer % ACCOUNTS.len() as u128) as usize;
                let account = store.account(&ACCOUNTS[index].parse::<AccountName>().unwrap()).await.unwrap();
                let inbox = account.status("INBOX").unwrap().id;
                for n in 0.. {
                    let id = (round + 1) * 1_000_000_000 + writer * 1_000_000 + n;
                    match account.deliver(delivery(id)).await.unwrap() {
                        DeliveryOutcome::Delivered { uid } => {
                            say(format!("DELIVERED {id} {index}\n"));
                            if n % 2 == 1 {
                                say(format!("EXPUNGING {id}\n"));
                                let removed = account.expunge(inbox, &[uid]).await.unwrap();
                                if removed != [uid] {
                                    say(format!("WRONG {id} expunge {removed:?}\n"));
                                }
                                say(format!("EXPUNGED {id}\n"));
                            }
                            if n % 5 == 0 {
                                let again = account.deliver(delivery(id)).await.unwrap();
                                if again != (DeliveryOutcome::Duplicate { uid }) {
                                    say(format!("WRONG {id} redelivery {again:?}\n"));
                                }
                            }
                        }
                        other => say(format!("WRONG {id} {other:?} {}\n", Uid(0))),
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}
