//! Garbage collection through the queue: drained segments go, live
//! messages of mostly dead segments are copied, duplicates after a crash.

use super::*;
use crate::record::{self, State};

const SMALL_SEGMENT: Tuning = Tuning { segment_size: 16 << 10 };

fn open_small(dir: &Path) -> Arc<Queue> {
    Arc::new(Queue::open_tuned(config(dir), SMALL_SEGMENT).unwrap())
}

fn spool_bytes(dir: &Path) -> u64 {
    segment_numbers(dir).iter().map(|n| std::fs::metadata(spool::segment_path(dir, *n)).unwrap().len()).sum()
}

#[tokio::test]
async fn drained_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open_small(dir.path());
    let runner = Runner::start(&queue, Scripted::new(|_, _| Outcome::Delivered));
    for n in 0..100 {
        queue.enqueue(envelope(&["a@example.test"]), body_for(n)).await.unwrap();
    }
    assert!(*segment_numbers(dir.path()).last().unwrap() > 20, "the spool rolled");
    // Deletion happens after a commit: outcomes keep coming until the end.
    eventually("only the active segment is left", || queue.list().is_empty() && segment_numbers(dir.path()).len() == 1)
        .await;
    runner.stop().await;
}

/// Once everything is delivered and the queue is idle, no message is left
/// on disk (CM-15: a frontend keeps no account data), and the ids issued
/// so far are never issued again, across a restart too.
#[tokio::test]
async fn a_drained_idle_spool_keeps_no_message_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(Queue::open(config(dir.path())).unwrap());
    let runner = Runner::start(&queue, Scripted::new(|_, _| Outcome::Delivered));
    let mut last = QueueId(0);
    for n in 0..20 {
        let body = Bytes::from(format!("Subject: secret-{n}\r\n\r\nfor carol@shared.test\r\n"));
        last = queue.enqueue(envelope(&["carol@shared.test"]), body).await.unwrap();
    }
    let on_disk = |needle: &str| {
        segment_numbers(dir.path()).iter().any(|n| {
            let bytes = std::fs::read(spool::segment_path(dir.path(), *n)).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
    };
    eventually("the spool is scrubbed", || {
        queue.list().is_empty() && spool_bytes(dir.path()) == spool::SEGMENT_HEADER_LEN && !on_disk("carol@shared.test")
    })
    .await;
    assert!(!on_disk("secret-"));
    // The empty spool still knows which ids were issued: after a restart
    // the next message gets a new one.
    runner.stop().await;
    drop(queue);
    let reopened = Queue::open(config(dir.path())).unwrap();
    let next = reopened.enqueue(envelope(&["dave@shared.test"]), body_for(1)).await.unwrap();
    assert!(next > last, "{next:?} after {last:?}");
}

#[tokio::test]
async fn compaction_keeps_the_live_messages_of_mostly_dead_segments() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open_small(dir.path());
    let transport =
        Scripted::new(
            |address, _| {
                if address.starts_with("held") { Outcome::Held("remote".into()) } else { Outcome::Delivered }
            },
        );
    let runner = Runner::start(&queue, transport);
    let mut held = Vec::new();
    for n in 0..200 {
        let recipient = if n % 10 == 0 { "held@remote.test" } else { "local@example.test" };
        let id = queue.enqueue(envelope(&[recipient]), body_for(n)).await.unwrap();
        if n % 10 == 0 {
            held.push((id, n));
        }
    }
    let held_ids: Vec<QueueId> = held.iter().map(|(id, _)| *id).collect();
    let live_bytes: u64 = held.iter().map(|(_, n)| body_for(*n).len() as u64 + 200).sum();
    eventually("only held messages are left, compacted", || {
        let listed: Vec<QueueId> = queue.list().iter().map(|entry| entry.id).collect();
        listed == held_ids
            && segment_numbers(dir.path())[0] > 20
            && spool_bytes(dir.path()) <= 3 * live_bytes + SMALL_SEGMENT.segment_size
    })
    .await;
    runner.stop().await;
    let check = |queue: &Queue| {
        for (id, n) in &held {
            assert_eq!(queue.read_body(*id).unwrap(), body_for(*n), "body of {id}");
            assert_eq!(state_of(queue, *id), vec![RecipientState::Held { reason: "remote".into() }]);
        }
    };
    check(&queue);
    drop(queue);
    let queue = Queue::open_tuned(config(dir.path()), SMALL_SEGMENT).unwrap();
    assert_eq!(queue.list().iter().map(|entry| entry.id).collect::<Vec<_>>(), held_ids);
    check(&queue);
}

