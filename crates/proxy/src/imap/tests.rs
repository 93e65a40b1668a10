use super::command::{Command, Kind, ParseError, Segment, literal_marker, parse};
use crate::frontend::Protocol;
use crate::test_support::{calls, config, lookup_to, plain, scripted_backend, start};

fn text(s: &str) -> Segment {
    Segment::Text(s.as_bytes().to_vec())
}

fn check(segments: &[Segment], expected: Result<Command, ParseError>) {
    assert_eq!(parse(segments), expected, "{segments:?}");
}

fn command(tag: &str, kind: Kind) -> Result<Command, ParseError> {
    Ok(Command { tag: tag.to_owned(), kind })
}

fn login(user: &str, password: &str) -> Kind {
    Kind::Login { user: user.as_bytes().to_vec(), password: password.as_bytes().to_vec() }
}

#[test]
fn commands_before_login_parse() {
    check(&[text("a1 capability")], command("a1", Kind::Capability));
    check(&[text("a2 NOOP")], command("a2", Kind::Noop));
    check(&[text("a3 LOGOUT")], command("a3", Kind::Logout));
    check(&[text("a4 STARTTLS")], command("a4", Kind::StartTls));
    check(&[text("a5 ID (\"name\" \"x\")")], command("a5", Kind::Id));
    check(&[text("a6 SELECT INBOX")], command("a6", Kind::Other { name: "SELECT".into() }));
}

