//! Reopening: after a clean stop, a torn tail, damage, a torn header.

use super::*;
use crate::index::Location;
use std::os::unix::fs::FileExt;

/// Enqueues `n` messages (one recipient each) and returns their ids and
/// frame locations.
async fn fill(queue: &Queue, n: u64) -> Vec<(QueueId, Location)> {
    let mut out = Vec::new();
    for i in 0..n {
        let id = queue.enqueue(envelope(&[&format!("r{i}@example.test")]), body_for(i)).await.unwrap();
        out.push((id, queue.inner.shared.index.lock().get(id).unwrap().location));
    }
    out
}

/// Checks that exactly `expected` are queued, each with its body.
fn check_intact(queue: &Queue, expected: &[(QueueId, u64)]) {
    let listed: Vec<QueueId> = queue.list().iter().map(|entry| entry.id).collect();
    let wanted: Vec<QueueId> = expected.iter().map(|(id, _)| *id).collect();
    assert_eq!(listed, wanted);
    for (id, n) in expected {
        assert_eq!(queue.read_body(*id).unwrap(), body_for(*n), "body of {id}");
        assert_eq!(queue.get(*id).unwrap().envelope, envelope(&[&format!("r{n}@example.test")]));
    }
}

#[tokio::test]
async fn a_clean_reopen_keeps_messages_and_recipient_states() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.retry_schedule = vec![Duration::from_secs(3600)];
    let queue = Arc::new(Queue::open(config.clone()).unwrap());
    let transport = Scripted::new(|address, _| match &address[..1] {
        // "s": the sender, who gets the failure notification.
        "d" | "s" => Outcome::Delivered,
        "f" => Outcome::Failed("5.1.1 unknown".into()),
        "h" => Outcome::Held("remote".into()),
        _ => Outcome::Deferred("4.2.2 full".into()),
    });
    let runner = Runner::start(&queue, transport);
    let recipient_sets: [&[&str]; 4] = [&["d@x", "h@x"], &["r@x"], &["f@x", "r@x", "d@x"], &["h@x"]];
    let mut ids = Vec::new();
    for (n, recipients) in recipient_sets.iter().enumerate() {
        ids.push(queue.enqueue(envelope(recipients), body_for(n as u64)).await.unwrap());
    }
    eventually("every recipient was tried", || {
        queue.list().iter().all(|entry| !entry.states.contains(&RecipientState::Pending)) && queue.list().len() == 4
    })
    .await;
    runner.stop().await;
    let before = queue.list();
    drop(queue);

    let queue = Queue::open(config).unwrap();
    assert_eq!(queue.list(), before);
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(queue.read_body(*id).unwrap(), body_for(n as u64));
    }
    assert!(matches!(state_of(&queue, ids[2])[0], RecipientState::Failed { .. }));
}

#[tokio::test]
async fn a_torn_tail_at_any_offset_keeps_earlier_records() {
    let base = tempfile::tempdir().unwrap();
    let queue = Queue::open(config(base.path())).unwrap();
    let frames = fill(&queue, 6).await;
    drop(queue);
    let segment = spool::segment_path(base.path(), frames[0].1.segment);
    let bytes = std::fs::read(&segment).unwrap();
    // A stride through the file, every offset through the frame headers
    // and envelopes of the last two frames, and the last bytes.
    let len = bytes.len() as u64;
    let heads = frames[4..].iter().flat_map(|(_, location)| location.offset..location.offset + 100);
    let cuts = (0..len).step_by(97).chain(heads).chain(len - 20..=len);
    for cut in cuts {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(spool::segment_path(dir.path(), 1), &bytes[..cut as usize]).unwrap();
        let queue = Queue::open(config(dir.path())).unwrap();
        let whole: Vec<(QueueId, u64)> = frames
            .iter()
            .enumerate()
            .filter(|(_, (_, location))| location.offset + location.len <= cut)
            .map(|(n, (id, _))| (*id, n as u64))
            .collect();
        check_intact(&queue, &whole);
        // Appending goes on where the good records end.
        let id = queue.enqueue(envelope(&["r99@example.test"]), body_for(99)).await.unwrap();
        drop(queue);
        let queue = Queue::open(config(dir.path())).unwrap();
        let mut expected = whole.clone();
        expected.push((id, 99));
        check_intact(&queue, &expected);
    }
}

