//! The delivery loop: outcomes, retries, held messages, expiry, restarts.

use super::*;

fn open(dir: &Path) -> Arc<Queue> {
    Arc::new(Queue::open(config(dir)).unwrap())
}

#[tokio::test]
async fn delivered_messages_disappear() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    let transport = Scripted::new(|_, _| Outcome::Delivered);
    let runner = Runner::start(&queue, transport.clone());
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(queue.enqueue(envelope(&["a@example.test", "b@example.test"]), body_for(n)).await.unwrap());
    }
    eventually("every message is delivered", || queue.list().is_empty()).await;
    for (n, id) in ids.iter().enumerate() {
        let calls = transport.calls_for(*id);
        assert_eq!(calls.len(), 1, "{id} delivered once");
        assert_eq!(calls[0].recipients, vec![0, 1]);
        assert_eq!(calls[0].body, body_for(n as u64));
    }
    runner.stop().await;
}

#[tokio::test]
async fn deferred_recipients_are_retried_on_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.retry_schedule = vec![Duration::from_millis(50), Duration::from_millis(100)];
    let queue = Arc::new(Queue::open(config).unwrap());
    let transport =
        Scripted::new(
            |_, attempt| if attempt <= 3 { Outcome::Deferred("4.3.0 busy".into()) } else { Outcome::Delivered },
        );
    let runner = Runner::start(&queue, transport.clone());
    let id = queue.enqueue(envelope(&["a@example.test"]), body_for(1)).await.unwrap();
    eventually("the first deferral is recorded", || {
        matches!(state_of(&queue, id).as_slice(), [RecipientState::Deferred { attempts: 1, .. }])
    })
    .await;
    let RecipientState::Deferred { last_error, .. } = &state_of(&queue, id)[0] else { unreachable!() };
    assert_eq!(last_error, "4.3.0 busy");
    eventually("the message is delivered", || queue.get(id).is_none()).await;
    let times: Vec<Instant> = transport.calls_for(id).iter().map(|call| call.at).collect();
    assert_eq!(times.len(), 4);
    // Attempt n waits schedule[min(n, len - 1)]; a millisecond of slack
    // for the wall clock's rounding.
    let expected = [50, 100, 100];
    for (gap, expected) in times.windows(2).map(|pair| pair[1] - pair[0]).zip(expected) {
        assert!(gap >= Duration::from_millis(expected - 1), "gap {gap:?}, expected {expected} ms");
        assert!(gap < Duration::from_millis(expected + 2_000), "gap {gap:?} far too long");
    }
    runner.stop().await;
}

#[tokio::test]
async fn only_due_recipients_are_tried_again() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    let transport = Scripted::new(|address, attempt| {
        if address.starts_with("slow") && attempt == 1 { Outcome::Deferred("busy".into()) } else { Outcome::Delivered }
    });
    let runner = Runner::start(&queue, transport.clone());
    let id = queue.enqueue(envelope(&["fast@example.test", "slow@example.test"]), body_for(2)).await.unwrap();
    eventually("the message is delivered", || queue.get(id).is_none()).await;
    let recipients: Vec<Vec<usize>> = transport.calls_for(id).into_iter().map(|call| call.recipients).collect();
    assert_eq!(recipients, vec![vec![0, 1], vec![1]]);
    runner.stop().await;
}

#[tokio::test]
async fn held_messages_stay_and_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    let transport = Scripted::new(|address, _| {
        if address.ends_with("@remote.test") { Outcome::Held("no outbound".into()) } else { Outcome::Delivered }
    });
    let runner = Runner::start(&queue, transport.clone());
    let id = queue.enqueue(envelope(&["local@example.test", "far@remote.test"]), body_for(3)).await.unwrap();
    let expected = vec![RecipientState::Delivered, RecipientState::Held { reason: "no outbound".into() }];
    eventually("the remote recipient is held", || state_of(&queue, id) == expected).await;
    assert_eq!(queue.list().iter().map(|entry| entry.id).collect::<Vec<_>>(), vec![id]);
    assert_eq!(queue.list()[0].size, body_for(3).len() as u64);
    // Not retried: nothing is scheduled for it.
    assert_eq!(queue.inner.shared.schedule.lock().next_deadline(), None);
    assert_eq!(transport.calls_for(id).len(), 1);
    runner.stop().await;
}

#[tokio::test]
async fn deferred_recipients_fail_after_max_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.max_age = Duration::from_millis(300);
    let queue = Arc::new(Queue::open(config).unwrap());
    let transport = Scripted::new(|address, _| {
        if address.starts_with("held") {
            Outcome::Held("kept".into())
        } else {
            Outcome::Deferred("4.4.1 no answer".into())
        }
    });
    let runner = Runner::start(&queue, transport.clone());
    let started = Instant::now();
    let id = queue.enqueue(envelope(&["held@example.test", "busy@example.test"]), body_for(4)).await.unwrap();
    eventually("the deferred recipient fails", || {
        matches!(state_of(&queue, id).as_slice(), [RecipientState::Held { .. }, RecipientState::Failed { .. }])
    })
    .await;
    let RecipientState::Failed { reason } = &state_of(&queue, id)[1] else { unreachable!() };
    assert!(reason.starts_with("4.4.1 no answer"), "{reason}");
    let calls = transport.calls_for(id);
    assert!(calls.len() >= 2, "retried until max_age: {} calls", calls.len());
    assert!(calls.last().unwrap().at - started >= Duration::from_millis(290), "the last attempt is at max_age");
    runner.stop().await;
}

