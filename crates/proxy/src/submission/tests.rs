use super::command::{Command, parse};
use crate::frontend::Protocol;
use crate::test_support::{calls, config, lookup_to, plain, scripted_backend, start};

fn check(line: &str, expected: Result<Command, &'static str>) {
    assert_eq!(parse(line.as_bytes()), expected, "{line:?}");
}

#[test]
fn commands_before_auth_parse() {
    check("EHLO client.example", Ok(Command::Ehlo("client.example".into())));
    check("helo [192.0.2.1]", Ok(Command::Helo("[192.0.2.1]".into())));
    check("EHLO", Err("syntax: EHLO domain"));
    check("STARTTLS", Ok(Command::StartTls));
    check("AUTH LOGIN", Ok(Command::Auth { mechanism: "LOGIN".into(), initial: None }));
    check("AUTH PLAIN =", Ok(Command::Auth { mechanism: "PLAIN".into(), initial: Some(b"=".to_vec()) }));
    check("AUTH", Err("syntax: AUTH mechanism [initial-response]"));
    check("MAIL FROM:<a@b.example>", Ok(Command::Transaction));
    check("DATA", Ok(Command::Transaction));
    check("XYZZY", Ok(Command::Other));
}

#[tokio::test]
async fn bad_input_is_answered_without_asking_for_a_backend() {
    let lookup = lookup_to(None);
    let mut c = start(Protocol::Submission, config(), lookup.clone());
    assert_eq!(c.line().await, "220 localhost ESMTP Rookery\r\n");
    assert_eq!(c.lines(&format!("EHLO {}\r\n", "x".repeat(200)), 1).await, ["500 5.5.2 line too long\r\n"]);
    assert_eq!(c.lines("AUTH PLAIN\r\n", 1).await, ["503 5.5.1 send EHLO first\r\n"]);
    assert_eq!(c.lines("MAIL FROM:<a@b.example>\r\n", 1).await, ["530 5.7.0 authentication required\r\n"]);
    assert_eq!(c.lines("XYZZY\r\n", 1).await, ["500 5.5.1 command unrecognized\r\n"]);
    let ehlo = c.lines("EHLO client.example\r\n", 7).await;
    assert_eq!(ehlo[0], "250-localhost hello client.example\r\n");
    assert_eq!(ehlo[6], "250 AUTH PLAIN LOGIN\r\n");
    assert_eq!(c.lines("AUTH PLAIN !!\r\n", 1).await, ["501 5.5.2 invalid base64\r\n"]);
    assert_eq!(
        c.lines("AUTH LOGIN\r\n*\r\n", 2).await,
        ["334 VXNlcm5hbWU6\r\n", "501 5.0.0 authentication cancelled\r\n"]
    );
    assert_eq!(c.lines("AUTH CRAM-MD5\r\n", 1).await, ["504 5.5.4 mechanism not supported\r\n"]);
    assert_eq!(c.lines("QUIT\r\n", 1).await, ["221 2.0.0 bye\r\n"]);
    assert_eq!(calls(&lookup), 0);
}

#[tokio::test]
async fn an_unknown_account_is_answered_like_a_wrong_password_until_too_many() {
    let lookup = lookup_to(None);
    let mut c = start(Protocol::Submission, config(), lookup.clone());
    c.line().await;
    c.lines("HELO client.example\r\n", 1).await;
    let failed = "535 5.7.8 authentication credentials invalid\r\n";
    assert_eq!(c.lines(&format!("AUTH PLAIN {}\r\n", plain("nobody", "pw")), 1).await, [failed]);
    assert_eq!(c.lines("AUTH PLAIN\r\n", 1).await, ["334 \r\n"]);
    assert_eq!(c.lines(&format!("{}\r\n", plain("nobody", "pw")), 1).await, [failed]);
    assert_eq!(
        c.lines(&format!("AUTH PLAIN {}\r\n", plain("nobody", "pw")), 1).await,
        ["421 4.7.0 too many errors\r\n"]
    );
    assert!(c.closed().await);
    assert_eq!(calls(&lookup), 3);
}

#[tokio::test]
async fn auth_login_is_replayed_after_the_clients_ehlo_name_and_spliced() {
    let (backend, seen) = scripted_backend(
        "220-backend.example ESMTP\r\n220 Rookery\r\n",
        vec![
            "250-backend.example hello laptop.example\r\n250 AUTH PLAIN LOGIN\r\n",
            "235 2.7.0 authentication successful\r\n",
        ],
    )
    .await;
    let mut c = start(Protocol::Submission, config(), lookup_to(Some(backend)));
    c.line().await;
    c.lines("EHLO laptop.example\r\n", 7).await;
    assert_eq!(c.lines("AUTH LOGIN YWxpY2U=\r\n", 1).await, ["334 UGFzc3dvcmQ6\r\n"]);
    assert_eq!(c.lines("cHc=\r\n", 1).await, ["235 2.7.0 authentication successful\r\n"]);
    assert_eq!(c.lines("MAIL FROM:<alice@main.example>\r\n", 1).await, ["echo MAIL FROM:<alice@main.example>\r\n"]);
    drop(c);
    let seen = seen.await.unwrap();
    assert_eq!(
        seen.lines,
        [
            "EHLO laptop.example\r\n".to_owned(),
            format!("AUTH PLAIN {}\r\n", plain("alice@main.example", "pw")),
            "MAIL FROM:<alice@main.example>\r\n".to_owned()
        ]
    );
}

#[tokio::test]
async fn a_backend_that_is_down_gets_a_temporary_answer() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut c = start(Protocol::Submission, config(), lookup_to(Some(closed)));
    c.line().await;
    c.lines("HELO client.example\r\n", 1).await;
    assert_eq!(
        c.lines(&format!("AUTH PLAIN {}\r\n", plain("alice", "pw")), 1).await,
        ["454 4.7.0 temporary authentication failure\r\n"]
    );
}