/// Writes a segment made of `frames` by hand.
fn write_segment(dir: &Path, number: u64, frames: &[Vec<u8>]) {
    let mut bytes = spool::encode_header(1).to_vec();
    for frame in frames {
        bytes.extend_from_slice(frame);
    }
    std::fs::write(spool::segment_path(dir, number), bytes).unwrap();
}

fn message_frame(id: u64, recipients: &[&str], states: &[State], n: u64) -> Vec<u8> {
    let encoded = record::encode_message(QueueId(id), 5, &envelope(recipients), states, body_for(n)).unwrap();
    [encoded.head.as_slice(), &encoded.body].concat()
}

#[tokio::test]
async fn after_a_crash_mid_compaction_the_later_copy_wins() {
    let dir = tempfile::tempdir().unwrap();
    let held = State::Held { reason: "remote".into() };
    let two = ["a@example.test", "b@example.test"];
    // Segment 1: messages 1 and 2; an outcome for message 1.
    // Segment 2: the copy of message 1 made by compaction (with its state
    // then), an outcome after the copy, and message 3 removed.
    write_segment(
        dir.path(),
        1,
        &[
            message_frame(1, &two, &[State::Pending, State::Pending], 1),
            message_frame(2, &two, &[State::Pending, State::Pending], 2),
            record::encode_outcome(QueueId(1), 0, &State::Delivered),
        ],
    );
    write_segment(
        dir.path(),
        2,
        &[
            message_frame(1, &two, &[State::Delivered, State::Pending], 1),
            record::encode_outcome(QueueId(1), 1, &held),
            record::encode_outcome(QueueId(2), 1, &State::Failed { reason: "5.1.1".into() }),
            message_frame(3, &two, &[State::Pending, State::Pending], 3),
            record::encode_removed(QueueId(3)),
        ],
    );
    let queue = open_small(dir.path());
    assert_eq!(queue.list().iter().map(|entry| entry.id.0).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(state_of(&queue, QueueId(1)), vec![RecipientState::Delivered, held.to_public()]);
    assert_eq!(queue.inner.shared.index.lock().get(QueueId(1)).unwrap().location.segment, 2);
    assert_eq!(state_of(&queue, QueueId(2))[1], RecipientState::Failed { reason: "5.1.1".into() });
    assert_eq!(queue.read_body(QueueId(1)).unwrap(), body_for(1));
    // Segment 1 still holds message 2: once drained segments pile up
    // behind it, it is compacted, not deleted with message 2 in it.
    let transport =
        Scripted::new(
            |address, _| {
                if address.starts_with('c') { Outcome::Delivered } else { Outcome::Held("remote".into()) }
            },
        );
    let runner = Runner::start(&queue, transport);
    for n in 10..20 {
        queue.enqueue(envelope(&["c@example.test"]), body_for(n)).await.unwrap();
    }
    eventually("segment 1 is compacted away", || segment_numbers(dir.path())[0] > 1 && queue.list().len() == 2).await;
    runner.stop().await;
    let expected = vec![held.to_public(), RecipientState::Failed { reason: "5.1.1".into() }];
    assert_eq!(state_of(&queue, QueueId(2)), expected);
    assert_eq!(queue.read_body(QueueId(2)).unwrap(), body_for(2));
    drop(queue);
    let queue = open_small(dir.path());
    assert_eq!(queue.list().iter().map(|entry| entry.id.0).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(state_of(&queue, QueueId(2)), expected);
    assert_eq!(queue.read_body(QueueId(1)).unwrap(), body_for(1));
    assert_eq!(queue.read_body(QueueId(2)).unwrap(), body_for(2));
}
