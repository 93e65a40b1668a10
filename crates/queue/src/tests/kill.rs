//! kill -9: a child process (this test binary, re-executed) enqueues
//! concurrently and prints each id once `enqueue` returned; the parent
//! kills it at a random moment and checks that every printed id is there
//! with its body. The child also delivers (some recipients are held, the
//! others delivered) with small segments, so removals, compaction and
//! segment deletion are under way when it dies.

use super::*;
use std::io::BufRead;
use std::process::{Command, Stdio};

/// Set in the child: the queue directory to use.
const CHILD_DIR: &str = "ROOKERY_QUEUE_KILL_CHILD_DIR";
const CHILD_TEST: &str = "tests::kill::kill_child";
const TUNING: Tuning = Tuning { segment_size: 64 << 10 };
const ROUNDS: u32 = 5;

fn child_config(dir: &Path) -> QueueConfig {
    QueueConfig { fsync: true, ..config(dir) }
}

/// Held recipients keep their message; the others are delivered.
fn is_held(nonce: u64) -> bool {
    nonce.is_multiple_of(4)
}

fn recipient(nonce: u64) -> String {
    if is_held(nonce) { format!("held-{nonce}@remote.test") } else { format!("local-{nonce}@example.test") }
}

/// The child's work; does nothing when run as an ordinary test.
#[test]
fn kill_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let round: u64 = std::env::var("ROOKERY_QUEUE_KILL_ROUND").unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async move {
        let queue = Arc::new(Queue::open_tuned(child_config(Path::new(&dir)), TUNING).unwrap());
        let transport = Scripted::new(|address, _| {
            if address.starts_with("held") { Outcome::Held("remote".into()) } else { Outcome::Delivered }
        });
        let _runner = Runner::start(&queue, transport);
        let mut tasks = Vec::new();
        for task in 0..8u64 {
            let queue = queue.clone();
            tasks.push(tokio::spawn(async move {
                for sequence in 0.. {
                    let nonce = (round << 40) | (task << 32) | sequence;
                    let id = queue.enqueue(envelope(&[&recipient(nonce)]), body_for(nonce)).await.unwrap();
                    println!("acked {id} {nonce}");
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// Runs the child until it has acknowledged some messages, kills it at a
/// random moment, and returns `(id, nonce)` of every acknowledged message.
fn run_and_kill(dir: &Path, round: u32) -> Vec<(QueueId, u64)> {
    use rand::Rng;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads", "1"])
        .env(CHILD_DIR, dir)
        .env("ROOKERY_QUEUE_KILL_ROUND", round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_sender, lines) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked = Vec::new();
    let take = |acked: &mut Vec<(QueueId, u64)>, line: String| {
        let mut words = line.split(' ');
        if words.next() == Some("acked") {
            let id: QueueId = words.next().unwrap().parse().unwrap();
            acked.push((id, words.next().unwrap().parse::<u64>().unwrap()));
        }
    };
    // Wait for the first acknowledgement, then let it run a random while.
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let first = line.starts_with("acked");
        take(&mut acked, line);
        if first {
            break;
        }
    }
    assert!(!acked.is_empty(), "the child acknowledged nothing");
    std::thread::sleep(Duration::from_millis(rand::rng().random_range(10..400)));
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    for line in lines.try_iter() {
        take(&mut acked, line);
    }
    acked
}

#[tokio::test]
async fn acknowledged_messages_survive_kill_9() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut must_stay: Vec<(QueueId, u64)> = Vec::new();
    let mut n_acked = 0;
    for round in 0..ROUNDS {
        let acked = run_and_kill(dir.path(), round);
        n_acked += acked.len();
        let queue = Queue::open_tuned(child_config(dir.path()), TUNING).unwrap();
        must_stay.extend(acked.iter().filter(|(_, nonce)| is_held(*nonce)));
        for (id, nonce) in &must_stay {
            let entry = queue.get(*id).unwrap_or_else(|| panic!("round {round}: acknowledged {id} is lost"));
            assert_eq!(entry.envelope, envelope(&[&recipient(*nonce)]));
            assert_eq!(queue.read_body(*id).unwrap(), body_for(*nonce), "round {round}: body of {id}");
        }
        // Delivered ones may still be there (the removal was not yet
        // written): intact then too. Nothing in the queue is damaged.
        let nonces: HashMap<QueueId, u64> = acked.iter().copied().collect();
        for entry in queue.list() {
            let body = queue.read_body(entry.id).unwrap();
            if let Some(nonce) = nonces.get(&entry.id) {
                assert_eq!(body, body_for(*nonce), "round {round}: body of {}", entry.id);
            }
        }
    }
    assert!(n_acked >= ROUNDS as usize);
    eprintln!("{n_acked} acknowledged, {} held; segments left: {:?}", must_stay.len(), segment_numbers(dir.path()));
}
