//! Bad servers end in clear, temporary errors: never a hang or a panic.

use crate::fake_server::{EHLO_PLAIN, FakeServer, Serve, Step, greet, send};
use crate::{config, envelope};
use smtp_client::{Cause, Connection, RcptResult, ReplyError, SmtpError, Stage, Timeouts};
use std::time::{Duration, Instant};

async fn connect_error(script: Vec<Step>) -> SmtpError {
    let server = FakeServer::start(vec![script]).await;
    Connection::connect(server.addr, "localhost", &config()).await.unwrap_err()
}

#[tokio::test]
async fn reply_without_a_code() {
    let error = connect_error(vec![send("hello there\r\n"), Step::Hang]).await;
    assert_eq!(error.cause(), &Cause::BadReply(ReplyError::NoCode("hello there".into())));
    assert!(error.is_temporary());
    assert_eq!(
        error.to_string(),
        "localhost[127.0.0.1] sent a malformed reply while receiving the initial server greeting: reply line without a code: \"hello there\""
    );
}

#[tokio::test]
async fn garbage() {
    let error = connect_error(vec![Step::Send(b"\x00\xff\x1b[2J\x80garbage\r\n".to_vec()), Step::Hang]).await;
    assert!(matches!(error.cause(), Cause::BadReply(ReplyError::NoCode(_))), "{error}");
    assert!(error.to_string().is_ascii());
}

#[tokio::test]
async fn code_changes_within_a_reply() {
    let mut script = greet("250-fake.test\r\n550 PIPELINING\r\n");
    script.push(Step::Hang);
    let error = connect_error(script).await;
    assert_eq!(error.cause(), &Cause::BadReply(ReplyError::InconsistentCode { first: 250, then: 550 }));
    assert_eq!(error.stage(), Stage::Ehlo);
}

#[tokio::test]
async fn endless_reply_line_is_cut_off() {
    let error = connect_error(vec![send("220 "), Step::Flood(b'a')]).await;
    assert_eq!(error.cause(), &Cause::BadReply(ReplyError::LineTooLong));
}

#[tokio::test]
async fn endless_multiline_reply_is_cut_off() {
    let lines = "220-more to come\r\n".repeat(2000);
    let error = connect_error(vec![send(&lines), Step::Hang]).await;
    assert_eq!(error.cause(), &Cause::BadReply(ReplyError::ReplyTooLong));
}

#[tokio::test]
async fn silent_server_times_out() {
    let server = FakeServer::start(vec![vec![Step::Hang]]).await;
    let mut config = config();
    config.timeouts = Timeouts::all(Duration::from_millis(200));
    let started = Instant::now();
    let error = Connection::connect(server.addr, "localhost", &config).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!((error.stage(), error.cause()), (Stage::Greeting, &Cause::Timeout));
    assert!(error.is_temporary());
    assert_eq!(
        error.to_string(),
        "conversation with localhost[127.0.0.1] timed out while receiving the initial server greeting"
    );
}

#[tokio::test]
async fn slow_drip_does_not_extend_the_timeout() {
    let mut script = vec![];
    for _ in 0..50 {
        script.extend([send("220-x\r\n"), Step::Sleep(Duration::from_millis(50))]);
    }
    script.push(Step::Hang);
    let server = FakeServer::start(vec![script]).await;
    let mut config = config();
    config.timeouts = Timeouts::all(Duration::from_millis(300));
    let error = Connection::connect(server.addr, "localhost", &config).await.unwrap_err();
    assert_eq!(error.cause(), &Cause::Timeout);
}

#[tokio::test]
async fn no_answer_after_the_dot_times_out() {
    let mut script = greet(EHLO_PLAIN);
    script.extend([
        Step::Expect("MAIL"),
        send("250 ok\r\n"),
        Step::Expect("RCPT"),
        send("250 ok\r\n"),
        Step::Expect("DATA"),
        send("354 go\r\n"),
        Step::ReadData,
        Step::Hang,
    ]);
    let server = FakeServer::start(vec![script]).await;
    let mut config = config();
    config.timeouts.final_dot = Duration::from_millis(200);
    let mut connection = Connection::connect(server.addr, "localhost", &config).await.unwrap();
    let results = connection.send(&envelope(&["a@x.org"]), b"hi\r\n").await.unwrap();
    let RcptResult::Rejected(error) = &results[0] else { panic!("{results:?}") };
    assert_eq!((error.stage(), error.cause(), error.is_temporary()), (Stage::FinalReply, &Cause::Timeout, true));
    assert!(error.to_string().contains("message may be sent more than once"), "{error}");
    assert!(!connection.is_usable());
}

#[tokio::test]
async fn server_closing_mid_data_is_temporary() {
    let mut script = greet(EHLO_PLAIN);
    script.extend([
        Step::Expect("MAIL"),
        send("250 ok\r\n"),
        Step::Expect("RCPT"),
        send("250 ok\r\n"),
        Step::Expect("DATA"),
        send("354 go\r\n"),
        Step::Close,
    ]);
    let server = FakeServer::start(vec![script]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    let body = b"0123456789abcdef\r\n".repeat(256 * 1024);
    let results = connection.send(&envelope(&["a@x.org"]), &body).await.unwrap();
    let RcptResult::Rejected(error) = &results[0] else { panic!("{results:?}") };
    assert!(error.is_temporary());
    assert!(matches!(error.stage(), Stage::DataTransfer | Stage::FinalReply), "{error}");
    assert!(matches!(error.cause(), Cause::Closed | Cause::Io(_)), "{error}");
    assert!(!connection.is_usable());
    assert!(connection.send(&envelope(&["a@x.org"]), b"x").await.unwrap_err().is_temporary());
}

#[tokio::test]
async fn server_closing_before_replies_is_temporary() {
    let mut script = greet(EHLO_PLAIN);
    script.extend([Step::Expect("MAIL"), Step::Close]);
    let server = FakeServer::start(vec![script]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    let error = connection.send(&envelope(&["a@x.org"]), b"hi\r\n").await.unwrap_err();
    assert_eq!((error.stage(), error.cause(), error.is_temporary()), (Stage::MailFrom, &Cause::Closed, true));
    assert_eq!(error.to_string(), "lost connection with localhost[127.0.0.1] while sending MAIL FROM");
}

#[tokio::test]
async fn connection_refused_is_temporary() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = Connection::connect(addr, "localhost", &config()).await.unwrap_err();
    assert_eq!(error.stage(), Stage::Connect);
    assert!(error.is_temporary());
    assert_eq!(error.status().to_string(), "4.4.1");
    assert!(error.to_string().starts_with(&format!("connect to localhost[127.0.0.1]:{}: ", addr.port())), "{error}");
}

#[tokio::test]
async fn unexpected_positive_reply_is_a_temporary_protocol_error() {
    // A 250 greeting is not a 220.
    let error = connect_error(vec![send("250 hello\r\n"), Step::Serve(Serve::default())]).await;
    assert!(error.is_temporary());
    assert_eq!(error.stage(), Stage::Greeting);
}