#[tokio::test]
async fn a_damaged_frame_in_the_last_segment_cuts_the_log_there() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(config(dir.path())).unwrap();
    let frames = fill(&queue, 10).await;
    drop(queue);
    let segment = spool::segment_path(dir.path(), frames[0].1.segment);
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&segment).unwrap();
    // Flip a byte in the middle of the sixth message's body.
    let damaged = frames[5].1;
    let position = damaged.offset + damaged.len - 50;
    let mut byte = [0];
    file.read_exact_at(&mut byte, position).unwrap();
    file.write_all_at(&[byte[0] ^ 0x20], position).unwrap();
    drop(file);

    let queue = Queue::open(config(dir.path())).unwrap();
    let kept: Vec<(QueueId, u64)> = frames[..5].iter().enumerate().map(|(n, (id, _))| (*id, n as u64)).collect();
    check_intact(&queue, &kept);
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), damaged.offset, "the tail is truncated");
    let id = queue.enqueue(envelope(&["r42@example.test"]), body_for(42)).await.unwrap();
    drop(queue);
    let queue = Queue::open(config(dir.path())).unwrap();
    let mut expected = kept;
    expected.push((id, 42));
    check_intact(&queue, &expected);
}

#[tokio::test]
async fn a_torn_header_of_the_last_segment_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(config(dir.path())).unwrap();
    let frames = fill(&queue, 3).await;
    drop(queue);
    // A crash while the next segment was being created.
    std::fs::write(spool::segment_path(dir.path(), 2), &spool::encode_header(5)[..10]).unwrap();
    let queue = Queue::open(config(dir.path())).unwrap();
    let kept: Vec<(QueueId, u64)> = frames.iter().enumerate().map(|(n, (id, _))| (*id, n as u64)).collect();
    check_intact(&queue, &kept);
    let id = queue.enqueue(envelope(&["r7@example.test"]), body_for(7)).await.unwrap();
    assert_eq!(queue.inner.shared.index.lock().get(id).unwrap().location.segment, 2);
    drop(queue);
    let queue = Queue::open(config(dir.path())).unwrap();
    assert_eq!(queue.list().len(), 4);
}

#[tokio::test]
async fn garbage_in_the_spool_never_panics() {
    use rand::{Rng, SeedableRng};
    let mut random = rand::rngs::StdRng::seed_from_u64(7);
    for round in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        let len = random.random_range(0..4000);
        let mut bytes: Vec<u8> = (0..len).map(|_| random.random()).collect();
        if round % 2 == 0 {
            // A valid header, then garbage frames.
            bytes.splice(0..0, spool::encode_header(1));
        }
        std::fs::write(spool::segment_path(dir.path(), 1), &bytes).unwrap();
        let queue = Queue::open(config(dir.path())).unwrap();
        assert!(queue.list().is_empty());
        queue.enqueue(envelope(&["r1@example.test"]), body_for(1)).await.unwrap();
    }
}

#[tokio::test]
async fn ids_never_go_below_what_the_spool_has_seen() {
    let dir = tempfile::tempdir().unwrap();
    // A segment made by a clock far ahead of ours.
    let floor = (now_ms() as u64 + 3_600_000) << 20;
    let file = spool::create_segment(dir.path(), 1, floor, false).unwrap();
    drop(file);
    let queue = Queue::open(config(dir.path())).unwrap();
    let first = queue.enqueue(envelope(&["r1@example.test"]), body_for(1)).await.unwrap();
    assert!(first.0 >= floor, "{first} below the floor {floor:x}");
    let second = queue.enqueue(envelope(&["r1@example.test"]), body_for(1)).await.unwrap();
    assert!(second > first);
    drop(queue);
    let queue = Queue::open(config(dir.path())).unwrap();
    let third = queue.enqueue(envelope(&["r1@example.test"]), body_for(1)).await.unwrap();
    assert!(third > second);
    assert_eq!(format!("{third}").parse::<QueueId>().unwrap(), third);
}

#[tokio::test]
async fn one_spool_one_queue() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(config(dir.path())).unwrap();
    let Err(QueueError::Io(error)) = Queue::open(config(dir.path())) else { panic!("opened twice") };
    assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock);
    drop(queue);
    Queue::open(config(dir.path())).unwrap();
}

#[test]
fn unusable_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (QueueConfig { delivery_concurrency: 0, ..config(dir.path()) }, "delivery_concurrency"),
        (QueueConfig { retry_schedule: vec![], ..config(dir.path()) }, "retry_schedule"),
    ];
    for (config, key) in cases {
        let Err(QueueError::Config(message)) = Queue::open(config) else { panic!("accepted") };
        assert!(message.contains(key), "{message}");
    }
}
