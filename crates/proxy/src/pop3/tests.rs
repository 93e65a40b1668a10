use super::command::{Command, parse};
use crate::frontend::Protocol;
use crate::test_support::{calls, config, lookup_to, plain, scripted_backend, start};

fn check(line: &str, expected: Result<Command, &'static str>) {
    assert_eq!(parse(line.as_bytes()), expected, "{line:?}");
}

#[test]
fn authorization_commands_parse() {
    check("CAPA", Ok(Command::Capa));
    check("quit", Ok(Command::Quit));
    check("STLS", Ok(Command::Stls));
    check("USER alice@x.example", Ok(Command::User("alice@x.example".into())));
    check("PASS with spaces ", Ok(Command::Pass("with spaces ".into())));
    check("USER", Err("missing argument"));
    check("AUTH", Ok(Command::Auth { mechanism: None, initial: None }));
    check("AUTH PLAIN", Ok(Command::Auth { mechanism: Some("PLAIN".into()), initial: None }));
    check(
        "AUTH PLAIN AGEAYg==",
        Ok(Command::Auth { mechanism: Some("PLAIN".into()), initial: Some(b"AGEAYg==".to_vec()) }),
    );
    check("AUTH PLAIN a b", Err("too many arguments"));
    check("APOP alice 0123", Ok(Command::Apop));
    check("STAT", Ok(Command::Other));
    check("", Err("empty command"));
}

#[tokio::test]
async fn bad_input_is_answered_without_asking_for_a_backend() {
    let lookup = lookup_to(None);
    let mut c = start(Protocol::Pop3, config(), lookup.clone());
    assert_eq!(c.line().await, "+OK Rookery POP3 ready\r\n");
    assert_eq!(c.lines(&format!("USER {}\r\n", "x".repeat(200)), 1).await, ["-ERR line too long\r\n"]);
    assert_eq!(c.lines("\u{7f}\u{1}\r\n", 1).await, ["-ERR command not valid in this state\r\n"]);
    assert_eq!(c.lines("STAT\r\n", 1).await, ["-ERR command not valid in this state\r\n"]);
    assert_eq!(c.lines("PASS pw\r\n", 1).await, ["-ERR send USER first\r\n"]);
    assert_eq!(c.lines("AUTH PLAIN ***\r\n", 1).await, ["-ERR invalid base64\r\n"]);
    assert_eq!(c.lines("AUTH X-UNKNOWN\r\n", 1).await, ["-ERR unsupported SASL mechanism\r\n"]);
    assert_eq!(c.lines("AUTH\r\n", 4).await, ["+OK SASL mechanisms follow\r\n", "PLAIN\r\n", "LOGIN\r\n", ".\r\n"]);
    let capa = c.lines("CAPA\r\n", 10).await;
    assert_eq!(capa[0], "+OK capability list follows\r\n");
    assert!(capa.contains(&"SASL PLAIN LOGIN\r\n".to_owned()) && !capa.contains(&"STLS\r\n".to_owned()), "{capa:?}");
    assert_eq!(capa[9], ".\r\n");
    assert_eq!(c.lines("QUIT\r\n", 1).await, ["+OK Rookery POP3 signing off\r\n"]);
    assert!(c.closed().await);
    assert_eq!(calls(&lookup), 0);
}

#[tokio::test]
async fn an_unknown_account_is_answered_like_a_wrong_password_until_too_many() {
    let lookup = lookup_to(None);
    let mut c = start(Protocol::Pop3, config(), lookup.clone());
    c.line().await;
    assert_eq!(
        c.lines("USER nobody\r\nPASS pw\r\n", 2).await,
        ["+OK send PASS\r\n", "-ERR [AUTH] invalid credentials\r\n"]
    );
    assert_eq!(
        c.lines(&format!("AUTH PLAIN {}\r\n", plain("nobody", "pw")), 1).await,
        ["-ERR [AUTH] invalid credentials\r\n"]
    );
    assert_eq!(
        c.lines("AUTH LOGIN\r\nbm9ib2R5\r\ncHc=\r\n", 3).await,
        [
            "+ VXNlcm5hbWU6\r\n",
            "+ UGFzc3dvcmQ6\r\n",
            "-ERR [AUTH] invalid credentials; too many failures, closing connection\r\n"
        ]
    );
    assert!(c.closed().await);
    assert_eq!(calls(&lookup), 3);
}

#[tokio::test]
async fn user_pass_is_replayed_as_plain_and_spliced() {
    let (backend, seen) =
        scripted_backend("+OK ready\r\n", vec!["+OK alice@main.example has 0 messages (0 octets)\r\n"]).await;
    let mut c = start(Protocol::Pop3, config(), lookup_to(Some(backend)));
    c.line().await;
    // Pipelined: STAT is sent with the login and goes to the backend.
    assert_eq!(
        c.lines("USER alice\r\nPASS p w\r\nSTAT\r\n", 3).await,
        ["+OK send PASS\r\n", "+OK alice@main.example has 0 messages (0 octets)\r\n", "echo STAT\r\n"]
    );
    drop(c);
    let seen = seen.await.unwrap();
    assert_eq!(seen.lines, [format!("AUTH PLAIN {}\r\n", plain("alice@main.example", "p w")), "STAT\r\n".into()]);
}

#[tokio::test]
async fn a_backend_that_is_down_gets_a_temporary_answer() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut c = start(Protocol::Pop3, config(), lookup_to(Some(closed)));
    c.line().await;
    assert_eq!(
        c.lines("USER alice\r\nPASS pw\r\n", 2).await,
        ["+OK send PASS\r\n", "-ERR [SYS/TEMP] account is unavailable, try again later\r\n"]
    );
}