#[test]
fn login_takes_atoms_quoted_strings_and_literals() {
    check(&[text("a LOGIN alice secret")], command("a", login("alice", "secret")));
    check(
        &[text(r#"a LOGIN "alice@x.example" "p \"q\" \\ r""#)],
        command("a", login("alice@x.example", r#"p "q" \ r"#)),
    );
    check(
        &[
            text("a LOGIN "),
            Segment::Literal(b"al ice".to_vec()),
            text(" "),
            Segment::Literal(b"pw\r\n".to_vec()),
            text(""),
        ],
        command("a", login("al ice", "pw\r\n")),
    );
    check(
        &[text("a LOGIN alice")],
        Err(ParseError::Syntax { tag: "a".into(), reason: "LOGIN takes a user name and a password" }),
    );
    check(
        &[text(r#"a LOGIN "alice pw"#)],
        Err(ParseError::Syntax { tag: "a".into(), reason: "unterminated quoted string" }),
    );
}

#[test]
fn authenticate_with_and_without_an_initial_response() {
    check(
        &[text("a AUTHENTICATE PLAIN")],
        command("a", Kind::Authenticate { mechanism: "PLAIN".into(), initial: None }),
    );
    check(
        &[text("a AUTHENTICATE plain AGEAYg==")],
        command("a", Kind::Authenticate { mechanism: "plain".into(), initial: Some(b"AGEAYg==".to_vec()) }),
    );
    check(
        &[text("a AUTHENTICATE")],
        Err(ParseError::Syntax {
            tag: "a".into(),
            reason: "AUTHENTICATE takes a mechanism and an optional initial response",
        }),
    );
}

#[test]
fn garbage_has_no_tag() {
    check(&[text("")], Err(ParseError::NoTag));
    check(&[text("* LOGIN a b")], Err(ParseError::NoTag));
    check(&[text("a+ NOOP")], Err(ParseError::NoTag));
    check(&[text("\"a LOGIN")], Err(ParseError::NoTag));
    check(&[text("a")], Err(ParseError::Syntax { tag: "a".into(), reason: "missing command" }));
}

#[test]
fn literal_markers() {
    assert_eq!(literal_marker(b"a LOGIN {5}"), Some((8, 5, true)));
    assert_eq!(literal_marker(b"a LOGIN {5+}"), Some((8, 5, false)));
    assert_eq!(literal_marker(b"a LOGIN {5-}"), Some((8, 5, false)));
    assert_eq!(literal_marker(b"a LOGIN {}"), None);
    assert_eq!(literal_marker(b"a LOGIN {x}"), None);
    assert_eq!(literal_marker(b"a LOGIN 5}"), None);
    assert_eq!(literal_marker(b"a LOGIN {99999999999999999999}"), None);
}

#[tokio::test]
async fn bad_input_is_answered_without_asking_for_a_backend() {
    let lookup = lookup_to(None);
    let mut c = start(Protocol::Imap, config(), lookup.clone());
    assert!(c.line().await.starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2"));
    assert_eq!(c.lines(&format!("a LOGIN {}\r\n", "x".repeat(200)), 1).await, ["* BAD command line too long\r\n"]);
    assert_eq!(c.lines("\x01\x02 garbage\r\n", 1).await, ["* BAD missing or invalid tag\r\n"]);
    assert_eq!(c.lines("b SELECT INBOX\r\n", 1).await, ["b BAD SELECT is not valid before login\r\n"]);
    // A synchronising literal over the limit is refused before it is sent.
    assert_eq!(c.lines("c LOGIN {500}\r\n", 1).await, ["c BAD literal too large\r\n"]);
    let caps = c.lines("d CAPABILITY\r\n", 2).await;
    assert!(caps[0].contains(" AUTH=PLAIN AUTH=LOGIN SASL-IR ") && !caps[0].contains("STARTTLS"), "{caps:?}");
    assert_eq!(caps[1], "d OK CAPABILITY completed\r\n");
    assert_eq!(c.lines("e AUTHENTICATE PLAIN\r\n*\r\n", 2).await, ["+ \r\n", "e BAD authentication cancelled\r\n"]);
    assert_eq!(c.lines("f AUTHENTICATE PLAIN !!!\r\n", 1).await, ["f BAD invalid base64\r\n"]);
    assert_eq!(c.lines("g AUTHENTICATE CRAM-MD5\r\n", 1).await, ["g NO unsupported mechanism\r\n"]);
    assert_eq!(c.lines("h STARTTLS\r\n", 1).await, ["h BAD STARTTLS is not available\r\n"]);
    // A non-synchronising one is already on its way: the session ends.
    assert_eq!(c.lines("i LOGIN {500+}\r\n", 1).await, ["* BYE literal too large\r\n"]);
    assert!(c.closed().await);
    assert_eq!(calls(&lookup), 0);
}

#[tokio::test]
async fn an_unknown_account_is_answered_like_a_wrong_password_and_failures_are_counted() {
    let lookup = lookup_to(None);
    let mut c = start(Protocol::Imap, config(), lookup.clone());
    c.line().await;
    assert_eq!(c.lines("a LOGIN nobody pw\r\n", 1).await, ["a NO [AUTHENTICATIONFAILED] invalid credentials\r\n"]);
    assert_eq!(
        c.lines("b LOGIN \"not an account\" pw\r\n", 1).await,
        ["b NO [AUTHENTICATIONFAILED] invalid credentials\r\n"]
    );
    assert_eq!(
        c.lines(&format!("c AUTHENTICATE PLAIN {}\r\n", plain("nobody", "pw")), 2).await,
        ["c NO [AUTHENTICATIONFAILED] invalid credentials\r\n", "* BYE too many failed logins\r\n"]
    );
    assert!(c.closed().await);
    assert_eq!(calls(&lookup), 2);
}

#[tokio::test]
async fn a_login_with_literals_is_replayed_as_plain_and_spliced() {
    let (backend, seen) = scripted_backend(
        "* OK [CAPABILITY IMAP4rev2] ready\r\n",
        vec!["a OK [CAPABILITY IMAP4rev2 IDLE] logged in\r\n"],
    )
    .await;
    let mut c = start(Protocol::Imap, config(), lookup_to(Some(backend)));
    c.line().await;
    assert_eq!(c.lines("a LOGIN {5}\r\n", 1).await, ["+ go ahead\r\n"]);
    assert_eq!(c.lines("alice {2+}\r\npw\r\n", 1).await, ["a OK [CAPABILITY IMAP4rev2 IDLE] logged in\r\n"]);
    assert_eq!(c.lines("b SELECT INBOX\r\n", 1).await, ["echo b SELECT INBOX\r\n"]);
    drop(c);
    let seen = seen.await.unwrap();
    assert_eq!(seen.client, crate::test_support::CLIENT.parse().unwrap());
    assert_eq!(
        seen.lines,
        [format!("a AUTHENTICATE PLAIN {}\r\n", plain("alice@main.example", "pw")), "b SELECT INBOX\r\n".into()]
    );
}

#[tokio::test]
async fn authenticate_login_prompts_for_both_and_a_refusal_is_relayed() {
    let (backend, seen) =
        scripted_backend("* OK ready\r\n", vec!["x NO [AUTHENTICATIONFAILED] invalid credentials\r\n"]).await;
    let lookup = lookup_to(Some(backend));
    let mut c = start(Protocol::Imap, config(), lookup.clone());
    c.line().await;
    assert_eq!(c.lines("x AUTHENTICATE LOGIN\r\n", 1).await, ["+ VXNlcm5hbWU6\r\n"]);
    assert_eq!(c.lines("Ym9i\r\n", 1).await, ["+ UGFzc3dvcmQ6\r\n"]);
    assert_eq!(c.lines("d3Jvbmc=\r\n", 1).await, ["x NO [AUTHENTICATIONFAILED] invalid credentials\r\n"]);
    // The session goes on after a failure; the backend connection does not.
    assert_eq!(c.lines("y NOOP\r\n", 1).await, ["y OK NOOP completed\r\n"]);
    let seen = seen.await.unwrap();
    assert_eq!(seen.lines, [format!("x AUTHENTICATE PLAIN {}\r\n", plain("bob@main.example", "wrong"))]);
}

#[tokio::test]
async fn a_login_to_a_dead_backend_waits_for_the_lookup_to_name_the_next_one() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (next, seen) = scripted_backend("* OK ready\r\n", vec!["a OK logged in\r\n"]).await;
    let lookup = std::sync::Arc::new(crate::test_support::CountingLookup {
        backend: Some(dead),
        failover: Some(next),
        ..Default::default()
    });
    let mut c = start(Protocol::Imap, config(), lookup.clone());
    c.line().await;
    assert_eq!(c.lines("a LOGIN alice pw\r\n", 1).await, ["a OK logged in\r\n"]);
    assert_eq!(calls(&lookup), 2);
    drop(c);
    assert_eq!(seen.await.unwrap().lines, [format!("a AUTHENTICATE PLAIN {}\r\n", plain("alice@main.example", "pw"))]);
}

#[tokio::test]
async fn a_backend_that_is_down_gets_a_temporary_answer() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut c = start(Protocol::Imap, config(), lookup_to(Some(closed)));
    c.line().await;
    assert_eq!(
        c.lines("a LOGIN alice pw\r\n", 1).await,
        ["a NO [UNAVAILABLE] account is unavailable, try again later\r\n"]
    );
    assert_eq!(c.lines("b NOOP\r\n", 1).await, ["b OK NOOP completed\r\n"]);
}

#[tokio::test]
async fn not_hosted_here_invalidates_the_lookup_and_tries_once_more() {
    let (first, _) =
        scripted_backend("* OK ready\r\n", vec!["a NO [UNAVAILABLE] account is served elsewhere\r\n"]).await;
    let lookup = lookup_to(Some(first));
    let mut c = start(Protocol::Imap, config(), lookup.clone());
    c.line().await;
    // The static lookup still names the same backend, which has closed:
    // the second try finds it down.
    assert_eq!(
        c.lines("a LOGIN alice pw\r\n", 1).await,
        ["a NO [UNAVAILABLE] account is unavailable, try again later\r\n"]
    );
    assert_eq!(lookup.invalidations.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(calls(&lookup), 2);
}
