//! Administration: retry, hold, release, delete, and importing the queue
//! of a failed server.

use super::*;

fn slow_config(dir: &Path) -> QueueConfig {
    QueueConfig { retry_schedule: vec![Duration::from_secs(3600)], delay_warning_after: None, ..config(dir) }
}

#[tokio::test]
async fn retry_tries_a_deferred_message_now() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(Queue::open(slow_config(dir.path())).unwrap());
    let transport =
        Scripted::new(|_, attempt| if attempt == 1 { Outcome::Deferred("busy".into()) } else { Outcome::Delivered });
    let runner = Runner::start(&queue, transport.clone());
    let id = queue.enqueue(envelope(&["a@example.test"]), body_for(1)).await.unwrap();
    eventually("the first attempt is deferred", || {
        matches!(state_of(&queue, id).as_slice(), [RecipientState::Deferred { .. }])
    })
    .await;
    queue.retry(id).await.unwrap();
    eventually("the retry delivers it, an hour early", || queue.get(id).is_none()).await;
    assert!(matches!(queue.retry(id).await, Err(QueueError::NotFound(_))));
    runner.stop().await;
}

#[tokio::test]
async fn held_messages_wait_for_release_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = slow_config(dir.path());
    let transport = Scripted::new(|_, _| Outcome::Delivered);
    let id = {
        let queue = Arc::new(Queue::open(config.clone()).unwrap());
        let id = queue.enqueue(envelope(&["a@example.test", "b@example.test"]), body_for(2)).await.unwrap();
        queue.hold(id).await.unwrap();
        id
    };
    let queue = Arc::new(Queue::open(config).unwrap());
    let held = RecipientState::Held { reason: HELD_BY_ADMIN.into() };
    assert_eq!(state_of(&queue, id), vec![held.clone(), held]);
    let runner = Runner::start(&queue, transport.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(transport.calls_for(id).is_empty(), "a held message is not tried");
    queue.release(id).await.unwrap();
    eventually("the released message is delivered", || queue.get(id).is_none()).await;
    runner.stop().await;
}

#[tokio::test]
async fn delete_removes_for_good_without_a_notification() {
    let dir = tempfile::tempdir().unwrap();
    let config = slow_config(dir.path());
    let id = {
        let queue = Queue::open(config.clone()).unwrap();
        let id = queue.enqueue(envelope(&["a@example.test"]), body_for(3)).await.unwrap();
        let other = queue.enqueue(envelope(&["b@example.test"]), body_for(4)).await.unwrap();
        queue.delete(id).await.unwrap();
        assert!(matches!(queue.delete(id).await, Err(QueueError::NotFound(_))));
        assert_eq!(queue.list().iter().map(|e| e.id).collect::<Vec<_>>(), vec![other]);
        id
    };
    let queue = Queue::open(config).unwrap();
    assert!(queue.get(id).is_none(), "the deletion is durable");
    assert_eq!(queue.list().len(), 1);
}

#[tokio::test]
async fn import_takes_over_what_a_failed_server_had_not_delivered() {
    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign_config = slow_config(foreign_dir.path());
    let transport = Scripted::new(|address, _| match &address[..1] {
        "d" => Outcome::Delivered,
        "h" => Outcome::Held("no route".into()),
        _ => Outcome::Deferred("4.4.1 connection refused".into()),
    });
    {
        let foreign = Arc::new(Queue::open(foreign_config).unwrap());
        let runner = Runner::start(&foreign, transport.clone());
        foreign.enqueue(envelope(&["d1@x", "r1@x", "d2@x"]), body_for(5)).await.unwrap();
        foreign.enqueue(envelope(&["h1@x"]), body_for(6)).await.unwrap();
        foreign.enqueue(envelope(&["d3@x"]), body_for(7)).await.unwrap();
        eventually("the failed server tried everything", || {
            foreign.list().len() == 2 && foreign.list().iter().all(|e| !e.states.contains(&RecipientState::Pending))
        })
        .await;
        runner.stop().await;
    }

    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(Queue::open(slow_config(dir.path())).unwrap());
    let imported = queue.import(foreign_dir.path()).await.unwrap();
    assert_eq!(imported, Imported { messages: 2, recipients: 2, done_before: 2 });
    let mut entries = queue.list();
    entries.sort_by_key(|e| e.envelope.recipients.clone());
    assert_eq!(entries[0].envelope.recipients, vec!["h1@x".to_owned()]);
    assert_eq!(entries[1].envelope.recipients, vec!["r1@x".to_owned()], "delivered recipients are not sent again");
    assert!(entries.iter().all(|e| e.states == vec![RecipientState::Pending]));
    let bodies: Vec<Bytes> = entries.iter().map(|e| queue.read_body(e.id).unwrap()).collect();
    assert_eq!(bodies, vec![body_for(6), body_for(5)]);

    // The foreign spool is empty now: importing again moves nothing.
    assert_eq!(queue.import(foreign_dir.path()).await.unwrap(), Imported::default());
    assert!(Queue::open(slow_config(foreign_dir.path())).unwrap().list().is_empty());
    assert!(matches!(queue.import(&foreign_dir.path().join("missing")).await, Err(QueueError::Config(_))));
}

#[tokio::test]
async fn a_spool_in_use_cannot_be_imported() {
    let foreign_dir = tempfile::tempdir().unwrap();
    let _running = Queue::open(slow_config(foreign_dir.path())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(slow_config(dir.path())).unwrap();
    assert!(queue.import(foreign_dir.path()).await.is_err(), "the other server still holds its spool");
}
