//! Transactions: pipelined and not, content encoding, per-recipient
//! results, refusals decided before sending.

use crate::fake_server::{EHLO_PIPELINING, EHLO_PLAIN, FakeServer, Serve, Step, greet, send};
use crate::{config, envelope};
use smtp_client::{Connection, RcptResult, Stage};

fn ok_steps(ehlo: &'static str) -> Vec<Step> {
    let mut steps = greet(ehlo);
    steps.push(Step::Serve(Serve { ehlo, ..Serve::default() }));
    steps
}

#[tokio::test]
async fn pipelined_transaction_is_one_write() {
    let server = FakeServer::start(vec![ok_steps(EHLO_PIPELINING)]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    assert!(connection.extensions().pipelining);
    let results =
        connection.send(&envelope(&["a@example.org", "b@example.org"]), b"Subject: hi\r\n\r\nhello\r\n").await.unwrap();
    assert_eq!(results, vec![RcptResult::Accepted, RcptResult::Accepted]);
    connection.quit().await.unwrap();
    let record = server.wait_for("the end of the connection", |record| record.ended == 1).await;
    let batch = record
        .reads
        .iter()
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).to_string())
        .find(|read| read.starts_with("MAIL"))
        .expect("a read with MAIL");
    assert_eq!(
        batch,
        "MAIL FROM:<sender@example.com>\r\nRCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
    );
    assert_eq!(record.messages, vec![b"Subject: hi\r\n\r\nhello\r\n.\r\n".to_vec()]);
    assert_eq!(record.command_names(), ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]);
    assert!(record.errors.is_empty(), "{:?}", record.errors);
}

