//! Enqueues per second of 10 KB bodies at 1, 8 and 32 concurrent tasks,
//! fsync on (the production setting). Run with
//! `cargo bench -p queue --bench enqueue`; `QUEUE_BENCH_DIR` picks the
//! file system (default: the system temporary directory), and
//! `QUEUE_BENCH_SECONDS` the time per level (default 3).

use bytes::Bytes;
use queue::{Envelope, Queue, QueueConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let base = std::env::var_os("QUEUE_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let seconds: u64 = std::env::var("QUEUE_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let body = Bytes::from(vec![b'x'; 10 * 1024]);
    println!("enqueue of 10 KB bodies, fsync on, {} s per level, in {}", seconds, base.display());
    for fsync in [true, false] {
        for tasks in [1, 8, 32] {
            let dir = tempfile::tempdir_in(&base).unwrap();
            let mut config = QueueConfig::new(dir.path());
            config.fsync = fsync;
            let queue = Arc::new(Queue::open(config).unwrap());
            let rate = runtime.block_on(measure(&queue, tasks, &body, Duration::from_secs(seconds)));
            println!("fsync={fsync:<5} tasks={tasks:<3} {rate:>9.0} enqueues/s");
        }
    }
}

async fn measure(queue: &Arc<Queue>, tasks: usize, body: &Bytes, duration: Duration) -> f64 {
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (queue, count, body) = (queue.clone(), count.clone(), body.clone());
        handles.push(tokio::spawn(async move {
            let envelope = Envelope {
                mail_from: "bench@example.test".into(),
                recipients: vec![format!("user{task}@example.test")],
                received_at: 0,
                authenticated_as: None,
                smtputf8: false,
            };
            while started.elapsed() < duration {
                queue.enqueue(envelope.clone(), body.clone()).await.unwrap();
                count.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}
