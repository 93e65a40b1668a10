//! Delivery status notifications from the runner: to the sender on
//! failure and expiry, a delay warning once, never to `<>`.

use super::*;

/// The notifications the transport was handed: calls whose reverse-path
/// is `<>`, with their bodies as text.
fn notifications(transport: &Scripted) -> Vec<(Vec<String>, String)> {
    transport
        .calls
        .lock()
        .iter()
        .filter(|call| call.envelope.mail_from.is_empty())
        .map(|call| (call.envelope.recipients.clone(), String::from_utf8_lossy(&call.body).into_owned()))
        .collect()
}

fn failing(prefix: &'static str) -> Arc<Scripted> {
    Scripted::new(move |address, _| {
        if address.starts_with(prefix) { Outcome::Failed("5.1.1 unknown user".into()) } else { Outcome::Delivered }
    })
}

#[tokio::test]
async fn a_failed_recipient_is_reported_to_the_sender() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(Queue::open(config(dir.path())).unwrap());
    let transport = failing("bad");
    let runner = Runner::start(&queue, transport.clone());
    queue.enqueue(envelope(&["good@example.test", "bad@example.test"]), body_for(1)).await.unwrap();
    eventually("the notification is delivered too", || {
        !notifications(&transport).is_empty() && queue.list().is_empty()
    })
    .await;
    let sent = notifications(&transport);
    assert_eq!(sent.len(), 1, "one notification");
    let (to, body) = &sent[0];
    assert_eq!(to, &vec!["sender@example.test".to_owned()]);
    assert!(body.contains("Final-Recipient: rfc822; bad@example.test"), "{body}");
    assert!(body.contains("Status: 5.1.1"), "{body}");
    assert!(!body.contains("good@example.test"), "only the failed recipient: {body}");
    assert!(body.contains("Message-Id: <1@example.test>"), "the original header: {body}");
    runner.stop().await;
}

#[tokio::test]
async fn nothing_is_sent_to_the_null_sender_so_bounces_never_loop() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(Queue::open(config(dir.path())).unwrap());
    // Everything fails, the notification to the sender included.
    let transport = Scripted::new(|_, _| Outcome::Failed("5.0.0 no".into()));
    let runner = Runner::start(&queue, transport.clone());
    let mut from_null = envelope(&["bad@example.test"]);
    from_null.mail_from.clear();
    queue.enqueue(from_null, body_for(2)).await.unwrap();
    queue.enqueue(envelope(&["bad@example.test"]), body_for(3)).await.unwrap();
    eventually("the queue is empty", || queue.list().is_empty() && transport.calls.lock().len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The message from <> bounces nowhere; the other's notification,
    // from <>, fails and is not answered either.
    assert_eq!(transport.calls.lock().len(), 3, "{:?}", notifications(&transport));
    assert!(queue.list().is_empty());
    runner.stop().await;
}

#[tokio::test]
async fn an_expired_message_is_reported_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.retry_schedule = vec![Duration::from_millis(20)];
    config.max_age = Duration::from_millis(300);
    config.delay_warning_after = None;
    let queue = Arc::new(Queue::open(config).unwrap());
    let transport = Scripted::new(|address, _| {
        if address.starts_with("slow") {
            Outcome::Deferred("4.4.1 connection refused".into())
        } else {
            Outcome::Delivered
        }
    });
    let runner = Runner::start(&queue, transport.clone());
    queue.enqueue(envelope(&["slow@example.test"]), body_for(4)).await.unwrap();
    eventually("the expiry is reported", || !notifications(&transport).is_empty()).await;
    let (_, body) = &notifications(&transport)[0];
    assert!(body.contains("Action: failed"), "{body}");
    assert!(body.contains("4.4.1 connection refused (still failing after"), "{body}");
    assert!(body.contains("Status: 4.4.1"), "the last error's code: {body}");
    eventually("the queue is empty", || queue.list().is_empty()).await;
    runner.stop().await;
}

#[tokio::test]
async fn a_long_delay_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.retry_schedule = vec![Duration::from_millis(20)];
    config.delay_warning_after = Some(Duration::from_millis(50));
    let queue = Arc::new(Queue::open(config).unwrap());
    let transport = Scripted::new(|address, attempt| {
        if address.starts_with("slow") && attempt < 10 {
            Outcome::Deferred("4.2.1 try later".into())
        } else {
            Outcome::Delivered
        }
    });
    let runner = Runner::start(&queue, transport.clone());
    let id = queue.enqueue(envelope(&["slow@example.test", "fast@example.test"]), body_for(5)).await.unwrap();
    eventually("the message is delivered", || queue.get(id).is_none()).await;
    eventually("the warning is delivered", || queue.list().is_empty()).await;
    let sent = notifications(&transport);
    assert_eq!(sent.len(), 1, "one warning, however many retries: {sent:?}");
    let (_, body) = &sent[0];
    assert!(body.contains("Action: delayed"), "{body}");
    assert!(body.contains("Final-Recipient: rfc822; slow@example.test"), "{body}");
    assert!(body.contains("Will-Retry-Until: "), "{body}");
    assert!(!body.contains("fast@example.test"), "{body}");
    runner.stop().await;
}

#[tokio::test]
async fn the_warning_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.retry_schedule = vec![Duration::from_millis(20)];
    config.delay_warning_after = Some(Duration::ZERO);
    let transport =
        Scripted::new(
            |address, _| {
                if address.starts_with("slow") { Outcome::Deferred("busy".into()) } else { Outcome::Delivered }
            },
        );
    let id = {
        let queue = Arc::new(Queue::open(config.clone()).unwrap());
        let runner = Runner::start(&queue, transport.clone());
        let id = queue.enqueue(envelope(&["slow@example.test"]), body_for(6)).await.unwrap();
        eventually("the warning is sent", || !notifications(&transport).is_empty()).await;
        runner.stop().await;
        id
    };
    let queue = Arc::new(Queue::open(config).unwrap());
    assert!(matches!(state_of(&queue, id)[0], RecipientState::Deferred { warned: true, .. }));
    let runner = Runner::start(&queue, transport.clone());
    eventually("it is retried after the restart", || transport.calls_for(id).len() >= 4).await;
    runner.stop().await;
    assert_eq!(notifications(&transport).len(), 1, "no second warning");
}