#[tokio::test]
async fn without_pipelining_each_command_waits_for_its_reply() {
    let server = FakeServer::start(vec![ok_steps(EHLO_PLAIN)]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    assert!(!connection.extensions().pipelining);
    let results = connection.send(&envelope(&["a@example.org", "b@example.org"]), b"hello\r\n").await.unwrap();
    assert_eq!(results, vec![RcptResult::Accepted, RcptResult::Accepted]);
    let record = server.record();
    for (_, read) in &record.reads {
        let read = String::from_utf8_lossy(read);
        assert!(
            read.matches("\r\n").count() == 1 || read.starts_with("hello"),
            "more than one command in a read: {read:?}"
        );
    }
    assert_eq!(record.command_names(), ["EHLO", "MAIL", "RCPT", "RCPT", "DATA"]);
}

#[tokio::test]
async fn content_is_dot_stuffed_and_crlf_normalised() {
    let server = FakeServer::start(vec![ok_steps(EHLO_PIPELINING)]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    let body = b"Subject: dots\n\n.leading dot\n.\nbare\rcr\r\n..two\nno final newline";
    connection.send(&envelope(&["a@example.org"]), body).await.unwrap();
    let record = server.record();
    assert_eq!(
        String::from_utf8_lossy(&record.messages[0]),
        "Subject: dots\r\n\r\n..leading dot\r\n..\r\nbare\r\ncr\r\n...two\r\nno final newline\r\n.\r\n"
    );
}

/// Replies to MAIL, two RCPTs and DATA for a non-pipelining server.
fn rcpt_script(rcpt_replies: [&str; 3], after_rcpts: Vec<Step>) -> Vec<Step> {
    let mut steps = greet(EHLO_PLAIN);
    steps.extend([Step::Expect("MAIL"), send("250 2.1.0 ok\r\n")]);
    for reply in rcpt_replies {
        steps.extend([Step::Expect("RCPT"), send(reply)]);
    }
    steps.extend(after_rcpts);
    steps
}

#[tokio::test]
async fn recipients_get_their_own_replies() {
    let server = FakeServer::start(vec![rcpt_script(
        ["250 2.1.5 ok\r\n", "450 4.2.1 try later\r\n", "550-5.1.1 no such\r\n550 5.1.1 user\r\n"],
        vec![
            Step::Expect("DATA"),
            send("354 go\r\n"),
            Step::ReadData,
            send("250 2.0.0 queued\r\n"),
            Step::Serve(Serve::default()),
        ],
    )])
    .await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    let results = connection.send(&envelope(&["a@x.org", "b@x.org", "c@x.org"]), b"hi\r\n").await.unwrap();
    assert_eq!(results[0], RcptResult::Accepted);
    let RcptResult::Rejected(temporary) = &results[1] else { panic!("{results:?}") };
    assert!(temporary.is_temporary());
    assert_eq!(temporary.stage(), Stage::RcptTo);
    assert_eq!(temporary.reply().unwrap().code, 450);
    let RcptResult::Rejected(permanent) = &results[2] else { panic!("{results:?}") };
    assert!(permanent.is_permanent());
    assert_eq!(permanent.status().to_string(), "5.1.1");
    assert_eq!(
        permanent.to_string(),
        format!("localhost[127.0.0.1] said: 550 5.1.1 no such user (in reply to RCPT TO)")
    );
    // The connection carries another transaction after RSET.
    connection.reset().await.unwrap();
    let results = connection.send(&envelope(&["d@x.org"]), b"again\r\n").await.unwrap();
    assert_eq!(results, vec![RcptResult::Accepted]);
    assert_eq!(server.record().messages.len(), 2);
}

#[tokio::test]
async fn all_recipients_refused_means_rset_not_data() {
    let server = FakeServer::start(vec![rcpt_script(
        ["550 5.1.1 no\r\n", "550 5.1.1 no\r\n", "451 4.3.0 later\r\n"],
        vec![Step::Expect("RSET"), send("250 ok\r\n"), Step::Serve(Serve::default())],
    )])
    .await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    let results = connection.send(&envelope(&["a@x.org", "b@x.org", "c@x.org"]), b"hi\r\n").await.unwrap();
    assert!(results.iter().all(|result| !result.is_accepted()));
    assert!(connection.is_usable());
    let record = server.record();
    assert!(record.errors.is_empty(), "{:?}", record.errors);
    assert!(record.messages.is_empty());
    assert_eq!(record.command_names(), ["EHLO", "MAIL", "RCPT", "RCPT", "RCPT", "RSET"]);
}

#[tokio::test]
async fn all_recipients_refused_when_pipelining() {
    let mut steps = greet(EHLO_PIPELINING);
    steps.extend([
        Step::Expect("MAIL"),
        Step::Expect("RCPT"),
        Step::Expect("DATA"),
        send("250 2.1.0 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n"),
        Step::Serve(Serve::default()),
    ]);
    let server = FakeServer::start(vec![steps]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    let results = connection.send(&envelope(&["a@x.org"]), b"hi\r\n").await.unwrap();
    let RcptResult::Rejected(error) = &results[0] else { panic!("{results:?}") };
    assert_eq!((error.stage(), error.is_permanent()), (Stage::RcptTo, true));
    // In step for the next transaction.
    connection.reset().await.unwrap();
    assert_eq!(connection.send(&envelope(&["b@x.org"]), b"hi\r\n").await.unwrap(), vec![RcptResult::Accepted]);
}

async fn final_reply(reply: &str) -> Vec<RcptResult> {
    let mut steps = greet(EHLO_PIPELINING);
    steps.extend([
        Step::Expect("MAIL"),
        Step::Expect("RCPT"),
        Step::Expect("RCPT"),
        Step::Expect("DATA"),
        send("250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n354 go\r\n"),
        Step::ReadData,
        send(reply),
        Step::Serve(Serve::default()),
    ]);
    let server = FakeServer::start(vec![steps]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    connection.send(&envelope(&["a@x.org", "b@x.org"]), b"hi\r\n").await.unwrap()
}

#[tokio::test]
async fn temporary_failure_after_the_dot_applies_to_accepted_recipients() {
    let results = final_reply("452 4.3.1 insufficient storage\r\n").await;
    let RcptResult::Rejected(error) = &results[0] else { panic!("{results:?}") };
    assert_eq!((error.stage(), error.is_temporary()), (Stage::FinalReply, true));
    assert_eq!(
        error.to_string(),
        "localhost[127.0.0.1] said: 452 4.3.1 insufficient storage (in reply to end of DATA)"
    );
    // The recipient refused at RCPT keeps its own reply.
    let RcptResult::Rejected(error) = &results[1] else { panic!("{results:?}") };
    assert_eq!((error.stage(), error.is_permanent()), (Stage::RcptTo, true));
}

#[tokio::test]
async fn permanent_failure_after_the_dot() {
    let results = final_reply("554 5.7.1 message refused\r\n").await;
    let RcptResult::Rejected(error) = &results[0] else { panic!("{results:?}") };
    assert_eq!((error.stage(), error.is_permanent()), (Stage::FinalReply, true));
    assert_eq!(error.status().to_string(), "5.7.1");
}

#[tokio::test]
async fn greeting_554_is_a_permanent_refusal() {
    let server = FakeServer::start(vec![vec![
        send("554 5.7.1 no service for you\r\n"),
        Step::Expect("QUIT"),
        send("221 bye\r\n"),
    ]])
    .await;
    let error = Connection::connect(server.addr, "mx.example.com", &config()).await.unwrap_err();
    assert!(error.is_permanent());
    assert_eq!(error.stage(), Stage::Greeting);
    assert_eq!(error.to_string(), "mx.example.com[127.0.0.1] refused to talk to me: 554 5.7.1 no service for you");
    server.wait_for("QUIT", |record| record.command_names() == ["QUIT"]).await;
}

#[tokio::test]
async fn greeting_421_is_temporary() {
    let server = FakeServer::start(vec![vec![send("421 4.3.2 busy\r\n"), Step::Hang]]).await;
    let error = Connection::connect(server.addr, "localhost", &config()).await.unwrap_err();
    assert!(error.is_temporary());
    assert_eq!(error.stage(), Stage::Greeting);
}

#[tokio::test]
async fn ehlo_refused_falls_back_to_helo() {
    let server = FakeServer::start(vec![vec![
        send("220-fake.test\r\n220 old server\r\n"),
        Step::Expect("EHLO"),
        send("502 5.5.2 what is EHLO\r\n"),
        Step::Expect("HELO"),
        send("250 fake.test\r\n"),
        Step::Serve(Serve::default()),
    ]])
    .await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    assert!(!connection.extensions().esmtp);
    let results = connection.send(&envelope(&["a@x.org"]), b"hi\r\n").await.unwrap();
    assert_eq!(results, vec![RcptResult::Accepted]);
    let record = server.record();
    assert!(record.errors.is_empty(), "{:?}", record.errors);
    assert_eq!(record.command_names(), ["EHLO", "HELO", "MAIL", "RCPT", "DATA"]);
    assert_eq!(record.commands[1].1, "HELO client.test");
    // Plain SMTP: no ESMTP parameters.
    assert_eq!(record.commands[2].1, "MAIL FROM:<sender@example.com>");
}

#[tokio::test]
async fn over_the_size_limit_fails_before_sending() {
    let ehlo = "250-fake.test\r\n250-PIPELINING\r\n250 SIZE 100\r\n";
    let server = FakeServer::start(vec![ok_steps(ehlo)]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    assert_eq!(connection.extensions().size, Some(100));
    let error = connection.send(&envelope(&["a@x.org"]), &[b'x'; 200]).await.unwrap_err();
    assert!(error.is_permanent());
    assert_eq!(error.status().to_string(), "5.3.4");
    assert_eq!(error.to_string(), "message size 202 exceeds size limit 100 of server localhost[127.0.0.1]");
    // Under the limit it goes, with SIZE=.
    let results = connection.send(&envelope(&["a@x.org"]), b"small\n").await.unwrap();
    assert_eq!(results, vec![RcptResult::Accepted]);
    let record = server.record();
    assert_eq!(record.command_names(), ["EHLO", "MAIL", "RCPT", "DATA"]);
    assert_eq!(record.commands[1].1, "MAIL FROM:<sender@example.com> SIZE=7");
}

#[tokio::test]
async fn smtputf8_needed_but_not_offered_fails_permanently() {
    let server = FakeServer::start(vec![ok_steps(EHLO_PIPELINING)]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    let error = connection.send(&envelope(&["jos\u{e9}@x.org"]), b"hi\r\n").await.unwrap_err();
    assert!(error.is_permanent());
    assert_eq!(error.status().to_string(), "5.6.7");
    let mut flagged = envelope(&["a@x.org"]);
    flagged.smtputf8 = true;
    assert!(connection.send(&flagged, b"hi\r\n").await.unwrap_err().is_permanent());
    assert_eq!(server.record().command_names(), ["EHLO"]);
}

#[tokio::test]
async fn mail_parameters_follow_the_extensions() {
    let ehlo = "250-fake.test\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n";
    let server = FakeServer::start(vec![ok_steps(ehlo)]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    let results = connection.send(&envelope(&["jos\u{e9}@x.org"]), "caf\u{e9}\r\n".as_bytes()).await.unwrap();
    assert_eq!(results, vec![RcptResult::Accepted]);
    let record = server.record();
    assert_eq!(record.commands[1].1, "MAIL FROM:<sender@example.com> SIZE=7 BODY=8BITMIME SMTPUTF8");
    assert_eq!(record.commands[2].1, "RCPT TO:<jos\u{e9}@x.org>");
}

#[tokio::test]
async fn mail_refused() {
    let mut steps = greet(EHLO_PIPELINING);
    steps.extend([
        Step::Expect("MAIL"),
        Step::Expect("RCPT"),
        Step::Expect("DATA"),
        send("553 5.1.8 bad sender\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no MAIL\r\n"),
        Step::Serve(Serve::default()),
    ]);
    let server = FakeServer::start(vec![steps]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    let error = connection.send(&envelope(&["a@x.org"]), b"hi\r\n").await.unwrap_err();
    assert_eq!((error.stage(), error.is_permanent()), (Stage::MailFrom, true));
    assert_eq!(error.to_string(), "localhost[127.0.0.1] said: 553 5.1.8 bad sender (in reply to MAIL FROM)");
    assert!(connection.is_usable());
}

#[tokio::test]
async fn command_injection_in_addresses_is_refused() {
    let server = FakeServer::start(vec![ok_steps(EHLO_PIPELINING)]).await;
    let mut connection = Connection::connect(server.addr, "localhost", &config()).await.unwrap();
    let results = connection.send(&envelope(&["a@x.org>\r\nRCPT TO:<evil@x.org", "b@x.org"]), b"hi\r\n").await.unwrap();
    assert!(matches!(&results[0], RcptResult::Rejected(error) if error.is_permanent()));
    assert_eq!(results[1], RcptResult::Accepted);
    assert!(!server.record().commands.iter().any(|(_, line)| line.contains("evil")));
}
