//! Real clients log in through a frontend started in this process and
//! reach real `rookery serve` backends: alice on one, bob on another.
mod common;

use common::{answer, args, backend, frontend, frontend_config, lookup, scenario};
use proxy::{PlaintextAuth, PlaintextAuthByProtocol};

const ALICE: &str = "alice@one.example";
const BOB: &str = "bob@two.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_account_reaches_its_own_backend_with_the_clients_address() {
    let one = backend("one.example", "alice");
    let two = backend("two.example", "bob");
    let fe = frontend(frontend_config("one.example"), lookup(&[(ALICE, &one), (BOB, &two)]), None).await;

    // Submission through the frontend from 127.0.0.5; alice logs in with a
    // bare name, which takes the frontend's main domain.
    scenario(args(&[
        &"smtp-submit",
        &"--submission",
        &fe.submission,
        &"--user",
        &"alice",
        &"--password",
        &"pw-alice",
        &"--source",
        &"127.0.0.5",
        &"--sender",
        &ALICE,
        &"--to",
        &ALICE,
        &"--subject",
        &"for alice",
    ]))
    .await
    .unwrap();
    scenario(args(&[
        &"smtp-submit",
        &"--submission",
        &fe.submission,
        &"--user",
        &BOB,
        &"--password",
        &"pw-bob",
        &"--sender",
        &BOB,
        &"--to",
        &BOB,
        &"--subject",
        &"for bob",
    ]))
    .await
    .unwrap();

    // Each mailbox is on its own backend; the Received header the backend
    // wrote names the client, not the frontend (the PROXY header worked).
    scenario(args(&[
        &"imap-login",
        &"--imap",
        &fe.imap,
        &"--user",
        &"alice",
        &"--password",
        &"pw-alice",
        &"--min-messages",
        &1,
        &"--expect",
        &"for alice",
        &"--expect",
        &"[127.0.0.5]",
        &"--refuse",
        &"for bob",
    ]))
    .await
    .unwrap();
    scenario(args(&[
        &"imap-login",
        &"--imap",
        &fe.imap,
        &"--user",
        &BOB,
        &"--password",
        &"pw-bob",
        &"--mechanism",
        &"plain",
        &"--min-messages",
        &1,
        &"--expect",
        &"for bob",
        &"--refuse",
        &"for alice",
    ]))
    .await
    .unwrap();
    scenario(args(&[
        &"pop3-login",
        &"--pop3",
        &fe.pop3,
        &"--user",
        &"alice",
        &"--password",
        &"pw-alice",
        &"--min-messages",
        &1,
        &"--expect",
        &"for alice",
    ]))
    .await
    .unwrap();
    scenario(args(&[
        &"pop3-login",
        &"--pop3",
        &fe.pop3,
        &"--user",
        &BOB,
        &"--password",
        &"pw-bob",
        &"--mechanism",
        &"plain",
        &"--min-messages",
        &1,
        &"--expect",
        &"for bob",
    ]))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_and_an_unknown_account_get_the_same_answer() {
    let one = backend("one.example", "alice");
    let fe = frontend(frontend_config("one.example"), lookup(&[(ALICE, &one)]), None).await;
    for (scenario_name, flag, addr) in [
        ("imap-fail", "--imap", fe.imap),
        ("pop3-fail", "--pop3", fe.pop3),
        ("smtp-fail", "--submission", fe.submission),
    ] {
        let wrong = scenario(args(&[&scenario_name, &flag, &addr, &"--user", &"alice", &"--password", &"wrong"]))
            .await
            .unwrap();
        let unknown = scenario(args(&[&scenario_name, &flag, &addr, &"--user", &"nobody", &"--password", &"wrong"]))
            .await
            .unwrap();
        assert_eq!(answer(&wrong), answer(&unknown), "{scenario_name}");
        assert!(!answer(&wrong).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_is_the_frontends_and_the_login_needs_it() {
    let one = backend("one.example", "alice");
    let dir = tempfile::tempdir().unwrap();
    let mut config = frontend_config("one.example");
    // Loopback clients too must use TLS on this frontend.
    config.plaintext_auth = PlaintextAuthByProtocol::all(PlaintextAuth { anywhere: false, on_loopback: false });
    let fe = frontend(config, lookup(&[(ALICE, &one)]), Some(common::tls(dir.path()))).await;
    scenario(args(&[
        &"smtp-submit",
        &"--submission",
        &fe.submission,
        &"--starttls",
        &"--user",
        &ALICE,
        &"--password",
        &"pw-alice",
        &"--sender",
        &ALICE,
        &"--to",
        &ALICE,
        &"--subject",
        &"over tls",
    ]))
    .await
    .unwrap();
    scenario(args(&[
        &"imap-login",
        &"--imap",
        &fe.imap,
        &"--starttls",
        &"--user",
        &ALICE,
        &"--password",
        &"pw-alice",
        &"--min-messages",
        &1,
        &"--expect",
        &"over tls",
    ]))
    .await
    .unwrap();
    scenario(args(&[
        &"pop3-login",
        &"--pop3",
        &fe.pop3,
        &"--starttls",
        &"--user",
        &ALICE,
        &"--password",
        &"pw-alice",
        &"--min-messages",
        &1,
    ]))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_through_the_frontend_sees_mail_delivered_on_the_backend() {
    let one = backend("one.example", "alice");
    let fe = frontend(frontend_config("one.example"), lookup(&[(ALICE, &one)]), None).await;
    scenario(args(&[
        &"imap-idle",
        &"--imap",
        &fe.imap,
        &"--user",
        &ALICE,
        &"--password",
        &"pw-alice",
        &"--smtp",
        &one.ports.smtp(),
        &"--to",
        &ALICE,
        &"--subject",
        &"while idling",
    ]))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_backend_gets_temporary_answers() {
    let mut one = backend("one.example", "alice");
    let fe = frontend(frontend_config("one.example"), lookup(&[(ALICE, &one)]), None).await;
    one.kill();
    let imap =
        scenario(args(&[&"imap-unavailable", &"--imap", &fe.imap, &"--user", &ALICE, &"--password", &"pw-alice"]))
            .await
            .unwrap();
    assert!(answer(&imap).contains("[UNAVAILABLE]"), "{imap}");
    let pop3 = scenario(args(&[&"pop3-fail", &"--pop3", &fe.pop3, &"--user", &ALICE, &"--password", &"pw-alice"]))
        .await
        .unwrap();
    assert!(answer(&pop3).contains("[SYS/TEMP]"), "{pop3}");
    let smtp =
        scenario(args(&[&"smtp-fail", &"--submission", &fe.submission, &"--user", &ALICE, &"--password", &"pw-alice"]))
            .await
            .unwrap();
    assert!(answer(&smtp).starts_with("454 4.7.0"), "{smtp}");
}