#[tokio::test]
async fn a_message_whose_recipients_all_fail_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    let transport = Scripted::new(|_, _| Outcome::Failed("5.1.1 unknown user".into()));
    let runner = Runner::start(&queue, transport.clone());
    let id = queue.enqueue(envelope(&["nobody@example.test"]), body_for(5)).await.unwrap();
    eventually("the message is removed", || queue.get(id).is_none() && !transport.calls_for(id).is_empty()).await;
    assert_eq!(transport.calls_for(id).len(), 1);
    runner.stop().await;
}

#[tokio::test]
async fn a_restart_reschedules_pending_and_deferred_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.retry_schedule = vec![Duration::from_millis(300)];
    let (pending, deferred, deferred_at) = {
        let queue = Arc::new(Queue::open(config.clone()).unwrap());
        let pending = queue.enqueue(envelope(&["a@example.test"]), body_for(6)).await.unwrap();
        let transport = Scripted::new(|_, _| Outcome::Deferred("busy".into()));
        let runner = Runner::start(&queue, transport.clone());
        let deferred = queue.enqueue(envelope(&["b@example.test"]), body_for(7)).await.unwrap();
        eventually("both are deferred", || {
            [pending, deferred].iter().all(|id| matches!(state_of(&queue, *id)[0], RecipientState::Deferred { .. }))
        })
        .await;
        runner.stop().await;
        (pending, deferred, transport.calls_for(deferred)[0].at)
    };
    let queue = Arc::new(Queue::open(config).unwrap());
    assert!(matches!(state_of(&queue, deferred)[0], RecipientState::Deferred { attempts: 1, .. }));
    let transport = Scripted::new(|_, _| Outcome::Delivered);
    let runner = Runner::start(&queue, transport.clone());
    eventually("both are delivered after the restart", || queue.list().is_empty()).await;
    let retried_at = transport.calls_for(deferred)[0].at;
    assert!(retried_at - deferred_at >= Duration::from_millis(299), "the retry time survived the restart");
    assert_eq!(transport.calls_for(pending)[0].body, body_for(6), "the body is read back from disk");
    runner.stop().await;

    // A message enqueued while no runner ran is tried at the next start.
    let id = queue.enqueue(envelope(&["c@example.test"]), body_for(8)).await.unwrap();
    drop(queue);
    let queue = open(dir.path());
    assert_eq!(state_of(&queue, id), vec![RecipientState::Pending]);
    let runner = Runner::start(&queue, transport.clone());
    eventually("the pending message is delivered", || queue.get(id).is_none()).await;
    runner.stop().await;
}

#[tokio::test]
async fn no_more_than_delivery_concurrency_jobs_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.delivery_concurrency = 3;
    let queue = Arc::new(Queue::open(config).unwrap());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let mut transport = Scripted::unshared(|_, _| Outcome::Delivered);
    transport.gate = Some(gate.clone());
    let transport = Arc::new(transport);
    let runner = Runner::start(&queue, transport.clone());
    for n in 0..10 {
        queue.enqueue(envelope(&["a@example.test"]), body_for(n)).await.unwrap();
    }
    eventually("three jobs wait at the gate", || transport.running.load(Ordering::SeqCst) == 3).await;
    gate.add_permits(1000);
    eventually("every message is delivered", || queue.list().is_empty()).await;
    assert_eq!(transport.max_running.load(Ordering::SeqCst), 3);
    runner.stop().await;
}

#[tokio::test]
async fn shutdown_waits_for_jobs_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let mut transport = Scripted::unshared(|_, _| Outcome::Delivered);
    transport.gate = Some(gate.clone());
    let transport = Arc::new(transport);
    let runner = Runner::start(&queue, transport.clone());
    let id = queue.enqueue(envelope(&["a@example.test"]), body_for(9)).await.unwrap();
    eventually("the job is in the transport", || transport.running.load(Ordering::SeqCst) == 1).await;
    runner.request_stop();
    // The runner sees the stop at once but must wait for the job.
    tokio::task::yield_now().await;
    assert!(!runner.is_finished());
    gate.add_permits(1);
    runner.stop().await;
    assert!(queue.get(id).is_none(), "the job's outcome is recorded before run returns");
}

/// Panics on the first attempt of each message.
struct PanicsOnce(Arc<Scripted>);

#[async_trait::async_trait]
impl Transport for PanicsOnce {
    async fn deliver(&self, job: &Job) -> Vec<Outcome> {
        let first = self.0.calls_for(job.id).is_empty();
        let outcomes = self.0.deliver(job).await;
        assert!(!first, "transport bug");
        outcomes
    }
}

#[tokio::test]
async fn a_panicking_transport_is_retried_later_not_in_a_loop() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path());
    let transport = Scripted::new(|_, _| Outcome::Delivered);
    let runner = Runner::start(&queue, Arc::new(PanicsOnce(transport.clone())));
    let id = queue.enqueue(envelope(&["a@example.test"]), body_for(10)).await.unwrap();
    eventually("the message is delivered", || queue.get(id).is_none()).await;
    let calls = transport.calls_for(id);
    assert_eq!(calls.len(), 2);
    assert!(calls[1].at - calls[0].at >= Duration::from_millis(49), "retried after the first retry delay");
    runner.stop().await;
}
