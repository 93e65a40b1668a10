use super::*;
use std::time::Duration;

fn config() -> QueueConfig {
    QueueConfig {
        retry_schedule: vec![Duration::from_secs(1), Duration::from_secs(10), Duration::from_secs(100)],
        max_age: Duration::from_secs(1000),
        ..QueueConfig::new("/unused")
    }
}

fn deferred(attempts: u32, next_attempt_ms: i64) -> State {
    State::Deferred { attempts, next_attempt_ms, last_error: "busy".into(), warned: false }
}

#[test]
fn deferrals_follow_the_schedule_then_its_last_step() {
    let queued_at = 0;
    // (state before, now, state after), each a deferral "busy".
    let cases = [
        (State::Pending, 0, deferred(1, 1_000)),
        (deferred(1, 1_000), 1_000, deferred(2, 11_000)),
        (deferred(2, 11_000), 11_000, deferred(3, 111_000)),
        (deferred(3, 111_000), 111_000, deferred(4, 211_000)),
        (deferred(4, 211_000), 211_000, deferred(5, 311_000)),
        // Never past max_age: the last attempt is at the expiry time.
        (deferred(9, 950_000), 950_000, deferred(10, 1_000_000)),
    ];
    for (before, now, after) in cases {
        assert_eq!(
            next_state(&before, Outcome::Deferred("busy".into()), now, queued_at, &config()),
            after,
            "{before:?}"
        );
    }
}

#[test]
fn a_deferral_at_max_age_fails() {
    let state = next_state(&deferred(10, 1_000_000), Outcome::Deferred("busy".into()), 1_000_000, 0, &config());
    let State::Failed { reason } = state else { panic!("{state:?}") };
    assert!(reason.starts_with("busy"), "{reason}");
}

#[test]
fn other_outcomes_are_taken_as_they_are() {
    let cases = [
        (Outcome::Delivered, State::Delivered),
        (Outcome::Failed("5.1.1".into()), State::Failed { reason: "5.1.1".into() }),
        (Outcome::Held("remote".into()), State::Held { reason: "remote".into() }),
    ];
    for (outcome, expected) in cases {
        assert_eq!(next_state(&deferred(2, 0), outcome, 5, 0, &config()), expected);
    }
}

#[test]
fn due_and_retry_times() {
    let states = [State::Pending, deferred(1, 50), deferred(1, 20), State::Held { reason: String::new() }];
    assert_eq!(next_retry(&states), Some(20));
    let due: Vec<bool> = states.iter().map(|state| is_due(state, 30)).collect();
    assert_eq!(due, [true, false, true, false]);
    assert_eq!(next_retry(&[State::Delivered]), None);
}

#[test]
fn ready_first_then_timers_when_due() {
    let mut schedule = Schedule::default();
    schedule.push_timer(100, QueueId(1));
    schedule.push_timer(50, QueueId(2));
    schedule.push_ready(QueueId(3), Some(Bytes::from_static(b"body")));
    assert_eq!(schedule.next_deadline(), Some(50));
    let first = schedule.pop_due(10).unwrap();
    assert_eq!((first.id, first.body), (QueueId(3), Some(Bytes::from_static(b"body"))));
    assert!(schedule.pop_due(10).is_none());
    assert_eq!(schedule.pop_due(60).map(|ready| ready.id), Some(QueueId(2)));
    assert_eq!(schedule.pop_due(100).map(|ready| ready.id), Some(QueueId(1)));
    assert_eq!((schedule.next_deadline(), schedule.n_timers()), (None, 0));
}

#[test]
fn fresh_bodies_are_kept_within_a_budget() {
    let mut schedule = Schedule::default();
    let body = Bytes::from(vec![0; FRESH_BODY_BUDGET / 2 + 1]);
    schedule.push_ready(QueueId(1), Some(body.clone()));
    schedule.push_ready(QueueId(2), Some(body.clone()));
    assert!(schedule.pop_due(0).unwrap().body.is_some());
    assert!(schedule.pop_due(0).unwrap().body.is_none(), "over budget: read back from disk");
    schedule.push_ready(QueueId(3), Some(body));
    assert!(schedule.pop_due(0).unwrap().body.is_some(), "budget given back");
}

#[test]
fn in_flight_messages_are_not_started_twice() {
    let mut schedule = Schedule::default();
    assert!(schedule.start(QueueId(1)));
    assert!(!schedule.start(QueueId(1)));
    schedule.finish(QueueId(1));
    assert!(schedule.start(QueueId(1)));
}
